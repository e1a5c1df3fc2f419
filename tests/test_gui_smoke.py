"""``python main.py --smoke [FILE]``: the real app starts, paints, says READY, exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import tifffile
from _import_probe import loaded_after

ROOT = Path(__file__).resolve().parent.parent


def run_smoke(tmp_path: Path, *files: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    return subprocess.run(
        [sys.executable, "main.py", "--smoke", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_smoke_without_file_prints_ready_and_exits_zero(tmp_path):
    result = run_smoke(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines().count("READY") == 1
    assert not (tmp_path / "cfg").exists(), "a smoke run must not touch user settings"


def test_smoke_with_file_waits_for_the_mosaic(tmp_path):
    path = tmp_path / "smoke.tif"
    tifffile.imwrite(path, np.full((64, 256, 3), 128, np.uint8), resolution=(4e4, 4e4))
    result = run_smoke(tmp_path, str(path))
    assert result.returncode == 0, result.stderr
    assert "READY" in result.stdout.splitlines()
    assert "shown smoke.tif: 256 × 64 px, RGB uint8" in result.stderr  # opened before READY
    assert not (tmp_path / "cfg").exists()


def test_smoke_with_corrupt_file_fails_instead_of_hanging(tmp_path):
    path = tmp_path / "corrupt.tif"
    path.write_bytes(b"II*\x00garbage")
    result = run_smoke(tmp_path, str(path))
    assert result.returncode == 1
    assert "READY" not in result.stdout
    assert "corrupt.tif" in result.stderr


def test_gui_modules_do_not_import_torch():
    modules = sorted(
        f"ratescope.gui.{p.stem}" for p in (ROOT / "gui").glob("*.py") if p.stem != "__init__"
    )
    assert "torch" not in loaded_after(modules)


def test_start_up_path_defers_numpy_pyqtgraph_and_superqt():
    loaded = loaded_after(["ratescope.gui.app", "ratescope.gui.shell.main_window"])
    assert {"numpy", "pyqtgraph", "superqt", "torch"} & loaded == set()


def test_smoke_with_a_session_reaches_ready_with_the_session_shown(tmp_path):
    from ratescope.core.session import Session, save_session, source_facts

    image = tmp_path / "s.tif"
    tifffile.imwrite(image, np.full((64, 256, 3), 128, np.uint8), resolution=(4e4, 4e4))
    session = tmp_path / "work.ratescope"
    save_session(Session(**source_facts(image), source_format="TIFF"), session)
    result = run_smoke(tmp_path, str(session))
    assert result.returncode == 0, result.stderr
    assert "READY" in result.stdout.splitlines()
    assert "shown s.tif" in result.stderr  # the session's mosaic, before READY
    (tmp_path / "bad.ratescope").write_bytes(b"not hdf5 at all")
    result = run_smoke(tmp_path, str(tmp_path / "bad.ratescope"))
    assert result.returncode == 1 and "READY" not in result.stdout
    assert "bad.ratescope" in result.stderr
