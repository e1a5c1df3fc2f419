"""The explanation map drawn on the mosaic itself, over its tile, rotated with it.

The map (straightened tile pixels) is placed with the affine map of the accepted
alignment's frame, so it lies exactly over the tile's outline in the mosaic view.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH


def tile_transform(alignment, tile_number: int) -> QtGui.QTransform:
    """Image pixel ``(X, Y)`` of a 224 x 672 map of tile ``tile_number`` -> mosaic view."""
    top, left, _, _ = alignment.tiles[tile_number].rect
    frame = alignment.frame
    u0, v0 = left - 0.5, top - 0.5  # the tile's corner (pixel edges), as the outlines are drawn
    (x0, xu, xv), (y0, yu, yv) = frame.to_source(np.array([u0, u0 + 1, u0]),
                                                 np.array([v0, v0, v0 + 1]))  # fmt: skip
    return QtGui.QTransform(xu - x0, yu - y0, xv - x0, yv - y0, x0, y0)


class MosaicMapOverlay:
    """An RGBA image item in the mosaic view showing one explanation map."""

    def __init__(self, view_box: pg.ViewBox):
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(5)
        self.item.setVisible(False)
        view_box.addItem(self.item)

    def show(self, rgba: np.ndarray, alignment, tile_number: int) -> None:
        """Draw ``rgba`` (TILE_HEIGHT x TILE_WIDTH x 4) over tile ``tile_number``."""
        assert rgba.shape[:2] == (TILE_HEIGHT, TILE_WIDTH), rgba.shape
        self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.item.setTransform(tile_transform(alignment, tile_number))
        self.item.setVisible(True)

    def hide(self) -> None:
        self.item.setVisible(False)
