"""The window's central stack of workspace pages and the View ▸ Workspace actions."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class WorkspaceStack(QtWidgets.QStackedWidget):
    """Named pages, one in front; a checkable action per page in ``menu`` switches to it.

    Only the page in front counts for the window's minimum size (the others' size policy
    is Ignored), so a large workspace opened once does not keep the window large.

    Signals
    -------
    page_changed(str)
        The name of the page now in front.

    Parameters
    ----------
    menu : QMenu
        Where the page actions go (View ▸ Workspace).
    """

    page_changed = QtCore.Signal(str)

    def __init__(self, menu: QtWidgets.QMenu, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.menu = menu
        self.pages: dict[str, QtWidgets.QWidget] = {}
        self._actions = QtGui.QActionGroup(self)

    def add_page(
        self, name: str, widget: QtWidgets.QWidget, title: str, shortcut: str | None = None
    ) -> QtGui.QAction:
        """Add ``widget`` as the page ``name`` and its action; returns the action."""
        self.pages[name] = widget
        self.addWidget(widget)
        self._fit_policy()
        action = self.menu.addAction(title)
        action.setCheckable(True)
        if shortcut:
            action.setShortcut(shortcut)
        action.setData(name)
        action.triggered.connect(lambda: self.show_page(name))
        self._actions.addAction(action)
        if self.currentWidget() is widget:
            action.setChecked(True)
        return action

    def show_page(self, name: str) -> None:
        """Bring the page called ``name`` to the front and check its action."""
        changed = self.currentWidget() is not self.pages[name]
        self.setCurrentWidget(self.pages[name])
        for action in self._actions.actions():
            action.setChecked(action.data() == name)
        self._fit_policy()
        if changed:
            self.page_changed.emit(name)

    def _fit_policy(self) -> None:
        ignored = QtWidgets.QSizePolicy.Policy.Ignored
        for widget in self.pages.values():
            if widget is self.currentWidget():
                if getattr(widget, "_stack_policy", None) is not None:
                    widget.setSizePolicy(widget._stack_policy)
            else:
                if getattr(widget, "_stack_policy", None) is None:
                    widget._stack_policy = widget.sizePolicy()
                widget.setSizePolicy(ignored, ignored)
        self.updateGeometry()

    @property
    def current_name(self) -> str:
        """The name of the page in front."""
        return next(k for k, w in self.pages.items() if w is self.currentWidget())
