"""The questions and messages the window puts to the user, in one replaceable object.

:class:`MainWindow` calls only the methods of :class:`Dialogs`; tests substitute a
recorder with the same methods, and ``--smoke`` uses :class:`HeadlessDialogs`, so
nothing ever blocks on a modal dialog where no one can answer it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6 import QtWidgets

from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM

log = logging.getLogger(__name__)


class Dialogs:
    """Modal Qt dialogs (the normal, interactive behaviour)."""

    def show_error(self, parent: QtWidgets.QWidget | None, title: str, text: str) -> None:
        """Tell the user something failed; also logged."""
        log.error("%s: %s", title, text)
        QtWidgets.QMessageBox.critical(parent, title, text)

    def choose_scene(
        self,
        parent: QtWidgets.QWidget | None,
        path: Path,
        scenes: list[str],
        previews: list[dict] | None = None,
    ) -> int | None:
        """Index of the scene to open, or None when the user cancels. ``previews``
        (:func:`core.io.czi.scene_previews`) add each scene's size and a thumbnail."""
        from ratescope.gui.shell.scene_dialog import SceneDialog

        dialog = SceneDialog(parent, path, scenes, previews)
        dialog.exec()
        return dialog.chosen if dialog.result() else None

    def ask_pixel_size(
        self, parent: QtWidgets.QWidget | None, path: Path, default_um: float
    ) -> float | None:
        """Pixel size in µm for a file without one, or None to keep the assumed default."""
        value, ok = QtWidgets.QInputDialog.getDouble(
            parent,
            "Pixel size",
            f"{path.name} does not say how large its pixels are.\n"
            f"Pixel size in µm per pixel (the paper's images: {DEFAULT_PIXEL_SIZE_UM}):",
            default_um,
            0.001,
            1000.0,
            4,
        )
        return float(value) if ok else None

    def open_file_name(self, parent: QtWidgets.QWidget | None, directory: str) -> str | None:
        """A file chosen in the file dialog, or None."""
        path, _filter = QtWidgets.QFileDialog.getOpenFileName(
            parent, "Open mosaic", directory, FILE_FILTER
        )
        return path or None

    def about(self, parent: QtWidgets.QWidget | None, title: str, text: str) -> None:
        QtWidgets.QMessageBox.about(parent, title, text)


class HeadlessDialogs(Dialogs):
    """Answers without asking: errors go to stderr, defaults are taken (``--smoke``)."""

    def __init__(self):
        self.errors: list[str] = []

    def show_error(self, parent, title, text):
        log.error("%s: %s", title, text)
        self.errors.append(text)
        print(f"ERROR {title}: {text}", file=sys.stderr, flush=True)

    def choose_scene(self, parent, path, scenes, previews=None):
        return 0

    def ask_pixel_size(self, parent, path, default_um):
        return None

    def open_file_name(self, parent, directory):
        return None

    def about(self, parent, title, text):
        print(text)


FILE_FILTER = (
    "Micrographs (*.czi *.zvi *.tif *.tiff *.btf *.png *.jpg *.jpeg);;"
    "ZEN mosaics (*.czi);;AxioVision mosaics (*.zvi);;TIFF (*.tif *.tiff *.btf);;"
    "PNG / JPEG (*.png *.jpg *.jpeg);;All files (*)"
)
