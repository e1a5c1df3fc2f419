"""Application start-up: the QApplication, the window first, then anything slow.

``run_gui(files, smoke)`` is called by ``main.py``. With ``smoke=True`` it prints
``READY`` on stdout once the first window is painted (and, when a file was given, once
that mosaic is on screen), then quits with exit code 0; errors exit with 1.
"""

from __future__ import annotations

import logging
import sys
import tempfile

from PySide6 import QtCore, QtGui, QtWidgets

from core.resources import RESOURCES

APP_NAME = "RateScope"
ORGANIZATION = "RateScope"
ICON_PATH = RESOURCES / "icons" / "ratescope.png"
SMOKE_TIMEOUT_MS = 120_000
"""A smoke run that has not become ready by then fails instead of hanging."""

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
    app.setDesktopFileName("ratescope")
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
    from gui.dialogs import HeadlessDialogs
    from gui.main_window import MainWindow

    if smoke:  # a smoke run leaves the user's recent files and geometry alone
        scratch = tempfile.TemporaryDirectory(prefix="ratescope-smoke-")
        settings = QtCore.QSettings(
            f"{scratch.name}/settings.ini", QtCore.QSettings.Format.IniFormat
        )
        window = MainWindow(settings=settings, dialogs=HeadlessDialogs())
        _arm_smoke_mode(app, window, expect_mosaic=bool(files))
    else:
        window = MainWindow()
    window.show()
    if files:
        # after the first paint, so the window never waits for a file
        window.first_painted.connect(lambda: window.open_paths(files))
    code = app.exec()
    # torch aborts the process ("terminate called ...") if the interpreter exits while a
    # thread is still inside its import: let a model load that is under way finish
    window.prediction.wait_for_loader(timeout_s=60)
    return code


def _arm_smoke_mode(app: QtWidgets.QApplication, window, expect_mosaic: bool) -> None:
    """Quit with 0 once ready, with 1 on an error or after :data:`SMOKE_TIMEOUT_MS`."""

    def ready() -> None:
        window.repaint()  # the mosaic is painted before we say so
        print("READY", flush=True)
        QtCore.QTimer.singleShot(0, lambda: app.exit(0))

    def failed(*_args) -> None:
        QtCore.QTimer.singleShot(0, lambda: app.exit(1))

    if expect_mosaic:
        window.mosaic_opened.connect(ready)
        window.opener.failed.connect(failed)
        window.mosaic_view.read_failed.connect(failed)
    else:
        window.first_painted.connect(ready)
    QtCore.QTimer.singleShot(SMOKE_TIMEOUT_MS, lambda: (print("smoke: timed out"), app.exit(1)))
