"""The runtime dependencies in pyproject.toml are exactly what the runtime code imports.

Runtime code is ``core/``, ``gui/``, ``cli/`` and ``main.py``. Every import is found by
walking the AST, so imports inside functions count too. A top-level module is mapped to
its distribution with :func:`importlib.metadata.packages_distributions`; the standard
library and the project's own packages are left out. Environment markers are ignored: a
name listed under any marker counts as a runtime dependency.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ("ratescope", "core", "gui", "cli", "main.py")
OWN = {"ratescope"}

USED_INDIRECTLY: dict[str, str] = {}
"""Runtime dependencies that no runtime module imports, with the reason they are needed.

Empty at present: shiboken6 is imported by gui/background.py and imagecodecs by
core/io/raster.py, so both are found by the import walk.
"""

OPTIONAL_IMPORTS = {
    # A docs tool (the synthetic-data figure of the README): imports Pillow only when it
    # writes the 192-colour PNG and says "pip install pillow" when it is missing. Pillow is
    # in the test and bundle extras, not a runtime dependency.
    ("core/synth/preview.py", "PIL"),
    # The synthetic appearance families' JPEG: imagecodecs (a runtime dependency) first,
    # Pillow only where imagecodecs is missing (a training machine); the same pixels.
    ("core/synth/looks.py", "PIL"),
}
"""(file, top-level module) pairs allowed to import a package that is not a runtime dependency."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, f"cannot read a distribution name from {requirement!r}"
        names.add(_canonical(match.group(1)))
    return names


def _runtime_files() -> list[Path]:
    files = []
    for entry in RUNTIME:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the runtime files (relative, POSIX) that import it."""
    found: dict[str, set[str]] = {}
    for path in _runtime_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top in sys.stdlib_module_names or top in OWN:
                    continue
                found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_the_walk_sees_imports_inside_functions():
    imports = third_party_imports()
    assert "torch" in imports and "PySide6" in imports
    assert "core/synth/preview.py" in imports.get("PIL", set())  # imported in a function


def test_every_imported_package_is_a_runtime_dependency():
    deps = runtime_dependencies()
    distributions = packages_distributions()
    problems = []
    for module, files in sorted(third_party_imports().items()):
        files = {f for f in files if (f, module) not in OPTIONAL_IMPORTS}
        if not files:
            continue
        dists = {_canonical(d) for d in distributions.get(module, [])}
        if not dists:
            problems.append(f"{module} (imported by {sorted(files)}) is not installed")
        elif not dists & deps:
            problems.append(
                f"{module} (distribution {sorted(dists)}) is imported by {sorted(files)} "
                "but is not in [project].dependencies"
            )
    assert not problems, "\n".join(problems)


def test_every_runtime_dependency_is_imported():
    distributions = packages_distributions()
    imported = {
        _canonical(d) for module in third_party_imports() for d in distributions.get(module, [])
    }
    unused = runtime_dependencies() - imported - {_canonical(d) for d in USED_INDIRECTLY}
    assert not unused, f"runtime dependencies that no runtime module imports: {sorted(unused)}"


def test_the_allow_lists_are_still_needed():
    imports = third_party_imports()
    for path, module in OPTIONAL_IMPORTS:
        assert path in imports.get(module, set()), f"{path} no longer imports {module}"
    distributions = packages_distributions()
    imported = {_canonical(d) for module in imports for d in distributions.get(module, [])}
    for dist in USED_INDIRECTLY:
        assert _canonical(dist) not in imported, f"{dist} is imported now: drop it from the list"
