"""A griffe extension: tinynet's docstring conventions, made into a checked API reference.

tinynet's docstrings follow reStructuredText's habit: single backticks name an object
(`Layer`, `tinynet.blocks.cast`, `Layer.state_dict`), double backticks are code
(``p.grad += value``). This extension, run by mkdocstrings as the package is loaded,
resolves every single-backtick name as Python would from the docstring's own scope
(the object's members, its module's imports), as an absolute ``tinynet.`` path, or as
the one object of that name defined in the package, and turns it into a link
(mkdocs-autorefs' ``[`Layer`][tinynet.layers.base.Layer]``). Builtins (`ImportError`)
and other packages' objects, given by their full path (`numpy.random.Generator`), stay
code. Anything else is a warning naming the docstring and the name: in the strict
build (``python3 run.py docs``), a broken reference fails it. Doctest examples
(``>>>`` lines) become fenced ``pycon`` blocks, and reST's ``text::`` before an indented
block (Markdown's code block too) loses its second colon.

Listed in ``mkdocs.yml`` under the python handler's ``extensions``.
"""

from __future__ import annotations

import builtins
import logging
import re
from typing import Any

from griffe import Alias, Extension, GriffeLoader, Module, NameResolutionError, Object

PACKAGE = "tinynet"
log = logging.getLogger(f"mkdocs.plugins.{PACKAGE}.crossrefs")

SINGLE = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`\w])")
NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
DOCTEST = re.compile(r"^(?: *>>> .*\n?)(?:^ *(?:>>>|\.\.\.|\S).*\n?)*", re.MULTILINE)


def target(obj: Object | Alias, path: str, package: Module) -> Object | Alias | None:
    """The object at dotted ``path`` inside ``package``, following imports, or None."""
    parts = path.split(".")
    if parts[0] != package.name:
        return None
    current: Object | Alias = package
    for part in parts[1:]:
        member = current.members.get(part)
        if member is None:
            return None
        seen = 0
        while member.is_alias and seen < 20:  # an import: go to what it names
            assert isinstance(member, Alias)
            resolved = target(obj, member.target_path, package)
            if resolved is None:
                return None
            member, seen = resolved, seen + 1
        current = member
    return current


def definitions(obj: Object, index: dict[str, list[str]]) -> dict[str, list[str]]:
    """``index`` filled with name -> paths of the public objects defined in ``obj``."""
    for name, member in obj.members.items():
        if not member.is_alias and not name.startswith("_"):
            assert isinstance(member, Object)
            index.setdefault(name, []).append(member.path)
            definitions(member, index)
    return index


def link(obj: Object, name: str, package: Module, index: dict[str, list[str]]) -> str | None:
    """The canonical path ``name`` refers to in ``obj``'s docstring; ``""`` when it is a
    builtin or another package's object (no link); None when it does not resolve.

    Python's scope rules first (``obj``'s members, its parents', its module's imports);
    then a name defined exactly once in the whole package (`EarlyStopping` from
    `tinynet.train`, which does not import it, as Sphinx's ``.Name`` search would).
    """
    head, _, rest = name.partition(".")
    try:
        path = obj.resolve(head)
    except NameResolutionError:
        if head == package.name:
            path = head
        elif len(index.get(head, [])) == 1:
            path = index[head][0]
        elif hasattr(builtins, head) or (rest and head not in index):
            return ""  # a builtin, or the full path of another package's object
        else:
            return None
    full = f"{path}.{rest}" if rest else path
    if full.split(".")[0] != package.name:
        return ""  # numpy, matplotlib...: documented elsewhere
    found = target(obj, full, package)
    if found is None:
        return None
    if any(part.startswith("_") for part in found.path.split(".")):
        return None  # private: not in the reference
    return found.path


def rewrite(obj: Object, text: str, package: Module, index: dict[str, list[str]]) -> str:
    """``text`` with its single-backtick names as links, warning on those that fail."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not NAME.fullmatch(name):
            log.warning(
                "%s: `%s` in its docstring is not a Python name; single backticks name an "
                "object, code goes in double backticks (``%s``)",
                obj.path,
                name,
                name,
            )
            return match.group(0)
        path = link(obj, name, package, index)
        if path is None:
            where = index.get(name.partition(".")[0], [])
            log.warning(
                "%s: `%s` in its docstring names nothing in its scope%s; write the full path "
                "(`%s.module.%s`), or double backticks for code",
                obj.path,
                name,
                f" and is defined {len(where)} times ({', '.join(where)})" if where else "",
                package.name,
                name,
            )
            return match.group(0)
        return f"[`{name}`][{path}]" if path else match.group(0)

    text = re.sub(r"::\n\n", ":\n\n", text)  # reST's literal-block marker
    fenced = DOCTEST.sub(lambda m: f"```pycon\n{m.group(0).rstrip()}\n```\n", text)
    parts = re.split(r"(```.*?```)", fenced, flags=re.DOTALL)
    return "".join(part if part.startswith("```") else SINGLE.sub(replace, part) for part in parts)


def walk(obj: Object, package: Module, index: dict[str, list[str]]) -> None:
    """Rewrite the docstrings of ``obj`` and of every object defined inside it."""
    if obj.docstring is not None:
        obj.docstring.value = rewrite(obj, obj.docstring.value, package, index)
    for member in obj.members.values():
        if not member.is_alias:
            assert isinstance(member, Object)
            walk(member, package, index)


class CrossReferences(Extension):
    """Turn single-backtick names in tinynet's docstrings into checked cross-references."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        if pkg.name == PACKAGE:
            walk(pkg, pkg, definitions(pkg, {}))
