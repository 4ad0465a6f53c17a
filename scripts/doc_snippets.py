"""Run the Python code blocks of Markdown files, in order, as a reader would.

    python scripts/doc_snippets.py docs/tutorial.md     # run every block of one page
    python scripts/doc_snippets.py --list README.md     # show the blocks and their markers
    python scripts/doc_snippets.py --full docs/tutorial.md  # small blocks on all the data

Every ```` ```python ```` fence of a file runs, top to bottom, in one namespace: a later
block uses the names an earlier one defined, as a reader typing them in order would.
Each file gets its own process (``tests/test_docs.py`` starts one per file, in a
temporary working directory, so what the snippets write lands there). A failing
block's traceback names the Markdown file and the line in it. Fences of any other
language (``bash``, ``text``, none) are never run: output shown to the reader goes in
a ```` ```text ```` fence.

An HTML comment on the line right before a fence, invisible on the rendered page,
changes how that one block runs:

- ``<!-- test: small -->`` runs it **on small data**: while the block runs, tinynet's
  dataset loaders (every ``load*`` function of `tinynet.datasets` and each loader in
  `tinynet.datasets.DATASETS`, however the block reaches them) return only the first
  `SMALL_TRAIN` training and `SMALL_TEST` test samples (a loader of one ``(x, y)``
  pair, its first `SMALL_TRAIN`). What the block loads stays
  small for the blocks after it. Use it where the full data would take more than a few
  seconds; the page shows the full run's output (``--full`` runs such blocks on all
  the data, to see that output).
- ``<!-- test: skip REASON -->`` does not run the block at all. The reason is
  required. Use it rarely (a block that never runs can rot); code that needs a file
  or a package the tests lack is better changed to make what it needs.

Any other ``<!-- test: ... -->`` comment, or one not right before a Python fence, is an
error, so a typo cannot silently turn a marker off.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

SMALL_TRAIN = 2_000
"""Training samples a loader returns inside a ``<!-- test: small -->`` block."""
SMALL_TEST = 500
"""Test samples a loader returns inside a ``<!-- test: small -->`` block."""

FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*test:(?P<body>.*?)-->\s*$")
MARKER_START = re.compile(r"<!--\s*test:")


@dataclass(frozen=True)
class Block:
    """One ```` ```python ```` fence: its code, the file line its code starts on, and its
    marker (``""`` none, ``"small"``, or ``"skip"`` with ``reason``)."""

    code: str
    line: int
    marker: str = ""
    reason: str = ""


class SnippetError(ValueError):
    """A Markdown file whose markers or fences are malformed; names the file and line."""


def parse_marker(body: str, where: str) -> tuple[str, str]:
    """``(marker, reason)`` of a ``<!-- test: BODY -->`` comment."""
    words = body.split(maxsplit=1)
    if words == ["small"]:
        return "small", ""
    if words and words[0] == "skip":
        if len(words) < 2:
            raise SnippetError(f"{where}: '<!-- test: skip -->' needs a reason after 'skip'")
        return "skip", words[1].strip()
    raise SnippetError(
        f"{where}: unknown marker '<!-- test:{body}-->'; expected "
        "'<!-- test: small -->' or '<!-- test: skip REASON -->'"
    )


def blocks(text: str, name: str = "<markdown>") -> list[Block]:
    """The Python blocks of Markdown ``text``, in order (``name`` is for errors)."""
    lines = text.splitlines()
    found: list[Block] = []
    pending: tuple[int, str, str] | None = None  # line, marker, reason
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = MARKER.match(line)
        fence = FENCE.match(line)
        if marker:
            if pending is not None:
                raise SnippetError(f"{name}:{pending[0]}: marker not right before a ```python")
            pending = (i + 1, *parse_marker(marker.group("body"), f"{name}:{i + 1}"))
            i += 1
            continue
        if MARKER_START.search(line):
            raise SnippetError(f"{name}:{i + 1}: a test marker must be a line of its own")
        if fence is None:
            if pending is not None:
                raise SnippetError(f"{name}:{pending[0]}: marker not right before a ```python")
            i += 1
            continue
        indent, info = len(fence.group("indent")), fence.group("info").strip()
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise SnippetError(f"{name}:{i + 1}: a fence that is never closed")
        if info.split(" ")[0] == "python":
            code = "\n".join(body[indent:] for body in lines[i + 1 : end]) + "\n"
            marker_name, reason = pending[1:] if pending else ("", "")
            found.append(Block(code, i + 2, marker_name, reason))
        elif pending is not None:
            raise SnippetError(f"{name}:{pending[0]}: marker before a ```{info}, not a ```python")
        pending = None
        i = end + 1
    if pending is not None:
        raise SnippetError(f"{name}:{pending[0]}: marker at the end of the file")
    return found


