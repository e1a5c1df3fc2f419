"""The measured phases drawn on the mosaic, over the coating that was measured.

Each strip of :mod:`core.measure.microstructure` (straightened pixels) becomes an RGBA
image item placed with the alignment frame's affine map, so it lies exactly on the
coating in the mosaic view, rotated with it: active material green, pores and
carbon-binder magenta, outside the coating transparent.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from ratescope.core.measure.microstructure import ACTIVE, OTHER

COLOURS = {ACTIVE: (40, 200, 60, 95), OTHER: (230, 40, 200, 110)}
MAX_WIDTH = 8192
"""Strips wider than this are shown subsampled (the view never needs more)."""


def strip_rgba(phase: np.ndarray, step: int = 1) -> np.ndarray:
    """RGBA picture of a strip's phase map (every ``step``-th pixel)."""
    p = phase[::step, ::step]
    out = np.zeros(p.shape + (4,), np.uint8)
    for value, colour in COLOURS.items():
        out[p == value] = colour
    return out


def strip_transform(frame, top: int, left: int, step: int = 1) -> QtGui.QTransform:
    """Image pixel ``(X, Y)`` of a strip at straightened ``(top, left)`` -> mosaic view."""
    u0, v0 = left - 0.5, top - 0.5
    (x0, xu, xv), (y0, yu, yv) = frame.to_source(np.array([u0, u0 + step, u0]),
                                                 np.array([v0, v0, v0 + step]))  # fmt: skip
    return QtGui.QTransform(xu - x0, yu - y0, xv - x0, yv - y0, x0, y0)


class PhaseOverlay:
    """Image items in the mosaic view showing the measured phases."""

    def __init__(self, view_box: pg.ViewBox):
        self.view_box = view_box
        self.items: list[pg.ImageItem] = []

    def show(self, strips, alignment) -> None:
        """Draw ``strips`` (:class:`core.measure.microstructure.Strip`) of ``alignment``."""
        self.clear()
        frame = alignment.frame
        for s in strips:
            step = max(1, -(-s.image.shape[1] // MAX_WIDTH))
            item = pg.ImageItem(strip_rgba(s.image, step), axisOrder="row-major")
            item.setLevels((0, 255))
            item.setTransform(strip_transform(frame, s.top, s.left, step))
            item.setZValue(4)
            self.view_box.addItem(item)
            self.items.append(item)

    @property
    def visible(self) -> bool:
        return bool(self.items)

    def clear(self) -> None:
        for item in self.items:
            self.view_box.removeItem(item)
        self.items = []
