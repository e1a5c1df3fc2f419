"""The "mosaic" workspace page: the :class:`gui.mosaic.view.MosaicView`, made on first use,
with its display bar (contrast, channel, histogram) and measurement tools below it.

pyqtgraph and numpy load only when the view is first asked for, so the window paints
before they are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from ratescope.gui.background import TaskRunner

if TYPE_CHECKING:
    from ratescope.gui.mosaic.view import MosaicView


class MosaicPage(QtWidgets.QWidget):
    """The page; :attr:`view_created` lets the window connect to the view once it exists.

    Signals
    -------
    view_created(MosaicView)
        The view was just made (before it shows anything).
    channel_requested(int)
        The user chose another channel of a multi-channel file.
    """

    view_created = QtCore.Signal(object)
    channel_requested = QtCore.Signal(int)

    def __init__(self, runner: TaskRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self._view: MosaicView | None = None
        self.display_bar = None
        self.measure = None
        QtWidgets.QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)

    @property
    def view(self) -> MosaicView:
        """The mosaic view, created on first use (pyqtgraph loads then)."""
        if self._view is None:
            from ratescope.gui.mosaic.display import DisplayBar
            from ratescope.gui.mosaic.measure import MeasureTool
            from ratescope.gui.mosaic.view import MosaicView

            view = MosaicView(self.runner)
            self.view_created.emit(view)
            view.scale_bar.setVisible(False)
            self.display_bar = DisplayBar(view)
            self.display_bar.file_channel_chosen.connect(self.channel_requested)
            self.measure = MeasureTool(view, self)
            self.display_bar.toolbar.addSeparator()
            for widget in self.measure.widgets:
                self.display_bar.toolbar.addWidget(widget)
            self.layout().addWidget(view, 1)
            self.layout().addWidget(self.display_bar)
            self._view = view
        return self._view

    def set_scale_bar_visible(self, visible: bool) -> None:
        """Show or hide the scale bar, without creating the view for it."""
        if self._view is not None:
            self._view.scale_bar.setVisible(visible)
