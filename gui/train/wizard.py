"""Models ▸ Train on Your Electrodes…: a wizard from mosaics and measured capacities to a
registered model.

Pages: data set (:class:`~gui.train.pages.DataPage`) → review
(:class:`~gui.train.pages.ReviewPage`, batch alignment on the window's runner) → settings
(:class:`~gui.train.pages.SettingsPage`) → training (:class:`~gui.train.run_page.TrainPage`,
a separate process with live curves, Cancel and Resume) → finish
(:class:`~gui.train.run_page.FinishPage`, registration and activation).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

from ratescope.gui.train.jobs import TrainSettings, register_job, run_folder, training_runs_root
from ratescope.gui.train.pages import DataPage, ReviewPage, SettingsPage
from ratescope.gui.train.run_page import FinishPage, TrainPage


class TrainWizard(QtWidgets.QWizard):
    """The training wizard of ``window`` (a :class:`gui.shell.main_window.MainWindow`).

    Parameters
    ----------
    window
        Gives ``runner``, ``dialogs`` (errors) and ``settings`` (last folder).
    ask
        File questions (``folder``, ``open_path``), :class:`gui.session.dialogs.SessionDialogs`
        by default; tests pass a recorder.
    on_activate : callable, optional
        ``on_activate(entry)`` when the user chose to use the new model at the end.
    runs_root : path, optional
        Where run folders are made (default :func:`gui.train.jobs.training_runs_root`).
    """

    DATA, REVIEW, SETTINGS, TRAIN, FINISH = range(5)

    def __init__(
        self,
        window,
        ask=None,
        on_activate: Callable[[object], None] | None = None,
        runs_root: str | Path | None = None,
        parent: QtWidgets.QWidget | None = None,
    ):
        super().__init__(parent if parent is not None else window)
        if ask is None:
            from ratescope.gui.session.dialogs import SessionDialogs

            ask = SessionDialogs()
        self.app_window, self.ask, self.on_activate = window, ask, on_activate
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self.review = None
        self.settings = TrainSettings()
        self.environment: dict[str, str] = {}
        self.entry = None
        self._out_dir: Path | None = None
        self.register_job = register_job
        self.setWindowTitle("Train on your electrodes")
        self.setWizardStyle(QtWidgets.QWizard.WizardStyle.ClassicStyle)
        self.setOption(QtWidgets.QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QtWidgets.QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.data_page = DataPage()
        self.review_page = ReviewPage()
        self.settings_page = SettingsPage()
        self.train_page = TrainPage()
        self.finish_page = FinishPage()
        for i, page in enumerate(
            (self.data_page, self.review_page, self.settings_page, self.train_page,
             self.finish_page)
        ):  # fmt: skip
            self.setPage(i, page)
        self.resize(980, 680)

    @property
    def out_dir(self) -> Path:
        """This run's folder (data set, checkpoints, fold models), made on first use."""
        if self._out_dir is None:
            root = self.runs_root if self.runs_root is not None else training_runs_root()
            self._out_dir = run_folder(root, self.settings.name)
        return self._out_dir

    def activate(self, entry) -> None:
        """Use ``entry`` for predictions (the finish page's choice)."""
        if self.on_activate is not None:
            self.on_activate(entry)

    def accept(self) -> None:
        """Finish: use the new model now if the finish page says so."""
        page = self.finish_page
        if page.entry is not None and page.activate_box.isChecked():
            self.activate(page.entry)
        super().accept()

    def done(self, result: int) -> None:
        """Closing stops what still runs (a training run keeps its checkpoint)."""
        self.review_page.cancel()
        self.train_page.stop()
        super().done(result)
