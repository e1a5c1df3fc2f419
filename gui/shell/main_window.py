"""RateScope's main window: menus, a stack of workspace pages, status bar, drops.

This module composes the window and routes every way of opening a file; the parts live
beside it: :mod:`gui.shell.menus` (menus, About), :mod:`gui.shell.workspace_stack` (pages),
:mod:`gui.mosaic.page` (the mosaic view, made on first use), :mod:`gui.shell.recent_files`.

Extension points (how later workspaces plug in without rewriting this file)
---------------------------------------------------------------------------
* **Workspace pages** — ``window.add_workspace("align", widget, "Alignment", "Ctrl+2")``
  adds a page to the central :class:`gui.shell.workspace_stack.WorkspaceStack` and a View-menu
  action; ``window.show_workspace("align")`` switches to it. Built-in pages:
  ``"welcome"``, ``"mosaic"``.
* **Panels** — ``window.add_panel(dock, area)`` adds a :class:`QDockWidget` (prediction,
  explanation controls …) with a show/hide action under View ▸ Panels; its visibility and
  place are saved with the window state (give the dock an ``objectName``).
* **Overlays on the mosaic** — add pyqtgraph items to ``window.mosaic_view.view_box``;
  coordinates are level-0 image pixels (x right, y down).
* **Recent files** — after ``window.settings.add_recent_file(path)`` call
  ``window.refresh_recent_files()`` (File ▸ Recent Files and the welcome list).
* **Reacting to a file** — ``window.mosaic_opened(Mosaic)`` fires once a mosaic is on
  screen; ``window.current_mosaic`` holds it.
* **Background work** — ``window.runner.start(func, ..., message=, on_done=, on_error=)``
  gives any long job the status-bar busy indicator, Cancel, and progress if ``func``
  takes ``progress``; report failures with ``window.dialogs.show_error``.
* **Menus** — ``window.file_menu`` (insert before ``window.file_menu_end``, the separator
  above Quit), ``window.view_menu``, ``window.help_menu`` (built in :mod:`gui.shell.menus`).
* **Start-up work** — ``window.first_painted`` fires once the window is on screen; import
  torch and load models from there (see :func:`gui.app.run_gui`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.errors import RateScopeError
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.align.controller import install_alignment
from ratescope.gui.background import BusyIndicator, TaskRunner
from ratescope.gui.explain.controller import install_explanation
from ratescope.gui.models.controller import install_models
from ratescope.gui.mosaic.page import MosaicPage
from ratescope.gui.predict.controller import install_prediction
from ratescope.gui.session.controller import SESSION_SUFFIX, install_session
from ratescope.gui.shell.dialogs import Dialogs
from ratescope.gui.shell.menus import APP_TITLE, about_text, install_menus
from ratescope.gui.shell.opening import Loader, MosaicOpener
from ratescope.gui.shell.recent_files import RecentFiles
from ratescope.gui.shell.settings import AppSettings
from ratescope.gui.shell.status import CursorLabel, PixelSizeLabel
from ratescope.gui.shell.welcome import WelcomeView
from ratescope.gui.shell.workspace_stack import WorkspaceStack
from ratescope.gui.volume.page import install as install_volume_page
from ratescope.gui.volume.page import is_volume_path

if TYPE_CHECKING:  # numpy and pyqtgraph load after the first paint, not at start-up
    from ratescope.core.io.mosaic import Mosaic
    from ratescope.gui.mosaic.view import MosaicView

log = logging.getLogger(__name__)


class MainWindow(QtWidgets.QMainWindow):
    """The application window.

    Parameters
    ----------
    settings : QSettings, optional
        Where geometry, recent files and the last folder are kept (tests pass a
        temporary one); the application's default store otherwise.
    dialogs : Dialogs, optional
        The object that asks questions and shows errors; replace it in tests.
    loader : callable, optional
        ``loader(path, scene=None) -> Mosaic``; :func:`core.io.load_mosaic` by default.
    """

    mosaic_opened = QtCore.Signal(object)
    first_painted = QtCore.Signal()

    def __init__(
        self,
        settings: QtCore.QSettings | None = None,
        dialogs: Dialogs | None = None,
        loader: Loader | None = None,
    ):
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.settings = AppSettings(settings)
        self.dialogs = dialogs or Dialogs()
        self.runner = TaskRunner(self)
        self.current_mosaic: Mosaic | None = None
        self._painted = False
        self.opener = MosaicOpener(self.runner, lambda: self.dialogs, self.settings, self, loader)
        self.opener.opened.connect(self._show_mosaic)

        install_menus(self)  # File, View, Help
        self.stack = WorkspaceStack(self.workspace_menu)
        self.stack.page_changed.connect(self._workspace_changed)
        self.setCentralWidget(self.stack)
        self.workspaces = self.stack.pages
        self.welcome = WelcomeView()
        self.mosaic_page = MosaicPage(self.runner)
        self.recent_files = RecentFiles(
            self.recent_menu, self.welcome, self.settings, self.open_path
        )
        self.add_workspace("welcome", self.welcome, "Welcome")
        self.add_workspace("mosaic", self.mosaic_page, "Mosaic", "Ctrl+1")
        self.volume_page = install_volume_page(self)  # 3D workspace + File ▸ Open Volume…
        self._build_status_bar()
        self._connect_views()
        self._restore_window()
        self.refresh_recent_files()
        self.alignment = install_alignment(self)  # alignment confirmation
        self.models = install_models(self)  # Models menu; before prediction: active model
        self.prediction = install_prediction(self)  # rate-curve prediction dock
        self.explanation = install_explanation(self)  # explanation overlays
        self.session = install_session(self)  # sessions, export, folder batch

    # ------------------------------------------------------------------ construction
    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.busy_indicator = BusyIndicator(self.runner)
        self.cursor_label = CursorLabel()
        self.pixel_size_label = PixelSizeLabel()
        status.addPermanentWidget(self.busy_indicator)
        status.addPermanentWidget(self.cursor_label)
        status.addPermanentWidget(self.pixel_size_label)

    def _connect_views(self) -> None:
        self.welcome.open_sample_requested.connect(self.open_sample)
        self.welcome.open_file_requested.connect(self.open_dialog)
        self.welcome.recent_file_chosen.connect(self.open_path)
        self.welcome.set_sample_available(SAMPLE_MOSAIC.exists())
        self.mosaic_page.view_created.connect(self._connect_mosaic_view)
        self.mosaic_page.channel_requested.connect(self._open_channel)

    def _open_channel(self, channel: int) -> None:
        """Read another channel of the current multi-channel file (a new image)."""
        m = self.current_mosaic
        if m is not None and channel != m.metadata.get("channel", 0):
            self.statusBar().showMessage(f"Opening channel {channel + 1} of {m.path.name}…")
            self.opener.open(m.path, scene=m.scene, channel=channel)

    def _connect_mosaic_view(self, view: MosaicView) -> None:
        view.cursor_moved.connect(self.cursor_label.show_position)
        view.mosaic_shown.connect(self._mosaic_on_screen)
        view.read_failed.connect(self._image_read_failed)

    @property
    def mosaic_view(self) -> MosaicView:
        """The mosaic page's view, created on first use (pyqtgraph loads then)."""
        return self.mosaic_page.view

    def _image_read_failed(self, message: str) -> None:
        self.dialogs.show_error(self, "Could not read the image", message)

    # ---------------------------------------------------------------- extension points
    def add_workspace(
        self, name: str, widget: QtWidgets.QWidget, title: str, shortcut: str | None = None
    ) -> QtGui.QAction:
        """Add a page to the central stack and an action under View ▸ Workspace."""
        return self.stack.add_page(name, widget, title, shortcut)

    def show_workspace(self, name: str) -> None:
        """Bring the page called ``name`` to the front."""
        self.stack.show_page(name)

    @property
    def current_workspace(self) -> str:
        return self.stack.current_name

    def _workspace_changed(self, name: str) -> None:
        """Show only the docks of workspace ``name``; the title names its document."""
        for dock in self.findChildren(QtWidgets.QDockWidget):
            mine = dock.property("workspace") in (None, name)
            if mine and dock.property("hidden_by_workspace"):
                dock.setProperty("hidden_by_workspace", False)
                dock.show()
            elif not mine and dock.isVisible():
                dock.setProperty("hidden_by_workspace", True)
                dock.hide()
        self._update_title()

    def _update_title(self) -> None:
        """``<file of the workspace in front> — RateScope``."""
        name = None
        if self.current_workspace == "volume":
            volume = getattr(getattr(self, "volume_page", None), "volume_path", None)
            name = Path(volume).name if volume else None
        elif self.current_mosaic is not None:
            name = Path(self.current_mosaic.path).name
        self.setWindowTitle(f"{name} — {APP_TITLE}" if name else APP_TITLE)

    def add_panel(
        self,
        dock: QtWidgets.QDockWidget,
        area: QtCore.Qt.DockWidgetArea = QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
        workspace: str = "mosaic",
    ) -> None:
        """Add a dock panel of ``workspace`` and its show/hide action under View ▸ Panels.

        A workspace's docks show only while it is in front (each keeps whether the user
        had it open, for the return)."""
        dock.setProperty("workspace", workspace)
        self.addDockWidget(area, dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        self.panels_menu.menuAction().setVisible(True)

    # ----------------------------------------------------------------------- opening
    def open_path(self, path: str | Path) -> None:
        """Open one file (sessions restore, volumes go to the 3D workspace): every way of
        opening (command line, drop, recent files, the desktop's double-click) ends here."""
        if Path(path).suffix.lower() == SESSION_SUFFIX and getattr(self, "session", None):
            self.session.open(path)
            return
        if is_volume_path(path):
            self.volume_page.open(path)
            return
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        self.opener.open(path)

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open the first of several paths (drops, command line); say if others were left."""
        if not paths:
            return
        self.open_path(paths[0])
        if len(paths) > 1:
            self.statusBar().showMessage(
                f"Opening {Path(paths[0]).name}; {len(paths) - 1} more file(s) ignored", 8000
            )

    def open_dialog(self) -> None:
        """File ▸ Open…"""
        path = self.dialogs.open_file_name(self, self.settings.last_directory)
        if path:
            self.open_path(path)

    def open_sample(self) -> None:
        """File ▸ Open Sample: the bundled synthetic mosaic."""
        if not SAMPLE_MOSAIC.exists():
            error = RateScopeError("the bundled sample is not installed", SAMPLE_MOSAIC)
            self.dialogs.show_error(self, "Could not open the sample", str(error))
            return
        self.open_path(SAMPLE_MOSAIC)

    def _show_mosaic(self, mosaic: Mosaic) -> None:
        self.current_mosaic = mosaic
        self.settings.add_recent_file(mosaic.path)
        self.settings.last_directory = str(Path(mosaic.path).resolve().parent)
        self.refresh_recent_files()
        self._update_title()
        self.pixel_size_label.show_pixel_size(mosaic.pixel_size_um, mosaic.pixel_size_source)
        self.cursor_label.set_pixel_size(mosaic.pixel_size_um)
        self.show_workspace("mosaic")
        self.mosaic_view.set_mosaic(mosaic)
        self.mosaic_view.scale_bar.setVisible(self.scale_bar_action.isChecked())

    def _mosaic_on_screen(self, mosaic: Mosaic) -> None:
        kind = "RGB" if mosaic.is_rgb else "gray"
        summary = (
            f"{Path(mosaic.path).name}: {mosaic.width} × {mosaic.height} px, {kind} "
            f"{mosaic.dtype}, {mosaic.format}, {len(mosaic.levels)} level(s)"
        )
        log.info("shown %s", summary)
        self.statusBar().showMessage(summary, 15000)
        self.mosaic_opened.emit(mosaic)

    def refresh_recent_files(self) -> None:
        """Show ``settings.recent_files`` in File ▸ Recent Files and on the welcome page."""
        self.recent_files.refresh()

    def set_scale_bar_visible(self, visible: bool) -> None:
        """View ▸ Show Scale Bar (shown only while a mosaic is open)."""
        self.mosaic_page.set_scale_bar_visible(visible and self.current_mosaic is not None)

    def show_about(self) -> None:
        """Help ▸ About."""
        self.dialogs.about(self, f"About {APP_TITLE}", about_text())

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ------------------------------------------------------------- window life cycle
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QtCore.QTimer.singleShot(0, self.first_painted.emit)

    def _restore_window(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.runner.cancel_all()
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        super().closeEvent(event)
