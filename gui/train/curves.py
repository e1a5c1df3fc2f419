"""Live learning curves and the per-fold metrics table of a training run.

:class:`LearningCurves` draws, for every (unit, fold), the training loss (MAPE of the
training batches, %; a running mean over :data:`SMOOTH_STEPS` steps on the faint raw
values) and the validation MAPE (%) against the step; :class:`FoldTable` lists each
finished fold's MAPE on its training, validation and held-out test electrodes, with the
embedded model's MAPE on the same held-out electrodes where the run measured it. Both are
fed with :class:`gui.train.events.EventLog` after each event.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import UNITS
from ratescope.gui.train.events import EventLog, metric

FOLD_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
UNIT_STYLES = {"specific": QtCore.Qt.PenStyle.SolidLine, "volumetric": QtCore.Qt.PenStyle.DashLine}


SMOOTH_STEPS = 25
"""Window of the running mean drawn over each fold's (noisy) batch losses."""


def running_mean(values: list[float], window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    x = np.asarray(values, float)
    if len(x) == 0:
        return x
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def curve_name(unit: str, fold: int) -> str:
    """Legend entry: ``"Ah/kg fold 1"`` (folds counted from 1 for people)."""
    return f"{UNITS.get(unit, unit)} fold {fold + 1}"


class LearningCurves(pg.GraphicsLayoutWidget):
    """Training loss and validation MAPE per fold against the training step."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(220)
        self.loss_plot = self._plot(0, "Training loss (batches)", "Loss: MAPE (%)")
        self.val_plot = self._plot(1, "Validation electrodes", "MAPE by electrode (%)")
        self.val_plot.setXLink(self.loss_plot)
        self.items: dict[tuple[str, int], tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.raw: dict[tuple[str, int], pg.PlotDataItem] = {}

    def _plot(self, col: int, title: str, left: str) -> pg.PlotItem:
        plot = self.addPlot(row=0, col=col)
        plot.setTitle(title, color="#202020", size="11pt")
        plot.setLabel("bottom", "Training step")
        plot.setLabel("left", left)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setMenuEnabled(False)
        plot.addLegend(offset=(-8, 8), labelTextSize="9pt", labelTextColor="#202020",
                       brush=(255, 255, 255, 200))  # fmt: skip
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen("k")
            plot.getAxis(axis).setPen("k")
        return plot

    def clear_curves(self) -> None:
        """Remove every curve (a new run)."""
        for loss, val in self.items.values():
            self.loss_plot.removeItem(loss)
            self.val_plot.removeItem(val)
        for raw in self.raw.values():
            self.loss_plot.removeItem(raw)
        self.items.clear()
        self.raw.clear()

    def _items(self, unit: str, fold: int) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        key = (unit, fold)
        if key not in self.items:
            colour = FOLD_COLOURS[fold % len(FOLD_COLOURS)]
            style = UNIT_STYLES.get(unit, QtCore.Qt.PenStyle.SolidLine)
            pen = pg.mkPen(colour, width=2, style=style)
            name = curve_name(unit, fold)
            self.raw[key] = self.loss_plot.plot([], [], pen=pg.mkPen((*colour, 60), width=1))
            loss = self.loss_plot.plot([], [], pen=pen, name=name)
            val = self.val_plot.plot(
                [], [], pen=pen, name=name, symbol="o", symbolSize=5,
                symbolBrush=pg.mkBrush(colour), symbolPen=None,
            )  # fmt: skip
            self.items[key] = (loss, val)
        return self.items[key]

    def show_log(self, log: EventLog) -> None:
        """Draw every curve of ``log``."""
        for (unit, fold), curve in log.curves.items():
            loss, val = self._items(unit, fold)
            self.raw[(unit, fold)].setData(curve.steps, curve.train_loss)
            loss.setData(curve.steps, running_mean(curve.train_loss, SMOOTH_STEPS))
            val.setData(curve.val_steps, curve.val_mape)

    def point_count(self) -> int:
        """Points drawn in all curves (tests)."""
        return sum(len(a.xData if a.xData is not None else []) for a, _ in self.items.values())


FOLD_COLUMNS = (
    "Unit",
    "Fold",
    "Train MAPE (%)",
    "Validation MAPE (%)",
    "Held-out MAPE (%)",
    "Held-out R²",
    "Embedded model, held-out MAPE (%)",
)


def embedded_mape(metrics: dict) -> float | None:
    """The embedded model's MAPE on the fold's held-out electrodes, when the run measured
    it (``metrics["embedded"]["mape"]`` or ``metrics["embedded_test"]["mape"]``)."""
    for key in ("embedded", "embedded_test", "baseline"):
        value = metric(metrics, key)
        if value is not None:
            return value
    return None


class FoldTable(QtWidgets.QTableWidget):
    """One row per finished (unit, fold): MAPE on train / validation / held-out electrodes."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(FOLD_COLUMNS), parent)
        self.setHorizontalHeaderLabels(FOLD_COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(len(FOLD_COLUMNS) - 1,
                                    QtWidgets.QHeaderView.ResizeMode.ResizeToContents)  # fmt: skip
        self.setMinimumHeight(110)

    def show_log(self, log: EventLog) -> None:
        """One row per fold that has its metrics in ``log``."""
        rows = sorted(log.fold_metrics.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        self.setRowCount(len(rows))
        for r, ((unit, fold), metrics) in enumerate(rows):
            r2 = metric(metrics, "test", "r2")
            values = [
                UNITS.get(unit, unit),
                str(fold + 1),
                _number(metric(metrics, "train")),
                _number(metric(metrics, "val")),
                _number(metric(metrics, "test")),
                "—" if r2 is None else f"{r2:.3f}",
                _number(embedded_mape(metrics)),
            ]
            for c, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                if c >= 1:
                    item.setTextAlignment(
                        QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(r, c, item)
        rows_h = sum(self.rowHeight(r) for r in range(self.rowCount()))
        wanted = self.horizontalHeader().sizeHint().height() + rows_h + 2 * self.frameWidth()
        self.setMinimumHeight(min(max(110, wanted), 240))  # every fold visible, up to 6


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
