"""``python -m tinynet``: the same as the ``tinynet`` command."""

import sys

from tinynet.cli import main

sys.exit(main())
