"""Prediction (the step after alignment): load the ensemble, predict the accepted tiles, show them.

``install_prediction(window)`` returns the :class:`PredictionController` the window keeps
as ``window.prediction``. It

- loads the models (:func:`core.predict.load_ensemble`) in the background once the window
  is painted (status "Loading models…"; torch is imported there);
- predicts off the GUI thread whenever an alignment is accepted with tiles that differ
  from the last prediction's; the first fold of each unit answers first
  (``on_partial``), then the curve refines as the rest of the ensemble runs; a newer
  request cancels an older run;
- shows the result in a right-hand dock (:class:`gui.predict.panel.PredictPanel`), with
  measured values typed into its table or loaded from CSV
  (:mod:`gui.predict.measured`) and the model card one click away.

For export: :attr:`PredictionController.prediction` (the :class:`core.predict.Prediction`
shown, ``.complete`` once every fold ran), :attr:`~PredictionController.measured`
(:class:`gui.predict.measured.MeasuredValues`), :attr:`~PredictionController.alignment`
(the accepted alignment it was predicted from), :attr:`~PredictionController.ensemble`
(``.cards`` per unit; :func:`gui.predict.card.card_summary` condenses them).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import UNITS
from ratescope.core.errors import RateScopeError
from ratescope.core.resources import MODELS
from ratescope.gui import threads
from ratescope.gui.predict.measured import MeasuredValues
from ratescope.gui.predict.measured_editor import MeasuredEditor

DOCK_WIDTH = 470


class PredictionController(QtCore.QObject):
    """Runs and shows the rate-capability prediction of the accepted tiles.

    Signals
    -------
    prediction_changed(object)
        A new (partial or complete) :class:`core.predict.Prediction`, or None when cleared.
    measured_changed(object)
        The :class:`~gui.predict.measured.MeasuredValues` after any edit.
    models_loaded(object)
        The loaded :class:`core.predict.Ensemble`.
    """

    prediction_changed = QtCore.Signal(object)
    measured_changed = QtCore.Signal(object)
    models_loaded = QtCore.Signal(object)
    _partial = QtCore.Signal(object, int)  # from the worker thread (queued)
    _loaded = QtCore.Signal(object, object, object, str)  # folder, ensemble, error, name

    def __init__(self, window, models_dir: str | Path | None = None):
        super().__init__(window)
        self.window = window
        self.models_dir = Path(models_dir) if models_dir is not None else MODELS
        self.ensemble = None
        self.model_name = ""  # the loaded ensemble's name (registry.describe of its folder)
        self.load_error: BaseException | None = None
        self.prediction = None
        self.alignment = None
        self.measured_editor = MeasuredEditor(window, self._show_error, self)
        self.measured_editor.changed.connect(self.measured_changed)
        self.panel = None
        self.dock: QtWidgets.QDockWidget | None = None
        self._loading: Path | None = None  # folder being loaded
        self._task = None
        self._generation = 0
        self._key = None
        self._wanted = None  # (source, alignment, key) waiting for the models
        self.phase_overlay = None  # the measured phases on the mosaic (made on first use)
        self._running = None  # the alignment being predicted
        self._partial.connect(self._on_partial)
        self._loaded.connect(self._models_landed)
        window.first_painted.connect(self.load_models)
        window.mosaic_opened.connect(self._mosaic_opened)
        window.alignment.alignment_accepted.connect(self.predict)
        window.alignment.alignment_changed.connect(self._alignment_changed)
        window.runner.busy_changed.connect(self._runner_changed)

    # ------------------------------------------------------------------- the dock
    def ensure_panel(self):
        """The panel and its dock (made on first use: pyqtgraph loads then)."""
        if self.panel is not None:
            return self.panel
        from ratescope.gui.predict.panel import PredictPanel

        panel = self.panel = PredictPanel()
        self.measured_editor.attach(panel)
        panel.card_requested.connect(self.show_card)
        panel.phases_toggled.connect(self.show_phases)
        panel.card_button.setEnabled(self.ensemble is not None)
        self.dock = QtWidgets.QDockWidget("Prediction")
        self.dock.setObjectName("PredictionDock")
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.dock.setWidget(scroll)
        # the right column runs the full height: the plots get room, the alignment dock
        # (bottom) spans the mosaic's width
        self.window.setCorner(
            QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.window.add_panel(self.dock, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.window.resizeDocks([self.dock], [DOCK_WIDTH], QtCore.Qt.Orientation.Horizontal)
        return panel

    def _status(self, text: str, bar_ms: int = 0) -> None:
        if self.panel is not None:
            self.panel.show_status(text)
        if bar_ms:
            self.window.statusBar().showMessage(text, bar_ms)

    # --------------------------------------------------------------------- models
    def load_models(self, models_dir: str | Path | None = None) -> None:
        """Load the ensemble of ``models_dir`` (default: :attr:`models_dir`) off-thread.

        Loading runs in a thread of its own (:func:`gui.threads.start_thread`), not in
        the runner's pool: importing torch takes seconds and cannot be cancelled, so it
        must not hold up work queued in the pool nor show the runner's Cancel button.
        Quitting and test teardown wait for it like for any worker. A folder without model
        files is reported at once, without importing torch.
        """
        from ratescope.gui.predict.jobs import has_models

        if models_dir is not None:
            self.models_dir = Path(models_dir)
        folder = self.models_dir
        self.ensemble = None
        if not has_models(folder):
            error = RateScopeError("no model files (*_fold*.safetensors) in the folder", folder)
            self._models_landed(folder, None, error)
            return
        self._loading = folder
        self.window.statusBar().showMessage("Loading models…", 10000)
        self._status("Loading models…")

        def work() -> None:
            from ratescope.gui.models.jobs import load_ensemble  # the units it holds

            try:
                ensemble, error = load_ensemble(folder), None
            except Exception as exc:  # noqa: BLE001 - reported in the panel / a dialog
                ensemble, error = None, exc
            try:
                name = ensemble.name if ensemble is not None else ""  # registry.describe
            except Exception:  # noqa: BLE001 - a name is only informative
                name = folder.name
            try:
                self._loaded.emit(folder, ensemble, error, name)
            except RuntimeError:
                pass  # the window was closed meanwhile

        threads.start_thread(work, name="ratescope-load-models")

    def _models_landed(self, folder: Path, ensemble, error, name: str = "") -> None:
        if folder != self.models_dir:
            return  # another folder was asked for meanwhile
        self._loading = None
        self.ensemble, self.load_error = ensemble, error
        self.model_name = name if ensemble is not None else ""
        if self.panel is not None:
            self.panel.card_button.setEnabled(ensemble is not None)
        if error is not None:
            self._status(f"No prediction model: {error}")
            self.window.statusBar().showMessage(f"No prediction model: {error}", 10000)
            if self._wanted is not None:  # the user is waiting for a prediction
                self._wanted = None
                self._show_error("No prediction model", str(error))
            return
        n = {u: len(m) for u, m in ensemble.models.items()}
        self.window.statusBar().showMessage(
            "Models loaded: " + ", ".join(f"{k} × {UNITS[u]}" for u, k in n.items())
            + (f" — {name}" if name else ""), 8000
        )  # fmt: skip
        self.models_loaded.emit(ensemble)
        if self._wanted is not None and self.window.isVisible():
            self._run()
        elif self.prediction is None:
            self._status("Accept the alignment to predict.")

    # ----------------------------------------------------------------- predicting
    def predict(self, alignment) -> None:
        """Predict the kept tiles of ``alignment`` (the accepted one) off-thread."""
        from ratescope.gui.predict.jobs import tile_key

        source = self.window.alignment.source
        self.ensure_panel()
        self.dock.show()
        self.panel.show_notice("")
        key = tile_key(source, alignment)
        if key == self._key and self.working():
            return  # the same tiles are being predicted
        if key == self._key and self.prediction is not None and self.prediction.complete:
            self.alignment = alignment
            self._status(self._summary(self.prediction))
            return
        self._wanted = (source, alignment, key)
        if self.ensemble is not None:
            self._run()
        elif self._loading is not None:
            self._status("Waiting for the models to load…")
        else:
            error = self.load_error or RateScopeError("the models are not loaded")
            self._wanted = None
            self._status(f"No prediction model: {error}")
            self._show_error("No prediction model", str(error))

    def working(self) -> bool:
        """True while this controller's background task runs."""
        return self._task is not None and self._task in self.window.runner.tasks

    def _run(self) -> None:
        from ratescope.gui.predict.jobs import run_prediction

        if self.working():
            self._task.cancel()  # the newer tiles win
        source, alignment, key = self._wanted
        self._wanted = None
        self._generation += 1
        gen = self._generation
        self._key, self._running = key, alignment
        n = len(alignment.kept)
        self._status(f"Predicting {n} tile{'s' * (n != 1)}…")
        self._task = self.window.runner.start(
            run_prediction, source, alignment, self.ensemble,
            on_partial=lambda p: self._partial.emit(p, gen),
            message=f"Predicting {n} tiles…",
            on_done=lambda p: self._landed(gen, alignment, p, None),
            on_error=lambda e: self._landed(gen, alignment, None, e),
        )  # fmt: skip

    def _on_partial(self, prediction, gen: int) -> None:
        if gen != self._generation or self._task is None or self._task.cancelled:
            return
        self.alignment = self._running
        self.show_prediction(prediction)

    def _landed(self, gen: int, alignment, prediction, error) -> None:
        if gen != self._generation:
            return
        self._task = None
        if error is not None:
            self._key = None
            self._status("Prediction failed")
            self._show_error("Prediction failed", str(error))
            return
        self.alignment = alignment
        if prediction is not self.prediction:
            self.show_prediction(prediction)

    def _runner_changed(self, *_args) -> None:
        if self._task is not None and self._task.cancelled and not self.working():
            self._task, self._key = None, None  # Cancel in the status bar
            done = "" if self.prediction is None else f" — {self._summary(self.prediction)}"
            self._status("Prediction cancelled" + done)

    def show_prediction(self, prediction) -> None:
        """Show ``prediction`` (None clears) in the panel and status; emits the change."""
        self.prediction = prediction
        cards = self.ensemble.cards if self.ensemble is not None else None
        self.ensure_panel().show_prediction(prediction, cards)
        self.show_phases(self.panel.phases_check.isChecked())
        self._status(self._summary(prediction))
        if prediction is not None and prediction.complete:
            self.window.statusBar().showMessage("Prediction done: " + self._summary(prediction),
                                                8000)  # fmt: skip
        self.prediction_changed.emit(prediction)

    def show_phases(self, on: bool) -> None:
        """Draw (or remove) the measured phases of the prediction on the mosaic."""
        from ratescope.gui.predict.phase_overlay import PhaseOverlay

        est = None if self.prediction is None else self.prediction.physics
        if self.phase_overlay is None:
            if not on:
                return
            self.phase_overlay = PhaseOverlay(self.window.mosaic_view.view_box)
        if on and est is not None and est.strips and self.alignment is not None:
            self.phase_overlay.show(est.strips, self.alignment)
        else:
            self.phase_overlay.clear()

    def _summary(self, prediction) -> str:
        if prediction is None:
            return "Accept the alignment to predict."
        up = next(iter(prediction.units.values()))
        tiles = f"{up.n_tiles} tile{'s' * (up.n_tiles != 1)}"
        model = f" · model: {self.model_name}" if self.model_name else ""
        if prediction.complete:
            n = up.folds_total
            return f"{tiles} · ensemble of {n} model{'s' * (n != 1)} per unit{model}"
        return (f"{tiles} · first answer from {up.folds_done} of {up.folds_total} models, "
                f"refining…{model}")  # fmt: skip

    def clear(self) -> None:
        """Forget the prediction (a new mosaic); a running one is cancelled."""
        if self.working():
            self._task.cancel()
        self._generation += 1
        self._task = self._key = self._wanted = None
        self.alignment = None
        if self.panel is not None:
            self.panel.show_notice("")
        if self.prediction is not None:
            self.show_prediction(None)

    def _mosaic_opened(self, _mosaic) -> None:
        self.clear()
        if not self.measured.empty:
            self.measured_editor.clear()
            self.window.statusBar().showMessage("Measured values cleared for the new image", 8000)

    def _alignment_changed(self, alignment) -> None:
        from ratescope.gui.predict.jobs import tile_key

        if self.panel is None or self._key is None or alignment is None:
            return
        same = tile_key(self.window.alignment.source, alignment) == self._key
        self.panel.show_notice("" if same else "The tiles changed since this prediction: "
                               "accept the alignment to update it.")  # fmt: skip

    @property
    def measured(self) -> MeasuredValues:
        """The measured values shown (:attr:`measured_editor` edits them)."""
        return self.measured_editor.values

    def show_card(self):
        """The model card dialog of the loaded ensemble (returned; modeless)."""
        from ratescope.gui.predict.card import ModelCardDialog

        if self.ensemble is None:
            self._show_error("No model card", "The models are not loaded.")
            return None
        dialog = ModelCardDialog(self.ensemble.cards, self.window)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _show_error(self, title: str, text: str) -> None:
        self.window.dialogs.show_error(self.window, title, text)


def install_prediction(window, models_dir: str | Path | None = None) -> PredictionController:
    """Add the prediction panel to ``window`` (a :class:`gui.shell.main_window.MainWindow`)."""
    return PredictionController(window, models_dir)
