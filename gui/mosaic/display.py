"""Brightness/contrast of the mosaic view: a histogram with draggable black and white
points, Auto (percentiles), Full range, and the channel shown.

The data are never changed; only the mapping to screen brightness is.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ratescope.gui.mosaic.view import MosaicView

CHANNELS = (("All channels", None), ("Red", 0), ("Green", 1), ("Blue", 2))
CHANNEL_PENS = ("#ff6b6b", "#6bdc6b", "#6b9bff")


def histogram(data: np.ndarray, bins: int = 256) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bin edges and one count array per channel (one for gray) of ``data``."""
    top = float(np.iinfo(data.dtype).max) if np.issubdtype(data.dtype, np.integer) else 1.0
    if data.dtype == np.uint16:  # 12- or 14-bit cameras: bin what is used
        top = float(max(255, int(data.max())))
    edges = np.linspace(0.0, top + 1.0, bins + 1)
    planes = [data] if data.ndim == 2 else [data[..., k] for k in range(data.shape[2])]
    return edges, [np.histogram(p, bins=edges)[0] for p in planes]


class DisplayBar(QtWidgets.QWidget):
    """Display controls for one :class:`MosaicView` (shown below it).

    For a multi-channel CZI the channel list names the file's channels (DAPI, GFP, ...)
    and choosing one emits :attr:`file_channel_chosen` (the window reads that channel);
    for an RGB image it shows one colour as gray.

    Signals
    -------
    file_channel_chosen(int)
        A channel of a multi-channel file was chosen.

    Attributes
    ----------
    plot : pyqtgraph.PlotWidget
        The histogram (log counts) of the overview, per channel.
    region : pyqtgraph.LinearRegionItem
        Black and white points; dragging it sets the view's levels.
    """

    file_channel_chosen = QtCore.Signal(int)

    def __init__(self, view: MosaicView, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.auto_button = QtWidgets.QPushButton("&Auto contrast")
        self.auto_button.setToolTip("Stretch between the 0.5 and 99.5 percentiles")
        self.full_button = QtWidgets.QPushButton("&Full range")
        self.channel_combo = QtWidgets.QComboBox()
        for name, channel in CHANNELS:
            self.channel_combo.addItem(name, ("colour", channel))
        self.channel_combo.setToolTip("The channel shown: one colour of an RGB image as gray, "
                                      "or one channel of a multi-channel file")  # fmt: skip
        self.histogram_button = QtWidgets.QToolButton(text="Histogram", checkable=True)
        self.histogram_button.setToolTip("Show the histogram with the black and white points")
        self.plot = pg.PlotWidget(background="#202124")
        self.plot.setMaximumHeight(90)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getPlotItem().hideAxis("left")
        self.plot.setVisible(False)
        self.region = pg.LinearRegionItem(values=view.levels, brush=(255, 255, 255, 30))
        self.plot.addItem(self.region)
        self._curves: list[pg.PlotDataItem] = []

        # a tool bar folds what does not fit into its » menu: the window can still shrink
        self.toolbar = QtWidgets.QToolBar("Display")
        self.toolbar.setObjectName("display-toolbar")
        for widget in (self.auto_button, self.full_button, self.channel_combo,
                       self.histogram_button):  # fmt: skip
            self.toolbar.addWidget(widget)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot)
        layout.addWidget(self.toolbar)

        self.auto_button.clicked.connect(view.auto_levels)
        self.full_button.clicked.connect(view.full_range)
        self.channel_combo.currentIndexChanged.connect(self._channel_chosen)
        self.histogram_button.toggled.connect(self.plot.setVisible)
        self.region.sigRegionChangeFinished.connect(self._region_moved)
        view.levels_changed.connect(self._levels_changed)
        view.mosaic_shown.connect(self._mosaic_shown)

    def _mosaic_shown(self, mosaic) -> None:
        self._fill_channels(mosaic)
        for curve in self._curves:
            self.plot.removeItem(curve)
        self._curves = []
        data = self.view.overview_data
        if data is None:
            return
        edges, counts = histogram(data)
        for k, c in enumerate(counts):
            pen = CHANNEL_PENS[k] if len(counts) == 3 else "#dddddd"
            curve = pg.PlotDataItem(edges, np.log1p(c), stepMode="center", pen=pen)
            self.plot.addItem(curve)
            self._curves.append(curve)
        self.plot.setXRange(edges[0], edges[-1], padding=0.01)

    def _fill_channels(self, mosaic) -> None:
        combo = self.channel_combo
        combo.blockSignals(True)
        combo.clear()
        names = mosaic.metadata.get("channels")
        if names:  # the file's own channels: each is another image
            for i, name in enumerate(names):
                combo.addItem(f"Channel: {name}", ("file", i))
            combo.setCurrentIndex(int(mosaic.metadata.get("channel", 0)))
            combo.setEnabled(True)
        else:
            for name, channel in CHANNELS:
                combo.addItem(name, ("colour", channel))
            combo.setEnabled(mosaic.is_rgb)
        combo.blockSignals(False)
        self.view.set_channel(None)

    def _channel_chosen(self, index: int) -> None:
        kind, value = self.channel_combo.itemData(index)
        if kind == "file":
            self.file_channel_chosen.emit(value)
        else:
            self.view.set_channel(value)

    def _region_moved(self) -> None:
        low, high = self.region.getRegion()
        if (low, high) != self.view.levels:
            self.view.set_levels(low, high)

    def _levels_changed(self, low: float, high: float) -> None:
        blocker = QtCore.QSignalBlocker(self.region)
        self.region.setRegion((low, high))
        del blocker