def _first(result: Any, train: int, test: int) -> Any:
    """A loader's result cut short: ``((x, y), (x_test, y_test))`` to the first ``train``
    and ``test`` samples, one ``(x, y)`` pair of arrays to ``train``; anything else
    unchanged."""
    if not (isinstance(result, tuple) and len(result) == 2):
        return result
    if all(isinstance(pair, tuple) and len(pair) == 2 for pair in result):
        (x, y), (x_test, y_test) = result
        return (x[:train], y[:train]), (x_test[:test], y_test[:test])
    if all(hasattr(array, "shape") for array in result):
        return result[0][:train], result[1][:train]
    return result


@contextmanager
def small_data(namespace: dict[str, Any]) -> Iterator[None]:
    """While active, tinynet's dataset loaders return `SMALL_TRAIN` / `SMALL_TEST`
    samples, wherever they are reached from: a module attribute, a name in
    ``namespace``, or `tinynet.datasets.DATASETS`."""
    import tinynet.datasets as datasets

    originals: dict[int, Callable[..., Any]] = {}
    for name in dir(datasets):
        value = getattr(datasets, name)
        if name.startswith("load") and callable(value):
            originals[id(value)] = value
    for info in datasets.DATASETS.values():
        originals[id(info.load)] = info.load

    def small(load: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _first(load(*args, **kwargs), SMALL_TRAIN, SMALL_TEST)

        wrapper.__wrapped__ = load  # type: ignore[attr-defined]
        return wrapper

    wrappers = {key: small(load) for key, load in originals.items()}
    undo: list[Callable[[], None]] = []
    holders: list[Any] = [m for n, m in list(sys.modules.items()) if n.startswith("tinynet")]
    for holder in [*holders, namespace]:
        items = holder.items() if isinstance(holder, dict) else vars(holder).items()
        for attr, value in list(items):
            if callable(value) and id(value) in wrappers and value is originals[id(value)]:
                undo.append(_setter(holder, attr, wrappers[id(value)]))
    saved_table = dict(datasets.DATASETS)
    for key, info in saved_table.items():
        datasets.DATASETS[key] = replace(info, load=wrappers[id(info.load)])
    try:
        yield
    finally:
        datasets.DATASETS.update(saved_table)
        for restore in undo:
            restore()
        for attr, value in list(namespace.items()):  # names the block itself imported
            original = getattr(value, "__wrapped__", None)
            if original is not None and id(original) in wrappers:
                namespace[attr] = original


def _setter(holder: Any, attr: str, value: Any) -> Callable[[], None]:
    """Set ``holder.attr`` (or ``holder[attr]`` for a dict) to ``value``; return the call
    that sets it back to what it was."""
    if isinstance(holder, dict):
        old = holder[attr]
        holder[attr] = value
        return lambda: holder.__setitem__(attr, old)
    old = getattr(holder, attr)
    setattr(holder, attr, value)
    return lambda: setattr(holder, attr, old)


def run_file(path: Path, *, echo: bool = True, full: bool = False) -> dict[str, Any]:
    """Run every Python block of ``path`` in order, in one namespace, and return it. A
    block's exception propagates, its traceback pointing at the Markdown file's lines.
    With ``echo``, prints each block's line and seconds (or why it was skipped); with
    ``full``, ``small`` blocks get all the data."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path)}
    for block in blocks(path.read_text(encoding="utf-8"), str(path)):
        if block.marker == "skip":
            if echo:
                print(f"{path}:{block.line}: skipped ({block.reason})", flush=True)
            continue
        code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
        start = time.perf_counter()
        if block.marker == "small" and not full:
            with small_data(namespace):
                exec(code, namespace)
        else:
            exec(code, namespace)
        if echo:
            note = " (small data)" if block.marker == "small" and not full else ""
            seconds = time.perf_counter() - start
            print(f"{path}:{block.line}: ran in {seconds:.2f} s{note}", flush=True)
    return namespace


def main(argv: list[str] | None = None) -> int:
    """Run (or ``--list``) the Python blocks of the Markdown files given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.md")
    parser.add_argument("--list", action="store_true", help="list the blocks, run nothing")
    parser.add_argument("--full", action="store_true", help="run small blocks on all the data")
    args = parser.parse_args(argv)
    for path in args.files:
        if args.list:
            for block in blocks(path.read_text(encoding="utf-8"), str(path)):
                marker = f" [{block.marker} {block.reason}]".replace(" ]", "]")
                lines = len(block.code.splitlines())
                print(f"{path}:{block.line}: {lines} lines{marker if block.marker else ''}")
        else:
            run_file(path.resolve(), full=args.full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
