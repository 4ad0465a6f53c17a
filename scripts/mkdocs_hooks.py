"""mkdocs hooks: the API reference pages, made from the package itself, and the nav.

Every module of `tinynet` whose name does not start with ``_`` gets a page
``api/<dotted.name>.md`` holding one mkdocstrings directive (``::: tinynet.train``), so
a new module is in the reference without editing anything. A package's page shows its
docstring and a table of its modules. The nav is ``mkdocs.yml``'s hand-written pages,
then any other page in ``docs/`` (so a new page cannot be left out), then the reference.

Listed in ``mkdocs.yml`` under ``hooks:``; ``python3 run.py docs`` builds the site.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tinynet"
API = "api"


def modules() -> list[tuple[str, Path]]:
    """``(dotted name, file)`` of every public module and package, in path order."""
    found = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        found.append((".".join(parts), path))
    return found


def summary(path: Path) -> str:
    """The first line of a module's docstring (empty if it has none)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.strip().split("\n", 1)[0]


def escape_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def page_uri(name: str) -> str:
    """Where the reference page of module ``name`` lives in the site's sources."""
    return f"{API}/{name}.md"


def page(name: str, path: Path, every: list[tuple[str, Path]]) -> str:
    """The Markdown of ``name``'s reference page."""
    if path.name != "__init__.py":
        return f"# `{name}`\n\n::: {name}\n"
    children = [
        (child, child_path)
        for child, child_path in every
        if child.startswith(name + ".") and "." not in child[len(name) + 1 :]
    ]
    rows = "\n".join(
        f"| [`{child}`]({child}.md) | {escape_cell(summary(child_path))} |"
        for child, child_path in children
    )
    table = f"\n\n| module | what it holds |\n|---|---|\n{rows}\n" if children else "\n"
    return (
        f"# `{name}`\n\n::: {name}\n    options:\n      members: false\n"
        f"      show_root_heading: false\n{table}"
    )


def on_config(config: MkDocsConfig, **kwargs: Any) -> MkDocsConfig:
    """Append the pages missing from the nav, then the API reference, to the nav."""
    nav: list[Any] = list(config.nav or [])
    listed = set()
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, str):
            listed.add(value)
    docs_dir = Path(config.docs_dir)
    nav += sorted(
        path.relative_to(docs_dir).as_posix()
        for path in docs_dir.rglob("*.md")
        if path.relative_to(docs_dir).as_posix() not in listed
    )
    nav.append({"API reference": [{name: page_uri(name)} for name, _ in modules()]})
    config.nav = nav
    return config


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    """Add one generated reference page per public module."""
    every = modules()
    for name, path in every:
        files.append(File.generated(config, page_uri(name), content=page(name, path, every)))
    return files
