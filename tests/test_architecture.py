"""`core` is a library: it never imports Qt, pyqtgraph, superqt or the GUI."""

import ast
from pathlib import Path

from _import_probe import loaded_after

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "ratescope.gui", "ratescope.cli"}


def _root(module: str) -> str:
    """``PySide6.QtCore`` -> ``PySide6``; RateScope's by their part: ``ratescope.gui``."""
    return ".".join(module.split(".")[: 2 if module.startswith("ratescope.") else 1])


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {_root(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(_root(node.module))
    return roots


def test_core_sources_do_not_import_gui_code():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & FORBIDDEN)
        for p in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(
        "ratescope." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
    )
    assert loaded_after(modules) & FORBIDDEN == set()


def test_the_import_check_sees_ratescope_parts():
    roots = _imported_roots(ROOT / "gui" / "predict" / "controller.py")
    assert {"PySide6", "ratescope.core", "ratescope.gui"} <= roots


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return "ratescope." + ".".join(parts).removesuffix(".__init__")


def _module_level_imports(path: Path, known: set[str]) -> set[str]:
    """RateScope modules ``path`` imports when it is imported: top-level statements and
    ``if TYPE_CHECKING:`` blocks (type hints count), not imports inside functions."""
    found = set()
    body = list(ast.parse(path.read_text(), filename=str(path)).body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If | ast.Try):
            body.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from package import submodule`` imports the submodule (and the package,
            # which is importing it at that moment when they are one package)
            sub = [f"{node.module}.{a.name}" for a in node.names]
            names = [n for n in sub if n in known] or [node.module]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module."""
    import networkx as nx  # scikit-image's dependency

    digraph = nx.DiGraph([(a, b) for a, deps in graph.items() for b in deps])
    digraph.add_nodes_from(graph)
    return sorted(sorted(c) for c in nx.strongly_connected_components(digraph) if len(c) > 1)


def test_no_import_cycles_in_the_packages():
    files = [p for d in ("core", "gui", "cli") for p in (ROOT / d).rglob("*.py")]
    known = {_module_name(p) for p in files}
    graph = {_module_name(p): _module_level_imports(p, known) - {_module_name(p)} for p in files}
    assert len(graph) > 150 and sum(map(len, graph.values())) > 200  # the walk found them
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
