"""Shared pieces of the GUI tests: dialogs that record instead of blocking, and a window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6 import QtCore

from ratescope.gui import threads
from ratescope.gui.shell.dialogs import Dialogs
from ratescope.gui.shell.main_window import MainWindow


class RecordingDialogs(Dialogs):
    """Errors are recorded; the pixel-size question is declined (the default is kept)."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []

    def show_error(self, parent, title, text):
        self.errors.append((title, text))

    def ask_pixel_size(self, parent, path, default_um):
        return None


class Ask:
    """Answers a controller's questions (any method name) from ``answers`` and records
    ``(name, second argument)`` of each: the session and export dialogs without dialogs."""

    def __init__(self, **answers):
        self.answers, self.asked = answers, []

    def __getattr__(self, name):
        def answer(*args):
            self.asked.append((name, args[1] if len(args) > 1 else None))
            return self.answers.get(name)

        return answer

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.asked if n == name)


def shown_window(
    qtbot,
    tmp_path: Path,
    size=(1400, 900),
    models_dir=None,
    timeout_ms: int = 60_000,
    *,
    settings: QtCore.QSettings | None = None,
    dialogs: Dialogs | None = None,
    prepare: Callable[[MainWindow], None] | None = None,
) -> Iterator[MainWindow]:
    """Yield a shown main window; afterwards cancel its work and wait for all background work.

    ``settings`` default to a scratch file in ``tmp_path``, ``dialogs`` to a
    :class:`RecordingDialogs`; ``prepare(window)`` runs before the window is shown
    (before its first paint).
    """
    if settings is None:
        settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    dialogs = dialogs if dialogs is not None else RecordingDialogs()
    win = MainWindow(settings=settings, dialogs=dialogs)
    if models_dir is not None:
        win.prediction.models_dir = models_dir  # loaded after the first paint
    if prepare is not None:
        prepare(win)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    try:
        yield win
    finally:
        win.runner.cancel_all()
        wait_for_background(qtbot, timeout_ms)


def wait_for_background(qtbot, timeout_ms: int = 60_000) -> None:
    """Process events until no thread or worker of :mod:`gui.threads` runs (the model
    loader included: it imports torch the first time, seconds on a busy machine)."""
    qtbot.waitUntil(lambda: not threads.running(), timeout=timeout_ms)


window_shown = contextmanager(shown_window)
""":func:`shown_window` for a ``with`` block (a test that builds its window itself)."""


def cae_model_file(tmp_path_factory) -> Path:
    """The embedded CAE when it is installed, else a seeded untrained one written the same
    way (for the 3D workspace's tests)."""
    import torch

    from ratescope.core.models.cae import CAE3D, save_model
    from ratescope.core.resources import MODELS

    embedded = MODELS / "cae.safetensors"
    if embedded.is_file():
        return embedded
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("cae") / "cae.safetensors"
    metrics = {"train_mse": 0.5, "val_mse": 0.52, "fit_ttest": {"pvalue": 0.31}}
    card = {"name": "test CAE (untrained)", "metrics": metrics}
    save_model(CAE3D().eval(), path, card)
    return path
