"""Set up a virtual environment and run tinynet's main job or its tests.

    python3 run.py train [ARGS...]   train models/mnist_mlp.py on MNIST, print the test accuracy
    python3 run.py test [ARGS...]    pytest (slow tests included), mypy --strict, ruff, docs
    python3 run.py bench [ARGS...]   the benchmark suite (python -m benchmarks)
    python3 run.py docs [ARGS...]    build the documentation site into site/, strictly

Needs only Python 3.10+ and pip: the first run creates `.venv/` beside this file and
installs tinynet into it with the extras the command needs (the tests take them all;
`train --plot DIR` adds matplotlib);
later runs reuse it and reinstall only when `pyproject.toml` changed. No step downloads
data: MNIST ships in `data/mnist/`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = {
    "train": "",
    "test": "[dev,bench,plot,safetensors,onnx,docs,mpi]",
    "bench": "[bench,plot]",
    "docs": "[docs]",
}
# mkdocs in strict mode: a warning (a docstring's `Name` that resolves to nothing, a link
# to a missing page) fails the build. Its output, the site, goes to site/ (git-ignored).
DOCS_BUILD = ("-m", "mkdocs", "build", "--strict", "--clean")
OPTION_EXTRAS = {("train", "--plot"): "plot"}
"""Options that need an extra beyond their command's: ``run.py train --plot DIR``."""


def extras_for(task: str, args: list[str]) -> str:
    """The extras ``task`` needs with ``args``: its own (`EXTRAS`) and those of the options
    given (`OPTION_EXTRAS`), as pip spells them: ``""`` or ``"[plot]"``."""
    names = [name for name in EXTRAS[task].strip("[]").split(",") if name]
    for (command, option), extra in OPTION_EXTRAS.items():
        given = any(arg == option or arg.startswith(option + "=") for arg in args)
        if command == task and given and extra not in names:
            names.append(extra)
    return f"[{','.join(names)}]" if names else ""


def venv_python() -> Path:
    """The virtual environment's interpreter."""
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def ensure_installed(extras: str) -> Path:
    """Create `.venv` if needed and install tinynet with `extras`; return its Python."""
    python = venv_python()
    if not python.exists():
        print(f"run.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f"tinynet-installed-{extras.strip('[]').replace(',', '-') or 'core'}"
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"run.py: installing tinynet{extras} into {VENV}", flush=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", f"{ROOT}{extras}"], check=True)
        stamp.write_text(digest)
    return python


def run(*command: str) -> None:
    """Run one command from the repository root; exit with its status if it fails."""
    print("run.py: $", " ".join(command), flush=True)
    status = subprocess.run(command, cwd=ROOT).returncode
    if status != 0:
        sys.exit(status)


def main(argv: list[str]) -> None:
    """Dispatch `train`, `test`, `bench` or `docs` with the remaining arguments."""
    if not argv or argv[0] not in EXTRAS:
        sys.exit(__doc__)
    task, rest = argv[0], argv[1:]
    python = str(ensure_installed(extras_for(task, rest)))
    if task == "train":
        run(python, "-m", "tinynet", "train", "models/mnist_mlp.py", *rest)
    elif task == "test":
        run(python, "-m", "pytest", *rest)
        run(python, "-m", "mypy")
        run(python, "-m", "ruff", "check", ".")
        run(python, "-m", "ruff", "format", "--check", ".")
        run(python, *DOCS_BUILD)
    elif task == "docs":
        run(python, *DOCS_BUILD, *rest)
    else:
        run(python, "-m", "benchmarks", *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
