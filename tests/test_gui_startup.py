"""Start-up details of ``gui.app``: the conditional splash, the desktop id, a clean quit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6 import QtWidgets

from ratescope.gui import app as gui_app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "samples" / "sample_mosaic.czi"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process age needs /proc")
def test_process_age_counts_from_the_process_start():
    code = (
        "import time; time.sleep(0.4); from ratescope.gui.app import process_age_s; "
        "print(process_age_s())"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    age = float(out.stdout.strip())
    assert 0.4 <= age <= wall + 0.02  # /proc counts in 10 ms ticks


def test_no_splash_for_a_fast_start(qapp):
    assert gui_app.maybe_splash(None) is None
    assert gui_app.maybe_splash(gui_app.SPLASH_AFTER_S / 2) is None


def test_slow_start_shows_a_splash_until_the_window_is_there(qtbot):
    splash = gui_app.maybe_splash(gui_app.SPLASH_AFTER_S + 1.0)
    assert isinstance(splash, QtWidgets.QSplashScreen)
    qtbot.addWidget(splash)
    assert splash.isVisible() and not splash.pixmap().isNull()
    assert splash.message() == "Starting RateScope…"
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    window.show()
    splash.finish(window)
    qtbot.waitUntil(lambda: not splash.isVisible(), timeout=5000)


def test_desktop_file_name_matches_the_installed_entry(qapp):
    import importlib.util

    spec = importlib.util.spec_from_file_location("desktop", ROOT / "installer" / "desktop.py")
    desktop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(desktop)
    gui_app.create_application()
    assert QtWidgets.QApplication.desktopFileName() == desktop.APP_ID
    assert desktop.WM_CLASS == QtWidgets.QApplication.applicationName()


def test_smoke_on_the_sample_quits_without_a_traceback(tmp_path):
    """Work still running at exit (the alignment) returns before the window goes away."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "main.py", "--smoke", str(SAMPLE)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "READY" in done.stdout.splitlines()
    assert "Traceback" not in done.stderr, done.stderr


def test_window_geometry_is_remembered_between_runs(qtbot, tmp_path):
    from _gui_helpers import wait_for_background
    from PySide6 import QtCore

    from ratescope.gui.shell.dialogs import HeadlessDialogs
    from ratescope.gui.shell.main_window import MainWindow

    ini = str(tmp_path / "settings.ini")

    def new_window():
        settings = QtCore.QSettings(ini, QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, dialogs=HeadlessDialogs())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    try:
        first = new_window()
        assert first.size() == QtCore.QSize(1280, 800)  # the default on a first run
        first.resize(700, 520)  # within the offscreen screen (800 x 800): restoring clamps
        qtbot.waitUntil(lambda: first.size() == QtCore.QSize(700, 520))
        first.close()
        second = new_window()
        assert second.size() == QtCore.QSize(700, 520)
    finally:
        wait_for_background(qtbot)  # each window loads the models after its first paint
