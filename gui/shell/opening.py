"""Opening a mosaic file: load off the GUI thread, then ask what the file left open.

:class:`MosaicOpener` is the one path every way of opening goes through (drop, File ▸
Open, recent files, the command line, Open Sample). It asks for the scene of a
multi-scene file and, once per file, for the pixel size of a file without one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM
from ratescope.core.errors import MultipleScenes, RateScopeError
from ratescope.gui.background import Task, TaskRunner
from ratescope.gui.shell.dialogs import Dialogs
from ratescope.gui.shell.settings import AppSettings

if TYPE_CHECKING:
    from ratescope.core.io.mosaic import Mosaic

Loader = Callable[..., "Mosaic"]


def default_loader(path: str | Path, scene: int | None = None, channel: int = 0) -> Mosaic:
    """:func:`core.io.load_mosaic`, imported in the worker so start-up stays fast."""
    import pyqtgraph  # noqa: F401  (the mosaic view's import, done here off the GUI thread)

    from ratescope.core.io import load_mosaic

    return load_mosaic(path, scene=scene, channel=channel)


def describe_error(path: Path, error: BaseException) -> str:
    """The dialog text for a failed open: the file, then the reason in plain words."""
    if isinstance(error, RateScopeError):
        reason = error.reason
    else:
        reason = f"unexpected error ({type(error).__name__}: {error})"
    return f"Could not open {path.name}\n\n{reason}\n\n(full path: {path})"


class MosaicOpener(QtCore.QObject):
    """Loads mosaics in the background and reports them.

    Signals
    -------
    opened(Mosaic)
        A mosaic is ready to show (pixel size settled).
    failed(str, str)
        Path and message of a file that could not be opened (already shown to the user).
    """

    opened = QtCore.Signal(object)
    failed = QtCore.Signal(str, str)

    def __init__(
        self,
        runner: TaskRunner,
        dialogs: Callable[[], Dialogs],
        settings: AppSettings,
        parent_widget: QtWidgets.QWidget,
        loader: Loader | None = None,
    ):
        super().__init__(parent_widget)
        self._runner = runner
        self._dialogs = dialogs
        self._settings = settings
        self._parent_widget = parent_widget
        self.loader = loader or default_loader
        self.current_task: Task | None = None

    def open(self, path: str | Path, scene: int | None = None, channel: int = 0) -> Task:
        """Start loading ``path`` (a CZI's ``scene`` and ``channel``); a load still running
        is cancelled first."""
        path = Path(path).expanduser()
        if self.current_task is not None:
            self.current_task.cancel()
        extra = {"channel": channel} if channel else {}  # test loaders take no channel
        self.current_task = self._runner.start(
            self.loader,
            path,
            scene=scene,
            **extra,
            message=f"Opening {path.name}…",
            on_done=lambda mosaic: self._loaded(path, mosaic),
            on_error=lambda error: self._load_failed(path, error),
        )
        return self.current_task

    def _loaded(self, path: Path, mosaic: Mosaic) -> None:
        self.current_task = None
        if mosaic.pixel_size_source == "default":
            mosaic = self._settle_pixel_size(path, mosaic)
        self.opened.emit(mosaic)

    def _settle_pixel_size(self, path: Path, mosaic: Mosaic) -> Mosaic:
        remembered = self._settings.pixel_size_for(path)
        if remembered is None:
            default = self._settings.last_pixel_size_um or DEFAULT_PIXEL_SIZE_UM
            remembered = self._dialogs().ask_pixel_size(self._parent_widget, path, default)
            if remembered is None:
                return mosaic
            self._settings.remember_pixel_size(path, remembered)
        return dataclasses.replace(mosaic, pixel_size_um=remembered, pixel_size_source="user")

    def _choose_scene(self, path: Path, scenes: list[str], previews) -> None:
        self.current_task = None
        scene = self._dialogs().choose_scene(self._parent_widget, path, scenes, previews)
        if scene is not None:
            self.open(path, scene=scene)

    def _load_failed(self, path: Path, error: BaseException) -> None:
        self.current_task = None
        if isinstance(error, MultipleScenes):
            from ratescope.core.io.czi import scene_previews

            self.current_task = self._runner.start(
                scene_previews, path, message=f"Reading the scenes of {path.name}…",
                on_done=lambda previews: self._choose_scene(path, error.scenes, previews),
                on_error=lambda _e: self._choose_scene(path, error.scenes, None),
            )  # fmt: skip
            return
        message = describe_error(path, error)
        self._dialogs().show_error(self._parent_widget, "Could not open file", message)
        self.failed.emit(str(path), message)
