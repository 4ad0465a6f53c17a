"""`write_json`: a JSON file written atomically, indented, with a trailing newline."""

from __future__ import annotations

import json
import os
from typing import Any

from tinynet.atomic import atomic_write


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` to ``path`` as JSON indented by two spaces, ending in a newline.

    Written with `tinynet.atomic.atomic_write`: the file is either its old self or
    complete. ``value`` is encoded as `json.dumps` does (ASCII, NaN as ``NaN``); turn
    NaN into ``None`` first where a strict JSON reader will load the file.
    """
    encoded = json.dumps(value, indent=2).encode("utf-8") + b"\n"
    with atomic_write(path) as handle:
        handle.write(encoded)
