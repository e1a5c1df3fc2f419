"""The "mosaic" workspace page: holds the :class:`gui.mosaic.view.MosaicView`, made on first use.

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
    """

    view_created = QtCore.Signal(object)

    def __init__(self, runner: TaskRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self._view: MosaicView | None = None
        QtWidgets.QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)

    @property
    def view(self) -> MosaicView:
        """The mosaic view, created on first use (pyqtgraph loads then)."""
        if self._view is None:
            from ratescope.gui.mosaic.view import MosaicView

            view = MosaicView(self.runner)
            self.view_created.emit(view)
            view.scale_bar.setVisible(False)
            self.layout().addWidget(view)
            self._view = view
        return self._view

    def set_scale_bar_visible(self, visible: bool) -> None:
        """Show or hide the scale bar, without creating the view for it."""
        if self._view is not None:
            self._view.scale_bar.setVisible(visible)
