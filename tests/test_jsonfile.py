"""`tinynet.io.write_json`: indented JSON, a trailing newline, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinynet.io import write_json


def test_write_json_indents_and_ends_in_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "metrics.json"  # missing folders are created
    write_json(path, {"accuracy": 0.5, "runs": [1, 2]})
    assert path.read_text() == '{\n  "accuracy": 0.5,\n  "runs": [\n    1,\n    2\n  ]\n}\n'
    assert json.loads(path.read_text()) == {"accuracy": 0.5, "runs": [1, 2]}


def test_write_json_leaves_the_old_file_when_encoding_fails(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_json(path, {"old": True})
    with pytest.raises(TypeError):
        write_json(path, {"new": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_write_json_writes_nan_and_infinities_as_null(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_json(path, {"loss": float("nan"), "best": [float("inf"), -float("inf"), 1.5]})
    assert json.loads(path.read_text()) == {"loss": None, "best": [None, None, 1.5]}
