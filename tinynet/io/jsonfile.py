"""`write_json`: a JSON file written atomically, as every tinynet report is."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from tinynet.atomic import atomic_write


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` (JSON values) to ``path`` as JSON indented by two spaces, ending in
    a newline. NaN and infinities become ``null`` (JSON has none), so any reader can
    parse the file. The value is encoded before anything is written, and the file is
    written with `tinynet.atomic.atomic_write`: it is complete or as it was."""
    encoded = json.dumps(finite_json(value), indent=2, allow_nan=False).encode("utf-8")
    with atomic_write(path) as handle:
        handle.write(encoded + b"\n")


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None``, dict keys as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value
