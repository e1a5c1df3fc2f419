"""Help ▸ Manual and Help ▸ Keyboard Shortcuts.

The manual is ``resources/help/manual.html`` (bundled, so it works offline and in the
installed app); the shortcut list is read from the window's own menus, so it can never
name a shortcut that does not exist.
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.resources import RESOURCES

MANUAL = RESOURCES / "help" / "manual.html"

VIEW_KEYS = (
    ("Arrow keys", "Pan the mosaic (view focused)"),
    ("+ / =  and  −", "Zoom in and out (view focused)"),
    ("Home", "Fit the mosaic to the window (view focused)"),
    ("Mouse wheel, drag", "Zoom, pan"),
    ("Click a tile", "Keep or reject it (mosaic or alignment preview)"),
)


def menu_shortcuts(menu_bar: QtWidgets.QMenuBar) -> list[tuple[str, str, str]]:
    """``(menu path, action text, shortcut)`` of every action with a shortcut."""
    out: list[tuple[str, str, str]] = []

    def walk(menu: QtWidgets.QMenu, path: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {action.menu().title().replace('&', '')}")
                continue
            keys = [k.toString(QtGui.QKeySequence.SequenceFormat.NativeText)
                    for k in action.shortcuts() if not k.isEmpty()]  # fmt: skip
            if keys and action.text():
                out.append((path, action.text().replace("&", ""), ", ".join(keys)))

    for action in menu_bar.actions():
        if action.menu() is not None:
            walk(action.menu(), action.menu().title().replace("&", ""))
    return out


def shortcuts_html(menu_bar: QtWidgets.QMenuBar) -> str:
    rows = [(f"{where} ▸ {what}", keys) for where, what, keys in menu_shortcuts(menu_bar)]
    rows += [(what, keys) for keys, what in VIEW_KEYS]
    body = "".join(f"<tr><td>{html.escape(a)}</td><td><b>{html.escape(k)}</b></td></tr>"
                   for a, k in rows)  # fmt: skip
    return f"<h3>Keyboard shortcuts</h3><table cellpadding='3'>{body}</table>"


class HelpDialog(QtWidgets.QDialog):
    """A non-modal window showing HTML (the manual or the shortcut list)."""

    def __init__(self, title: str, text: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(text)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(640, 560)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)


def manual_text() -> str:
    try:
        return MANUAL.read_text(encoding="utf-8")
    except OSError:
        return "<p>The manual is missing from this installation; see the README.</p>"


def show_manual(window) -> HelpDialog:
    dialog = HelpDialog("RateScope manual", manual_text(), window)
    dialog.show()
    return dialog


def show_shortcuts(window) -> HelpDialog:
    dialog = HelpDialog("Keyboard shortcuts", shortcuts_html(window.menuBar()), window)
    dialog.show()
    return dialog
