"""Fuzzing every file format tinynet reads: only its documented errors escape, each with
a message, and time and memory stay small (see ``fuzzing.py`` for the mutations).

Each format runs in a subprocess under a 3 GiB address-space cap, so a bomb fails the
test instead of exhausting the machine. ``TINYNET_FUZZ_INPUTS`` (default 3000 per
format, about 80 s for all of them) and ``TINYNET_FUZZ_SEED`` (default 0) scale and
vary a run: ``TINYNET_FUZZ_INPUTS=100000 pytest tests/test_fuzz.py`` explores more.

The formats, 3000 inputs each by default: model files (``npz-load``, ``npz-load_full``,
and ``conv-model``: Conv2d, MaxPool2d and BatchNorm2d, loaded with ``tinynet.load``),
checkpoints (``checkpoint``, ``checkpoint-resume``), ``safetensors``, IDX (``idx-raw``,
``idx-gzip``), images (``png``, ``pgm-plain``, ``pgm-binary``, ``npy-image``), CSV
datasets (``csv``: tables and Kaggle's layout through ``load_data``, read for any task
and for a classification; a refusal must name its line, never "cannot parse them")
and ``.npz`` datasets (``npz-dataset``, through ``load_data``: DataFormatError only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fuzzing import FORMATS

FUZZER = Path(__file__).with_name("fuzzing.py")
INPUTS = int(os.environ.get("TINYNET_FUZZ_INPUTS", "3000"))
SEED = int(os.environ.get("TINYNET_FUZZ_SEED", "0"))
MAX_RSS_MB = 400
"""Peak RSS of a fuzzing process: about 50 MB measured; a bomb that loads breaks it."""
MAX_INPUT_SECONDS = 5.0
"""The slowest single input: about 0.06 s measured; a time bomb breaks it."""


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_only_documented_errors_escape(
    name: str, capsys: pytest.CaptureFixture[str], record_property: object
) -> None:
    result = subprocess.run(
        [sys.executable, str(FUZZER), name, str(INPUTS), str(SEED)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    with capsys.disabled():
        print(
            f"\nfuzz {name}: {report['inputs']} inputs ({report['loaded']} loaded, "
            f"{report['refused']} refused) in {report['seconds']} s (slowest "
            f"{report['slowest_seconds']} s), peak RSS {report['max_rss_mb']} MB",
            end="",
        )
    failures = report["failures"]
    assert not failures, f"{len(failures)} inputs escaped:\n" + "\n".join(
        json.dumps(failure) for failure in failures[:5]
    )
    assert report["loaded"] + report["refused"] == INPUTS
    assert report["refused"] > INPUTS // 2  # the mutants are really broken, mostly
    assert report["max_rss_mb"] < MAX_RSS_MB
    assert report["slowest_seconds"] < MAX_INPUT_SECONDS
