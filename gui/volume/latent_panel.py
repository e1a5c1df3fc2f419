"""The 3D workspace's "Latent features" panel: what the CAE's 10 latents track.

Left, a table: each latent's Pearson r with porosity, pore tortuosity and particle size
(measured on synthetic volumes by ``scripts/latent_analysis.py``, stored in
``resources/models/cae_latents.json``), coloured red (positive) to blue (negative), with a
plain-words label and the current window's value. Above it, the porosity regressed from
the current window's latents, with its held-out R² beside the baseline's. Right, latent
space in 2-D (the stored PCA basis): the reference windows (held-out synthetic volumes,
coloured by porosity), every window of the open volume, the current window, and the
volumes *pinned* earlier, so that two or more volumes can be compared: a microscopist pins
a calendered electrode, opens an uncalendered one and sees where each lies against the
reference porosity gradient.

The windows of the open volume are encoded in the background (the window's
:class:`gui.background.TaskRunner`: progress and Cancel) when the panel is shown.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.errors import RateScopeError

PIN_COLOURS = ["#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
"""Colours of pinned volumes, in pinning order."""
CURRENT_COLOUR = "#d95f02"
COLUMNS = ("porosity", "tortuosity", "radius_um")
HEADERS = ("r porosity", "r tortuosity", "r particle size", "this window", "reads as")


def _r_colour(r: float) -> QtGui.QColor:
    """Diverging background for a correlation: red positive, blue negative, white 0."""
    if not np.isfinite(r):
        return QtGui.QColor(235, 235, 235)
    a = min(abs(float(r)), 1.0)
    base = (214, 39, 40) if r > 0 else (31, 119, 180)
    return QtGui.QColor(*[int(255 + (c - 255) * a * 0.8) for c in base])


def _pct(v: float | None) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def encode_volume_job(model, source, scaling, progress=None):
    """Worker: the latents of every covering window, and the model's weight fingerprint.

    Returns ``(core.volume.latents.VolumeLatents, str)``.
    """
    from ratescope.core.volume.latents import encode_volume, weights_sha256

    return encode_volume(model, source, scaling, progress=progress), weights_sha256(model)


class LatentPanel(QtWidgets.QWidget):
    """Widgets only: correlation table, porosity read-out, latent-space scatter.

    Signals
    -------
    pin_requested(), clear_requested()
        The user pressed "Pin this volume" / "Clear pinned".
    """

    pin_requested = QtCore.Signal()
    clear_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.summary = QtWidgets.QLabel("Latent features: open a volume.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.table = QtWidgets.QTableWidget(10, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setVerticalHeaderLabels([f"z{i + 1}" for i in range(10)])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.plot.setMenuEnabled(False)
        self.plot.setTitle("Latent space (PCA of the 10 features)")
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        self.legend = self.plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.reference = pg.ScatterPlotItem(size=6, pen=None, name="reference (colour: porosity)")
        self.current = pg.ScatterPlotItem(
            size=9, symbol="t", pen=pg.mkPen("k", width=0.5), brush=CURRENT_COLOUR, name="open"
        )
        self.marker = pg.ScatterPlotItem(
            size=18, symbol="star", pen=pg.mkPen("k"), brush="#ffdd00", name="current window"
        )
        for item in (self.reference, self.current, self.marker):
            self.plot.addItem(item)
        self.pinned: list[tuple[str, pg.ScatterPlotItem]] = []
        self.pin_button = QtWidgets.QPushButton("&Pin this volume")
        self.pin_button.setToolTip(
            "Keep this volume's windows in the plot; open another volume to compare them"
        )
        self.pin_button.setEnabled(False)
        self.clear_button = QtWidgets.QPushButton("Clear pinned")
        self.clear_button.setEnabled(False)
        self.pin_button.clicked.connect(self.pin_requested)
        self.clear_button.clicked.connect(self.clear_requested)
        self.note = QtWidgets.QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555")
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.table, 1)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.plot, 1)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.note, 1)
        right.addLayout(buttons)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 3)
        row.addLayout(right, 2)
        self.setFixedHeight(300)  # the slice views keep the rest of the height

    # ------------------------------------------------------------------ table
    def _put(self, row: int, col: int, text: str, colour=None, tip: str = "") -> None:
        item = QtWidgets.QTableWidgetItem(text)
        item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        if colour is not None:
            item.setBackground(colour)
        if tip:
            item.setToolTip(tip)
        self.table.setItem(row, col, item)

    def set_reference(self, ref) -> None:
        """Fill the correlations, labels and the reference scatter from a LatentReference."""
        pearson, spearman = (
            ref.pearson(),
            {k: c["spearman"] for k, c in ref.data["correlations"].items()},
        )
        n = len(ref.labels)
        self.table.setRowCount(n)
        self.table.setVerticalHeaderLabels([f"z{i + 1}" for i in range(n)])
        for row in range(n):
            for col, key in enumerate(COLUMNS):
                r = float(pearson.get(key, np.full(n, np.nan))[row])
                rho = spearman.get(key, [np.nan] * n)[row]
                text = "—" if not np.isfinite(r) else f"{r:+.2f}".replace("-", "−")
                self._put(row, col, text, _r_colour(r), f"Pearson r {r:.3f}, Spearman ρ {rho:.3f}")
            label = ref.labels[row]
            self._put(row, len(COLUMNS) + 1, label.split(" ", 1)[1] if " " in label else label)
        from pyqtgraph import colormap

        cmap = colormap.get("viridis")
        por = ref.reference_porosity
        lo, hi = float(np.min(por)), float(np.max(por))
        brushes = [pg.mkBrush(c) for c in cmap.map((por - lo) / max(hi - lo, 1e-9), "qcolor")]
        self.reference.setData(pos=ref.reference_points, brush=brushes)
        d = ref.data["data"]
        self.note.setText(
            f"Reference: {len(por)} windows of {d['heldout']['volumes']} held-out SYNTHETIC "
            f"volumes, porosity {100 * lo:.0f} % (purple) – {100 * hi:.0f} % (yellow)"
        )

    def set_window(self, latents: np.ndarray | None) -> None:
        """The current window's latent values in the table."""
        for row in range(self.table.rowCount()):
            v = None if latents is None or row >= len(latents) else float(latents[row])
            self._put(row, len(COLUMNS), "—" if v is None else f"{v:.2f}")

    # ---------------------------------------------------------------- scatter
    def set_points(self, points: np.ndarray | None) -> None:
        """The open volume's windows in 2-D (``None`` clears)."""
        self.current.setData(pos=np.zeros((0, 2)) if points is None else points)
        self.pin_button.setEnabled(points is not None and len(points) > 0)

    def set_marker(self, point: np.ndarray | None) -> None:
        self.marker.setData(pos=np.zeros((0, 2)) if point is None else np.reshape(point, (1, 2)))

    def set_volume_name(self, name: str) -> None:
        self.legend.removeItem(self.current)
        self.legend.addItem(self.current, f"open: {name}")

    def pin(self, name: str, points: np.ndarray) -> None:
        """Keep ``points`` as a group of their own (a colour per pinned volume)."""
        colour = PIN_COLOURS[len(self.pinned) % len(PIN_COLOURS)]
        item = pg.ScatterPlotItem(
            pos=points, size=8, symbol="s", pen=pg.mkPen("k", width=0.5), brush=colour,
            name=f"pinned: {name}",
        )  # fmt: skip
        self.plot.addItem(item)
        self.pinned.append((name, item))
        self.clear_button.setEnabled(True)

    def clear_pins(self) -> None:
        for _, item in self.pinned:
            self.plot.removeItem(item)
            self.legend.removeItem(item)
        self.pinned.clear()
        self.clear_button.setEnabled(False)

    def groups(self) -> dict[str, np.ndarray]:
        """Every group drawn: ``reference``, ``open``, ``pinned: NAME`` -> points ``[n, 2]``."""

        def pts(item) -> np.ndarray:
            x, y = item.getData()
            return np.column_stack([x, y]) if x is not None else np.zeros((0, 2))

        out = {"reference": pts(self.reference), "open": pts(self.current)}
        out.update({f"pinned: {name}": pts(item) for name, item in self.pinned})
        return out


