"""The tile with an explanation map on top: diverging colours centred at zero, a colour bar.

:class:`TileOverlayView` shows one tile (gray/RGB, 224 x 672 px) and, over it, a second
image — the map — with adjustable opacity. The map is stretched to the tile by repeating
cells (nearest neighbour: a 32 x 96 occlusion grid shows as 7 x 7 px blocks, never
smoothed), its levels are symmetric (``±max|map|``) so zero is the colormap's white middle,
cells near zero are transparent (the tile shows through), and the colour bar beside it
uses the same colormap and levels.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.gui.explain.jobs import overlay_rgba, symmetric_levels, to_tile_grid

COLORMAP = "CET-D1"
"""pyqtgraph's built-in diverging blue-white-red map (CET-D1): blue < 0 < red."""
DEFAULT_OPACITY = 0.6


def diverging_colormap() -> pg.ColorMap:
    """The blue-white-red colormap of every explanation map (low = blue, high = red)."""
    return pg.colormap.get(COLORMAP)


class TileOverlayView(pg.GraphicsLayoutWidget):
    """One tile with its explanation map and a colour bar.

    Attributes
    ----------
    tile_item, map_item : pg.ImageItem
        The tile and the map over it (row-major; the map is a tile-sized RGBA image after
        :meth:`show_map`, its ``opacity()`` is the slider's value).
    values : ndarray or None
        The map shown, stretched to the tile (float32 (H, W)).
    levels : (float, float)
        ``(-max|values|, +max|values|)``: the colour bar's range.
    color_bar : pg.ColorBarItem
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("#202124")
        self.setAcceptDrops(False)
        self.view_box = self.addViewBox(row=0, col=0, lockAspect=True, invertY=True,
                                        enableMenu=False)  # fmt: skip
        self.tile_item = pg.ImageItem(axisOrder="row-major")
        self.map_item = pg.ImageItem(axisOrder="row-major")
        self.map_item.setZValue(5)
        self.map_item.setOpacity(DEFAULT_OPACITY)
        self.view_box.addItem(self.tile_item)
        self.view_box.addItem(self.map_item)
        self.colormap = diverging_colormap()
        self.color_bar = pg.ColorBarItem(
            values=(-1.0, 1.0), colorMap=self.colormap, interactive=False, width=14,
            colorMapMenu=False,
        )  # fmt: skip
        self.addItem(self.color_bar, row=0, col=1)
        self.message = pg.TextItem(color="#dddddd", anchor=(0.5, 0.5))
        self.view_box.addItem(self.message)
        self.levels: tuple[float, float] = (-1.0, 1.0)
        self.values: np.ndarray | None = None
        self._tile = None
        self.show_message("Accept the alignment, then compute a map.")

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(720, 260)

    def show_message(self, text: str) -> None:
        """An empty view with ``text`` in the middle (no tile, no map)."""
        self._tile = self.values = None
        self.tile_item.clear()
        self.map_item.clear()
        self.color_bar.setVisible(False)
        self.message.setText(text)
        self.message.setPos(336, 112)
        self.message.setVisible(bool(text))
        self.view_box.setRange(QtCore.QRectF(0, 0, 672, 224), padding=0.02)

    def show_tile(self, tile: np.ndarray) -> None:
        """Show ``tile`` (uint8 (H, W) or (H, W, 3)) without a map.

        The same array again changes nothing (a new C-rate or fold of the same tile keeps
        the zoom; :meth:`show_map` follows).
        """
        self.message.setVisible(False)
        if tile is self._tile:
            return
        self._tile, self.values = tile, None
        self.map_item.clear()
        self.color_bar.setVisible(False)
        self.tile_item.setImage(np.asarray(tile), autoLevels=False, levels=(0, 255))
        h, w = tile.shape[:2]
        self.view_box.setRange(QtCore.QRectF(0, 0, w, h), padding=0.01)

    def show_map(self, m: np.ndarray) -> None:
        """Put map ``m`` (any grid over the tile) on top with symmetric levels.

        The map is drawn as an RGBA image (:func:`gui.explain.jobs.overlay_rgba`): colour
        from the diverging colormap, transparency growing as |value| falls to zero.
        :attr:`values` keeps the tile-sized map, :attr:`levels` its ``(-v, v)``.
        """
        shape = self.tile_item.image.shape[:2] if self.tile_item.image is not None else m.shape
        self.values = to_tile_grid(m, shape)
        self.levels = symmetric_levels(self.values)
        self.map_item.setImage(overlay_rgba(self.values, self.lut(), self.levels),
                               autoLevels=False, levels=(0, 255))  # fmt: skip
        self.color_bar.setLevels(self.levels)
        self.color_bar.setVisible(True)

    def set_opacity(self, opacity: float) -> None:
        """Opacity of the map, 0 (tile only) .. 1 (map only)."""
        self.map_item.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    def lut(self) -> np.ndarray:
        """The colour table the map is drawn with (uint8 (256, 4), blue .. red)."""
        return self.colormap.getLookupTable(nPts=256, alpha=True, mode="byte")
