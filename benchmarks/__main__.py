"""``python -m benchmarks``: see `benchmarks.cli`."""

import sys

from benchmarks import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
