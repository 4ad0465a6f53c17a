"""No import cycles: the graph `import_graph` reads from the source, and its cycles.

The graph counts every import, lazy and type-only ones included (see `import_graph`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from import_graph import find_cycles, import_graph, layers

ROOT = Path(__file__).resolve().parents[1]


def write_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with ``files`` (path inside it -> source)."""
    for name, source in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "pkg"


def test_import_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    package = write_package(
        tmp_path,
        {
            "__init__.py": "VERSION = '1'\n",
            "a.py": "from pkg import b, VERSION\nimport pkg.sub.d\nimport numpy\n",
            "b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import Thing\n"
            ),
            "c.py": "def later():\n    from . import b\n    from .sub import d\n",
            "sub/__init__.py": "from .d import helper\n",
            "sub/d.py": "from .. import c\nfrom ..c import later\n",
        },
    )
    assert import_graph(package) == {
        "pkg": set(),
        "pkg.a": {"pkg", "pkg.b", "pkg.sub.d"},  # VERSION is a name in pkg, numpy not ours
        "pkg.b": {"pkg.c"},  # type-only
        "pkg.c": {"pkg.b", "pkg.sub.d"},  # inside a function, relative
        "pkg.sub": {"pkg.sub.d"},
        "pkg.sub.d": {"pkg.c"},
    }


def test_find_cycles_reports_each_group_once() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": set(),
        "e": {"f"},
        "f": {"e", "d"},
    }
    assert find_cycles(graph) == [["a", "b", "c"], ["e", "f"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    assert layers({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == [["b"], ["a"], ["c"]]


def test_the_type_only_cycle_of_the_example_is_found(tmp_path: Path) -> None:
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.c import T\n",
            "c.py": "def f():\n    from pkg import b\n",
        },
    )
    assert find_cycles(import_graph(package)) == [["pkg.b", "pkg.c"]]


def test_benchmarks_have_no_import_cycle() -> None:
    graph = import_graph(ROOT / "benchmarks")
    assert "benchmarks.cli" in graph
    assert find_cycles(graph) == []


def test_the_peers_know_nothing_of_tinynet_s_loops_or_the_command_line() -> None:
    graph = import_graph(ROOT / "benchmarks")
    for module in ("benchmarks.peers.torch_mlp", "benchmarks.peers.numpy_mlp"):
        assert graph[module] <= {"benchmarks.nets", "benchmarks.timing"}, module
    assert not {m for m, edges in graph.items() if "benchmarks.cli" in edges} - {"benchmarks"}


def test_tinynet_has_no_import_cycle() -> None:
    graph = import_graph(ROOT / "tinynet")
    assert "tinynet.train" in graph
    assert find_cycles(graph) == []


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for module in graph[todo.pop()] - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_the_training_loop_knows_no_file_format() -> None:
    graph = import_graph(ROOT / "tinynet")
    loop = reachable(graph, "tinynet.train")
    formats = {m for m in graph if m.startswith("tinynet.io")} | {"tinynet.checkpoint"}
    assert "tinynet.layers.base" in loop  # the graph sees the loop's real imports
    assert not loop & formats, sorted(loop & formats)


def test_the_core_leaves_import_no_layer() -> None:
    """The pure modules the layers build on import nothing that builds layers."""
    graph = import_graph(ROOT / "tinynet")
    for leaf in ("tinynet.functional", "tinynet.state_dict", "tinynet.parameter", "tinynet.losses"):
        assert not {m for m in reachable(graph, leaf) if m.startswith("tinynet.layers")}, leaf
    assert "tinynet.functional" in reachable(graph, "tinynet.losses")


def test_the_command_line_parses_and_dispatches_only() -> None:
    """tinynet/cli.py stays thin (issue 19): at most 350 lines, no function over 60, and
    the commands' work is in the library modules it dispatches to."""
    source = (ROOT / "tinynet" / "cli.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 350
    tree = ast.parse(source)
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == []
    graph = import_graph(ROOT / "tinynet")
    assert {"tinynet.experiment", "tinynet.prediction"} <= graph["tinynet.cli"]
    assert not {m for m, edges in graph.items() if "tinynet.cli" in edges} - {"tinynet.__main__"}
