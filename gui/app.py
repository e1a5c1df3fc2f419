"""Application start-up: the QApplication, the window first, then anything slow.

``run_gui(files, smoke)`` is called by ``main.py``. With ``smoke=True`` it prints
``READY`` on stdout once the first window is painted (and, when a file was given, once
that mosaic is on screen), then quits with exit code 0; errors exit with 1.

No splash screen normally: the window itself is painted well within a second (the
``startup`` benchmark). Only when the process is already slow by the time the
QApplication exists (a cold disk, a loaded machine) is a splash shown until the window is.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.resources import RESOURCES

APP_NAME = "RateScope"
ORGANIZATION = "RateScope"
DESKTOP_ID = "org.ratescope.RateScope"
"""The .desktop file of ``installer/desktop.py`` (Wayland matches windows to it by this)."""
ICON_PATH = RESOURCES / "icons" / "ratescope.png"
SMOKE_TIMEOUT_MS = 120_000
"""A smoke run that has not become ready by then fails instead of hanging."""
SPLASH_AFTER_S = 0.5
"""Process age at QApplication creation beyond which the window would not be painted within
a second (building and painting it takes another 0.3-0.8 s): show a splash meanwhile."""
EXIT_WAIT_S = 60.0
"""How long quitting waits for background work to return (results are dropped)."""

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication, set up once: HiDPI, names for QSettings, icon, image order."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtGui.QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(DESKTOP_ID)
    if ICON_PATH.exists():
        app.setWindowIcon(QtGui.QIcon(str(ICON_PATH)))
    return app


def run_gui(files: list[str], smoke: bool = False) -> int:
    """Show the main window, open ``files[0]`` if given, and run the event loop.

    Parameters
    ----------
    files : list of str
        Paths from the command line; the first is opened.
    smoke : bool
        Print ``READY`` when painted (and the file shown), then quit; used by the
        start-up benchmark and the bundle test.

    Returns
    -------
    int
        The exit code.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_application()
    splash = maybe_splash(process_age_s())
    from ratescope.gui.shell.dialogs import HeadlessDialogs
    from ratescope.gui.shell.main_window import MainWindow

    if smoke:  # a smoke run leaves the user's recent files and geometry alone
        scratch = tempfile.TemporaryDirectory(prefix="ratescope-smoke-")
        settings = QtCore.QSettings(
            f"{scratch.name}/settings.ini", QtCore.QSettings.Format.IniFormat
        )
        window = MainWindow(settings=settings, dialogs=HeadlessDialogs())
        _arm_smoke_mode(app, window, expect_mosaic=bool(files),
                        expect_session=bool(files) and _is_session(files[0]))  # fmt: skip
    else:
        window = MainWindow()
    window.show()
    if splash is not None:
        splash.finish(window)
    if files:
        # after the first paint, so the window never waits for a file
        window.first_painted.connect(lambda: window.open_paths(files))
    code = app.exec()
    finish_background(window)
    return code


def finish_background(window=None, timeout_s: float = EXIT_WAIT_S) -> bool:
    """At quit: cancel ``window``'s tasks and wait for every background thread and worker.

    Work still running returns while the window (which its signals are bound to) still
    exists; its results are dropped. torch aborts the process ("terminate called ...") if
    the interpreter exits while a thread is inside its import, so a model load under way
    is waited for too. Returns True when nothing runs any more.
    """
    from ratescope.gui import threads

    if window is not None:
        window.runner.cancel_all()
    done = threads.wait_all(timeout_s)
    if not done:
        log.warning("still running after %.0f s at quit: %s", timeout_s, threads.running())
    return done


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``); None where unknown."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def maybe_splash(age_s: float | None) -> QtWidgets.QSplashScreen | None:
    """A splash (icon, "Starting RateScope…") shown now when ``age_s`` > :data:`SPLASH_AFTER_S`."""
    if age_s is None or age_s <= SPLASH_AFTER_S:
        return None
    pixmap = QtGui.QPixmap(str(ICON_PATH)) if ICON_PATH.exists() else QtGui.QPixmap(256, 256)
    splash = QtWidgets.QSplashScreen(pixmap)
    splash.showMessage("Starting RateScope…", QtCore.Qt.AlignmentFlag.AlignBottom
                       | QtCore.Qt.AlignmentFlag.AlignHCenter)  # fmt: skip
    splash.show()
    QtWidgets.QApplication.processEvents()
    log.info("slow start (%.1f s before the window): splash shown", age_s)
    return splash


def _is_session(path) -> bool:
    from ratescope.gui.session.controller import SESSION_SUFFIX

    return str(path).lower().endswith(SESSION_SUFFIX)


def _arm_smoke_mode(app: QtWidgets.QApplication, window, expect_mosaic: bool,
                    expect_session: bool = False) -> None:  # fmt: skip
    """Quit with 0 once ready (the mosaic, or a session's mosaic and state, shown), with 1
    on an error or after :data:`SMOKE_TIMEOUT_MS`."""

    def ready() -> None:
        window.repaint()  # the mosaic is painted before we say so
        print("READY", flush=True)
        QtCore.QTimer.singleShot(0, lambda: app.exit(0))

    def failed(*_args) -> None:
        QtCore.QTimer.singleShot(0, lambda: app.exit(1))

    if expect_session:
        window.session.session_restored.connect(ready)
        window.session.open_failed.connect(failed)
        window.opener.failed.connect(failed)
    elif expect_mosaic:
        window.mosaic_opened.connect(ready)
        window.opener.failed.connect(failed)
        window.mosaic_view.read_failed.connect(failed)
    else:
        window.first_painted.connect(ready)
    QtCore.QTimer.singleShot(SMOKE_TIMEOUT_MS, lambda: (print("smoke: timed out"), app.exit(1)))
