"""RateScope's main window: menus, a stack of workspace pages, status bar, drops.

Extension points (how later workspaces plug in without rewriting this file)
---------------------------------------------------------------------------
* **Workspace pages** — ``window.add_workspace("align", widget, "Alignment", "Ctrl+2")``
  adds a page to the central :class:`QStackedWidget` and a View-menu action;
  ``window.show_workspace("align")`` switches to it. Built-in pages: ``"welcome"``,
  ``"mosaic"``.
* **Panels** — ``window.add_panel(dock, area)`` adds a :class:`QDockWidget` (prediction,
  explanation controls …) with a show/hide action under View ▸ Panels; its visibility and
  place are saved with the window state (give the dock an ``objectName``).
* **Overlays on the mosaic** — add pyqtgraph items to ``window.mosaic_view.view_box``;
  coordinates are level-0 image pixels (x right, y down).
* **Reacting to a file** — ``window.mosaic_opened(Mosaic)`` fires once a mosaic is on
  screen; ``window.current_mosaic`` holds it.
* **Background work** — ``window.runner.start(func, ..., message=, on_done=, on_error=)``
  gives any long job the status-bar busy indicator, Cancel, and progress if ``func``
  takes ``progress``; report failures with ``window.dialogs.show_error``.
* **Menus** — ``window.file_menu`` (insert before ``window.file_menu_end``, the separator
  above Quit), ``window.view_menu``, ``window.help_menu``.
* **Start-up work** — ``window.first_painted`` fires once the window is on screen; import
  torch and load models from there (see :func:`gui.app.run_gui`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from core.errors import RateScopeError
from core.resources import SAMPLE_MOSAIC
from gui.align_view import install_alignment
from gui.background import BusyIndicator, TaskRunner
from gui.dialogs import Dialogs
from gui.explain_controller import install_explanation
from gui.opening import Loader, MosaicOpener
from gui.predict_controller import install_prediction
from gui.session_controller import install_session
from gui.settings import AppSettings
from gui.status import CursorLabel, PixelSizeLabel
from gui.volume_page import install as install_volume_page
from gui.volume_page import is_volume_path
from gui.welcome import WelcomeView

if TYPE_CHECKING:  # numpy and pyqtgraph load after the first paint, not at start-up
    from core.io.mosaic import Mosaic
    from gui.mosaic_view import MosaicView

APP_TITLE = "RateScope"

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

        self.stack = QtWidgets.QStackedWidget()
        self.setCentralWidget(self.stack)
        self.workspaces: dict[str, QtWidgets.QWidget] = {}
        self._workspace_actions = QtGui.QActionGroup(self)
        self.welcome = WelcomeView()
        self._mosaic_view: MosaicView | None = None
        self._mosaic_page = QtWidgets.QWidget()
        QtWidgets.QVBoxLayout(self._mosaic_page).setContentsMargins(0, 0, 0, 0)
        self._build_menus()
        self.add_workspace("welcome", self.welcome, "Welcome")
        self.add_workspace("mosaic", self._mosaic_page, "Mosaic", "Ctrl+1")
        self.volume_page = install_volume_page(self)  # 3D workspace + File ▸ Open Volume…
        self._build_status_bar()
        self._connect_views()
        self._restore_window()
        self._refresh_recent_files()
        self.alignment = install_alignment(self)  # alignment confirmation (issue 3)
        self.prediction = install_prediction(self)  # rate-curve prediction dock (issue 4)
        self.explanation = install_explanation(self)  # explanation overlays (issue 5)
        self.session = install_session(self)  # sessions, export, folder batch (issue 7)

    # ------------------------------------------------------------------ construction
    def _build_menus(self) -> None:
        self.file_menu = self.menuBar().addMenu("&File")
        self.file_menu.addAction("&Open…", QtGui.QKeySequence.StandardKey.Open, self.open_dialog)
        self.open_sample_action = self.file_menu.addAction("Open &Sample", self.open_sample)
        self.open_sample_action.setEnabled(SAMPLE_MOSAIC.exists())
        self.recent_menu = self.file_menu.addMenu("&Recent Files")
        self.file_menu_end = self.file_menu.addSeparator()
        quit_action = self.file_menu.addAction("&Quit", QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

        self.view_menu = self.menuBar().addMenu("&View")
        self.fit_action = self.view_menu.addAction("&Fit to Window", "Ctrl+0")
        self.fit_action.triggered.connect(lambda: self.mosaic_view.fit_to_window())
        self.view_menu.addAction("&Actual Pixels (1:1)", "Ctrl+Shift+1").triggered.connect(
            lambda: self.mosaic_view.zoom_one_to_one()
        )
        self.scale_bar_action = self.view_menu.addAction("Show &Scale Bar")
        self.scale_bar_action.setCheckable(True)
        self.scale_bar_action.setChecked(True)
        self.scale_bar_action.toggled.connect(self._toggle_scale_bar)
        self.view_menu.addSeparator()
        self.workspace_menu = self.view_menu.addMenu("&Workspace")
        self.panels_menu = self.view_menu.addMenu("&Panels")
        self.panels_menu.menuAction().setVisible(False)

        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction("&About RateScope", self.show_about)

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

    @property
    def mosaic_view(self) -> MosaicView:
        """The mosaic page's view, created on first use (pyqtgraph loads then)."""
        if self._mosaic_view is None:
            from gui.mosaic_view import MosaicView

            view = MosaicView(self.runner)
            view.cursor_moved.connect(self.cursor_label.show_position)
            view.mosaic_shown.connect(self._mosaic_on_screen)
            view.read_failed.connect(self._image_read_failed)
            view.scale_bar.setVisible(False)
            self._mosaic_page.layout().addWidget(view)
            self._mosaic_view = view
        return self._mosaic_view

    def _image_read_failed(self, message: str) -> None:
        self.dialogs.show_error(self, "Could not read the image", message)

    # ---------------------------------------------------------------- extension points
    def add_workspace(
        self, name: str, widget: QtWidgets.QWidget, title: str, shortcut: str | None = None
    ) -> QtGui.QAction:
        """Add a page to the central stack and an action under View ▸ Workspace."""
        self.workspaces[name] = widget
        self.stack.addWidget(widget)
        action = self.workspace_menu.addAction(title)
        action.setCheckable(True)
        if shortcut:
            action.setShortcut(shortcut)
        action.setData(name)
        action.triggered.connect(lambda: self.show_workspace(name))
        self._workspace_actions.addAction(action)
        if self.stack.currentWidget() is widget:
            action.setChecked(True)
        return action

    def show_workspace(self, name: str) -> None:
        """Bring the page called ``name`` to the front."""
        self.stack.setCurrentWidget(self.workspaces[name])
        for action in self._workspace_actions.actions():
            action.setChecked(action.data() == name)

    @property
    def current_workspace(self) -> str:
        return next(k for k, w in self.workspaces.items() if w is self.stack.currentWidget())

    def add_panel(
        self,
        dock: QtWidgets.QDockWidget,
        area: QtCore.Qt.DockWidgetArea = QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
    ) -> None:
        """Add a dock panel and its show/hide action under View ▸ Panels."""
        self.addDockWidget(area, dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        self.panels_menu.menuAction().setVisible(True)

    # ----------------------------------------------------------------------- opening
    def open_path(self, path: str | Path) -> None:
        """Open one file (volumes go to the 3D workspace): every way of opening ends here."""
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
        self._refresh_recent_files()
        self.setWindowTitle(f"{Path(mosaic.path).name} — {APP_TITLE}")
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

    def _refresh_recent_files(self) -> None:
        files = self.settings.recent_files
        self.welcome.set_recent_files(files)
        self.recent_menu.clear()
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear Recent Files", self._clear_recent_files)
        clear.setEnabled(bool(files))

    def _clear_recent_files(self) -> None:
        self.settings.clear_recent_files()
        self._refresh_recent_files()

    def _toggle_scale_bar(self, visible: bool) -> None:
        if self._mosaic_view is not None:
            self._mosaic_view.scale_bar.setVisible(visible and self.current_mosaic is not None)

    def show_about(self) -> None:
        """Help ▸ About."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            app_version = version("ratescope")
        except PackageNotFoundError:
            app_version = "development"
        self.dialogs.about(
            self,
            f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b> {app_version}<br>Predicts the rate capability of Li-ion "
            "electrodes from cross-section micrographs, and shows why.<br><br>"
            "The embedded models are trained on synthetic, physics-labelled data.",
        )

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
