"""The 3D workspace's "Microstructure" panel: what in a label volume drives rate capability.

Left, the figures of :func:`core.volume.metrics.microstructure_metrics`: the pores'
through-plane tortuosity factor (with D_eff/D and the Bruggeman value the label table
assumes), pore connectivity, particle sizes d10/d50/d90, the active/pore specific surface.
Right, the rate curve read from the physics label table at the measured porosity and
particle radius: with the table's Bruggeman transport and with the measured tortuosity.

The measurement runs on the window's :class:`gui.background.TaskRunner` (progress and
Cancel in the status bar, and a Cancel button here) when the panel is shown for a label
volume: a 251 x 301 x 301 volume takes about a minute on two cores, so it is not started
behind the user's back while they browse. "Measure" starts it again after a cancel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.gui.volume.jobs import metrics_job

ROWS = (
    "Tortuosity factor, pores (through-plane)",
    "D_eff / D (pores)",
    "Bruggeman tortuosity at this porosity (label table)",
    "Porosity (pores; carbon-binder as solid)",
    "Pores connecting both faces",
    "Particle size d10 / d50 / d90 (volume-weighted)",
    "Specific surface, active/pore",
)
CURVE_PENS = {
    "bruggeman": pg.mkPen((90, 90, 90), width=2, style=QtCore.Qt.PenStyle.DashLine),
    "measured_tortuosity": pg.mkPen((214, 39, 40), width=2),
}
CURVE_NAMES = {"bruggeman": "Bruggeman (table)", "measured_tortuosity": "measured tortuosity"}


class MetricsPanel(QtWidgets.QWidget):
    """Widgets only: the figures table, the rate-curve plot, Measure / Cancel and a status."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.table = QtWidgets.QTableWidget(len(ROWS), 1)
        self.table.setHorizontalHeaderLabels(["Value"])
        self.table.setVerticalHeaderLabels(list(ROWS))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.status = QtWidgets.QLabel("Open a label volume to measure its microstructure.")
        self.status.setWordWrap(True)
        self.measure_button = QtWidgets.QPushButton("Mea&sure")
        self.measure_button.setToolTip("Measure tortuosity, particle sizes, surface and more")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.export_button = QtWidgets.QPushButton("Export CSV…")
        self.export_button.setToolTip("Every figure and both rate curves as a CSV table")
        self.export_button.setEnabled(False)
        self.unit_combo = QtWidgets.QComboBox()
        self.unit_combo.addItem("Ah/kg (NCM)", "specific")
        self.unit_combo.addItem("Ah/L (coating)", "volumetric")
        self.unit_combo.currentIndexChanged.connect(self._draw)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setTitle("Rate curve from the physics label table")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "C-rate")
        self.plot.addLegend(offset=(10, -10))  # bottom left: the curves end bottom right
        self.curves = {
            name: self.plot.plot([], [], pen=pen, symbol="o", symbolSize=6, name=CURVE_NAMES[name])
            for name, pen in CURVE_PENS.items()
        }
        self.note = QtWidgets.QLabel(
            "Curves are read from the synthetic DFN label table at this volume's porosity and "
            "d50 / 2; they are not a measurement of this electrode."
        )
        self.note.setWordWrap(True)
        self.physics: dict | None = None
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.measure_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(QtWidgets.QLabel("<b>Microstructure</b> (whole volume)"))
        left.addWidget(self.table, 1)
        left.addWidget(self.status)
        left.addLayout(buttons)
        right = QtWidgets.QVBoxLayout()
        unit = QtWidgets.QHBoxLayout()
        unit.addWidget(QtWidgets.QLabel("Unit:"))
        unit.addWidget(self.unit_combo)
        unit.addStretch(1)
        right.addLayout(unit)
        right.addWidget(self.plot, 1)
        right.addWidget(self.note)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 3)
        row.addLayout(right, 2)
        self.setMinimumHeight(260)

    def text(self, row: int) -> str:
        item = self.table.item(row, 0)
        return item.text() if item is not None else ""

    def set_busy(self, busy: bool, message: str = "") -> None:
        """Measuring (Cancel enabled) or idle; ``message`` goes to the status line."""
        self.measure_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if message:
            self.status.setText(message)

    def clear(self, message: str = "") -> None:
        """Empty figures and curves."""
        for row in range(len(ROWS)):
            self.table.setItem(row, 0, QtWidgets.QTableWidgetItem("—"))
        self.physics = None
        self._draw()
        if message:
            self.status.setText(message)

    def show_metrics(self, m) -> None:
        """Fill in a :class:`core.volume.metrics.MicrostructureMetrics`."""
        t, c, p, ph = m.tortuosity, m.connectivity, m.particles, m.physics
        values = [
            f"{t.tau:.3f}" + ("" if t.converged else " (not converged)")
            if t.percolating
            else "∞ (pores do not connect the faces)",
            f"{t.relative_diffusivity:.4f}",
            "—" if ph.get("bruggeman_tau") is None else f"{ph['bruggeman_tau']:.3f}",
            f"{100 * m.fractions['pore']:.2f} %",
            f"{100 * c.percolating_fraction:.2f} % ({c.n_clusters} clusters)",
            "—"
            if p is None
            else f"{p.d10_um:.2f} / {p.d50_um:.2f} / {p.d90_um:.2f} µm ({p.n_particles})",
            f"{m.specific_surface_um:.4f} µm⁻¹",
        ]
        for row, text in enumerate(values):
            item = QtWidgets.QTableWidgetItem(text)
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(row, 0, item)
        self.physics = ph
        self._draw()
        notes = "; ".join(ph.get("notes", []))
        self.status.setText(
            f"Measured in {t.seconds:.0f} s (tortuosity: {t.iterations} iterations)"
            + (f". {notes}" if notes else "")
        )

    def curve_values(self, name: str) -> np.ndarray:
        """The y values drawn for curve ``name`` (empty when not drawn)."""
        _, y = self.curves[name].getData()
        return np.asarray([] if y is None else y, dtype=float)

    def _draw(self) -> None:
        unit = self.unit_combo.currentData()
        ph = self.physics
        for name, item in self.curves.items():
            curve = None if ph is None else (ph["curves"].get(name) or {}).get(unit)
            if curve is None:
                item.setData([], [])
            else:
                item.setData(np.asarray(ph["c_rates"], float), np.asarray(curve, float))
        if ph is not None:
            self.plot.setLabel("left", f"capacity ({ph['units'][unit]})")


