"""Shared pieces of the GUI tests: dialogs that record instead of blocking, and a window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6 import QtCore

from gui.dialogs import Dialogs
from gui.main_window import MainWindow


class RecordingDialogs(Dialogs):
    """Errors are recorded; the pixel-size question is declined (the default is kept)."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []

    def show_error(self, parent, title, text):
        self.errors.append((title, text))

    def ask_pixel_size(self, parent, path, default_um):
        return None


def shown_window(
    qtbot, tmp_path: Path, size=(1400, 900), models_dir=None, timeout_ms: int = 30_000
) -> Iterator[MainWindow]:
    """Yield a shown main window with scratch settings; on teardown wait for its workers."""
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, dialogs=RecordingDialogs())
    if models_dir is not None:
        win.prediction.models_dir = models_dir  # loaded after the first paint
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.runner.cancel_all()
    qtbot.waitUntil(
        lambda: QtCore.QThreadPool.globalInstance().activeThreadCount() == 0, timeout=timeout_ms
    )
