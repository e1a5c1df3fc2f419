"""One unit's rate curve: capacity vs C-rate on a log x-axis (pyqtgraph).

Items of a :class:`RatePlot` (all in data coordinates, x = C-rate, log-scaled by the plot):

- ``mean_curve``: the ensemble mean, a line with round symbols at the 5 C-rates;
- ``band``: a :class:`pyqtgraph.FillBetweenItem` between ``lower`` and ``upper``
  (mean ∓ the ensemble spread ``std``, folds and tiles together);
- ``tile_curves``: one thin curve per tile (mean over folds), toggled by
  :meth:`set_tiles_visible`;
- ``measured``: the user's measured values, diamond markers without a line;
- ``physics_curve`` and ``physics_band``: the label table at the measured coating
  (:mod:`core.measure`), dotted green with triangles, ± its standard uncertainty.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ratescope.core.constants import C_RATES, UNITS

COLOURS = {"specific": (31, 119, 180), "volumetric": (214, 96, 39)}
FLAGGED_COLOUR = (150, 150, 150)
"""An out-of-distribution curve is drawn grey and dashed: shown, but not as a result."""
MEASURED_COLOUR = (20, 20, 20)
PHYSICS_COLOUR = (44, 160, 44)
"""The physics curve's colour (as in the PDF)."""
TICKS = [[(math.log10(c), f"{c:g}") for c in C_RATES]]
"""Major ticks of the log axis: at the C-rates (positions in log10 units)."""
X_RANGE = (math.log10(0.15), math.log10(6.5))


