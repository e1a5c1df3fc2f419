"""The first three pages of the training wizard: data set, review, settings.

Each page reaches the wizard (:class:`gui.train.wizard.TrainWizard`) through
``self.wizard()``: its ``app_window`` (runner, dialogs), ``ask`` (file questions), and the
state the pages share (``review``, ``settings``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import UNITS
from ratescope.gui.train.jobs import DEVICES, TrainSettings, review_job
from ratescope.gui.train.review_table import ReviewTable, electrode_count, notes_html, usable

MODES = ("head", "full")
MODE_TEXTS = ("Dense head only (fast on a CPU)", "All layers (slow; GPU recommended)")
DEFAULT_STEPS = (600, 5000)
"""Steps per fold by default: head refit, full training (the paper's)."""
CSV_FILTER = "Measured capacities (*.csv *.txt *.tsv);;All files (*)"
CSV_HELP = (
    "One row per electrode and unit: <tt>sample,unit,0.2C,1C,2C,3C,5C</tt> — the sample is "
    "the mosaic's file name (with or without extension); units Ah/kg (= mAh/g) or Ah/L "
    "(= mAh/cm³); leave a C-rate empty where it was not measured (it stays missing)."
)


def _path_row(edit: QtWidgets.QLineEdit, button: QtWidgets.QPushButton) -> QtWidgets.QWidget:
    row = QtWidgets.QWidget()
    layout = QtWidgets.QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


class DataPage(QtWidgets.QWizardPage):
    """A folder of mosaics (any supported format) and the CSV of measured capacities."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Your electrodes")
        self.setSubTitle(
            "Choose a folder of cross-section mosaics and the capacities you measured on "
            "the same electrodes (coin cells at several C-rates)."
        )
        self.folder_edit = QtWidgets.QLineEdit()
        self.folder_edit.setPlaceholderText("Folder with .czi, .zvi, .tif, .png … mosaics")
        self.csv_edit = QtWidgets.QLineEdit()
        self.csv_edit.setPlaceholderText("measured.csv")
        self.folder_button = QtWidgets.QPushButton("Browse…")
        self.csv_button = QtWidgets.QPushButton("Browse…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.csv_button.clicked.connect(self._choose_csv)
        help_label = QtWidgets.QLabel(CSV_HELP)
        help_label.setWordWrap(True)
        help_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        sessions = QtWidgets.QLabel(
            "A mosaic saved as a session (<tt>.ratescope</tt>) beside it keeps the alignment "
            "you confirmed; the others are aligned automatically and listed for review."
        )
        sessions.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Mosaic folder:", _path_row(self.folder_edit, self.folder_button))
        form.addRow("Measured CSV:", _path_row(self.csv_edit, self.csv_button))
        form.addRow("", help_label)
        form.addRow("", sessions)
        self.folder_edit.textChanged.connect(self.completeChanged)
        self.csv_edit.textChanged.connect(self.completeChanged)

    def folder(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser()

    def csv(self) -> Path:
        return Path(self.csv_edit.text().strip()).expanduser()

    def isComplete(self) -> bool:  # noqa: N802
        return (
            bool(self.folder_edit.text().strip())
            and self.folder().is_dir()
            and (bool(self.csv_edit.text().strip()) and self.csv().is_file())
        )

    def _choose_folder(self) -> None:
        w = self.wizard()
        start = self.folder_edit.text() or w.app_window.settings.last_directory
        chosen = w.ask.folder(self, "Folder of mosaics", start)
        if chosen:
            self.folder_edit.setText(chosen)
            if not self.csv_edit.text():
                found = sorted(Path(chosen).glob("*.csv"))
                if len(found) == 1:
                    self.csv_edit.setText(str(found[0]))

    def _choose_csv(self) -> None:
        w = self.wizard()
        start = self.csv_edit.text() or self.folder_edit.text() or ""
        chosen = w.ask.open_path(self, "Measured capacities", start, CSV_FILTER)
        if chosen:
            self.csv_edit.setText(chosen)


class ReviewPage(QtWidgets.QWizardPage):
    """Every mosaic aligned automatically (or from its session) and matched with the CSV."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Review")
        self.setSubTitle(
            "Each mosaic is aligned and cut into tiles as a prediction would be. Only "
            "mosaics marked ok, with a measurement, are used for training."
        )
        self.review = None
        self.task = None
        self.error: str | None = None
        self._connected = False
        self.table = ReviewTable()
        self.table.include_changed.connect(self._include_changed)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.notes = QtWidgets.QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.message = QtWidgets.QLabel()
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.again_button = QtWidgets.QPushButton("Review again")
        self.again_button.clicked.connect(self.start)
        busy = QtWidgets.QHBoxLayout()
        busy.addWidget(self.message, 1)
        busy.addWidget(self.bar, 1)
        busy.addWidget(self.cancel_button)
        busy.addWidget(self.again_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(busy)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.notes)

    def initializePage(self) -> None:  # noqa: N802
        self.start()

    def cleanupPage(self) -> None:  # noqa: N802
        self.cancel()

    def running(self) -> bool:
        w = self.wizard()
        return self.task is not None and w is not None and self.task in w.app_window.runner.tasks

    def start(self) -> None:
        """Run the review on the window's runner (progress here and in the status bar)."""
        w = self.wizard()
        data = w.data_page
        self.cancel()
        self.review, self.error = None, None
        self.table.show_review(None)
        self.summary.setText("")
        self.notes.setText("")
        self._busy(True, f"Aligning the mosaics of {data.folder().name}…", 0.0)
        self.completeChanged.emit()
        runner = w.app_window.runner
        task = runner.start(
            review_job, data.folder(), data.csv(),
            message="Reviewing the training mosaics…",
            on_done=self._reviewed, on_error=self._failed,
        )  # fmt: skip
        self.task = task
        if not self._connected:
            runner.busy_changed.connect(self._progress)
            self._connected = True

    def _progress(self, _busy: bool, message: str, fraction: float) -> None:
        if self.task is None:
            return
        if self.task.cancelled or not self.running():
            self._disconnect()
            if self.task.cancelled:
                self.task = None
                self._busy(False, "Review cancelled: press Review again to start over.")
            return
        if self.task.fraction is not None:
            self.bar.setValue(int(self.task.fraction * 1000))
        self.message.setText(self.task.message)

    def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self.wizard().app_window.runner.busy_changed.disconnect(self._progress)

    def cancel(self) -> None:
        """Stop a running review (its result, if it still comes, is dropped)."""
        if self.task is not None and not self.task.cancelled:
            self.task.cancel()

    def _busy(self, busy: bool, message: str, fraction: float | None = None) -> None:
        self.message.setText(message)
        self.bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.again_button.setVisible(not busy)
        if fraction is not None:
            self.bar.setValue(int(fraction * 1000))

    def _reviewed(self, review) -> None:
        self._disconnect()
        self.task, self.review = None, review
        self.wizard().review = review
        self._busy(False, "")
        self.table.show_review(review)
        self._include_changed()
        self.notes.setText(notes_html(review))

    def _include_changed(self) -> None:
        review = self.review
        if review is None:
            return
        text = review.summary()
        sessions = sum(1 for r in review.usable if r.from_session)
        if sessions:
            text += f"; {sessions} alignment{'s' * (sessions != 1)} from saved sessions"
        self.summary.setText(text[0].upper() + text[1:])
        self.completeChanged.emit()

    def _failed(self, error: BaseException) -> None:
        self._disconnect()
        self.task, self.error = None, str(error)
        self._busy(False, f"The review failed: {error}")
        self.wizard().app_window.dialogs.show_error(self, "Review failed", str(error))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.review is not None and electrode_count(self.review) >= 3