class LatentFeatures(QtCore.QObject):
    """Feeds a :class:`LatentPanel` from a VolumeWorkspace (passed in, not imported).

    Reads the workspace's ``volume``, ``blocks``, ``shown_z0``, ``tile``, ``runner`` and
    ``job_failed``; listens to its ``opened`` and ``block_shown`` signals
    and its window chooser. Encoding starts when the panel is visible.
    """

    def __init__(self, workspace):
        super().__init__(workspace)
        self.ws = workspace
        self.panel = LatentPanel()
        self.panel.setVisible(False)
        self.ref = None
        self.ref_error: str | None = None
        self.result = None  # core.volume.latents.VolumeLatents of the open volume
        self.same_model: bool | None = None
        self.points: np.ndarray | None = None
        self._task = None
        self._source = None
        self.panel.pin_requested.connect(self.pin)
        self.panel.clear_requested.connect(self.panel.clear_pins)
        workspace.opened.connect(self._opened)
        workspace.block_shown.connect(lambda _z0: self.show_window())
        workspace.window_combo.currentIndexChanged.connect(lambda _i: self.show_window())

    # ------------------------------------------------------------------ state
    def _reference(self):
        if self.ref is None and self.ref_error is None:
            from ratescope.core.volume.latents import load_reference

            try:
                self.ref = load_reference()
                self.panel.set_reference(self.ref)
            except RateScopeError as e:
                self.ref_error = str(e)
        return self.ref

    def set_visible(self, on: bool) -> None:
        """Show or hide the panel; showing it starts the encoding of the open volume."""
        self.panel.setVisible(on)
        if on:
            self._reference()
            self.encode()
            self.show_window()

    def _opened(self, volume) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.result, self.points, self._source = None, None, None
        self.panel.set_points(None)
        self.panel.set_marker(None)
        self.panel.set_volume_name(volume.source.path.name)
        if self.panel.isVisible():
            self.encode()
        self.show_window()

    def encode(self) -> None:
        """Encode every window of the open volume in the background (once per volume)."""
        v = self.ws.volume
        if v is None or self._source is v.source or self.ref is None:
            return
        self._source = v.source
        self._task = self.ws.runner.start(
            encode_volume_job,
            v.model[0],
            v.source,
            v.rec.scaling,
            message=f"Encoding the windows of {v.source.path.name}…",
            on_done=lambda r, s=v.source: self._encoded(s, r),
            on_error=self._failed,
        )

    def _failed(self, error: BaseException) -> None:
        self._task, self._source = None, None
        self.ws.job_failed("Encoding the windows", error)

    def _encoded(self, source, outcome) -> None:
        v = self.ws.volume
        if v is None or v.source is not source:
            return
        self._task = None
        self.result, sha = outcome
        self.same_model = sha == self.ref.data["model"].get("weights_sha256")
        self.points = self.ref.projection.project(self.result.latents)
        self.panel.set_points(self.points)
        self.show_window()

    # --------------------------------------------------------------- display
    def current_latents(self) -> np.ndarray | None:
        """Latents of the window on screen (from its reconstructed block), or None."""
        ws = self.ws
        if ws.volume is None or ws.shown_z0 is None:
            return None
        st = ws.blocks.stats.get(ws.shown_z0)
        if st is None or not 0 <= ws.tile < len(st.block.latents):
            return None
        return np.asarray(st.block.latents[ws.tile], float)

    def _window_index(self) -> int | None:
        ws = self.ws
        if self.result is None or ws.shown_z0 is None:
            return None
        y, x = ws.volume.rec.tiles[ws.tile]
        for i, w in enumerate(self.result.windows):
            if (w.z0, w.y0, w.x0) == (ws.shown_z0, y, x):
                return i
        return None

    def show_window(self) -> None:
        """Refresh the read-out, the table's window column and the star."""
        if not self.panel.isVisible():
            return
        ref = self._reference()
        if ref is None:
            self.panel.summary.setText(f"No latent analysis: {self.ref_error}")
            return
        z = self.current_latents()
        self.panel.set_window(z)
        self.panel.set_marker(None if z is None else ref.projection.project(z[None])[0])
        self.panel.summary.setText(self.summary_text(z))

    def summary_text(self, z: np.ndarray | None) -> str:
        ref = self.ref
        reg = ref.data["porosity_regression"]
        r2 = (
            f"held-out R² {ref.r2_heldout:.2f} on synthetic volumes; the window's mean input "
            f"alone gives R² {ref.baseline_r2_heldout:.2f}"
        )
        if self.same_model is False:
            return (
                "<b>The open CAE is not the one the latent analysis was made for</b>: the "
                "correlations and the porosity read-out do not apply to it."
            )
        parts = []
        if z is None:
            parts.append("Porosity from the latents: — (reconstructing the window…)")
        else:
            text = f"Porosity from the 10 latents: <b>{_pct(float(ref.porosity(z)))}</b>"
            i = self._window_index()
            if self.result is not None and i is not None:
                text += f" (measured in this window: {_pct(self.result.porosity[i])})"
            parts.append(text)
        if self.result is not None:
            pred = ref.porosity(self.result.latents)
            measured = self.result.porosity
            vol = f"volume, mean over {len(pred)} windows: {_pct(float(np.mean(pred)))}"
            if np.all(np.isfinite(measured)):
                vol += f" (measured {_pct(float(np.mean(measured)))})"
            parts.append(vol)
        outside = self.outside_reference()
        if outside:
            parts.append(f"<b>{outside}</b>: the read-out extrapolates")
        if self.ws.volume is not None and self.ws.volume.kind != "labels":
            parts.append("grayscale volume: the read-out was fitted on segmented volumes")
        parts.append(r2 + f" (ridge, α = {reg['alpha']:.3g})")
        return "<br>".join(parts)

    def outside_reference(self) -> str:
        """Why the open volume lies outside what the read-out was fitted on ('' if not)."""
        if self.result is None or self.points is None:
            return ""
        por, lo, hi = self.result.porosity, *np.percentile(self.ref.reference_porosity, (0, 100))
        if np.any(np.isfinite(por)) and not lo <= float(np.nanmean(por)) <= hi:
            return (
                f"measured porosity {_pct(float(np.nanmean(por)))} is outside the reference "
                f"windows' {_pct(lo)} – {_pct(hi)}"
            )
        pts = self.ref.reference_points
        a, b = pts.min(axis=0), pts.max(axis=0)
        margin = 0.1 * (b - a)
        if np.any((self.points < a - margin) | (self.points > b + margin)):
            return "some windows lie outside the reference cloud in latent space"
        return ""

    def pin(self) -> None:
        """Pin the open volume's points (named after its file)."""
        if self.points is None or self.ws.volume is None:
            return
        self.panel.pin(self.ws.volume.source.path.name, self.points.copy())