class RatePlot(pg.PlotWidget):
    """Capacity vs C-rate of one unit (``"specific"`` or ``"volumetric"``)."""

    def __init__(self, unit: str, parent=None):
        super().__init__(parent, background="w")
        self.unit = unit
        colour = COLOURS[unit]
        item = self.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setLabel("bottom", "C-rate")
        item.setLabel("left", f"Capacity ({UNITS[unit]})")
        item.getAxis("bottom").setTicks(TICKS)
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=True)
        for name in ("bottom", "left"):
            item.getAxis(name).setTextPen("k")
            item.getAxis(name).setPen("k")
        self.legend = item.addLegend(offset=(8, -8), labelTextColor="k", labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.setXRange(*X_RANGE, padding=0)

        pen = pg.mkPen(colour + (90,), width=1)
        self.lower = pg.PlotDataItem([], [], pen=pen)
        self.upper = pg.PlotDataItem([], [], pen=pen)
        self.band = pg.FillBetweenItem(self.lower, self.upper, brush=pg.mkBrush(colour + (60,)))
        self.tile_curves: list[pg.PlotDataItem] = []
        self._tiles_visible = True
        self.mean_curve = pg.PlotDataItem(
            [], [], pen=pg.mkPen(colour, width=2.5), symbol="o", symbolSize=7,
            symbolBrush=pg.mkBrush(colour), symbolPen=pg.mkPen("w"), name="predicted (mean)",
        )  # fmt: skip
        self.measured = pg.PlotDataItem(
            [], [], pen=None, symbol="d", symbolSize=11, symbolBrush=pg.mkBrush(MEASURED_COLOUR),
            symbolPen=pg.mkPen("w", width=1), name="measured",
        )  # fmt: skip
        for it in (self.lower, self.upper):
            item.addItem(it)
        item.addItem(self.band)
        self.band.setZValue(-10)
        item.addItem(self.mean_curve)
        item.addItem(self.measured)
        self.measured.setZValue(10)
        # legend entries for the band and the tiles (their items have no name of their own)
        self._band_key = pg.PlotDataItem([], [], pen=pg.mkPen(colour + (60,), width=8))
        self._tile_key = pg.PlotDataItem([], [], pen=pg.mkPen(colour + (110,), width=1))
        self.legend.addItem(self._band_key, "ensemble spread (± 1 sd)")
        self.legend.addItem(self._tile_key, "per-tile curves")
        self.legend.removeItem(self.measured)  # listed once there is a measured value
        ppen = pg.mkPen(PHYSICS_COLOUR + (80,), width=1)
        self.physics_lower = pg.PlotDataItem([], [], pen=ppen)
        self.physics_upper = pg.PlotDataItem([], [], pen=ppen)
        self.physics_band = pg.FillBetweenItem(
            self.physics_lower, self.physics_upper, brush=pg.mkBrush(PHYSICS_COLOUR + (40,))
        )
        self.physics_curve = pg.PlotDataItem(
            [], [], pen=pg.mkPen(PHYSICS_COLOUR, width=2, style=QtCore.Qt.PenStyle.DotLine),
            symbol="t1", symbolSize=8, symbolBrush=pg.mkBrush(PHYSICS_COLOUR),
            symbolPen=pg.mkPen("w"), name="physics (measured coating)",
        )  # fmt: skip
        for it in (self.physics_lower, self.physics_upper, self.physics_band, self.physics_curve):
            item.addItem(it)
        self.physics_band.setZValue(-12)
        self.legend.removeItem(self.physics_curve)  # listed once there is a physics curve
        self.flag_text = pg.TextItem("", color=(138, 17, 17), anchor=(0.5, 0))
        self.flag_text.setZValue(20)
        item.addItem(self.flag_text, ignoreBounds=True)
        self.flagged = False

    def _style(self, flagged: bool) -> None:
        """Colour the prediction items: the unit's colour, or grey and dashed if flagged."""
        self.flagged = flagged
        colour = FLAGGED_COLOUR if flagged else COLOURS[self.unit]
        dash = QtCore.Qt.PenStyle.DashLine if flagged else QtCore.Qt.PenStyle.SolidLine
        self.mean_curve.setPen(pg.mkPen(colour, width=2.5, style=dash))
        self.mean_curve.setSymbolBrush(pg.mkBrush(colour))
        for it in (self.lower, self.upper):
            it.setPen(pg.mkPen(colour + (90,), width=1))
        self.band.setBrush(pg.mkBrush(colour + ((40,) if flagged else (60,))))
        for curve in self.tile_curves:
            curve.setPen(pg.mkPen(colour + (110,), width=1))
        self._band_key.setPen(pg.mkPen(colour + (60,), width=8))
        self._tile_key.setPen(pg.mkPen(colour + (110,), width=1))
        label = "flagged: not a result" if flagged else "predicted (mean)"
        for sample, text in self.legend.items:
            if sample.item is self.mean_curve:
                text.setText(label)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        # small, so a scrolling dock (word-wrapped labels: height-for-width) does not grow
        # the plots beyond the space it has; they stretch into any room left
        return QtCore.QSize(420, 220)

    # ------------------------------------------------------------------ prediction
    def show_prediction(self, up) -> None:
        """Draw a :class:`core.predict.UnitPrediction` (or clear with None)."""
        if up is None:
            for it in (self.lower, self.upper, self.mean_curve):
                it.setData([], [])
            self._set_tiles(np.zeros((0, len(C_RATES))))
            self.flag_text.setText("")
            self._style(False)
            return
        x = np.asarray(up.c_rates, float)
        mean, std = np.asarray(up.mean, float), np.asarray(up.std, float)
        self.lower.setData(x, mean - std)
        self.upper.setData(x, mean + std)
        self.mean_curve.setData(x, mean)
        self._set_tiles(np.asarray(up.per_tile, float), x)
        self._style(bool(up.ood))
        self.flag_text.setText("Out of distribution — not a result" if up.ood else "")
        self._fit_y()

    def _set_tiles(self, per_tile: np.ndarray, x=None) -> None:
        colour = COLOURS[self.unit]
        while len(self.tile_curves) > len(per_tile):
            self.getPlotItem().removeItem(self.tile_curves.pop())
        if self.flagged:
            colour = FLAGGED_COLOUR
        while len(self.tile_curves) < len(per_tile):
            curve = pg.PlotDataItem([], [], pen=pg.mkPen(colour + (110,), width=1))
            curve.setZValue(-5)
            curve.setVisible(self._tiles_visible)
            self.getPlotItem().addItem(curve)
            self.tile_curves.append(curve)
        for curve, row in zip(self.tile_curves, per_tile, strict=True):
            curve.setData(x, row)

    def set_tiles_visible(self, visible: bool) -> None:
        """Show or hide the thin per-tile curves."""
        self._tiles_visible = bool(visible)
        for curve in self.tile_curves:
            curve.setVisible(self._tiles_visible)
        self._tile_key.setVisible(self._tiles_visible)
        self._fit_y()

    @property
    def tiles_visible(self) -> bool:
        return self._tiles_visible

    # --------------------------------------------------------------------- physics
    def show_physics(self, curve) -> None:
        """Draw a :class:`core.measure.physics.PhysicsCurve` (None clears it)."""
        x = np.asarray(C_RATES, float)
        if curve is None:
            for it in (self.physics_lower, self.physics_upper, self.physics_curve):
                it.setData([], [])
        else:
            mean, sd = np.asarray(curve.mean, float), np.asarray(curve.sd, float)
            self.physics_lower.setData(x, mean - sd)
            self.physics_upper.setData(x, mean + sd)
            self.physics_curve.setData(x, mean)
        listed = any(sample.item is self.physics_curve for sample, _ in self.legend.items)
        if curve is not None and not listed:
            self.legend.addItem(self.physics_curve, "physics (measured coating)")
        elif curve is None and listed:
            self.legend.removeItem(self.physics_curve)
        self._fit_y()

    # -------------------------------------------------------------------- measured
    def show_measured(self, c_rates: list[float], values: list[float]) -> None:
        """Draw measured values as markers (empty lists clear them)."""
        self.measured.setData(np.asarray(c_rates, float), np.asarray(values, float))
        in_legend = any(sample.item is self.measured for sample, _label in self.legend.items)
        if c_rates and not in_legend:
            self.legend.addItem(self.measured, "measured")
        elif not c_rates and in_legend:
            self.legend.removeItem(self.measured)
        self._fit_y()

    def _fit_y(self) -> None:
        items = [self.lower, self.upper, self.measured, self.physics_lower, self.physics_upper]
        items += [c for c in self.tile_curves if c.isVisible()]
        ys = [a for it in items if (a := it.yData) is not None and len(a)]
        if not ys:
            return
        y = np.concatenate(ys)
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        pad = max(0.08 * (hi - lo), 0.02 * abs(hi), 1e-3)
        self.setYRange(lo - pad, hi + pad, padding=0)
        self.setXRange(*X_RANGE, padding=0)
        self.flag_text.setPos(sum(X_RANGE) / 2, hi + pad)


def band_colour(unit: str) -> QtGui.QColor:
    """The unit's colour (for table headers and legends elsewhere)."""
    return QtGui.QColor(*COLOURS[unit])
