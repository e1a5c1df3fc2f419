"""Orthogonal views of a volume: the XZ plane through the window's centre row and the YZ
plane through its centre column, with the current slice marked.

Planes are read from the volume file in a worker (one row or column of every slice), so
they cost a thin read whatever the volume's size.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.gui import threads
from ratescope.gui.volume.views import image_plot

SLICE_PEN = pg.mkPen("#ff9f1a", width=1.5)


def orthogonal_planes(source, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xz, yz)``: plane ``[z, x]`` at row ``y`` and plane ``[z, y]`` at column ``x``."""
    nz, ny, nx = source.shape
    y, x = int(np.clip(y, 0, ny - 1)), int(np.clip(x, 0, nx - 1))
    xz = source.read_box(0, nz, y, y + 1, 0, nx)[:, 0, :]
    yz = source.read_box(0, nz, 0, ny, x, x + 1)[:, :, 0]
    return np.asarray(xz, np.float32), np.asarray(yz, np.float32)


def _planes_job(source, y: int, x: int, token: int):
    return token, y, x, orthogonal_planes(source, y, x)


class OrthoViews(pg.GraphicsLayoutWidget):
    """Two plots, XZ and YZ, each with a line at the current slice ``z``.

    Voxels are drawn square when the voxel size is isotropic (the only kind the volume
    readers report); the rows are slices, top = first slice.

    Signals
    -------
    planes_changed(int, int)
        New planes are on screen, through row ``y`` and column ``x``.
    """

    planes_changed = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(120)
        self.plots, self.images, self.lines = [], [], []
        for i, title in enumerate(("XZ", "YZ")):
            plot, image = image_plot(self, i, title)
            line = pg.InfiniteLine(angle=0, pen=SLICE_PEN, movable=False)
            plot.addItem(line)
            self.plots.append(plot)
            self.images.append(image)
            self.lines.append(line)
        self.source = None
        self.centre: tuple[int, int] | None = None
        self.planes_shown: tuple[int, int] | None = None
        self._token = 0

    def set_source(self, source) -> None:
        self.source, self.centre = source, None
        for image in self.images:
            image.clear()

    def set_centre(self, y: int, x: int) -> None:
        """Read the planes through row ``y`` and column ``x`` (in a worker)."""
        if self.source is None or (y, x) == self.centre:
            return
        self.centre = (y, x)
        self._token += 1
        threads.start_worker(_planes_job, self.source, y, x, self._token,
                             connect={"returned": self._landed})  # fmt: skip

    def set_slice(self, z: int) -> None:
        for line in self.lines:
            line.setPos(z + 0.5)

    def _landed(self, result) -> None:
        token, y, x, (xz, yz) = result
        if token != self._token:
            return
        shown = ((xz, f"XZ at y = {y}"), (yz, f"YZ at x = {x}"))
        for plot, image, (plane, name) in zip(self.plots, self.images, shown, strict=True):
            lo, hi = np.percentile(plane, (0.5, 99.5)) if plane.size else (0.0, 1.0)
            image.setImage(plane, autoLevels=False, levels=(float(lo), float(max(hi, lo + 1e-6))))
            plot.setTitle(name)
            plot.autoRange(padding=0.02)
        self.planes_shown = (y, x)
        self.planes_changed.emit(y, x)
