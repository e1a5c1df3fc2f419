"""The "mosaic" workspace page: holds the :class:`gui.mosaic_view.MosaicView`, made on first use.

pyqtgraph and numpy load only when the view is first asked for, so the window paints
before they are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from gui.background import TaskRunner

if TYPE_CHECKING:
    from gui.mosaic_view import MosaicView


class MosaicPage(QtWidgets.QWidget):
    """The page; relays its view's signals so they can be connected before the view exists.

    Signals
    -------
    cursor_moved(float, float, bool)
        :attr:`MosaicView.cursor_moved`.
    mosaic_shown(object)
        :attr:`MosaicView.mosaic_shown`: the mosaic's overview is on screen.
    read_failed(str)
        :attr:`MosaicView.read_failed`.
    """

    cursor_moved = QtCore.Signal(float, float, bool)
    mosaic_shown = QtCore.Signal(object)
    read_failed = QtCore.Signal(str)

    def __init__(self, runner: TaskRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self._view: MosaicView | None = None
        QtWidgets.QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)

    @property
    def view(self) -> MosaicView:
        """The mosaic view, created on first use (pyqtgraph loads then)."""
        if self._view is None:
            from gui.mosaic_view import MosaicView

            view = MosaicView(self.runner)
            view.cursor_moved.connect(self.cursor_moved)
            view.mosaic_shown.connect(self.mosaic_shown)
            view.read_failed.connect(self.read_failed)
            view.scale_bar.setVisible(False)
            self.layout().addWidget(view)
            self._view = view
        return self._view

    def set_scale_bar_visible(self, visible: bool) -> None:
        """Show or hide the scale bar, without creating the view for it."""
        if self._view is not None:
            self._view.scale_bar.setVisible(visible)