def review_units(review) -> list[str]:
    """The units measured on the usable electrodes of ``review``, in :data:`UNITS` order."""
    found = {u for row in usable(review) for u in row.units}
    return [u for u in UNITS if u in found]


def fold_problem(folds: int, electrodes: int) -> str:
    """Why ``folds`` folds cannot split ``electrodes`` electrodes ("" when they can):
    every fold needs held-out electrodes for validation and test (core.train.data.folds)."""
    if folds > electrodes:
        return f"{folds} folds need at least {folds} usable electrodes ({electrodes} here)."
    if folds == 2 and electrodes < 4:
        return "2 folds need at least 4 usable electrodes (validation and test in each)."
    return ""


class SettingsPage(QtWidgets.QWizardPage):
    """Unit(s), folds, starting point, steps, device, name."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Training settings")
        self.setSubTitle(
            "Fine-tuning starts from the embedded ensemble, so a few dozen electrodes are "
            "enough; each fold holds whole electrodes out to measure the result."
        )
        self.setCommitPage(True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "Start training")
        self.name_edit = QtWidgets.QLineEdit("My electrodes")
        self.unit_boxes = {u: QtWidgets.QCheckBox(f"{u} ({s})") for u, s in UNITS.items()}
        units = QtWidgets.QHBoxLayout()
        for box in self.unit_boxes.values():
            units.addWidget(box)
            box.toggled.connect(self.completeChanged)
        units.addStretch(1)
        self.folds_spin = QtWidgets.QSpinBox(minimum=2, maximum=20, value=5)
        self.folds_spin.setSuffix(" folds (split by electrode)")
        self.folds_spin.valueChanged.connect(self.completeChanged)
        self.embedded_radio = QtWidgets.QRadioButton(
            "Fine-tune the embedded ensemble (recommended)"
        )
        self.scratch_radio = QtWidgets.QRadioButton("Train from scratch (all layers)")
        self.embedded_radio.setChecked(True)
        self.mode_combo = QtWidgets.QComboBox()
        self.mode_combo.addItems(MODE_TEXTS)
        self.mode_combo.setToolTip(
            "Dense head: the convolutions stay as embedded, only the 22 k-parameter head "
            "learns (minutes on a CPU). All layers: slower; a CUDA GPU is recommended."
        )
        self.embedded_radio.toggled.connect(self._init_changed)
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.steps_spin = QtWidgets.QSpinBox(minimum=1, maximum=100_000, value=DEFAULT_STEPS[0])
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setSuffix(" steps per fold")
        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.addItems(["Automatic (CUDA when present)", "CPU", "CUDA GPU"])
        self.problem = QtWidgets.QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Model name:", self.name_edit)
        form.addRow("Units:", units)
        form.addRow("Cross-validation:", self.folds_spin)
        form.addRow("Start from:", self.embedded_radio)
        form.addRow("", self.scratch_radio)
        form.addRow("Fine-tune:", self.mode_combo)
        form.addRow("Training:", self.steps_spin)
        form.addRow("Device:", self.device_combo)
        form.addRow("", self.problem)
        self.name_edit.textChanged.connect(self.completeChanged)

    def initializePage(self) -> None:  # noqa: N802
        review = self.wizard().review
        units = review_units(review)
        for unit, box in self.unit_boxes.items():
            box.setEnabled(unit in units)
            box.setChecked(unit in units)
        n = electrode_count(review)
        self.folds_spin.setMaximum(max(2, min(20, n)))
        self.folds_spin.setValue(min(5, max(2, n)))

    def _init_changed(self, embedded: bool) -> None:
        self.mode_combo.setEnabled(embedded)
        self._mode_changed()

    def _mode_changed(self, *_args) -> None:
        full = not self.embedded_radio.isChecked() or self.mode_combo.currentIndex() == 1
        self.steps_spin.setValue(DEFAULT_STEPS[int(full)])

    def settings(self) -> TrainSettings:
        """The chosen settings."""
        embedded = self.embedded_radio.isChecked()
        return TrainSettings(
            name=self.name_edit.text().strip() or "My electrodes",
            units=[u for u, box in self.unit_boxes.items() if box.isChecked()],
            folds=self.folds_spin.value(),
            init="embedded" if embedded else "scratch",
            mode=MODES[self.mode_combo.currentIndex()] if embedded else "full",
            steps=self.steps_spin.value(),
            device=DEVICES[self.device_combo.currentIndex()],
        )

    def isComplete(self) -> bool:  # noqa: N802
        s = self.settings()
        review = self.wizard().review if self.wizard() else None
        n = electrode_count(review)
        problem = fold_problem(s.folds, n)
        if not s.units:
            problem = "Choose at least one unit."
        elif not self.name_edit.text().strip():
            problem = "Give the model a name."
        self.problem.setText(problem)
        return not problem

    def validatePage(self) -> bool:  # noqa: N802
        w = self.wizard()
        base = w.settings
        chosen = self.settings()
        chosen.seed, chosen.extra = base.seed, list(base.extra)
        w.settings = chosen
        return True
