"""The collector and coating-surface lines over the mosaic, with draggable end handles.

Coordinates are level-0 source pixels (x right, y down), the mosaic view's. Dragging a
handle reports the angle live (:attr:`AlignOverlay.collector_moving`) and the finished
line once the mouse is released; lines set from code (a new alignment, undo) never
report an edit. "Draw collector" mode takes two clicks on the mosaic: its two ends.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core import colours
from ratescope.core.align import Alignment

COLLECTOR_COLOUR = colours.COLLECTOR.hex
SURFACE_COLOUR = colours.SURFACE.hex
KEPT_COLOUR = colours.KEPT.hex
REJECTED_COLOUR = colours.REJECTED.hex

Ends = tuple[float, float, float, float]
"""A line as ``(x0, y0, x1, y1)`` in source pixels, ``x0 <= x1``."""


def angle_deg(ends: Ends) -> float:
    """The issue's convention: positive when the line rises to the right on screen."""
    x0, y0, x1, y1 = ends
    return math.degrees(math.atan2(-(y1 - y0), x1 - x0))


class EditableLine(pg.LineSegmentROI):
    """A two-handle line whose body cannot be dragged (only its ends)."""

    def __init__(self, colour: str, name: str):
        pen = pg.mkPen(colour, width=2)
        super().__init__(
            [(0, 0), (1, 0)],
            pen=pen,
            hoverPen=pg.mkPen(colour, width=4),
            handlePen=pg.mkPen(colour, width=2),
            handleHoverPen=pg.mkPen("w", width=3),
            movable=False,
        )
        self.setZValue(20)
        self.name = name
        for handle in self.getHandles():
            handle.radius = 7
            handle.buildPath()

    def ends(self) -> Ends:
        """The two ends in the view's (source pixel) coordinates, left one first."""
        a, b = (self.mapToParent(h.pos()) for h in self.getHandles())
        (x0, y0), (x1, y1) = sorted([(a.x(), a.y()), (b.x(), b.y())])
        return x0, y0, x1, y1

    def set_ends(self, ends: Ends) -> None:
        x0, y0, x1, y1 = ends
        h0, h1 = self.getHandles()
        self.movePoint(h0, QtCore.QPointF(x0, y0), finish=False)
        self.movePoint(h1, QtCore.QPointF(x1, y1), finish=False)


