"""The training page (data set, then the training process with live curves, Cancel and
Resume) and the finish page (register the model, offer to activate it)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import UNITS
from ratescope.gui.train.events import EventLog, format_eta, metric
from ratescope.gui.train.jobs import DATASET_NAME, dataset_job, train_arguments
from ratescope.gui.train.process import TrainProcess


class TrainPage(QtWidgets.QWizardPage):
    """Writes the data set, runs ``ratescope train`` in a process and draws its progress.

    States: ``"idle"``, ``"dataset"`` (writing tiles and labels), ``"training"``,
    ``"cancelling"``, ``"cancelled"`` (resumable), ``"failed"``, ``"done"``.
    """

    state_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Training")
        self.setSubTitle("Learning curves of every fold; the window stays usable meanwhile.")
        from ratescope.gui.train.curves import FoldTable, LearningCurves

        self.state = "idle"
        self.log = EventLog()
        self.dataset: Path | None = None
        self.task = None
        self.process = TrainProcess(self)
        self.process.event.connect(self._event)
        self.process.finished.connect(self._finished)
        self.status = QtWidgets.QLabel("Preparing…")
        self.status.setWordWrap(True)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p %")
        self.eta = QtWidgets.QLabel()
        self.eta.setMinimumWidth(150)
        self.eta.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the run keeps a checkpoint that Resume continues")
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.resume_button.setToolTip("Continue the run from its last checkpoint")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.curves = LearningCurves()
        self.table = FoldTable()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.eta)
        row.addWidget(self.cancel_button)
        row.addWidget(self.resume_button)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.curves)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        self._set_state("idle")

    # ------------------------------------------------------------------ flow
    def initializePage(self) -> None:  # noqa: N802
        if self.state == "idle":
            self.write_dataset()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.cancel_button.setEnabled(state in ("dataset", "training"))
        self.resume_button.setEnabled(state in ("cancelled", "failed") and self.dataset is not None)
        self.completeChanged.emit()
        self.state_changed.emit(state)

    def write_dataset(self) -> None:
        """Write the reviewed tiles and labels to ``<run folder>/dataset.h5`` off-thread."""
        w = self.wizard()
        w.out_dir.mkdir(parents=True, exist_ok=True)
        target = w.out_dir / DATASET_NAME
        self.status.setText(f"Writing the data set ({target.name})…")
        self.bar.setValue(0)
        self._set_state("dataset")
        self.task = w.app_window.runner.start(
            dataset_job, w.review, target,
            message="Writing the training data set…",
            on_done=self._dataset_written, on_error=self._dataset_failed,
        )  # fmt: skip

    def _dataset_written(self, path) -> None:
        self.task, self.dataset = None, Path(path)
        self.start_training(resume=False)

    def _dataset_failed(self, error: BaseException) -> None:
        self.task = None
        self.status.setText(f"The data set could not be written: {error}")
        self._set_state("failed")
        self.wizard().app_window.dialogs.show_error(self, "Training data set", str(error))

    def arguments(self, resume: bool) -> list[str]:
        w = self.wizard()
        return train_arguments(self.dataset, w.out_dir, w.settings, resume=resume)

    def start_training(self, resume: bool) -> None:
        """Start the training process (``resume``: from the run's checkpoints)."""
        w = self.wizard()
        self.log.error, self.log.cancelled, self.log.done = None, False, None
        if not resume:
            self.log = EventLog()
            self.curves.clear_curves()
            self.table.show_log(self.log)
        self.status.setText(("Resuming" if resume else "Starting") + " the training process…")
        self._set_state("training")
        self.process.start(self.arguments(resume), w.environment)

    def cancel(self) -> None:
        """Cancel: the data set job, or the process (gently: it keeps a checkpoint)."""
        if self.state == "dataset" and self.task is not None:
            self.task.cancel()
            self.task = None
            self.status.setText("Cancelled before training.")
            self._set_state("idle")
        elif self.state == "training":
            self.status.setText("Stopping: writing a checkpoint…")
            self._set_state("cancelling")
            self.process.cancel()

    def resume(self) -> None:
        """Continue a cancelled or failed run from its checkpoint."""
        if self.state in ("cancelled", "failed") and self.dataset is not None:
            self.start_training(resume=True)

    def stop(self) -> None:
        """The wizard closes: drop the data set job; a running training process is asked
        to stop (it writes its checkpoint, so the run can be resumed from the command line)
        and handed to the main window until it has exited — the GUI does not wait for it."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        process = self.process
        if process.running():
            owner = self.wizard().app_window if self.wizard() is not None else None
            process.setParent(owner)
            process.finished.connect(process.deleteLater)
            process.cancel()

    # ------------------------------------------------------------- progress
    def _event(self, event: dict) -> None:
        self.log.add(event)
        kind = event["event"]
        if kind == "step":
            fraction = self.log.fraction()
            if fraction is not None:
                self.bar.setValue(int(fraction * 1000))
            self.eta.setText(format_eta(self.log.eta_s()))
            unit = UNITS.get(str(event.get("unit")), event.get("unit"))
            total = event.get("steps") or self.log.steps
            self.status.setText(
                f"Training {unit}, fold {int(event.get('fold', 0)) + 1} of {self.log.folds}: "
                f"step {event.get('step')} of {total}"
            )
            self.curves.show_log(self.log)
        elif kind == "start":
            self.curves.show_log(self.log)
        elif kind == "fold":
            self.table.show_log(self.log)
            self.curves.show_log(self.log)
        elif kind == "done":
            self.bar.setValue(1000)
            self.eta.setText("")
            self.table.show_log(self.log)

    def _finished(self, code: int, cancelled: bool) -> None:
        if self.log.done is not None and code == 0:
            self.status.setText(done_text(self.log))
            self._set_state("done")
        elif cancelled or self.log.cancelled:
            where = ""
            if self.log.last_step is not None:
                e = self.log.last_step
                where = f" at fold {int(e.get('fold', 0)) + 1}, step {e.get('step')}"
            self.status.setText(f"Cancelled{where}. Resume continues from the last checkpoint.")
            self.eta.setText("")
            self._set_state("cancelled")
        else:
            message = self.log.error or self.process.error_text() or f"exit code {code}"
            self.status.setText(f"Training failed: {message}")
            self.eta.setText("")
            self._set_state("failed")
            self.wizard().app_window.dialogs.show_error(self, "Training failed", message)

    def isComplete(self) -> bool:  # noqa: N802
        return self.state == "done"


def done_text(log: EventLog) -> str:
    """ "Done: held-out MAPE 3.1 % (embedded model on the same electrodes: 12.4 %)"."""
    parts = []
    summary = (log.done or {}).get("summary") or {}
    for unit in log.units or list(UNITS):
        mine, base = unit_mapes(summary, log, unit)
        if mine is None:
            continue
        text = f"{UNITS.get(unit, unit)}: held-out MAPE {mine:.2f} %"
        if base is not None:
            text += f" (embedded model on the same electrodes: {base:.2f} %)"
        parts.append(text)
    return "Done. " + "; ".join(parts) if parts else "Done."


def unit_mapes(summary: dict, log: EventLog, unit: str) -> tuple[float | None, float | None]:
    """Held-out MAPE of the new model and of the embedded model on the same electrodes for
    ``unit``: from the "done" event's summary (``{unit: {"mape", "embedded_mape"}}``) where
    it has them, else the mean over the fold events' test electrodes."""
    from ratescope.gui.train.curves import embedded_mape

    s = summary.get(unit) if isinstance(summary, dict) else None
    s = s if isinstance(s, dict) else {}
    mine = _float(s.get("mape", s.get("test_mape_mean")))
    base = _float(s.get("embedded_mape"))
    folds = [m for (u, _), m in log.fold_metrics.items() if u == unit]
    if mine is None and folds:
        values = [v for v in (metric(m, "test") for m in folds) if v is not None]
        mine = sum(values) / len(values) if values else None
    if base is None and folds:
        values = [v for v in (embedded_mape(m) for m in folds) if v is not None]
        base = sum(values) / len(values) if values else None
    return mine, base


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class FinishPage(QtWidgets.QWizardPage):
    """Registers the trained model (Model manager) and offers to use it now."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Your model")
        self.entry = None
        self.error: str | None = None
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.activate_box = QtWidgets.QCheckBox("Use this model for predictions now")
        self.activate_box.setChecked(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.activate_box)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802
        w = self.wizard()
        if self.entry is not None:
            return
        self.text.setText("Registering the model…")
        w.app_window.runner.start(
            w.register_job, w.out_dir, w.settings.name,
            message="Registering the model…",
            on_done=self._registered, on_error=self._failed,
        )  # fmt: skip

    def _registered(self, entry) -> None:
        w = self.wizard()
        self.entry = w.entry = entry
        log = w.train_page.log
        summary = (log.done or {}).get("summary") or {}
        pairs = [unit_mapes(summary, log, u) for u in log.units or entry.units]
        worse = [m >= b for m, b in pairs if m is not None and b is not None]
        advice = ""
        if worse and all(worse):
            advice = (
                "<p style='color:#b00020'>On your held-out electrodes this model is not more "
                "accurate than the embedded one: it is kept, but not used unless you tick "
                "the box. More electrodes, or all-layer fine-tuning, may help.</p>"
            )
            self.activate_box.setChecked(False)
        result = done_text(log).removeprefix("Done. ").removeprefix("Done.")
        self.text.setText(
            f"<p><b>{entry.name}</b> is in the model manager (Models ▸ Manage Models…), "
            "where it can be exported for another computer.</p>"
            f"<p>{result}</p>{advice}<p>Files: <tt>{entry.path}</tt></p>"
        )
        self.completeChanged.emit()

    def _failed(self, error: BaseException) -> None:
        self.error = str(error)
        self.text.setText(f"The model could not be registered: {error}")
        self.wizard().app_window.dialogs.show_error(self, "Model not registered", str(error))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self.entry is not None
