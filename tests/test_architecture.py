"""`core` is a library: it never imports Qt, pyqtgraph, superqt or the GUI."""

import ast
from pathlib import Path

from _import_probe import loaded_after

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "gui", "cli"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_sources_do_not_import_gui_code():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & FORBIDDEN)
        for p in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_core_module_loads_no_qt():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
    )
    assert loaded_after(modules) & FORBIDDEN == set()
