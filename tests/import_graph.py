"""The import graph of a package, read from its source with `ast`, and its cycles.

    graph = import_graph(Path("benchmarks"))   # {"benchmarks.cli": {"benchmarks.machine", ...}}
    find_cycles(graph)                          # [["benchmarks.cli", "benchmarks.model_files"]]

Every import statement counts, wherever it is: at the top of a module, inside a
function (a lazy import), under ``if TYPE_CHECKING:``, in a ``try``. A cycle that only
type checkers or one code path see is still two modules that cannot be read, tested
or moved apart, so the graph does not distinguish them.

Only imports of the package's own modules are edges. An import names the module it
loads: ``import a.b`` and ``from a.b import name`` point at ``a.b``; ``from a import
b`` at ``a.b`` when ``b`` is a submodule, else at ``a`` (``b`` is then a name defined
in ``a/__init__.py``). Relative imports are resolved against the importing module's
package. The parent packages Python runs on the way (``a/__init__.py`` for ``a.b``)
are not edges: every submodule would otherwise depend on its package's ``__init__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Set
from pathlib import Path


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir`` by dotted name, ``__init__.py``
    files under their package's name (``benchmarks``, ``benchmarks.peers``)."""
    root = package_dir.resolve()
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def resolve(name: str, modules: Set[str]) -> str | None:
    """The module of ``modules`` that importing ``name`` loads: its longest prefix that
    is one (``a.b.Name`` -> ``a.b``), or ``None`` for a module outside them."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Each module of the package at ``package_dir`` -> the package's modules it imports.

    ``from a import b, c`` where ``b`` is a submodule and ``c`` a name in ``a`` gives
    edges to ``a.b`` and to ``a``.
    """
    modules = module_names(package_dir)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= node_targets(node, module, path.name == "__init__.py", modules.keys())
        edges.discard(module)
        graph[module] = edges
    return graph


def node_targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Set[str]
) -> set[str]:
    """The modules of ``modules`` that one import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        return {m for alias in node.names if (m := resolve(alias.name, modules)) is not None}
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        parts = package.split(".")
        anchor = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    targets = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        target = submodule if submodule in modules else resolve(base, modules)
        if target is not None:
            targets.add(target)
    return targets


def find_cycles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (each a cycle or several
    interlocked ones), sorted, each from its first name; ``[]`` for an acyclic graph.

    Tarjan's algorithm, iterative, so a deep graph cannot hit the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    work: list[tuple[str, Iterator[str]]] = []  # the depth-first path, each with its next edges
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(sorted(graph.get(node, ())))))

    for start in sorted(graph):
        if start in index:
            continue
        visit(start)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    visit(successor)
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def layers(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """The modules of an acyclic graph in layers: layer 0 imports none of the others,
    layer n only modules of the layers below it. Raises ``ValueError`` on a cycle."""
    cycles = find_cycles(graph)
    if cycles:
        raise ValueError(f"import cycles: {cycles}")
    level: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in level:
            level[node] = 1 + max((depth(m) for m in graph.get(node, ())), default=-1)
        return level[node]

    for node in graph:
        depth(node)
    result: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for node in sorted(graph):
        result[level[node]].append(node)
    return result