class MicrostructureMetrics(QtCore.QObject):
    """Runs the measurement for the workspace's volume and feeds :class:`MetricsPanel`.

    Reads the workspace's ``volume``, ``voxel_um``, ``runner`` and ``job_failed``; listens
    to its ``opened`` signal.
    """

    def __init__(self, workspace):
        super().__init__(workspace)
        self.ws = workspace
        self.panel = MetricsPanel()
        self.panel.setVisible(False)
        self.panel.measure_button.clicked.connect(self.measure)
        self.panel.cancel_button.clicked.connect(self.cancel)
        self.panel.export_button.clicked.connect(self.export_csv)
        self.result = None
        self._task = None
        self._pending = False
        workspace.opened.connect(self._opened)
        workspace.runner.busy_changed.connect(self._runner_changed)

    def set_visible(self, on: bool) -> None:
        """Show or hide the panel; showing it measures a volume not measured yet."""
        self.panel.setVisible(on)
        if on and self._pending:
            self.measure()

    def _opened(self, volume) -> None:
        self.cancel(quiet=True)
        self.result = None
        self.panel.export_button.setEnabled(False)
        labels = volume.kind == "labels"
        self._pending = labels
        self.panel.measure_button.setEnabled(labels)
        self.panel.clear(
            "Measuring starts when this panel is shown."
            if labels
            else "Grayscale volume: segment it into phases to measure its microstructure."
        )
        if labels and self.panel.isVisible():
            self.measure()

    def measure(self) -> None:
        """Start the measurement of the open label volume in the background."""
        v = self.ws.volume
        if v is None or v.kind != "labels" or self.busy:
            return
        if self.ws.voxel_um is None:
            self.panel.clear("The voxel size is unknown: reopen the volume and give it.")
            return
        self._pending = False
        voxel = v.source.voxel_size_um or self.ws.voxel_um
        self.panel.clear()
        self.panel.set_busy(True, "Measuring: tortuosity, particles, surface…")
        self._task = self.ws.runner.start(
            metrics_job,
            v.source,
            None,
            voxel,
            message="Measuring microstructure…",
            on_done=lambda m, s=v.source: self._done(s, m),
            on_error=self._failed,
        )

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.cancelled

    def cancel(self, quiet: bool = False) -> None:
        """Stop a measurement under way."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.panel.set_busy(False, "" if quiet else "Cancelled. Measure to start again.")

    def _runner_changed(self, *args) -> None:
        if self._task is not None and self._task.cancelled:  # the status bar's Cancel
            self._task = None
            self.panel.set_busy(False, "Cancelled. Measure to start again.")

    def _done(self, source, m) -> None:
        self._task = None
        self.panel.set_busy(False)
        if self.ws.volume is None or self.ws.volume.source is not source:
            return
        self.result = m
        self.panel.show_metrics(m)
        self.panel.export_button.setEnabled(True)

    def export_csv(self) -> None:
        """Write the measured figures and curves as CSV (file name asked), off-thread."""
        from ratescope.core.volume.export import write_metrics_csv

        if self.result is None or self.ws.volume is None:
            return
        src = Path(self.ws.volume.source.path)
        default = str(src.parent / (src.stem + "_microstructure.csv"))
        name = self.ws.questions.save_name(self.ws, "Export microstructure", default, "CSV (*.csv)")
        if not name:
            return
        out = Path(name) if Path(name).suffix else Path(name).with_suffix(".csv")
        self.ws.runner.start(
            write_metrics_csv, self.result, out, src.name,
            message=f"Writing {out.name}…",
            on_done=lambda p: self.panel.status.setText(f"Wrote {Path(p).name}"),
            on_error=lambda e: self.ws.job_failed("Export", e),
        )  # fmt: skip

    def _failed(self, error: BaseException) -> None:
        self._task = None
        self.panel.set_busy(False, "Measurement failed.")
        self.ws.job_failed("Microstructure metrics", error)
