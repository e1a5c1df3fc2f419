"""File ▸ Recent Files and the welcome page's list, kept in step with the settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

from ratescope.gui.shell.settings import AppSettings
from ratescope.gui.shell.welcome import WelcomeView


class RecentFiles:
    """Fills the Recent Files menu and the welcome list from ``settings.recent_files``.

    Parameters
    ----------
    menu : QMenu
        File ▸ Recent Files; rebuilt on every :meth:`refresh`.
    welcome : WelcomeView
        Shows the same list on the start page.
    settings : AppSettings
        Where the list is kept.
    open_path : callable
        ``open_path(path)``, called when a menu entry is chosen.
    """

    def __init__(
        self,
        menu: QtWidgets.QMenu,
        welcome: WelcomeView,
        settings: AppSettings,
        open_path: Callable[[str], None],
    ):
        self.menu = menu
        self.welcome = welcome
        self.settings = settings
        self.open_path = open_path

    def refresh(self) -> None:
        """Show the current list (call after ``settings.add_recent_file``)."""
        files = self.settings.recent_files
        self.welcome.set_recent_files(files)
        self.menu.clear()
        for path in files:
            action = self.menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.menu.addSeparator()
        clear = self.menu.addAction("&Clear Recent Files", self.clear)
        clear.setEnabled(bool(files))

    def clear(self) -> None:
        """Clear Recent Files: forget the list and show it empty."""
        self.settings.clear_recent_files()
        self.refresh()
