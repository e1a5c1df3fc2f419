#!/usr/bin/env python3
"""Build the one-folder bundle ``dist/RateScope/`` from ``installer/ratescope.spec``.

    python installer/build_bundle.py            # build, print time and size
    python installer/build_bundle.py --smoke    # ... then run the bundle's --smoke check

Needs PyInstaller in the environment (``pip install -e .[bundle]``). The build time, the
bundle's size and file count, and what it was built from go to ``dist/bundle_record.json``
(read by the ``startup`` benchmark suite). Intermediate files go to ``build/pyinstaller``.
Standard library only, so it runs before anything else is importable.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "installer" / "ratescope.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_NAME = "RateScope"
RECORD = DIST / "bundle_record.json"


def bundle_dir(dist: Path = DIST) -> Path:
    """The built folder (``dist/RateScope``)."""
    return dist / APP_NAME


def executable(dist: Path = DIST) -> Path:
    """The bundled program inside :func:`bundle_dir`."""
    name = f"{APP_NAME}.exe" if sys.platform == "win32" else APP_NAME
    return bundle_dir(dist) / name


def folder_size(folder: Path) -> tuple[int, int]:
    """Bytes and number of files under ``folder`` (links not followed)."""
    total = files = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(dirpath, name)
            if not p.is_symlink():
                total += p.stat().st_size
                files += 1
    return total, files


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=30)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _git_commit() -> str:
    """HEAD, with ``+changes`` when the sources (tracked or new) differ from it."""
    head = _git("rev-parse", "--short", "HEAD")
    changed = _git("status", "--porcelain", "--untracked-files=normal", "--", "main.py",
                   "ratescope", "cli", "core", "gui", "resources",
                   "installer/ratescope.spec")  # fmt: skip
    return f"{head}+changes" if head and changed else head


def build(dist: Path = DIST, work: Path = WORK, log=None, clean: bool = False) -> dict:
    """Run PyInstaller on the spec; return (and write to ``dist/bundle_record.json``) a record.

    Parameters
    ----------
    dist, work : Path
        PyInstaller's ``--distpath`` and ``--workpath``.
    log : file object, optional
        Where PyInstaller's output goes (default: inherited stdout/stderr).
    clean : bool
        Empty PyInstaller's cache first (slower; use after changing hooks).

    Raises
    ------
    subprocess.CalledProcessError
        When PyInstaller fails.
    """
    cmd = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
           "--distpath", str(dist), "--workpath", str(work)]  # fmt: skip
    if clean:
        cmd.append("--clean")
    # PyInstaller's caches in ``work`` make a rebuild quicker (an empty folder is no cache)
    reused = work.is_dir() and any(work.iterdir()) and not clean
    commit = _git_commit()  # what is built: the sources as the build starts
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=log, stderr=subprocess.STDOUT if log else None)
    seconds = time.perf_counter() - t0
    size, files = folder_size(bundle_dir(dist))
    import PyInstaller  # noqa: PLC0415 - only present in the bundle environment

    record = {
        "built_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "rebuild": reused,
        "bundle_bytes": size,
        "bundle_files": files,
        "bundle": str(bundle_dir(dist)),
        "pyinstaller": PyInstaller.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(load, 2),
        "commit": commit,
    }
    dist.mkdir(parents=True, exist_ok=True)
    tmp = dist / (RECORD.name + ".part")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, dist / RECORD.name)
    return record


def smoke(
    file: str | None = None, dist: Path = DIST, timeout: float = 180
) -> tuple[int, str, float]:
    """Start the bundled app with ``--smoke [file]`` offscreen: (exit code, output, seconds)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [str(executable(dist)), "--smoke", *([file] if file else [])]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--smoke", action="store_true",
                        help="run the bundle with --smoke on the sample afterwards")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        import PyInstaller  # noqa: F401, PLC0415
    except ImportError:
        print("PyInstaller is not installed: pip install -e '.[bundle]'", file=sys.stderr)
        return 2
    record = build(clean=args.clean)
    print(f"built {record['bundle']} in {record['build_seconds']:.0f} s: "
          f"{record['bundle_bytes'] / 1e6:.0f} MB in {record['bundle_files']} files "
          f"(record: {RECORD.relative_to(ROOT)})")  # fmt: skip
    if args.smoke:
        sample = str(ROOT / "resources" / "samples" / "sample_mosaic.czi")
        rc, out, seconds = smoke(sample)
        print(out.rstrip())
        print(f"smoke: exit code {rc} after {seconds:.1f} s")
        return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
