"""The 3D workspace: a tomography volume slice by slice beside its CAE reconstruction.

Opening, model loading, reconstruction, phase fractions and exports run on the window's
:class:`gui.background.TaskRunner` (:mod:`gui.volume.jobs`). Reconstructed blocks (24
slices over the whole plane, :class:`core.volume.recon_cache.ReconstructionCache`) are kept
with their statistics, so stepping through the slices of a cached block only copies arrays
into three image items; after each block the neighbouring one is prefetched.

Keys: Up/Right next slice, Down/Left previous, PageUp/PageDown one window length (24),
Home/End first/last slice. A click on a view picks the in-plane window (224 x 224) whose
latent features and statistics are shown.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.volume.io import MultipleDatasets
from ratescope.gui.shell.opening import describe_error
from ratescope.gui.volume.export import VolumeExporter
from ratescope.gui.volume.jobs import (
    BlockStats,
    OpenedVolume,
    open_volume_job,
    phase_fractions_job,
)
from ratescope.gui.volume.page import PAPER_VOXEL_UM
from ratescope.gui.volume.panels import ResultsPanel
from ratescope.gui.volume.schedule import BlockScheduler
from ratescope.gui.volume.views import BlockStrip, SliceViews

KEY_STEPS = {
    QtCore.Qt.Key.Key_Up: 1,
    QtCore.Qt.Key.Key_Right: 1,
    QtCore.Qt.Key.Key_Down: -1,
    QtCore.Qt.Key.Key_Left: -1,
}


ANALYSIS_HEIGHT = 340
"""Most height the tabbed analyses (reconstruction, latents, microstructure) take."""


class VolumeWorkspace(QtWidgets.QWidget):
    """Slice browser with CAE reconstruction, latents and the paper's statistics.

    Signals
    -------
    opened(OpenedVolume), slice_shown(int), block_shown(int)
        A volume is open; a slice is on screen; the panels show the block starting at z0.
    """

    opened = QtCore.Signal(object)
    slice_shown = QtCore.Signal(int)
    block_shown = QtCore.Signal(int)

    def __init__(self, runner, dialogs, settings, questions, model_path=None, parent=None):
        super().__init__(parent)
        self.runner, self.dialogs, self.settings = runner, dialogs, settings
        self.questions, self.model_path = questions, model_path
        self.volume: OpenedVolume | None = None
        self.voxel_um: float | None = None
        self.blocks = BlockScheduler(self)  # reconstructed blocks and work under way
        self.exporter = VolumeExporter(self)
        self.current, self.tile, self.shown_z0 = 0, 0, None
        self.last_show_ms: float | None = None
        self._model = None
        self._voxel_source = "unknown"
        self._phase_task = None
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.info = QtWidgets.QLabel(
            "Open a volume: File ▸ Open Volume…, or drop an HDF5 "
            "file, a multi-page TIFF or a folder of slices."
        )
        self.info.setWordWrap(True)  # long file facts wrap instead of widening the window
        self.export_rec_button = QtWidgets.QPushButton("Export reconstruction…")
        self.export_lat_button = QtWidgets.QPushButton("Export latents (CSV)…")
        self.export_rec_button.clicked.connect(self.exporter.export_reconstruction)
        self.export_lat_button.clicked.connect(self.exporter.export_latents)
        self.stretch_box = QtWidgets.QCheckBox("Stretch reconstruction contrast")
        self.stretch_box.setToolTip(
            "Show the reconstruction with its own 1–99 % range, so that the faint structure "
            "the 10 latent features carry is visible; off: the original's gray scale"
        )
        self.stretch_box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.stretch_box)
        for b in (self.export_rec_button, self.export_lat_button):
            b.setEnabled(False)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            top.addWidget(b)
        self.views = SliceViews()
        self.views.clicked.connect(self._pick_window_at)
        from ratescope.gui.volume.ortho import OrthoViews

        self.ortho = OrthoViews()
        self.ortho.setVisible(False)
        self.ortho_box = QtWidgets.QCheckBox("&Orthogonal views")
        self.ortho_box.setToolTip("XZ and YZ planes through the window's centre, the slice marked")
        self.ortho_box.toggled.connect(self._toggle_ortho)
        top.addWidget(self.ortho_box)
        self.auto_button = QtWidgets.QPushButton("Auto &contrast")
        self.auto_button.setToolTip("Stretch the slices between the 0.5 and 99.5 percentiles")
        self.auto_button.clicked.connect(self.views.auto_levels)
        self.reset_button = QtWidgets.QPushButton("&Reset contrast")
        self.reset_button.clicked.connect(lambda: self.views.set_levels(-1.0, 1.0))
        top.addWidget(self.auto_button)
        top.addWidget(self.reset_button)
        self.stretch_box.toggled.connect(self.views.set_stretch)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.set_slice)
        self.slice_label = QtWidgets.QLabel("—")
        self.slice_label.setMinimumWidth(260)
        self.strip = BlockStrip()
        grid = QtWidgets.QGridLayout()
        grid.addWidget(QtWidgets.QLabel("Slice"), 0, 0)
        grid.addWidget(self.slider, 0, 1)
        grid.addWidget(self.slice_label, 0, 2, 2, 1)
        grid.addWidget(self.strip, 1, 1)
        column = QtWidgets.QVBoxLayout()
        column.addLayout(top)
        column.addWidget(self.views, 1)
        column.addWidget(self.ortho, 1)
        column.addLayout(grid)
        self.panel = ResultsPanel()
        self.chart, self.table, self.phases = self.panel.chart, self.panel.table, self.panel.phases
        self.window_combo, self.mse_label = self.panel.window_combo, self.panel.mse_label
        self.window_combo.currentIndexChanged.connect(self.set_window)
        # the analyses share one tabbed area under the slices, which keep the height
        self.analysis = QtWidgets.QTabWidget()
        self.analysis.setDocumentMode(True)
        self.analysis.setMaximumHeight(ANALYSIS_HEIGHT)
        self.views.setMinimumHeight(200)
        self.analysis.addTab(self.panel, "Reconstruction")
        column.addWidget(self.analysis)
        from ratescope.gui.volume.latent_panel import LatentFeatures
        from ratescope.gui.volume.metrics_panel import MicrostructureMetrics

        # what the latents track (encodes when shown); tortuosity, particle sizes (measures
        # when shown); the switches sit beside the tabs
        self.latents = LatentFeatures(self)
        self.metrics = MicrostructureMetrics(self)
        self.metrics_box = self._analysis_switch(
            self.metrics, "&Microstructure", "Microstructure",
            "Tortuosity, particle sizes, specific surface, pore connectivity and the rate "
            "curve from the label table (measured in the background when shown)",
        )  # fmt: skip
        self.latent_box = self._analysis_switch(
            self.latents, "&Latent features", "Latent features",
            "What each latent tracks, porosity from the latents, and "
            "latent space: this volume vs reference and pinned ones",
        )  # fmt: skip
        corner = QtWidgets.QWidget()
        switches = QtWidgets.QHBoxLayout(corner)
        switches.setContentsMargins(0, 0, 4, 0)
        switches.addWidget(self.metrics_box)
        switches.addWidget(self.latent_box)
        self.analysis.setCornerWidget(corner, QtCore.Qt.Corner.TopRightCorner)
        self.setLayout(column)

    def _analysis_switch(self, analysis, label: str, title: str, tip: str):
        """The check box that shows ``analysis`` (its panel hidden until then) as a tab."""
        box = QtWidgets.QCheckBox(label)
        box.setToolTip(tip)
        box.toggled.connect(lambda on: self._analysis_tab(analysis, title, on))
        analysis.panel.setVisible(False)
        return box

    def _analysis_tab(self, analysis, title: str, on: bool) -> None:
        """Add (and select) or remove the tab of an analysis panel, then tell it."""
        index = self.analysis.indexOf(analysis.panel)
        if on and index < 0:
            self.analysis.addTab(analysis.panel, title)
        if on:
            self.analysis.setCurrentWidget(analysis.panel)
        elif index >= 0:
            self.analysis.removeTab(index)
        analysis.set_visible(on)

    # ----------------------------------------------------------------- opening
    def open(self, path: str | Path, dataset: str | None = None) -> None:
        """Open a volume off the GUI thread (the CAE model is loaded once, with the first)."""
        path = Path(path).expanduser()
        self.info.setText(f"Opening {path.name}…")
        self.runner.start(
            open_volume_job,
            path,
            dataset,
            self._model,
            self.model_path,
            message=f"Opening volume {path.name}…",
            on_done=lambda v: self._opened(path, v),
            on_error=lambda e: self._open_failed(path, e),
        )

    def _open_failed(self, path: Path, error: BaseException) -> None:
        if isinstance(error, MultipleDatasets):
            name = self.questions.choose_dataset(self, path, error.names)
            if name is not None:
                self.open(path, name)
            return
        self.info.setText(f"Could not open {path.name}")
        self.dialogs.show_error(self, "Could not open volume", describe_error(path, error))

    def _opened(self, path: Path, volume: OpenedVolume) -> None:
        self.blocks.reset()  # work on the previous volume is no longer wanted
        if self._phase_task is not None:
            self._phase_task.cancel()
        if self.volume is not None and self.volume.source is not volume.source:
            self.volume.source.close()
        self.volume, self._model = volume, volume.model
        self.shown_z0 = None
        src, rec = volume.source, volume.rec
        self.voxel_um = self._voxel_size(path, src.voxel_size_um)
        self.views.set_voxel_size(self.voxel_um)
        self.ortho.set_source(src)
        self.settings.last_directory = str(path.resolve().parent)
        self.window_combo.blockSignals(True)
        self.window_combo.clear()
        for y, x in rec.tiles:
            self.window_combo.addItem(
                f"y {y}–{min(y + rec.plane, src.shape[1]) - 1}, "
                f"x {x}–{min(x + rec.plane, src.shape[2]) - 1}"
            )
        self.window_combo.setCurrentIndex(0)
        self.window_combo.blockSignals(False)
        self.tile = 0
        self.table.set_card(volume.card)
        self._describe(path)
        self.views.clear_slice(src.shape[1:])
        self.chart.set_values(None)
        for b in (self.export_rec_button, self.export_lat_button):
            b.setEnabled(True)
        if volume.kind == "labels":
            self.phases.set_fractions(None, "counting…")
            self._phase_task = self.runner.start(
                phase_fractions_job,
                src,
                message="Counting phases…",
                on_done=lambda f, s=src: self._phases_ready(s, f),
                on_error=lambda e: self.job_failed("Phase fractions", e),
            )
        else:
            self.phases.set_fractions(None, "grayscale volume: no phases")
        self.slider.blockSignals(True)
        self.slider.setRange(0, src.shape[0] - 1)
        self.slider.setPageStep(rec.length)
        self.slider.blockSignals(False)
        self.current = -1
        self.set_slice(0)
        self.opened.emit(volume)

    def _voxel_size(self, path: Path, from_file) -> float | None:
        if from_file is not None:
            self._voxel_source = "file"
            return float(from_file[-1])
        remembered = self.settings.pixel_size_for(path)
        if remembered is None:
            remembered = self.questions.ask_voxel_size(self, path, PAPER_VOXEL_UM)
            if remembered is not None:
                self.settings.remember_pixel_size(path, remembered)
        self._voxel_source = "user" if remembered is not None else "unknown"
        return remembered

    def _describe(self, path: Path) -> None:
        v = self.volume
        z, y, x = v.source.shape
        name = path.name + (f" : {v.source.dataset}" if v.source.dataset else "")
        voxel = (
            f"{self.voxel_um:.4g} µm voxels ({self._voxel_source})"
            if self.voxel_um
            else "voxel size unknown"
        )
        win = v.rec.length, v.rec.plane
        extent = (
            f" = {win[0] * self.voxel_um:.3g} × {win[1] * self.voxel_um:.3g}² µm"
            if self.voxel_um
            else ""
        )
        self.info.setText(
            f"<b>{name}</b> — {z} × {y} × {x} voxels, {v.source.dtype} "
            f"{v.kind}, {voxel}; CAE window {win[0]} × {win[1]}²{extent}"
        )

    def _phases_ready(self, source, fractions: dict) -> None:
        if self.volume is not None and self.volume.source is source:
            self.phases.set_fractions(fractions)

    # ---------------------------------------------------------------- browsing
    def set_slice(self, k: int) -> None:
        """Show slice ``k`` (clamped); reconstruct its block off-thread if not cached."""
        if self.volume is None:
            return
        k = max(0, min(int(k), self.volume.source.shape[0] - 1))
        if k == self.current:
            return
        self.current = k
        if self.slider.value() != k:
            self.slider.blockSignals(True)
            self.slider.setValue(k)
            self.slider.blockSignals(False)
        self.show_current()

    def show_current(self) -> None:
        """Show the current slice (and its block's panels) or ask for its block."""
        t0 = time.perf_counter()
        k = self.current
        st = self.blocks.block_of(k)
        if st is not None:
            i = k - st.z0
            self.views.set_slice(st.block.original[i], st.block.reconstruction[i], st.diff_limit)
            if st.z0 != self.shown_z0:
                self._show_block(st)
        self.slice_label.setText(self._slice_text(st))
        self.ortho.set_slice(k)
        self.blocks.update_strip()
        self.last_show_ms = 1000 * (time.perf_counter() - t0)
        self.slice_shown.emit(k)
        if st is None:
            self.blocks.request(k)
        else:
            self.blocks.prefetch()

    def _slice_text(self, st: BlockStats | None) -> str:
        n, k = self.volume.source.shape[0], self.current
        z = f" (z = {k * self.voxel_um:.4g} µm)" if self.voxel_um else ""
        if st is None:
            return f"slice {k + 1} / {n}{z}\nreconstructing…"
        return f"slice {k + 1} / {n}{z}\nCAE window: slices {st.z0 + 1}–{st.block.z1}"

    def _show_block(self, st: BlockStats) -> None:
        self.shown_z0 = st.z0
        self._show_window(st)
        self.block_shown.emit(st.z0)

    def set_window(self, index: int) -> None:
        """Pick the in-plane window whose latents and statistics are shown."""
        if self.volume is None or index < 0:
            return
        self.tile = index
        if self.window_combo.currentIndex() != index:
            self.window_combo.setCurrentIndex(index)
        st = self.blocks.stats.get(self.shown_z0) if self.shown_z0 is not None else None
        if st is not None:
            self._show_window(st)

    def _toggle_ortho(self, on: bool) -> None:
        self.ortho.setVisible(on)
        if on and self.volume is not None:
            if self.ortho.source is not self.volume.source:
                self.ortho.set_source(self.volume.source)
            st = self.blocks.stats.get(self.shown_z0) if self.shown_z0 is not None else None
            if st is not None:
                self._show_window(st)
            else:
                ny, nx = self.volume.source.shape[1:]
                self.ortho.set_centre(ny // 2, nx // 2)
            self.ortho.set_slice(max(0, self.current))

    def _show_window(self, st: BlockStats) -> None:
        b, i, rec = st.block, self.tile, self.volume.rec
        w = b.windows[i]
        self.chart.set_values(b.latents[i])
        self.table.set_window(w, float(b.mse[i]), st.block_mse, st.tests[i])
        self.mse_label.setText(
            f"Reconstruction MSE {b.mse[i]:.4g} (window), {st.block_mse:.4g} (block)"
        )
        ny, nx = self.volume.source.shape[1:]
        if self.ortho.isVisible():
            self.ortho.set_centre(w.y0 + min(rec.plane, ny - w.y0) // 2,
                                  w.x0 + min(rec.plane, nx - w.x0) // 2)  # fmt: skip
        self.views.set_window(
            w.x0,
            w.y0,
            min(rec.plane, nx - w.x0),
            min(rec.plane, ny - w.y0),
            visible=len(rec.tiles) > 1 or ny > rec.plane or nx > rec.plane,
        )

    def _pick_window_at(self, x: float, y: float) -> None:
        self.setFocus()  # the keys step slices again after a click on the views
        if self.volume is None:
            return
        p = self.volume.rec.plane
        for i, (y0, x0) in enumerate(self.volume.rec.tiles):
            if y0 <= y < y0 + p and x0 <= x < x0 + p:
                self.set_window(i)
                return

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key, Key = event.key(), QtCore.Qt.Key  # noqa: N806
        if self.volume is None:
            return super().keyPressEvent(event)
        n, page = self.volume.source.shape[0], self.volume.rec.length
        target = {
            Key.Key_PageUp: self.current + page,
            Key.Key_PageDown: self.current - page,
            Key.Key_Home: 0,
            Key.Key_End: n - 1,
        }.get(key)
        if key in KEY_STEPS:
            target = self.current + KEY_STEPS[key]
        if target is None:
            return super().keyPressEvent(event)
        self.set_slice(target)
        event.accept()

    def job_failed(self, what: str, error: BaseException) -> None:
        """An error dialog for failed background work ``what``."""
        reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
        self.dialogs.show_error(self, f"{what} failed", reason)
