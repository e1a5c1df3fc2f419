"""The explanation panel's widgets: selectors, Compute/Cancel, progress, opacity, the view.

A view only: :class:`gui.explain.controller.ExplanationController` fills the tile and
fold lists, runs the computation and feeds :meth:`ExplainPanel.show_result`. Changing the
C-rate or the fold redraws at once (every fold and C-rate is computed together); changing
the tile, method or unit needs Compute. :func:`dock_panel` puts it in the window.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import C_RATES, UNITS
from ratescope.gui.explain.jobs import METHOD_NAMES
from ratescope.gui.explain.view import DEFAULT_OPACITY, TileOverlayView

LEGEND = (
    "<span style='color:#c00206'><b>Red</b></span> raises the predicted capacity, "
    "<span style='color:#2151db'><b>blue</b></span> lowers it; white: no effect."
)
MAP_LABELS = {
    "gradram": "Grad-RAM (a.u.)",
    "guided": "gradient (a.u.)",
    "occlusion": "Δ capacity ({u})",
}
"""What the colour bar measures, per method ({u}: the unit's symbol)."""
DOCK_HEIGHT = 340
"""Initial height of the bottom dock area once the explanation shows (px)."""


class ExplainPanel(QtWidgets.QWidget):
    """Controls on the left, the tile with its map on the right.

    Signals
    -------
    compute_requested, cancel_requested, export_requested
        The buttons.
    display_changed
        The C-rate or fold selector changed (redraw from the result already computed).
    """

    compute_requested = QtCore.Signal()
    cancel_requested = QtCore.Signal()
    export_requested = QtCore.Signal()
    display_changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.tile_combo = QtWidgets.QComboBox()
        self.method_combo = QtWidgets.QComboBox()
        for key, name in METHOD_NAMES.items():
            self.method_combo.addItem(name, key)
        self.method_combo.setCurrentIndex(self.method_combo.findData("occlusion"))
        self.c_rate_combo = QtWidgets.QComboBox()
        for i, c in enumerate(C_RATES):
            self.c_rate_combo.addItem(f"{c:g}C", i)
        self.unit_combo = QtWidgets.QComboBox()
        for key, symbol in UNITS.items():
            self.unit_combo.addItem(symbol, key)
        self.fold_combo = QtWidgets.QComboBox()
        self.set_folds(0)
        self.compute_button = QtWidgets.QPushButton("Compute")
        self.compute_button.setToolTip("Compute the map of this tile, method and unit "
                                       "for every C-rate and fold (in the background)")  # fmt: skip
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity_slider.setToolTip("Opacity of the map over the tile")
        self.on_mosaic_check = QtWidgets.QCheckBox("Show on &mosaic")
        self.on_mosaic_check.setToolTip("Draw the map over its tile in the mosaic view too")
        self.export_button = QtWidgets.QPushButton("Export PNG…")
        self.export_button.setEnabled(False)
        self.status_label = QtWidgets.QLabel("Accept the alignment to explain its tiles.")
        self.status_label.setStyleSheet("QLabel { color: #555; }")
        self.status_label.setWordWrap(True)
        self.view = TileOverlayView()
        self.scale_label = QtWidgets.QLabel()  # what the colour bar measures
        self.scale_label.setStyleSheet("QLabel { font-weight: bold; }")
        self.legend_label = QtWidgets.QLabel(LEGEND)
        self.legend_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        self._layout()
        self.compute_button.clicked.connect(self.compute_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.c_rate_combo.currentIndexChanged.connect(self.display_changed)
        self.fold_combo.currentIndexChanged.connect(self.display_changed)
        self.opacity_slider.valueChanged.connect(lambda v: self.view.set_opacity(v / 100))
        self.opacity_slider.valueChanged.connect(self.display_changed)
        self.on_mosaic_check.toggled.connect(self.display_changed)

    def _layout(self) -> None:
        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in (("Tile", self.tile_combo), ("Method", self.method_combo),
                              ("C-rate", self.c_rate_combo), ("Unit", self.unit_combo),
                              ("Model", self.fold_combo)):  # fmt: skip
            form.addRow(label, widget)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(self.on_mosaic_check)
        form.addRow(self.export_button)
        controls = QtWidgets.QWidget()
        controls.setLayout(form)
        controls.setMaximumWidth(300)
        right = QtWidgets.QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.view, 1)
        below = QtWidgets.QHBoxLayout()
        below.addWidget(self.scale_label)
        below.addWidget(self.legend_label)
        below.addStretch(1)
        below.addWidget(self.status_label)
        right.addLayout(below)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(controls)
        layout.addLayout(right, 1)

    # ---------------------------------------------------------------- selections
    @property
    def method(self) -> str:
        return self.method_combo.currentData()

    @property
    def unit(self) -> str:
        return self.unit_combo.currentData()

    @property
    def c_index(self) -> int:
        return int(self.c_rate_combo.currentData())

    @property
    def fold(self) -> int | None:
        """None for the ensemble mean, else the fold's index."""
        return self.fold_combo.currentData()

    @property
    def tile_index(self) -> int:
        """Index among the kept tiles (-1 when there is none)."""
        return self.tile_combo.currentIndex()

    def set_tiles(self, numbers: list[int]) -> None:
        """List the kept tiles (``numbers``: their indices among all tiles)."""
        old = self.tile_combo.blockSignals(True)
        self.tile_combo.clear()
        for k, n in enumerate(numbers):
            self.tile_combo.addItem(f"Tile {n + 1} (kept #{k + 1})", k)
        self.tile_combo.blockSignals(old)

    def set_folds(self, n: int) -> None:
        """The fold selector: the ensemble mean, then each of ``n`` fold models."""
        current = self.fold_combo.currentData()
        old = self.fold_combo.blockSignals(True)
        self.fold_combo.clear()
        label = "Ensemble mean" if not n else f"Mean of {n} fold{'s' * (n != 1)}"
        self.fold_combo.addItem(label, None)
        for i in range(n):
            self.fold_combo.addItem(f"Fold {i + 1}", i)
        index = self.fold_combo.findData(current) if current is not None else 0
        self.fold_combo.setCurrentIndex(max(index, 0))
        self.fold_combo.blockSignals(old)

    # ------------------------------------------------------------------- state
    def set_running(self, running: bool) -> None:
        """Compute disabled and Cancel enabled while a computation runs."""
        self.compute_button.setEnabled(not running and self.tile_combo.count() > 0)
        self.cancel_button.setEnabled(running)
        if not running:
            self.progress.setValue(0)

    def show_progress(self, fraction: float) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def show_result(self, result) -> None:
        """Draw the map of :class:`gui.explain.jobs.ExplainResult` at the selected
        C-rate and fold (None: clear the view)."""
        if result is None:
            self.view.show_message("Accept the alignment, then compute a map.")
            self.scale_label.setText("")
            self.export_button.setEnabled(False)
            return
        self.view.show_tile(result.tile)
        m = result.map(self.c_index, self.fold)
        self.view.show_map(m)
        self.scale_label.setText(MAP_LABELS[result.method].format(u=UNITS[result.unit]) + ":")
        self.export_button.setEnabled(True)


def dock_panel(window, panel: ExplainPanel) -> QtWidgets.QDockWidget:
    """An "Explanation" dock holding ``panel`` at the bottom of ``window`` (a
    :class:`gui.shell.main_window.MainWindow`), tabbed with the alignment dock if there is one."""
    dock = QtWidgets.QDockWidget("Explanation")
    dock.setObjectName("ExplanationDock")
    dock.setWidget(panel)
    window.add_panel(dock, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
    align_dock = getattr(window.alignment, "dock", None)
    if align_dock is not None:
        window.tabifyDockWidget(align_dock, dock)
    window.resizeDocks([dock], [DOCK_HEIGHT], QtCore.Qt.Orientation.Vertical)
    return dock
