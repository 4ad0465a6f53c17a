"""`write_json`: a JSON file written atomically, as every tinynet report is."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from tinynet.atomic import atomic_write


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` (JSON values) to ``path`` as indented JSON with a final newline,
    atomically: the file is complete or as it was. NaN and infinities become ``null``
    (JSON has none), so any reader can parse the file."""
    text = json.dumps(finite_json(value), indent=2, allow_nan=False)
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8") + b"\n")


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None``, dict keys as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value
