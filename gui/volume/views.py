"""Three linked slice views (original | CAE reconstruction | difference) and the z strip.

:class:`SliceViews` shows one slice of the original and of the reconstruction (CAE input
units, grey -1..1) and their difference ``reconstruction - original`` in a diverging
colormap centred at 0; the three views pan and zoom together, and the in-plane 224 x 224
window of the current latents is outlined on each. :class:`BlockStrip` draws the volume's
depth beside the slice slider: reconstructed blocks, blocks being reconstructed, the
current 24-slice window and the current slice.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

DIFF_CMAP = "CET-D1"
"""Diverging blue-white-red colormap (pyqtgraph's bundled colorcet)."""
WINDOW_PEN = pg.mkPen((255, 190, 0), width=2)


def image_plot(layout: pg.GraphicsLayoutWidget, col: int, title: str):
    """A plot in row 0, column ``col`` of ``layout`` showing one image, aspect locked, y
    down, no axes or menu: ``(plot, image item)``."""
    plot = layout.addPlot(row=0, col=col, title=title)
    plot.setAspectLocked(True)
    plot.invertY(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setMenuEnabled(False)
    image = pg.ImageItem(axisOrder="row-major")
    plot.addItem(image)
    return plot, image


class SliceViews(pg.GraphicsLayoutWidget):
    """Original, reconstruction and difference of one slice, linked in pan/zoom.

    Signals
    -------
    clicked(float, float)
        Image ``(x, y)`` of a left click on any view (picks the in-plane window).
    """

    clicked = QtCore.Signal(float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        titles = ("Original", "CAE reconstruction", "Difference (recon − original)")
        self.ci.layout.setHorizontalSpacing(4)
        self.plots: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []
        self.rects: list[QtWidgets.QGraphicsRectItem] = []
        for i, title in enumerate(titles):
            plot, image = image_plot(self, i, title)
            plot.setMinimumWidth(120)
            plot.setSizePolicy(
                QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Expanding
            )
            self.ci.layout.setColumnStretchFactor(i, 1)  # equal views: linked + aspect-locked
            rect = QtWidgets.QGraphicsRectItem()
            rect.setPen(WINDOW_PEN)
            rect.setVisible(False)
            plot.addItem(rect)
            if self.plots:
                plot.setXLink(self.plots[0])
                plot.setYLink(self.plots[0])
            self.plots.append(plot)
            self.images.append(image)
            self.rects.append(rect)
        self.original, self.reconstruction, self.difference = self.images
        from ratescope.gui.mosaic.scale_bar import ScaleBar

        self.scale_bar = ScaleBar(self.plots[0].vb)  # µm once the voxel size is known
        self.scale_bar.setVisible(False)
        for img in (self.original, self.reconstruction):
            img.setLevels((-1.0, 1.0))
        cmap = pg.colormap.get(DIFF_CMAP)
        self.difference.setColorMap(cmap)
        self.colorbar = pg.ColorBarItem(
            values=(-1, 1), colorMap=cmap, interactive=False, width=12, label="recon − orig"
        )
        self.colorbar.setImageItem(self.difference)
        self.addItem(self.colorbar, row=0, col=3)
        self.scene().sigMouseClicked.connect(self._on_click)
        self._shape: tuple[int, int] | None = None
        self.stretch = False
        """Show the reconstruction with its own 1-99 % contrast (what the latents carry
        is often a faint variation about the window mean) instead of the original's."""

    def set_slice(
        self, original: np.ndarray, reconstruction: np.ndarray, diff_limit: float
    ) -> None:
        """Show one slice pair (float32 ``[y, x]``, CAE units)."""
        self.original.setImage(original, autoLevels=False, levels=self.levels)
        self.reconstruction.setImage(
            reconstruction, autoLevels=False, levels=self.reconstruction_levels(reconstruction)
        )
        self.difference.setImage(
            reconstruction - original, autoLevels=False, levels=(-diff_limit, diff_limit)
        )
        if tuple(self.colorbar.levels()) != (-diff_limit, diff_limit):
            self.colorbar.setLevels((-diff_limit, diff_limit))
        if self._shape != original.shape:
            self._shape = original.shape
            self.plots[0].autoRange(padding=0.02)

    def set_voxel_size(self, um: float | None) -> None:
        """Show a µm scale bar on the original (hidden when the voxel size is unknown)."""
        if um:
            self.scale_bar.set_pixel_size(um)
        self.scale_bar.setVisible(bool(um))

    levels: tuple[float, float] = (-1.0, 1.0)
    """Display range of the original (and of the reconstruction unless stretched)."""

    def set_levels(self, low: float, high: float) -> None:
        """Map ``low`` to black and ``high`` to white on the original and reconstruction."""
        self.levels = (float(low), float(max(high, low + 1e-6)))
        if self.original.image is not None:
            self.original.setLevels(self.levels)
        if self.reconstruction.image is not None:
            self.reconstruction.setLevels(self.reconstruction_levels(self.reconstruction.image))

    def auto_levels(self) -> None:
        """Levels at the 0.5 and 99.5 percentiles of the original slice shown."""
        img = self.original.image
        if img is not None and img.size:
            lo, hi = np.percentile(img, (0.5, 99.5))
            self.set_levels(lo, hi)

    def reconstruction_levels(self, reconstruction: np.ndarray) -> tuple[float, float]:
        """Display range of the reconstruction: the original's, or its own stretched."""
        if not self.stretch:
            return self.levels
        lo, hi = np.percentile(reconstruction[::2, ::2], (1.0, 99.0))
        return (float(lo), float(max(hi, lo + 1e-3)))

    def set_stretch(self, on: bool) -> None:
        """Switch the reconstruction's contrast (see :attr:`stretch`) and redraw it."""
        self.stretch = bool(on)
        title = "CAE reconstruction" + (" (contrast stretched)" if on else "")
        self.plots[1].setTitle(title)
        img = self.reconstruction.image
        if img is not None:
            self.reconstruction.setLevels(self.reconstruction_levels(img))

    def clear_slice(self, shape: tuple[int, int]) -> None:
        """Blank views of a plane of ``shape`` (nothing reconstructed yet)."""
        blank = np.zeros(shape, np.float32)
        self.set_slice(blank, blank, 1.0)

    def set_window(self, x0: int, y0: int, width: int, height: int, visible: bool) -> None:
        """Outline the in-plane window ``[y0:y0+height, x0:x0+width]`` on all three views."""
        for rect in self.rects:
            rect.setRect(QtCore.QRectF(x0, y0, width, height))
            rect.setVisible(visible)

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        for plot in self.plots:
            if plot.vb.sceneBoundingRect().contains(event.scenePos()):
                p = plot.vb.mapSceneToView(event.scenePos())
                self.clicked.emit(float(p.x()), float(p.y()))
                return


class BlockStrip(QtWidgets.QWidget):
    """A horizontal strip for the volume's depth: cached blocks, work under way, the
    current window's z-range and the current slice."""

    CACHED = QtGui.QColor(170, 200, 235)
    PENDING = QtGui.QColor(250, 205, 120)
    WINDOW = QtGui.QColor(30, 100, 200)
    SLICE = QtGui.QColor(210, 30, 30)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(16)
        self.setMaximumHeight(16)
        self.depth, self.length, self.current = 1, 1, 0
        self.cached: list[tuple[int, int]] = []
        self.pending: list[tuple[int, int]] = []
        self.window: tuple[int, int] | None = None

    def set_state(
        self,
        depth: int,
        current: int,
        window: tuple[int, int] | None,
        cached: list[tuple[int, int]],
        pending: list[tuple[int, int]],
    ) -> None:
        """Depth of the volume, current slice, current window ``(z0, z1)`` and blocks."""
        self.depth, self.current, self.window = max(depth, 1), current, window
        self.cached, self.pending = cached, pending
        self.setToolTip(self._describe())
        self.update()

    def _describe(self) -> str:
        parts = [f"slice {self.current + 1} of {self.depth}"]
        if self.window:
            parts.append(f"CAE window: slices {self.window[0] + 1}–{self.window[1]}")
        parts.append(f"{len(self.cached)} block(s) reconstructed")
        return "; ".join(parts)

    def _x(self, z: float) -> float:
        return z / self.depth * self.width()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        h = self.height()
        p.fillRect(self.rect(), QtGui.QColor(235, 235, 235))
        for spans, color, top in ((self.cached, self.CACHED, 3), (self.pending, self.PENDING, 3)):
            for z0, z1 in spans:
                p.fillRect(QtCore.QRectF(self._x(z0), top, self._x(z1) - self._x(z0), h - 6), color)
        if self.window:
            z0, z1 = self.window
            p.setPen(QtGui.QPen(self.WINDOW, 2))
            p.drawRect(QtCore.QRectF(self._x(z0) + 1, 1, self._x(z1) - self._x(z0) - 2, h - 2))
        x = self._x(self.current + 0.5)
        p.setPen(QtGui.QPen(self.SLICE, 2))
        p.drawLine(QtCore.QPointF(x, 0), QtCore.QPointF(x, h))
        p.end()
