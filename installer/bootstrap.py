#!/usr/bin/env python3
"""Set up RateScope's own virtual environment, then run the app or the tests.

Usage (from anywhere, with any Python >= 3.11)::

    python3 installer/bootstrap.py run [FILE]   # install, then start the GUI on FILE or the sample
    python3 installer/bootstrap.py test [ARGS]  # install with test extras, check, run pytest ARGS

``test`` runs ``ruff check .``, ``ruff format --check .``, the doctests of ``core`` and then
pytest with ARGS (all of them even when one fails; exit code 1 if any did).

Standard library only: it must work before anything is installed. With no display
(Linux without $DISPLAY / $WAYLAND_DISPLAY) ``run`` runs the headless main job on the
bundled sample instead, and says so.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
SAMPLE = ROOT / "resources" / "samples" / "sample_mosaic.czi"
CONSTRAINTS = ROOT / "installer" / "constraints.txt"  # the exact versions tested

# Shared library Qt needs -> the Debian package that provides it. Offscreen needs the first
# group.
QT_LIBS_OFFSCREEN = {
    "EGL": "libegl1",
    "GL": "libgl1",
    "xkbcommon": "libxkbcommon0",
    "fontconfig": "libfontconfig1",
    "glib-2.0": "libglib2.0-0",
    "dbus-1": "libdbus-1-3",
}
QT_LIBS_WINDOW = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xfixes": "libxcb-xfixes0",
    "xcb-xkb": "libxcb-xkb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "X11-xcb": "libx11-xcb1",
}


def venv_python() -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def missing_qt_packages(window: bool) -> list[str]:
    """Debian packages whose Qt libraries cannot be found (Linux only)."""
    if sys.platform != "linux":
        return []
    libs = dict(QT_LIBS_OFFSCREEN)
    if window:
        libs.update(QT_LIBS_WINDOW)
    missing = [pkg for lib, pkg in libs.items() if ctypes.util.find_library(lib) is None]
    if window and not Path("/usr/share/fontconfig").exists() and not Path("/etc/fonts").exists():
        missing.append("fontconfig-config")
    return missing


def check_qt_libs(window: bool) -> None:
    missing = missing_qt_packages(window)
    if not missing:
        return
    cmd = "apt-get install -y " + " ".join(missing)
    print(f"RateScope needs these system packages for Qt: {' '.join(missing)}")
    can_install = os.environ.get("CI") and hasattr(os, "geteuid") and os.geteuid() == 0
    if can_install and shutil.which("apt-get"):
        print(f"CI as root: running '{cmd}'", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(cmd.split(), check=True)
    else:
        sys.exit(f"Install them with:\n    sudo {cmd}")


def ensure_venv(extras: str) -> Path:
    """Create .venv and install the project (editable) with ``extras`` when needed."""
    py = venv_python()
    if not py.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = (ROOT / "pyproject.toml").read_bytes() + CONSTRAINTS.read_bytes()
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return py
    print("Installing RateScope and its dependencies (first time: a few minutes) ...", flush=True)
    target = f".[{extras}]" if extras else "."
    pin = ["-c", str(CONSTRAINTS)]
    # torch first and pinned: the local CPU wheel, never the CUDA build from the index.
    subprocess.run([py, "-m", "pip", "install", "-q", *pin, "torch"], cwd=ROOT, check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", *pin, "-e", target], cwd=ROOT, check=True)
    stamp.write_text(digest)
    return py


def run_app(args: list[str]) -> int:
    window = has_display()
    check_qt_libs(window)
    py = ensure_venv("")
    if window:
        target = args or [str(SAMPLE)]
        return subprocess.call([py, str(ROOT / "main.py"), *target], cwd=ROOT)
    print("No display found: running the headless main job on the bundled sample instead.")
    target = args or [str(SAMPLE)]
    return subprocess.call([py, str(ROOT / "main.py"), "predict", *target], cwd=ROOT)


def checks(py: Path, pytest_args: list[str]) -> list[tuple[str, list]]:
    """What ``test`` runs, in order: (name, command)."""
    return [
        ("ruff check", [py, "-m", "ruff", "check", "."]),
        ("ruff format --check", [py, "-m", "ruff", "format", "--check", "."]),
        ("doctests of core", [py, "-m", "pytest", "--doctest-modules", "core"]),
        ("pytest", [py, "-m", "pytest", *pytest_args]),
    ]


def run_tests(args: list[str]) -> int:
    """Lint, format check, doctests, then pytest ``args``; every step runs, 1 if any failed."""
    check_qt_libs(window=False)
    py = ensure_venv("test")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    failed = []
    for name, cmd in checks(py, args):
        print(f"== {name}", flush=True)
        if subprocess.call(cmd, cwd=ROOT, env=env) != 0:
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
        return 1
    print("All checks and tests passed.", flush=True)
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return run_app(rest) if command == "run" else run_tests(rest)


if __name__ == "__main__":
    sys.exit(main())
