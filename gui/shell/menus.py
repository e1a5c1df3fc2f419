"""The main window's File, View, Models and Help menus, and the About text."""

from __future__ import annotations

from PySide6 import QtGui

from ratescope.core.resources import SAMPLE_MOSAIC

APP_TITLE = "RateScope"


def install_menus(window) -> None:
    """Add the menu bar's menus to ``window``, wired to its public methods.

    Keeps on the window: ``file_menu``, ``open_sample_action``, ``recent_menu`` (filled
    by :class:`gui.shell.recent_files.RecentFiles`), ``file_menu_end`` (the separator above
    Quit), ``quit_action`` (File ▸ Quit, Ctrl+Q), ``view_menu``, ``fit_action``,
    ``scale_bar_action``, ``workspace_menu``, ``panels_menu`` (hidden until a panel is
    added), ``models_menu`` (filled by :mod:`gui.models.controller`) and ``help_menu``.
    """
    window.file_menu = window.menuBar().addMenu("&File")
    window.file_menu.addAction("&Open…", QtGui.QKeySequence.StandardKey.Open, window.open_dialog)
    window.open_sample_action = window.file_menu.addAction("Open &Sample", window.open_sample)
    window.open_sample_action.setEnabled(SAMPLE_MOSAIC.exists())
    window.recent_menu = window.file_menu.addMenu("&Recent Files")
    window.file_menu_end = window.file_menu.addSeparator()
    quit_action = window.file_menu.addAction("&Quit")
    keys = QtGui.QKeySequence.keyBindings(QtGui.QKeySequence.StandardKey.Quit)
    ctrl_q = QtGui.QKeySequence("Ctrl+Q")  # also where the platform has none (Windows)
    quit_action.setShortcuts(keys if ctrl_q in keys else [ctrl_q, *keys])
    quit_action.triggered.connect(window.close)  # unsaved work: gui.session asks first
    window.quit_action = quit_action

    window.view_menu = window.menuBar().addMenu("&View")
    window.fit_action = window.view_menu.addAction("&Fit to Window", "Ctrl+0")
    window.fit_action.triggered.connect(lambda: window.mosaic_view.fit_to_window())
    window.view_menu.addAction("&Actual Pixels (1:1)", "Ctrl+Shift+1").triggered.connect(
        lambda: window.mosaic_view.zoom_one_to_one()
    )
    zoom_in = window.view_menu.addAction("Zoom &In")
    zoom_in.setShortcuts([QtGui.QKeySequence("Ctrl+="), QtGui.QKeySequence("Ctrl++")])
    zoom_in.triggered.connect(lambda: window.mosaic_view.zoom_by(1.25))
    zoom_out = window.view_menu.addAction("Zoom &Out", "Ctrl+-")
    zoom_out.triggered.connect(lambda: window.mosaic_view.zoom_by(1 / 1.25))
    window.scale_bar_action = window.view_menu.addAction("Show &Scale Bar")
    window.scale_bar_action.setCheckable(True)
    window.scale_bar_action.setChecked(True)
    window.scale_bar_action.toggled.connect(window.set_scale_bar_visible)
    window.view_menu.addSeparator()
    window.workspace_menu = window.view_menu.addMenu("&Workspace")
    window.panels_menu = window.view_menu.addMenu("&Panels")
    window.panels_menu.menuAction().setVisible(False)

    window.models_menu = window.menuBar().addMenu("&Models")  # filled by gui.models

    window.help_menu = window.menuBar().addMenu("&Help")
    from ratescope.gui.shell.help import show_manual, show_shortcuts

    window.manual_action = window.help_menu.addAction("RateScope &Manual", "F1")
    window.manual_action.triggered.connect(lambda: show_manual(window))
    window.shortcuts_action = window.help_menu.addAction("&Keyboard Shortcuts")
    window.shortcuts_action.triggered.connect(lambda: show_shortcuts(window))
    window.help_menu.addSeparator()
    window.help_menu.addAction("&About RateScope", window.show_about)


def about_text() -> str:
    """Help ▸ About: what the application is, and its version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        app_version = version("ratescope")
    except PackageNotFoundError:
        app_version = "development"
    return (
        f"<b>{APP_TITLE}</b> {app_version}<br>Predicts the rate capability of Li-ion "
        "electrodes from cross-section micrographs, and shows why.<br><br>"
        "The embedded models are trained on synthetic, physics-labelled data."
    )
