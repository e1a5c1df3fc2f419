"""The alignment panel: angle read-out, straightened preview, thresholds, Accept.

Widgets only; :class:`gui.align.controller.AlignmentController` fills them and reacts to them.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6 import QtCore, QtWidgets

from ratescope.core.align import Thresholds
from ratescope.gui.align.preview import StraightPreview

THRESHOLD_FIELDS = {
    # field: (label, minimum, maximum, step, decimals, tooltip)
    "margin_foil_px": (
        "Margin to foil (px)",
        0,
        500,
        1,
        0,
        "Clearance of the crop from the collector edge.",
    ),
    "margin_surface_px": (
        "Margin to surface (px)",
        0,
        500,
        1,
        0,
        "Clearance of the crop from the deepest epoxy of the surface.",
    ),
    "stride_px": (
        "Tile stride (px)",
        32,
        4096,
        16,
        0,
        "Distance between tile left edges (672 = no overlap).",
    ),
    "foil_band_fraction": (
        "Foil: band share",
        0,
        1,
        0.02,
        2,
        "Reject as foil when a 6-row band is at least this bright.",
    ),
    "epoxy_probe_px": (
        "Epoxy: probe width (px)",
        0,
        500,
        2,
        0,
        "Mount epoxy is what a probe this wide, lowered from above, reaches between grains.",
    ),
    "epoxy_band_fraction": (
        "Epoxy: band share",
        0,
        1,
        0.01,
        2,
        "Reject as epoxy when more of a 24-row band than this is mount epoxy (0: any).",
    ),
    "epoxy_edge_fraction": (
        "Epoxy: top edge share",
        0,
        1,
        0.01,
        2,
        "... or more of a window on the tile's top edge than this.",
    ),
    "void_min_diameter_px": (
        "Void: min. diameter (px)",
        1,
        1000,
        2,
        0,
        "Reject holes darker than the epoxy at least this wide.",
    ),
    "scratch_min_length_px": (
        "Scratch: min. length (px)",
        10,
        2000,
        10,
        0,
        "Straight dark/bright ridges at least this long ...",
    ),
    "scratch_min_score": (
        "Scratch: min. score",
        0,
        1,
        0.05,
        2,
        "... covering at least this share of their length.",
    ),
    "scratch_line_contrast": (
        "Scratch: line contrast",
        0,
        1,
        0.01,
        2,
        "Relative contrast a scratch keeps against its sides.",
    ),
    "focus_min_ratio": (
        "Focus: min. detail ratio",
        0,
        1,
        0.05,
        2,
        "Reject tiles with less fine detail than this share of the median.",
    ),
}


class ThresholdForm(QtWidgets.QWidget):
    """One spin box per :class:`Thresholds` field.

    Signals
    -------
    changed(str, object)
        The field's name and its new value, once the user has finished typing.
    """

    changed = QtCore.Signal(str, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        grid = QtWidgets.QGridLayout(self)  # two columns of label + box: a short dock
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setVerticalSpacing(2)
        grid.setHorizontalSpacing(8)
        names = [f.name for f in fields(Thresholds)]
        rows = (len(names) + 1) // 2
        self.boxes: dict[str, QtWidgets.QAbstractSpinBox] = {}
        for k, name in enumerate(names):
            label, lo, hi, step, decimals, tip = THRESHOLD_FIELDS.get(
                name, (name.replace("_", " ").capitalize(), 0, 1e6, 0.05, 3, "")
            )  # a field core adds later still gets a box
            if name == "stride_px":
                box = QtWidgets.QSpinBox()
            else:
                box = QtWidgets.QDoubleSpinBox(decimals=decimals)
            box.setRange(lo, hi)
            box.setSingleStep(step)
            box.setKeyboardTracking(False)  # typed values count once, on Enter or focus-out
            box.setToolTip(tip)
            box.setObjectName(name)
            box.valueChanged.connect(lambda value, name=name: self._changed(name, value))
            row, col = k % rows, 2 * (k // rows)
            text = QtWidgets.QLabel(label)
            text.setToolTip(tip)
            grid.addWidget(text, row, col)
            grid.addWidget(box, row, col + 1)
            self.boxes[name] = box
        grid.setRowStretch(rows, 1)
        self._setting = False

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Show ``thresholds`` without reporting changes."""
        self._setting = True
        try:
            for name, box in self.boxes.items():
                box.setValue(getattr(thresholds, name))
        finally:
            self._setting = False

    def _changed(self, name: str, value) -> None:
        if not self._setting:
            self.changed.emit(name, int(value) if name == "stride_px" else float(value))


class AlignPanel(QtWidgets.QWidget):
    """What the dock shows: read-outs and buttons on top, preview, thresholds aside."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.angle_label = QtWidgets.QLabel("Collector angle: —")
        self.angle_label.setObjectName("angleLabel")
        font = self.angle_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.angle_label.setFont(font)
        self.summary_label = QtWidgets.QLabel("")
        self.notice_label = QtWidgets.QLabel("")
        self.notice_label.setStyleSheet("color: #b3261e; font-weight: bold;")
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)
        self.draw_button = QtWidgets.QPushButton("Draw collector")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Click the foil's left end, then its right end, on the mosaic.")
        self.redetect_button = QtWidgets.QPushButton("Re-detect")
        self.redetect_button.setToolTip("Forget the edits and detect the lines again.")
        self.undo_button = QtWidgets.QToolButton()
        self.redo_button = QtWidgets.QToolButton()
        self.accept_button = QtWidgets.QPushButton("Accept")
        self.accept_button.setDefault(True)
        self.accept_button.setToolTip("Use the kept tiles for the prediction.")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.angle_label)
        top.addSpacing(16)
        top.addWidget(self.summary_label, 1)
        for button in (
            self.draw_button,
            self.redetect_button,
            self.undo_button,
            self.redo_button,
            self.accept_button,
        ):
            top.addWidget(button)

        self.preview = StraightPreview()
        self.preview.setMinimumHeight(40)
        self.thresholds = ThresholdForm()
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.thresholds)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.thresholds.sizeHint().width() + 16)
        box = QtWidgets.QGroupBox("Tile thresholds (hover for help)")
        QtWidgets.QVBoxLayout(box).addWidget(scroll)
        box.layout().setContentsMargins(2, 2, 2, 2)

        body = QtWidgets.QHBoxLayout()
        body.addWidget(self.preview, 1)
        body.addWidget(box)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.notice_label)
        layout.addLayout(body, 1)

    def show_notice(self, text: str) -> None:
        """A message the user must not miss (e.g. no collector found); '' hides it."""
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))
