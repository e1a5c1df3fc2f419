"""Explanation overlays: why the model predicts what it predicts.

``install_explanation(window)`` returns the :class:`ExplanationController` the window keeps
as ``window.explanation``. Once an alignment is accepted it cuts the kept tiles off the GUI
thread and shows an "Explanation" dock (tabbed with the alignment dock) with
:class:`gui.explain.panel.ExplainPanel`: tile, method (Grad-RAM, guided backprop,
occlusion), C-rate, unit and model (ensemble mean or one fold). Compute runs
:func:`core.explain.ensemble_maps` over the unit's fold models of the prediction's
already loaded ensemble (``window.prediction.ensemble``; never loaded twice) through the
window's runner: progress in the panel and the status bar, Cancel in both, errors in a
dialog. Every C-rate and fold is computed at once, so those selectors redraw instantly;
results are cached per (tiles, ensemble, tile, method, unit). The dock comes from
:func:`gui.explain.panel.dock_panel`, the PNG export from :mod:`gui.explain.export`.

For the report and sessions: :attr:`ExplanationController.result` (the last computed
:class:`gui.explain.jobs.ExplainResult`: method, unit, tile, C-rates, per-fold maps),
:attr:`~ExplanationController.current` (the map shown, as a
:class:`core.report.Explanation`) and :attr:`~ExplanationController.maps` (``[current]``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import C_RATES
from ratescope.core.errors import RateScopeError


class ExplanationController(QtCore.QObject):
    """Computes and shows explanation maps of the accepted alignment's kept tiles.

    Signals
    -------
    result_changed(object)
        A new :class:`gui.explain.jobs.ExplainResult` is shown (None when cleared).
    """

    result_changed = QtCore.Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.panel = None
        self.mosaic_overlay = None
        self._restoring = None
        self.dock: QtWidgets.QDockWidget | None = None
        self.tileset = None
        self.result = None
        self._cache: dict[tuple, object] = {}
        self._tiles_task = self._task = None
        self._want_compute = False
        self._generation = 0
        window.alignment.alignment_accepted.connect(self._accepted)
        window.mosaic_opened.connect(lambda _m: self.clear())
        window.runner.busy_changed.connect(self._runner_changed)
        window.prediction.models_loaded.connect(self._models_loaded)

    # ---------------------------------------------------------------- for export
    @property
    def current(self):
        """The map shown as a :class:`core.report.Explanation` (None before any)."""
        if self.result is None or self.panel is None:
            return None
        from ratescope.core.report import Explanation

        r, c = self.result, self.panel.c_index
        return Explanation(r.method, r.unit, float(r.c_rates[c]), r.tile_number,
                           r.map(c, self.panel.fold), r.tile)  # fmt: skip

    @property
    def maps(self) -> list:
        """``[current]`` or ``[]``: what a session keeps."""
        current = self.current
        return [] if current is None else [current]

    # ------------------------------------------------------------------- the dock
    def ensure_panel(self):
        """The panel and its dock (made on first use)."""
        if self.panel is not None:
            return self.panel
        from ratescope.gui.explain.panel import ExplainPanel, dock_panel

        panel = self.panel = ExplainPanel()
        panel.compute_requested.connect(self.compute)
        panel.cancel_requested.connect(self.cancel)
        panel.export_requested.connect(self.export_png)
        panel.display_changed.connect(self._redraw)
        panel.set_running(False)
        self.dock = dock_panel(self.window, panel)
        return panel

    def _status(self, text: str) -> None:
        if self.panel is not None:
            self.panel.show_status(text)

    # ----------------------------------------------------------------------- tiles
    def _accepted(self, alignment) -> None:
        from ratescope.gui.explain.jobs import cut_tiles
        from ratescope.gui.predict.jobs import tile_key

        source = self.window.alignment.source
        key = tile_key(source, alignment)
        if self.tileset is not None and self.tileset.key == key:
            return
        self.ensure_panel()
        self.dock.show()
        self.dock.raise_()
        self._cancel_task()
        self.tileset, self.result = None, None
        self.panel.set_tiles([])
        self.panel.show_result(None)
        self.panel.set_running(False)
        self._status("Cutting the kept tiles…")
        if self._tiles_task is not None:
            self._tiles_task.cancel()
        self._tiles_task = self.window.runner.start(
            cut_tiles, source, alignment, key, message="Cutting tiles for explanation…",
            on_done=self._tiles_landed, on_error=lambda e: self._failed("No tiles", e),
        )  # fmt: skip

    def restore(self, explanation) -> None:
        """Show a saved :class:`core.report.Explanation` once the tiles are cut (a session):
        its tile, method, unit and C-rate chosen, the map drawn; the other C-rates and
        folds are not in the file (Compute makes them)."""
        self._restoring = explanation

    def _show_restored(self) -> None:
        import numpy as np

        from ratescope.gui.explain.jobs import ExplainResult

        ex, self._restoring = self._restoring, None
        if ex.tile not in self.tileset.numbers:
            return
        k = self.tileset.numbers.index(ex.tile)
        tile = self.tileset.tiles[k]
        c_rates = [float(c) for c in C_RATES]
        c_index = int(np.argmin([abs(c - ex.c_rate) for c in c_rates]))
        per_fold = np.full((1, len(c_rates), *np.shape(ex.map)), np.nan, np.float32)
        per_fold[0, c_index] = ex.map
        p = self.panel
        for combo, value in ((p.method_combo, ex.method), (p.unit_combo, ex.unit),
                             (p.tile_combo, k), (p.c_rate_combo, c_index)):  # fmt: skip
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.result = ExplainResult(ex.method, ex.unit, k, ex.tile, c_rates, per_fold, tile)
        p.set_folds(1)
        p.show_result(self.result)
        self._status(f"Restored from the session: the map at {ex.c_rate:g}C · press Compute "
                     "for the other C-rates and the single models.")  # fmt: skip
        self.result_changed.emit(self.result)

    def _tiles_landed(self, tileset) -> None:
        self._tiles_task = None
        self.tileset = tileset
        self.panel.set_tiles(tileset.numbers)
        self.panel.set_running(False)
        self.panel.view.show_tile(tileset.tiles[0])
        self._status(f"{len(tileset.numbers)} kept tiles · choose a method and press Compute.")
        if self._restoring is not None:
            self._show_restored()
        elif self._want_compute:
            self.compute()

    # ------------------------------------------------------------------ computing
    def working(self) -> bool:
        """True while this controller's background task runs."""
        return self._task is not None and self._task in self.window.runner.tasks

    def compute(self) -> None:
        """Compute the map of the panel's tile, method and unit off the GUI thread."""
        from ratescope.gui.explain.jobs import METHOD_NAMES, run_explanation

        panel = self.ensure_panel()
        ensemble = self.window.prediction.ensemble
        self._want_compute = self.tileset is None or ensemble is None
        if self.tileset is None:
            if self._tiles_task is None:
                self._error("Nothing to explain", "Accept the alignment first.")
            return
        if ensemble is None:
            error = self.window.prediction.load_error
            if error is None:  # still loading (after the first paint): runs when they land
                self._status("Waiting for the models to load…")
                return
            self._want_compute = False
            self._error("No prediction model", str(error))
            return
        tile, method, unit = panel.tile_index, panel.method, panel.unit
        cache_key = (self.tileset.key, id(ensemble), tile, method, unit)
        if cache_key in self._cache:
            self._show(self._cache[cache_key])
            return
        if unit not in ensemble.models:
            self._error("No model for this unit", f"The loaded ensemble has no {unit} model.")
            return
        self._cancel_task()
        self._generation += 1
        gen, models = self._generation, ensemble.models[unit]
        c_rates = ensemble.card(unit).get("c_rates", C_RATES)
        what = f"{METHOD_NAMES[method]} of tile {self.tileset.numbers[tile] + 1}"
        n = len(models)
        self._status(f"Computing {what} ({n} fold model{'s' * (n != 1)})…")
        panel.set_running(True)
        self._task = self.window.runner.start(
            run_explanation, self.tileset, tile, models, unit, method, c_rates,
            message=f"Explaining: {what}…",
            on_done=lambda r: self._landed(gen, cache_key, r),
            on_error=lambda e: self._landed(gen, cache_key, None, e),
        )  # fmt: skip

    def _landed(self, gen: int, cache_key, result, error=None) -> None:
        if gen != self._generation:
            return
        self._task = None
        self.panel.set_running(False)
        if error is not None:
            self._failed("Explanation failed", error)
            return
        self._cache[cache_key] = result
        self._show(result)

    def cancel(self) -> None:
        """Stop the running computation (the panel's Cancel); the UI is usable at once."""
        if self.working():
            self._cancel_task()
            self._sync_choices()
            self._status("Cancelled." if self.result is None else
                         "Cancelled · the map shown is the previous one.")  # fmt: skip

    def _sync_choices(self) -> None:
        """The tile, method and unit chosen go back to those of the map shown, so the
        panel never names one tile while showing another's map."""
        if self.result is None or self.panel is None or self.tileset is None:
            return
        p, r = self.panel, self.result
        for combo, value in ((p.method_combo, r.method), (p.unit_combo, r.unit)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        if r.tile_number in self.tileset.numbers:
            p.tile_combo.blockSignals(True)
            p.tile_combo.setCurrentIndex(self.tileset.numbers.index(r.tile_number))
            p.tile_combo.blockSignals(False)
        p.show_result(r)

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._generation += 1
        if self.panel is not None:
            self.panel.set_running(False)

    def _runner_changed(self, *_args) -> None:
        if self.panel is None:
            return
        if self.working():
            fraction = self._task.fraction
            self.panel.show_progress(0.0 if fraction is None else fraction)
        elif self._task is not None and self._task.cancelled:
            self._task = None  # the status bar's Cancel
            self.panel.set_running(False)
            self._status("Cancelled.")
        if self._tiles_task is not None and self._tiles_task.cancelled:
            self._tiles_task = None
            self._status("Cutting the tiles was cancelled: accept the alignment again.")

    def _models_loaded(self, _ensemble) -> None:
        if self.panel is not None:
            self.panel.set_folds(max(len(m) for m in _ensemble.models.values()))
        if self._want_compute and self.tileset is not None:
            self.compute()

    # ------------------------------------------------------------------- showing
    def _show(self, result) -> None:
        from ratescope.gui.explain.jobs import METHOD_NAMES

        self.result = result
        self.panel.set_folds(len(result.per_fold))
        self.panel.show_result(result)
        self._draw_on_mosaic()
        n = len(result.per_fold)
        self._status(f"{METHOD_NAMES[result.method]} of tile {result.tile_number + 1}, "
                     f"{n} fold model{'s' * (n != 1)} · all C-rates.")  # fmt: skip
        self.result_changed.emit(result)

    def _redraw(self) -> None:
        if self.result is not None:
            self.panel.show_result(self.result)
        self._draw_on_mosaic()

    def _draw_on_mosaic(self) -> None:
        """The shown map over its tile in the mosaic view, when asked for."""
        from ratescope.gui.explain.jobs import overlay_rgba
        from ratescope.gui.explain.mosaic_overlay import MosaicMapOverlay

        alignment = self.window.alignment.accepted
        wanted = (self.panel is not None and self.panel.on_mosaic_check.isChecked()
                  and self.result is not None and alignment is not None)  # fmt: skip
        if not wanted:
            if self.mosaic_overlay is not None:
                self.mosaic_overlay.hide()
            return
        if self.mosaic_overlay is None:
            self.mosaic_overlay = MosaicMapOverlay(self.window.mosaic_view.view_box)
        r, panel = self.result, self.panel
        rgba = overlay_rgba(r.map(panel.c_index, panel.fold), panel.view.lut(),
                            shape=r.tile.shape[:2])  # fmt: skip
        rgba[..., 3] = (rgba[..., 3] * (panel.opacity_slider.value() / 100)).astype(rgba.dtype)
        self.mosaic_overlay.show(rgba, alignment, r.tile_number)

    def clear(self) -> None:
        """Forget tiles, maps and cache (a new mosaic); a running computation stops."""
        self._cancel_task()
        if self._tiles_task is not None:
            self._tiles_task.cancel()
            self._tiles_task = None
        self.tileset, self.result, self._want_compute = None, None, False
        self._cache.clear()
        if self.mosaic_overlay is not None:
            self.mosaic_overlay.hide()
        if self.panel is not None:
            self.panel.set_tiles([])
            self.panel.show_result(None)
            self.panel.set_running(False)
            self._status("Accept the alignment to explain its tiles.")
        self.result_changed.emit(None)

    # -------------------------------------------------------------------- export
    def export_png(self, path: str | Path | None = None) -> Path | None:
        """Write the overlay as shown (tile resolution, current opacity) to a PNG
        (:mod:`gui.explain.export`); asks where when ``path`` is None. Returns the path,
        or None."""
        from ratescope.gui.explain.export import ask_png_path, overlay_png_name, write_overlay_png

        if self.result is None:
            self._error("Nothing to export", "Compute a map first.")
            return None
        current = self.current
        if path is None:
            name = overlay_png_name(self.result.method, self.result.tile_number, current.c_rate)
            path = ask_png_path(self.window, Path(self.window.settings.last_directory) / name)
            if path is None:
                return None
        view = self.panel.view
        try:
            path = write_overlay_png(path, self.result.tile, current.map, view.lut(),
                                     view.map_item.opacity())  # fmt: skip
            self.window.settings.last_directory = str(Path(path).resolve().parent)
        except (OSError, RateScopeError) as exc:
            self._error("Could not export the overlay", f"{path}:\n{exc}")
            return None
        self.window.statusBar().showMessage(f"Overlay written to {path.name}", 8000)
        return path

    def _failed(self, title: str, error: BaseException) -> None:
        self._status(title)
        self._error(title, str(error))

    def _error(self, title: str, text: str) -> None:
        self.window.dialogs.show_error(self.window, title, text)


def install_explanation(window) -> ExplanationController:
    """Add the explanation dock to ``window`` (a :class:`gui.shell.main_window.MainWindow`)."""
    return ExplanationController(window)
