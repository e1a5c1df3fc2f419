"""The straightened band of the active layer with the 224 x 672 tiles drawn on it.

Kept tiles are outlined in green, rejected ones in red and crossed out; a tile the user
decided differently from the automatic judgement is drawn dashed. Hovering a tile tells
why (its tooltip), clicking it toggles it (:attr:`StraightPreview.tile_clicked`).
Coordinates are straightened full-resolution pixels (x = column, y = row, y down).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.align import Alignment, Tile
from ratescope.gui.align.jobs import Preview
from ratescope.gui.align.overlay import KEPT_COLOUR, REJECTED_COLOUR, SURFACE_COLOUR


def tile_tooltip(index: int, tile: Tile) -> str:
    """What the user reads when hovering a tile."""
    state = "kept" if tile.kept else "rejected"
    if tile.override is not None and tile.override != tile.auto_keep:
        auto = "kept" if tile.auto_keep else f"rejected: {tile.reason}"
        why = f"{state} by you (automatic: {auto})"
    elif tile.kept:
        why = "kept"
    else:
        why = f"rejected: {tile.reason}"
    verb = "reject" if tile.kept else "keep"
    return f"Tile {index + 1}: {why}\nClick to {verb} it."


class TileItem(QtWidgets.QGraphicsRectItem):
    """One tile: outline, cross when rejected, tooltip, click to toggle."""

    def __init__(self, index: int, tile: Tile, on_click):
        top, left, h, w = tile.rect
        super().__init__(left - 0.5, top - 0.5, w, h)
        self.index, self.tile, self._on_click = index, tile, on_click
        colour = QtGui.QColor(KEPT_COLOUR if tile.kept else REJECTED_COLOUR)
        pen = QtGui.QPen(colour, 2.5)
        pen.setCosmetic(True)
        if tile.override is not None and tile.override != tile.auto_keep:
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        self.setPen(pen)
        fill = QtGui.QColor(colour)
        fill.setAlpha(0 if tile.kept else 60)
        self.setBrush(fill)
        self.setToolTip(tile_tooltip(index, tile))
        self.setAcceptHoverEvents(True)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.setZValue(10)

    def paint(self, painter, option, widget=None):
        super().paint(painter, option, widget)
        if not self.tile.kept:
            r = self.rect()
            painter.drawLine(r.topLeft(), r.bottomRight())
            painter.drawLine(r.bottomLeft(), r.topRight())

    def mouseClickEvent(self, event) -> None:  # noqa: N802 (pyqtgraph's click protocol)
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            event.accept()
            self._on_click(self.index)


class StraightPreview(pg.GraphicsView):
    """The straightened preview; :meth:`show_result` replaces what it shows.

    Signals
    -------
    tile_clicked(int)
        Index of the tile the user clicked.
    """

    tile_clicked = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent, background="#202124")
        self.setAcceptDrops(False)
        self.view_box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view_box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self.rect_item = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(SURFACE_COLOUR), 1.5, QtCore.Qt.PenStyle.DotLine)
        pen.setCosmetic(True)
        self.rect_item.setPen(pen)
        self.rect_item.setZValue(5)
        self.view_box.addItem(self.rect_item)
        self.message = pg.TextItem(color="#dddddd", anchor=(0.5, 0.5))
        self.view_box.addItem(self.message)
        self.tile_items: list[TileItem] = []
        self._band = QtCore.QRectF()

    def show_result(
        self, alignment: Alignment | None, preview: Preview | None, message: str = ""
    ) -> None:
        """Show the band and the tiles (None: an empty view with ``message``)."""
        self._set_tiles(None)
        if preview is None or alignment is None:
            self.image_item.clear()
            self.rect_item.setVisible(False)
            self.message.setText(message)
            self.message.setPos(self._band.center())
            self.message.setVisible(bool(message))
            return
        h, w = preview.image.shape[:2]
        new_band = QtCore.QRectF(preview.left, preview.top, w * preview.scale, h * preview.scale)
        self.image_item.setImage(preview.image, autoLevels=False, levels=(0, 255))
        self.image_item.setRect(new_band)
        r = alignment.rect
        self.rect_item.setVisible(r is not None)
        if r is not None:
            self.rect_item.setRect(r.left - 0.5, r.top - 0.5, r.width, r.height)
        self.message.setVisible(r is None)
        if r is None:
            self.message.setText(message or "No usable rectangle between surface and collector")
            self.message.setPos(new_band.center())
        self._set_tiles(alignment)
        if new_band != self._band:
            self._band = new_band
            self.view_box.setRange(new_band, padding=0.01)

    def update_tiles(self, alignment: Alignment) -> None:
        """Redraw the tiles only (after a toggle: the image and layout are unchanged)."""
        self._set_tiles(alignment)

    def _set_tiles(self, alignment: Alignment | None) -> None:
        for item in self.tile_items:
            self.view_box.removeItem(item)
        self.tile_items = []
        for i, tile in enumerate(alignment.tiles if alignment is not None else []):
            item = TileItem(i, tile, self.tile_clicked.emit)
            self.view_box.addItem(item)
            self.tile_items.append(item)
