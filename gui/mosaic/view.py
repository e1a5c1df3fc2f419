"""Pan/zoom view of a mosaic of any size, with a µm scale bar.

Two image layers share level-0 pixel coordinates (x right, y down, aspect locked):

* the *overview*: the whole mosaic at ≤ 2048 px on its long side (block-averaged, so
  the small mosaics are the full image), built once in the background;
* the *detail*: only the visible region (plus a margin), read from the pyramid level that
  matches the zoom and averaged down to about one pixel per screen pixel, in a worker
  thread shortly after the view stops changing.

Both layers therefore hold about a screenful of pixels: pyqtgraph's own downsampling
(seconds on a 6300 px image) is never needed and painting stays in milliseconds.
Minified images are drawn with smooth filtering; beyond 1:1 pixels stay crisp.

So panning is always smooth (the overview is there at once) and the picture sharpens to
full resolution as soon as the reads land. Other workspaces draw on top by adding items
to :attr:`MosaicView.view_box` in level-0 pixel coordinates.
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.io.mosaic import Mosaic
from ratescope.gui import threads
from ratescope.gui.background import TaskRunner
from ratescope.gui.mosaic.pyramid import (
    MAX_REGION_READ_PIXELS,
    Region,
    build_overview,
    choose_level,
    display_levels,
    read_region,
    visible_region,
)
from ratescope.gui.mosaic.scale_bar import ScaleBar

log = logging.getLogger(__name__)

DETAIL_DELAY_MS = 120
"""Quiet time after the last pan/zoom step before the visible region is re-read."""


def _read_region(mosaic: Mosaic, region: Region, generation: int):
    return generation, region, read_region(mosaic, region)


def _overview_job(mosaic: Mosaic, generation: int, progress=None):
    return (generation, *build_overview(mosaic, progress=progress))


class MosaicView(QtWidgets.QWidget):
    """Shows one :class:`~core.io.mosaic.Mosaic` with pan, zoom and a scale bar.

    Parameters
    ----------
    runner : TaskRunner
        Runs the overview build with the window's busy indicator and Cancel.

    Signals
    -------
    cursor_moved(float, float, bool)
        Cursor position in level-0 pixels and whether it is over the image.
    mosaic_shown(Mosaic)
        The overview of a newly set mosaic is on screen.
    read_failed(str)
        Reading a region or the overview failed; the message names the file.
    """

    cursor_moved = QtCore.Signal(float, float, bool)
    mosaic_shown = QtCore.Signal(object)
    read_failed = QtCore.Signal(str)
    levels_changed = QtCore.Signal(float, float)

    def __init__(self, runner: TaskRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._runner = runner
        self.mosaic: Mosaic | None = None
        self.detail_region: Region | None = None
        self._generation = 0
        self._overview_scale = 1.0
        self._overview_ready = False
        self._detail_worker = None
        self._detail_wanted = False
        self.levels: tuple[float, float] = (0.0, 255.0)
        self.channel: int | None = None  # None: all channels (colour); else one as gray
        self._overview_data: np.ndarray | None = None
        self._detail_data: np.ndarray | None = None

        self.graphics_view = pg.GraphicsView(background="#202124")
        self.graphics_view.setAcceptDrops(False)  # drops go to the main window
        self.graphics_view.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.graphics_view.installEventFilter(self)
        self.view_box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics_view.setCentralItem(self.view_box)
        self.overview_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item.setZValue(1)
        self.view_box.addItem(self.overview_item)
        self.view_box.addItem(self.detail_item)
        self.scale_bar = ScaleBar(self.view_box)
        self.scale_bar.setVisible(False)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics_view)

        self._detail_timer = QtCore.QTimer(self, singleShot=True, interval=DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._request_detail)
        self.view_box.sigRangeChanged.connect(self._range_changed)
        self.view_box.sigResized.connect(lambda *_: self._detail_timer.start())
        self.graphics_view.scene().sigMouseMoved.connect(self._mouse_moved)

    # ----------------------------------------------------------------- showing a mosaic
    def set_mosaic(self, mosaic: Mosaic) -> None:
        """Show ``mosaic``: fit it to the view and build its overview in the background."""
        self._generation += 1
        self.mosaic = mosaic
        self._overview_ready = False
        self.detail_region = None
        self.overview_item.clear()
        self.detail_item.clear()
        self.detail_item.setVisible(False)
        longest = max(mosaic.width, mosaic.height)
        self.view_box.setLimits(
            minXRange=8, minYRange=8, maxXRange=3 * longest, maxYRange=3 * longest
        )
        self.fit_to_window()
        self.scale_bar.set_pixel_size(mosaic.pixel_size_um)
        self.scale_bar.setVisible(True)
        self._runner.start(
            _overview_job,
            mosaic,
            self._generation,
            message=f"Preparing {mosaic.path.name}…",
            on_done=self._show_overview,
            on_error=self._read_failed,
        )

    def _show_overview(self, result: tuple[int, np.ndarray, float]) -> None:
        generation, overview, scale = result
        if generation != self._generation or self.mosaic is None:
            return
        self._overview_scale = scale
        self._overview_data = overview
        self._detail_data = None
        self.levels = display_levels(overview)
        self.overview_item.setImage(self._shown(overview), autoLevels=False, levels=self.levels)
        self.levels_changed.emit(*self.levels)
        height, width = overview.shape[:2]
        self.overview_item.setRect(QtCore.QRectF(0, 0, width * scale, height * scale))
        self._overview_ready = True
        self._detail_timer.start()
        self.mosaic_shown.emit(self.mosaic)

    @property
    def overview_ready(self) -> bool:
        """Whether the current mosaic's overview is on screen."""
        return self._overview_ready

    # ---------------------------------------------------------------- display levels
    @property
    def overview_data(self) -> np.ndarray | None:
        """The overview as read (all channels, the mosaic's dtype), for histograms."""
        return self._overview_data

    def set_levels(self, low: float, high: float) -> None:
        """Map ``low`` to black and ``high`` to white (the data are never changed)."""
        if high <= low:
            high = low + 1e-6
        self.levels = (float(low), float(high))
        for item in (self.overview_item, self.detail_item):
            if item.image is not None:
                item.setLevels(self.levels)
        self.levels_changed.emit(*self.levels)

    def auto_levels(self, low_pct: float = 0.5, high_pct: float = 99.5) -> None:
        """Stretch the shown channel(s) between two percentiles of the overview."""
        if self._overview_data is not None:
            data = self._shown(self._overview_data)
            low, high = np.percentile(data, [low_pct, high_pct])
            self.set_levels(low, high if high > low else low + 1)

    def full_range(self) -> None:
        """Levels over the whole range of the data type (8 bit: 0–255)."""
        if self._overview_data is not None:
            dtype = self._overview_data.dtype
            top = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
            self.set_levels(0.0, top)

    def set_channel(self, channel: int | None) -> None:
        """Show one channel of a colour mosaic as gray (``None``: all, in colour)."""
        self.channel = channel
        if self._overview_data is not None:
            self.overview_item.setImage(self._shown(self._overview_data), autoLevels=False,
                                        levels=self.levels)  # fmt: skip
        if self._detail_data is not None:
            self.detail_item.setImage(self._shown(self._detail_data), autoLevels=False,
                                      levels=self.levels)  # fmt: skip

    def _shown(self, data: np.ndarray) -> np.ndarray:
        if self.channel is None or data.ndim == 2:
            return data
        return data[..., min(self.channel, data.shape[2] - 1)]

    # --------------------------------------------------------------------- navigation
    PAN_FRACTION = 0.1
    ZOOM_STEP = 1.25

    def zoom_by(self, factor: float) -> None:
        """Zoom in (``factor`` > 1) or out about the centre of the view."""
        if self.mosaic is not None:
            self.view_box.scaleBy(s=(1 / factor, 1 / factor))

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by fractions of its width and height."""
        if self.mosaic is not None:
            rect = self.view_box.viewRect()
            self.view_box.translateBy(x=dx * rect.width(), y=dy * rect.height())

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        """Keyboard navigation: arrows pan, + / = / Ctrl+= zoom in, - zoom out, Home fits."""
        if obj is self.graphics_view and event.type() == QtCore.QEvent.Type.KeyPress:
            key, step = event.key(), self.PAN_FRACTION
            keys = QtCore.Qt.Key
            moves = {keys.Key_Left: (-step, 0), keys.Key_Right: (step, 0),
                     keys.Key_Up: (0, -step), keys.Key_Down: (0, step)}  # fmt: skip
            if key in moves:
                self.pan_by(*moves[key])
                return True
            if key in (keys.Key_Plus, keys.Key_Equal):
                self.zoom_by(self.ZOOM_STEP)
                return True
            if key in (keys.Key_Minus, keys.Key_Underscore):
                self.zoom_by(1 / self.ZOOM_STEP)
                return True
            if key == keys.Key_Home:
                self.fit_to_window()
                return True
        return super().eventFilter(obj, event)

    def fit_to_window(self) -> None:
        """Show the whole mosaic."""
        if self.mosaic is not None:
            rect = QtCore.QRectF(0, 0, self.mosaic.width, self.mosaic.height)
            self.view_box.setRange(rect, padding=0.02)

    def zoom_one_to_one(self) -> None:
        """One image pixel per screen pixel, around the current centre."""
        if self.mosaic is None:
            return
        centre = self.view_box.viewRect().center()
        ratio = self.devicePixelRatioF()
        width = self.view_box.width() * ratio
        height = self.view_box.height() * ratio
        rect = QtCore.QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)
        self.view_box.setRange(rect, padding=0)

    def image_px_per_screen_px(self) -> float:
        """Level-0 pixels under one device pixel at the current zoom."""
        view_width = max(1.0, self.view_box.width() * self.devicePixelRatioF())
        return self.view_box.viewRect().width() / view_width

    # --------------------------------------------------------------- detail region reads
    def _range_changed(self, *_args) -> None:
        minified = self.image_px_per_screen_px() > 1.0
        self.graphics_view.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, minified)
        self._detail_timer.start()

    def _request_detail(self) -> None:
        if self.mosaic is None or not self._overview_ready:
            return
        zoom = self.image_px_per_screen_px()
        if zoom >= self._overview_scale * 0.9:
            self.detail_item.setVisible(False)  # the overview is sharp enough here
            return
        level = choose_level(self.mosaic, zoom)
        step = max(1, int(zoom / self.mosaic.level_scale(level)))
        rect = self.view_box.viewRect()
        view = (rect.left(), rect.top(), rect.right(), rect.bottom())
        wanted = visible_region(self.mosaic, level, view, margin=0.0, step=step)
        if wanted is None or (self.detail_region and self.detail_region.contains(wanted)):
            self.detail_item.setVisible(wanted is not None)
            return
        region = visible_region(self.mosaic, level, view, step=step)
        if region.pixels > MAX_REGION_READ_PIXELS:  # single-level giant: overview only
            self.detail_item.setVisible(False)
            return
        if self._detail_worker is not None:
            self._detail_wanted = True  # read again when the running read lands
            return
        self._detail_worker = threads.start_worker(
            _read_region,
            self.mosaic,
            region,
            self._generation,
            connect={  # bound methods: Qt drops them if this view is deleted first
                "returned": self._show_detail,
                "errored": self._read_failed,
                "finished": self._detail_read_finished,
            },
        )

    def _detail_read_finished(self) -> None:
        self._detail_worker = None
        if self._detail_wanted:
            self._detail_wanted = False
            self._request_detail()

    def _read_failed(self, error: BaseException) -> None:
        name = self.mosaic.path.name if self.mosaic is not None else "image"
        log.error("reading %s failed", name, exc_info=error)
        self.read_failed.emit(f"{name}: {error}")

    def _show_detail(self, result: tuple[int, Region, np.ndarray]) -> None:
        generation, region, data = result
        if generation != self._generation or self.mosaic is None:
            return
        scale = self.mosaic.level_scale(region.level)
        drawn = scale * region.step  # level-0 pixels per pixel of ``data``
        self._detail_data = data
        self.detail_item.setImage(self._shown(data), autoLevels=False, levels=self.levels)
        self.detail_item.setRect(
            QtCore.QRectF(
                region.x0 * scale, region.y0 * scale, data.shape[1] * drawn, data.shape[0] * drawn
            )
        )
        self.detail_item.setVisible(True)
        self.detail_region = region

    @property
    def busy_reading(self) -> bool:
        """Whether a detail read is in flight or scheduled."""
        return self._detail_worker is not None or self._detail_timer.isActive()

    # ------------------------------------------------------------------------- cursor
    def _mouse_moved(self, scene_pos) -> None:
        if self.mosaic is None:
            return
        point = self.view_box.mapSceneToView(scene_pos)
        inside = 0 <= point.x() < self.mosaic.width and 0 <= point.y() < self.mosaic.height
        self.cursor_moved.emit(point.x(), point.y(), inside)