class AlignOverlay(QtCore.QObject):
    """Lines, angle label, kept-tile outlines and the draw mode on the mosaic view.

    Signals
    -------
    collector_moving(float)
        Angle (degrees) of the collector while a handle is dragged.
    collector_edited(tuple)
        The collector's ends after a drag (or after drawing it by hand).
    surface_edited(tuple)
        The surface line's ends after a drag.
    """

    tile_clicked = QtCore.Signal(int)
    collector_moving = QtCore.Signal(float)
    collector_edited = QtCore.Signal(object)
    surface_edited = QtCore.Signal(object)

    def __init__(self, view_box: pg.ViewBox, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.view_box = view_box
        self._setting = False
        self._draw_points: list[QtCore.QPointF] = []
        self.drawing = False
        self.collector = EditableLine(COLLECTOR_COLOUR, "collector")
        self.surface = EditableLine(SURFACE_COLOUR, "surface")
        self.label = pg.TextItem(
            color=COLLECTOR_COLOUR, anchor=(0.5, -0.3), fill=pg.mkBrush(0, 0, 0, 150)
        )
        self.label.setZValue(21)
        self.tiles = QtWidgets.QGraphicsPathItem()  # kept tiles
        self.tiles.setZValue(15)
        self.rejected = QtWidgets.QGraphicsPathItem()
        self.rejected.setZValue(15)
        marker_pen = pg.mkPen(COLLECTOR_COLOUR, width=2)
        self.marker = pg.ScatterPlotItem(size=12, pen=marker_pen, brush=None, symbol="+")
        for item in (
            self.collector,
            self.surface,
            self.label,
            self.tiles,
            self.rejected,
            self.marker,
        ):
            view_box.addItem(item)
            item.setVisible(False)
        self.collector.sigRegionChanged.connect(self._collector_moved)
        self.collector.sigRegionChangeFinished.connect(lambda: self._finished(self.collector))
        self.surface.sigRegionChangeFinished.connect(lambda: self._finished(self.surface))
        view_box.scene().sigMouseClicked.connect(self._clicked)

    # ---------------------------------------------------------------- set from code
    def show_alignment(self, alignment: Alignment | None, collector: Ends | None = None) -> None:
        """Put the lines (and the kept tiles' outlines) where ``alignment`` has them."""
        self._alignment = alignment
        self._setting = True
        try:
            if alignment is not None:
                c, s = alignment.collector, alignment.surface
                collector = (c.x0, c.y0, c.x1, c.y1)
                self.surface.set_ends((s.x0, s.y0, s.x1, s.y1))
            if collector is not None:
                self.collector.set_ends(collector)
        finally:
            self._setting = False
        self.collector.setVisible(collector is not None)
        self.label.setVisible(collector is not None)
        self.surface.setVisible(alignment is not None)
        self._draw_tiles(alignment)
        if collector is not None:
            self._collector_moved()

    def clear(self) -> None:
        self.show_alignment(None)
        self.set_drawing(False)

    def _draw_tiles(self, alignment: Alignment | None) -> None:
        """Outlines of the kept (green) and rejected (red) tiles on the tilted mosaic."""
        for item, kept, colour in (
            (self.tiles, True, KEPT_COLOUR),
            (self.rejected, False, REJECTED_COLOUR),
        ):
            path = QtGui.QPainterPath()
            if alignment is not None:
                frame = alignment.frame
                for t in alignment.tiles:
                    if t.kept != kept:
                        continue
                    top, left, h, w = t.rect
                    u = np.array([left, left + w, left + w, left, left]) - 0.5
                    v = np.array([top, top, top + h, top + h, top]) - 0.5
                    x, y = frame.to_source(u, v)
                    corners = [QtCore.QPointF(a, b) for a, b in zip(x, y, strict=True)]
                    path.addPolygon(QtGui.QPolygonF(corners))
            item.setPath(path)
            pen = QtGui.QPen(QtGui.QColor(colour), 1.5)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setVisible(alignment is not None)

    # ---------------------------------------------------------------------- dragging
    def _collector_moved(self) -> None:
        ends = self.collector.ends()
        angle = angle_deg(ends)
        x0, y0, x1, y1 = ends
        self.label.setText(f"collector {angle:+.2f}°")
        self.label.setPos((x0 + x1) / 2, (y0 + y1) / 2)
        self.collector_moving.emit(angle)

    def _finished(self, line: EditableLine) -> None:
        if self._setting:
            return
        ends = line.ends()
        if ends[2] - ends[0] < 2:  # a vertical line is no collector; put it back
            return
        (self.collector_edited if line is self.collector else self.surface_edited).emit(ends)

    # ------------------------------------------------------------------------ drawing
    def set_drawing(self, on: bool) -> None:
        """Enter or leave "Draw collector" mode (two clicks: one end, then the other)."""
        self.drawing = on
        self._draw_points = []
        self.marker.setData([])
        self.marker.setVisible(on)
        cursor = QtCore.Qt.CursorShape.CrossCursor if on else QtCore.Qt.CursorShape.ArrowCursor
        for view in self.view_box.scene().views():
            view.viewport().setCursor(cursor)

    def tile_at(self, x: float, y: float) -> int | None:
        """Index of the tile whose outline holds mosaic point ``(x, y)``, None outside all."""
        alignment = getattr(self, "_alignment", None)
        if alignment is None:
            return None
        u, v = alignment.frame.to_straight(x, y)
        for i, t in enumerate(alignment.tiles):
            top, left, h, w = t.rect
            if left - 0.5 <= u < left + w - 0.5 and top - 0.5 <= v < top + h - 0.5:
                return i
        return None

    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        point = self.view_box.mapSceneToView(event.scenePos())
        if not self.drawing:
            index = self.tile_at(point.x(), point.y())
            if index is not None and not event.double():
                event.accept()
                self.tile_clicked.emit(index)  # keep <-> reject, as in the preview
            return
        self._draw_points.append(point)
        self.marker.setData([p.x() for p in self._draw_points], [p.y() for p in self._draw_points])
        event.accept()
        if len(self._draw_points) == 2:
            a, b = sorted((p.x(), p.y()) for p in self._draw_points)
            self.set_drawing(False)
            if b[0] - a[0] >= 2:
                self.collector_edited.emit((a[0], a[1], b[0], b[1]))
