"""Measurements on the mosaic in µm: a line's length, a region's area and what share of
it is dark (pores and carbon-binder, which a light micrograph shows darker than the
active particles).

The region's pixels are read at full resolution (or the finest pyramid level within
:data:`MAX_MEASURE_PIXELS`) in a worker; the dark share uses Otsu's threshold on the
region's gray levels (scikit-image), so it needs no tuning per microscope.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.core.io.mosaic import Mosaic
from ratescope.gui import threads
from ratescope.gui.mosaic.view import MosaicView

MAX_MEASURE_PIXELS = 16_000_000
"""Most pixels read for a region's dark share (a coarser level is used above it)."""
PEN = pg.mkPen("#ff9f1a", width=2)


def polygon_area(xs: np.ndarray, ys: np.ndarray) -> float:
    """Area enclosed by a polygon (shoelace), in the units of its coordinates squared."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    return 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def dark_share(mosaic: Mosaic, points: np.ndarray) -> tuple[float, float, int]:
    """Share of the polygon ``points`` (level-0 ``(x, y)``) darker than Otsu's threshold.

    Returns
    -------
    share : float
        Dark pixels / pixels inside, in [0, 1].
    threshold : float
        Otsu's threshold on the gray levels (0–1).
    level : int
        The pyramid level read.
    """
    from skimage.draw import polygon as polygon_mask
    from skimage.filters import threshold_otsu

    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(mosaic.width, x1), min(mosaic.height, y1)
    level = 0
    for i in range(len(mosaic.levels)):
        s = mosaic.level_scale(i)
        if (y1 - y0) * (x1 - x0) / s**2 <= MAX_MEASURE_PIXELS:
            level = i
            break
    else:
        level = len(mosaic.levels) - 1
    s = mosaic.level_scale(level)
    ly0, ly1, lx0, lx1 = (int(v / s) for v in (y0, y1, x0, x1))
    data = mosaic.read(ly0, max(ly1, ly0 + 1), lx0, max(lx1, lx0 + 1), level=level)
    gray = data.astype(np.float32).mean(axis=2) if data.ndim == 3 else data.astype(np.float32)
    top = float(np.iinfo(data.dtype).max) if np.issubdtype(data.dtype, np.integer) else 1.0
    gray /= top
    rr, cc = polygon_mask(points[:, 1] / s - ly0, points[:, 0] / s - lx0, gray.shape)
    inside = gray[rr, cc]
    if inside.size < 2 or float(inside.max()) == float(inside.min()):
        return float("nan"), float("nan"), level
    t = float(threshold_otsu(inside))
    return float((inside <= t).mean()), t, level


def _measure_job(mosaic: Mosaic, points: np.ndarray, token: int):
    return token, dark_share(mosaic, points)


class MeasureTool(QtCore.QObject):
    """Line and region measurements drawn on a :class:`MosaicView`.

    Attributes
    ----------
    line_button, area_button, clear_button : QToolButton / QPushButton
        Start a line, start a region, remove the drawing.
    readout : QLabel
        The measured values in µm (and px).
    """

    def __init__(self, view: MosaicView, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.roi: pg.ROI | None = None
        self.kind: str | None = None
        self.area_text = ""
        self._token = 0
        self._worker = None
        self.line_button = QtWidgets.QPushButton("Measure &line")
        self.area_button = QtWidgets.QPushButton("Measure &region")
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.readout = QtWidgets.QLabel("")
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.line_button.setToolTip("A line with two handles: its length in µm")
        self.area_button.setToolTip(
            "A region with movable corners: its area in µm² and the share of it that is dark "
            "(pores and carbon-binder), by Otsu's threshold"
        )
        self.line_button.clicked.connect(lambda: self.start("line"))
        self.area_button.clicked.connect(lambda: self.start("area"))
        self.clear_button.clicked.connect(self.clear)
        view.mosaic_shown.connect(lambda _m: self.clear())

    @property
    def widgets(self) -> list[QtWidgets.QWidget]:
        return [self.line_button, self.area_button, self.clear_button, self.readout]

    def start(self, kind: str) -> None:
        """Put a ``"line"`` or ``"area"`` in the middle of the view, ready to edit."""
        self.clear()
        if self.view.mosaic is None:
            return
        r = self.view.view_box.viewRect()
        cx, cy, w, h = r.center().x(), r.center().y(), r.width() / 4, r.height() / 4
        if kind == "line":
            self.roi = pg.LineSegmentROI([(cx - w, cy), (cx + w, cy)], pen=PEN)
        else:
            corners = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h)]
            self.roi = pg.PolyLineROI(corners, closed=True, pen=PEN)
        self.kind = kind
        self.roi.setZValue(20)
        self.view.view_box.addItem(self.roi)
        self.roi.sigRegionChanged.connect(self._update_geometry)
        self.roi.sigRegionChangeFinished.connect(self._update_dark_share)
        self._update_geometry()
        self._update_dark_share()

    def clear(self) -> None:
        if self.roi is not None:
            self.view.view_box.removeItem(self.roi)
        self.roi, self.kind = None, None
        self._token += 1
        self.readout.setText("")

    def points(self) -> np.ndarray:
        """The drawing's vertices in level-0 pixels, ``(N, 2)`` as ``(x, y)``."""
        if self.roi is None:
            return np.zeros((0, 2))
        handles = self.roi.getSceneHandlePositions()
        vb = self.view.view_box
        return np.array([[p.x(), p.y()] for p in (vb.mapSceneToView(pos) for _, pos in handles)])

    def _um(self) -> float:
        return float(self.view.mosaic.pixel_size_um) if self.view.mosaic is not None else 1.0

    def _update_geometry(self) -> None:
        pts, um = self.points(), self._um()
        if self.kind == "line" and len(pts) == 2:
            px = float(math.dist(pts[0], pts[1]))
            self.readout.setText(f"length {px * um:.2f} µm ({px:.0f} px)")
        elif self.kind == "area" and len(pts) >= 3:
            px2 = polygon_area(pts[:, 0], pts[:, 1])
            self.area_text = f"area {px2 * um * um:.1f} µm²"
            self.readout.setText(self.area_text + ", dark share: measuring…")

    def _update_dark_share(self) -> None:
        if self.kind != "area" or self.view.mosaic is None:
            return
        self._token += 1
        threads.start_worker(
            _measure_job, self.view.mosaic, self.points(), self._token,
            connect={"returned": self._dark_share_landed},
        )  # fmt: skip

    def _dark_share_landed(self, result) -> None:
        token, (share, threshold, level) = result
        if token != self._token or self.kind != "area":
            return
        text = "no contrast" if math.isnan(share) else f"{100 * share:.1f} % (Otsu {threshold:.2f})"
        where = "" if level == 0 else f", read at 1:{self.view.mosaic.level_scale(level):g}"
        self.readout.setText(f"{self.area_text}, dark (pores + binder) {text}{where}")
