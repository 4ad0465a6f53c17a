"""Every Python block of README.md and docs/*.md runs, so a snippet can never rot.

Each page runs in a fresh interpreter, in a temporary working directory, its blocks in
order in one namespace, by ``scripts/doc_snippets.py``, whose docstring gives the two
markers a block may carry: ``<!-- test: small -->`` (run it on the first 2,000
training and 500 test samples of whatever dataset it loads) and ``<!-- test: skip
REASON -->`` (not run; rare). A page added to docs/ is picked up with no change here.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, run_python

from scripts import doc_snippets
from scripts.doc_snippets import Block, SnippetError, blocks
from tinynet.datasets import load_mnist

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_python_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    run_python(ROOT / "scripts" / "doc_snippets.py", str(page), cwd=tmp_path, timeout=300)


def test_the_readme_and_the_tutorial_have_blocks_and_few_skips() -> None:
    found = {page.name: blocks(page.read_text(), page.name) for page in PAGES}
    assert len(found["README.md"]) >= 1
    assert len(found["tutorial.md"]) >= 5
    skipped = [(name, b.line) for name, page in found.items() for b in page if b.marker == "skip"]
    assert len(skipped) <= 2, f"blocks that never run: {skipped}"


def test_pages_point_only_at_files_inside_the_repository() -> None:
    # A user of the repository has nothing beside it: no ../shared, no sibling checkout.
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text, page.name
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
            assert path.exists(), f"{page.name} links to a missing file: {target}"


def test_blocks_are_found_in_order_with_their_markers_and_lines() -> None:
    text = (
        "# Page\n"
        "```python\n"
        "a = 1\n"
        "```\n"
        "```bash\n"
        "echo not python\n"
        "```\n"
        "<!-- test: small -->\n"
        "```python\n"
        "b = a + 1\n"
        "```\n"
        "- a list item:\n"
        "  ```python\n"
        "  c = b\n"
        "  ```\n"
        "<!-- test: skip needs a display -->\n"
        "```python\n"
        "show()\n"
        "```\n"
    )
    assert blocks(text) == [
        Block("a = 1\n", 3),
        Block("b = a + 1\n", 10, "small"),
        Block("c = b\n", 14),
        Block("show()\n", 18, "skip", "needs a display"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- test: smal -->\n```python\nx\n```\n", "unknown marker"),
        ("<!-- test: skip -->\n```python\nx\n```\n", "needs a reason"),
        ("<!-- test: small -->\n\n```python\nx\n```\n", "not right before"),
        ("<!-- test: small -->\n```bash\nls\n```\n", "not a ```python"),
        ("text <!-- test: small -->\n```python\nx\n```\n", "line of its own"),
        ("```python\nx = 1\n", "never closed"),
        ("<!-- test: small -->\n", "end of the file"),
    ],
)
def test_malformed_markers_are_errors(text: str, message: str) -> None:
    with pytest.raises(SnippetError, match=message):
        blocks(text, "page.md")


def test_a_small_block_gets_the_first_samples_and_the_next_block_the_full_data(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n"
        "from tinynet.datasets import DATASETS, load_mnist\n"
        "import tinynet.datasets\n"
        "```\n"
        "<!-- test: small -->\n"
        "```python\n"
        "(x, y), (x_test, y_test) = load_mnist()\n"
        "(x2, _), _ = tinynet.datasets.load_dataset('mnist')\n"
        "(x3, _), _ = DATASETS['mnist'].load()\n"
        "```\n"
        "```python\n"
        "(x_full, _), _ = load_mnist()\n"
        "```\n"
    )
    namespace = doc_snippets.run_file(page, echo=False)
    sizes = {name: len(namespace[name]) for name in ("x", "y", "x2", "x3", "x_test", "x_full")}
    small, test = doc_snippets.SMALL_TRAIN, doc_snippets.SMALL_TEST
    assert sizes == {"x": small, "y": small, "x2": small, "x3": small, "x_test": test} | {
        "x_full": 60_000
    }
    assert namespace["load_mnist"] is load_mnist  # the real loader again after the block


def test_docstring_names_become_links_and_unknown_ones_fail_the_build(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The API reference's cross-references (scripts/griffe_crossrefs.py), without mkdocs.
    griffe = pytest.importorskip("griffe")
    from scripts.griffe_crossrefs import CrossReferences, definitions, rewrite

    extensions = griffe.load_extensions(CrossReferences)
    package = griffe.load("tinynet", extensions=extensions, search_paths=[str(ROOT)])
    train = package["train"].docstring.value
    assert "[`Callback`][tinynet.train.Callback]" in train  # defined there
    assert "[`tinynet.inference`][tinynet.inference]" in train  # a full path
    data = package["data"]
    with caplog.at_level(logging.WARNING):
        text = rewrite(
            data,
            "`Layer` (defined once in the package), `ImportError`, `numpy.random.Generator`",
            package,
            definitions(package, {}),
        )
    assert text.startswith("[`Layer`][tinynet.layers.base.Layer] (defined")
    assert text.endswith(", `ImportError`, `numpy.random.Generator`")  # not ours: code
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert rewrite(data, "`NoSuchThing`", package, {}) == "`NoSuchThing`"
    assert "tinynet.data: `NoSuchThing` in its docstring names nothing" in caplog.text


def test_every_public_module_gets_a_reference_page() -> None:
    from scripts.mkdocs_hooks import modules

    names = [name for name, _ in modules()]
    assert {"tinynet", "tinynet.layers", "tinynet.layers.dense", "tinynet.io.native"} <= set(names)
    assert not [name for name in names if "._" in name or name.endswith("__main__")]


def test_small_data_cuts_a_single_pair_too_and_leaves_other_results_alone() -> None:
    x, y = np.zeros((10, 3)), np.arange(10)
    cut_x, cut_y = doc_snippets._first((x, y), 4, 2)
    assert cut_x.shape == (4, 3)
    assert cut_y.tolist() == [0, 1, 2, 3]
    assert doc_snippets._first("a path", 4, 2) == "a path"
