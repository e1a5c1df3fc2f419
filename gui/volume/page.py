"""The 3D workspace's entry in the main window, light enough for the start-up path.

:func:`install` adds the "3D Volume" page (View ▸ Workspace, Ctrl+3) and File ▸ Open
Volume…; the real :class:`gui.volume.workspace.VolumeWorkspace` (numpy, pyqtgraph) is
built the first time a volume is opened. :func:`is_volume_path` tells the window's
open path (drops, recent files, command line) which files belong here: HDF5 files, folders,
and TIFF files whose first series is a single-channel stack of several pages.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".he5", ".nxs"}
TIFF_SUFFIXES = {".tif", ".tiff"}
PAPER_VOXEL_UM = 0.398
"""The paper's voxel edge (µm), offered when a volume does not state its voxel size."""
VOLUME_FILTER = (
    "Volumes (*.h5 *.hdf5 *.hdf *.tif *.tiff);;HDF5 (*.h5 *.hdf5 *.hdf);;"
    "Multi-page TIFF (*.tif *.tiff);;All files (*)"
)


def is_volume_path(path: str | Path) -> bool:
    """True for a folder, an HDF5 file, or a TIFF holding a single-channel z-stack."""
    path = Path(path)
    if path.is_dir():
        return True
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return True
    if suffix not in TIFF_SUFFIXES or not path.is_file():
        return False
    try:
        import tifffile

        with tifffile.TiffFile(path) as tf:
            shape = [s for s in tf.series[0].shape if s != 1]
    except Exception:  # not readable as TIFF: leave it to the mosaic opener's error
        return False
    return len(shape) == 3 and shape[-1] not in (3, 4) and shape[0] > 1


class VolumeQuestions:
    """The questions the 3D workspace asks (modal Qt dialogs); tests substitute answers."""

    def choose_dataset(self, parent, path: Path, names: list[str]) -> str | None:
        """The HDF5 dataset to open, or None when the user cancels."""
        choice, ok = QtWidgets.QInputDialog.getItem(
            parent,
            "Choose a volume",
            f"{path.name} holds {len(names)} volumes. Open which one?",
            names,
            0,
            False,
        )
        return choice if ok and choice in names else None

    def ask_voxel_size(self, parent, path: Path, default_um: float) -> float | None:
        """Voxel edge in µm for a volume without one, or None to go on without."""
        value, ok = QtWidgets.QInputDialog.getDouble(
            parent,
            "Voxel size",
            f"{path.name} does not say how large its voxels are.\n"
            f"Voxel edge in µm (the paper's tomograms: {PAPER_VOXEL_UM}):",
            default_um,
            0.0001,
            10000.0,
            4,
        )
        return float(value) if ok else None

    def open_volume_name(self, parent, directory: str) -> str | None:
        """A volume file chosen in the file dialog, or None."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            parent, "Open volume", directory, VOLUME_FILTER
        )
        return path or None

    def save_name(self, parent, title: str, suggestion: str, filters: str) -> str | None:
        """A file name to write, or None."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, title, suggestion, filters)
        return path or None


class VolumeEntry(QtCore.QObject):
    """Owns the 3D page of a window; builds the workspace on first use.

    Parameters
    ----------
    window : MainWindow
    questions : VolumeQuestions, optional
    model_path : path, optional
        CAE weights (default: the embedded model).
    """

    def __init__(
        self,
        window,
        questions: VolumeQuestions | None = None,
        model_path: str | Path | None = None,
    ):
        super().__init__(window)
        self.window = window
        self.questions = questions or VolumeQuestions()
        self.model_path = model_path
        self.volume_path: Path | None = None
        self.page = QtWidgets.QWidget()
        self.page.setObjectName("VolumePage")
        QtWidgets.QVBoxLayout(self.page).setContentsMargins(0, 0, 0, 0)
        self._workspace: QtWidgets.QWidget | None = None  # the VolumeWorkspace
        window.add_workspace("volume", self.page, "3D Volume", "Ctrl+3")
        self.open_action = QtGui.QAction("Open &Volume…", window)
        self.open_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+O"))
        self.open_action.triggered.connect(self.open_dialog)
        window.file_menu.insertAction(window.file_menu_end, self.open_action)

    @property
    def workspace(self) -> QtWidgets.QWidget:
        """The 3D workspace widget, created on first use (pyqtgraph loads then)."""
        if self._workspace is None:
            from ratescope.gui.volume.workspace import VolumeWorkspace

            w = self.window
            self._workspace = VolumeWorkspace(
                w.runner, w.dialogs, w.settings, self.questions, self.model_path
            )
            self._workspace.opened.connect(self._opened)
            self.page.layout().addWidget(self._workspace)
        return self._workspace

    def open(self, path: str | Path, dataset: str | None = None) -> None:
        """Show the 3D page and open the volume at ``path``."""
        self.window.show_workspace("volume")
        self.workspace.open(path, dataset)
        self.workspace.setFocus()

    def _opened(self, volume) -> None:
        """Title and recent files, as for a mosaic."""
        w, path = self.window, volume.source.path
        self.volume_path = path
        w._update_title()
        w.settings.add_recent_file(path)
        w.refresh_recent_files()

    def open_dialog(self) -> None:
        """File ▸ Open Volume…"""
        path = self.questions.open_volume_name(self.window, self.window.settings.last_directory)
        if path:
            self.open(path)


def install(window, **kwargs) -> VolumeEntry:
    """Add the 3D workspace page and File ▸ Open Volume… to ``window``."""
    return VolumeEntry(window, **kwargs)
