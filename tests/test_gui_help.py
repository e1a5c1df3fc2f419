"""Help ▸ Manual and Keyboard Shortcuts; menu mnemonics."""

from __future__ import annotations

from _gui_helpers import window_shown
from PySide6 import QtWidgets

from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.shell.help import MANUAL, menu_shortcuts, show_manual, show_shortcuts


def test_manual_and_shortcuts(qtbot, tmp_path):
    with window_shown(qtbot, tmp_path) as window:
        assert MANUAL.is_file()
        dialog = show_manual(window)
        qtbot.addWidget(dialog)
        text = dialog.browser.toPlainText()
        for heading in ("Open", "Align", "Predict", "Explain", "3D volumes", "Save and export"):
            assert heading in text
        assert window.manual_action.shortcut().toString() == "F1"
        listed = {(where, what): keys for where, what, keys in menu_shortcuts(window.menuBar())}
        assert listed[("File", "Quit")].startswith("Ctrl+Q")
        assert listed[("View", "Zoom In")].startswith("Ctrl+=")
        assert listed[("Alignment", "Undo")] == "Ctrl+Z"
        shortcuts = show_shortcuts(window)
        qtbot.addWidget(shortcuts)
        table = shortcuts.browser.toPlainText()
        assert "Save Session" in table and "Ctrl+S" in table and "Arrow keys" in table


def test_zoom_actions_and_unique_mnemonics(qtbot, tmp_path):
    with window_shown(qtbot, tmp_path) as window:
        window.open_path(SAMPLE_MOSAIC)
        qtbot.waitUntil(lambda: window.mosaic_view.overview_ready, timeout=30_000)
        width = window.mosaic_view.view_box.viewRect().width()
        next(a for a in window.view_menu.actions() if a.text() == "Zoom &In").trigger()
        assert window.mosaic_view.view_box.viewRect().width() < width
        for menu in window.menuBar().findChildren(QtWidgets.QMenu):
            keys = [a.text().split("&")[1][0].lower() for a in menu.actions()
                    if "&" in a.text() and a.isVisible()]  # fmt: skip
            assert len(keys) == len(set(keys)), (menu.title(), keys)
