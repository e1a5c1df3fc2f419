"""A scale bar in micrometres that stays the same readable size at any zoom."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

MARGIN_PX = 14
"""Distance of the bar's box from the view's bottom-right corner."""


def nice_length(max_um: float) -> float:
    """The largest length of the form 1, 2 or 5 × 10^n µm that is not above ``max_um``.

    Examples
    --------
    >>> nice_length(73.0), nice_length(0.31), nice_length(1999.0)
    (50.0, 0.2, 1000.0)
    """
    if not math.isfinite(max_um) or max_um <= 0:
        raise ValueError(f"max_um must be positive, got {max_um}")
    power = 10.0 ** math.floor(math.log10(max_um))
    for mantissa in (5, 2, 1):
        if mantissa * power <= max_um * (1 + 1e-9):
            return float(np.float64(mantissa) * power)
    return power


def format_um(length_um: float) -> str:
    """``"50 µm"``, ``"0.2 µm"``, ``"1000 µm"``: always micrometres, no exponent."""
    digits = np.format_float_positional(np.float64(length_um), precision=6, trim="-")
    return f"{digits} µm"


class ScaleBar(QtWidgets.QGraphicsObject):
    """A white bar with its length in µm, drawn on a dark box at the view's corner.

    It is a child of the :class:`pyqtgraph.ViewBox` itself (not of the zoomed scene
    content), so it is painted in screen pixels and keeps its size; its length in µm is
    recomputed whenever the view range or size changes.

    Parameters
    ----------
    view_box : pyqtgraph.ViewBox
        The view showing the image in level-0 pixel coordinates.
    pixel_size_um : float
        Micrometres per level-0 pixel.
    """

    def __init__(self, view_box: pg.ViewBox, pixel_size_um: float = 1.0):
        super().__init__(view_box)
        self._view_box = view_box
        self.pixel_size_um = pixel_size_um
        self.length_um = 0.0
        self.bar_px = 0.0
        self._font = QtGui.QFont()
        self._font.setPointSizeF(10)
        self._font.setBold(True)
        self.setZValue(1e6)
        view_box.sigRangeChanged.connect(self.update_length)
        view_box.sigResized.connect(self.update_length)

    @property
    def label(self) -> str:
        """The text under the bar, e.g. ``"50 µm"``."""
        return format_um(self.length_um) if self.length_um else ""

    def set_pixel_size(self, pixel_size_um: float) -> None:
        """Use a new pixel size (µm per level-0 pixel) and redraw."""
        self.pixel_size_um = float(pixel_size_um)
        self.update_length()

    def update_length(self, *_args) -> None:
        """Pick a round length that is at most a fifth of the view (60–220 px)."""
        # from the range itself: viewPixelSize() lags until the next paint
        view_width = self._view_box.width()
        um_per_screen_px = (
            self._view_box.viewRect().width() / view_width * self.pixel_size_um
            if view_width > 0
            else 0.0
        )
        if um_per_screen_px <= 0 or not math.isfinite(um_per_screen_px):
            self.length_um, self.bar_px = 0.0, 0.0
        else:
            max_px = min(220.0, max(60.0, view_width / 5))
            self.length_um = nice_length(max_px * um_per_screen_px)
            self.bar_px = self.length_um / um_per_screen_px
        self.prepareGeometryChange()
        box = self.boundingRect()
        self.setPos(
            view_width - box.width() - MARGIN_PX, self._view_box.height() - box.height() - MARGIN_PX
        )
        self.update()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt API)
        metrics = QtGui.QFontMetricsF(self._font)
        width = max(self.bar_px, metrics.horizontalAdvance(self.label)) + 16
        return QtCore.QRectF(0, 0, width, metrics.height() + 22)

    def paint(self, painter: QtGui.QPainter, *_args) -> None:
        if not self.length_um:
            return
        box = self.boundingRect()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(0, 0, 0, 160))
        painter.drawRoundedRect(box, 4, 4)
        bar_left = (box.width() - self.bar_px) / 2
        painter.setBrush(QtGui.QColor("white"))
        painter.drawRect(QtCore.QRectF(bar_left, 8, self.bar_px, 5))
        painter.setPen(QtGui.QColor("white"))
        painter.setFont(self._font)
        text_rect = QtCore.QRectF(0, 14, box.width(), box.height() - 16)
        painter.drawText(text_rect, QtCore.Qt.AlignmentFlag.AlignCenter, self.label)
