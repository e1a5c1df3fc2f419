"""Pan/zoom view of a mosaic of any size, with a µm scale bar.

Two image layers share level-0 pixel coordinates (x right, y down, aspect locked):

* the *overview*: the whole mosaic at ≤ 4096 px on its long side (or level 0 itself for
  small mosaics), built once in the background;
* the *detail*: only the visible region (plus a margin), read from the pyramid level that
  matches the zoom, re-read in a worker thread shortly after the view stops changing.

So panning is always smooth (the overview is there at once) and the picture sharpens to
full resolution as soon as the reads land. Other workspaces draw on top by adding items
to :attr:`MosaicView.view_box` in level-0 pixel coordinates.
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets
from superqt.utils import create_worker

from core.io.mosaic import Mosaic
from gui.background import TaskRunner
from gui.pyramid import Region, build_overview, choose_level, display_levels, visible_region
from gui.scale_bar import ScaleBar

log = logging.getLogger(__name__)

DETAIL_DELAY_MS = 120
"""Quiet time after the last pan/zoom step before the visible region is re-read."""


def _read_region(mosaic: Mosaic, region: Region) -> tuple[Region, np.ndarray]:
    return region, mosaic.read(region.y0, region.y1, region.x0, region.x1, level=region.level)


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

        self.graphics_view = pg.GraphicsView(background="#202124")
        self.graphics_view.setAcceptDrops(False)  # drops go to the main window
        self.view_box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics_view.setCentralItem(self.view_box)
        self.overview_item = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
        self.detail_item = pg.ImageItem(axisOrder="row-major", autoDownsample=True)
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
        self.view_box.sigRangeChanged.connect(lambda *_: self._detail_timer.start())
        self.view_box.sigResized.connect(lambda *_: self._detail_timer.start())
        self.graphics_view.scene().sigMouseMoved.connect(self._mouse_moved)

    # ----------------------------------------------------------------- showing a mosaic
    def set_mosaic(self, mosaic: Mosaic) -> None:
        """Show ``mosaic``: fit it to the view and build its overview in the background."""
        self._generation += 1
        generation = self._generation
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
            build_overview,
            mosaic,
            message=f"Preparing {mosaic.path.name}…",
            on_done=lambda result: self._show_overview(generation, *result),
            on_error=lambda error: self.read_failed.emit(f"{mosaic.path.name}: {error}"),
        )

    def _show_overview(self, generation: int, overview: np.ndarray, scale: float) -> None:
        if generation != self._generation or self.mosaic is None:
            return
        self._overview_scale = scale
        self.levels = display_levels(overview)
        self.overview_item.setImage(overview, autoLevels=False, levels=self.levels)
        height, width = overview.shape[:2]
        self.overview_item.setRect(QtCore.QRectF(0, 0, width * scale, height * scale))
        self._overview_ready = True
        self._detail_timer.start()
        self.mosaic_shown.emit(self.mosaic)

    @property
    def overview_ready(self) -> bool:
        """Whether the current mosaic's overview is on screen."""
        return self._overview_ready

    # --------------------------------------------------------------------- navigation
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
        return self.view_box.viewPixelSize()[0] / self.devicePixelRatioF()

    # --------------------------------------------------------------- detail region reads
    def _request_detail(self) -> None:
        if self.mosaic is None or not self._overview_ready:
            return
        level = choose_level(self.mosaic, self.image_px_per_screen_px())
        if self.mosaic.level_scale(level) >= self._overview_scale * 0.999:
            self.detail_item.setVisible(False)  # the overview is already sharp enough
            return
        rect = self.view_box.viewRect()
        wanted = visible_region(
            self.mosaic, level, (rect.left(), rect.top(), rect.right(), rect.bottom()), 0.0
        )
        if wanted is None or (self.detail_region and self.detail_region.contains(wanted)):
            self.detail_item.setVisible(wanted is not None)
            return
        if self._detail_worker is not None:
            self._detail_wanted = True  # read again when the running read lands
            return
        region = visible_region(
            self.mosaic, level, (rect.left(), rect.top(), rect.right(), rect.bottom())
        )
        generation, mosaic = self._generation, self.mosaic
        self._detail_worker = create_worker(
            _read_region,
            mosaic,
            region,
            _start_thread=False,
            _connect={
                "returned": lambda result: self._show_detail(generation, *result),
                "errored": lambda error: self.read_failed.emit(f"{mosaic.path.name}: {error}"),
                "finished": self._detail_read_finished,
            },
        )
        self._detail_worker.start()

    def _detail_read_finished(self) -> None:
        self._detail_worker = None
        if self._detail_wanted:
            self._detail_wanted = False
            self._request_detail()

    def _show_detail(self, generation: int, region: Region, data: np.ndarray) -> None:
        if generation != self._generation or self.mosaic is None:
            return
        scale = self.mosaic.level_scale(region.level)
        self.detail_item.setImage(data, autoLevels=False, levels=self.levels)
        self.detail_item.setRect(
            QtCore.QRectF(
                region.x0 * scale,
                region.y0 * scale,
                (region.x1 - region.x0) * scale,
                (region.y1 - region.y0) * scale,
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
