"""The prediction panel's widgets: status, OOD warning, two rate plots, the value table.

A view only: :class:`gui.predict.controller.PredictionController` feeds it
(:meth:`PredictPanel.show_prediction`, :meth:`PredictPanel.show_measured`) and listens to
its signals (typed measured values, Load CSV, Clear, Model card).

Table columns: C-rate | predicted Ah/kg (mean ± sd) | predicted Ah/L | measured Ah/kg |
measured Ah/L | physics Ah/kg | physics Ah/L; the two measured columns are editable (one
row per C-rate). Under the plots, the physics cross-check (:mod:`core.measure`): what was
measured on the coating, and whether the CNN and the physics agree (amber when not), with
a "Show phases" box that draws the measured phases on the mosaic.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.constants import C_RATES, UNITS
from ratescope.gui.predict.plot import RatePlot

MEASURED_COLUMN = {"specific": 3, "volumetric": 4}
PREDICTED_COLUMN = {"specific": 1, "volumetric": 2}
PHYSICS_COLUMN = {"specific": 5, "volumetric": 6}
AGREE_STYLE = "QLabel { color: #1b5e20; }"
DISAGREE_STYLE = ("QLabel { background: #fff3e0; color: #7a3d00; border: 2px solid #ef6c00;"
                  " border-radius: 4px; padding: 6px; }")  # fmt: skip
OOD_STYLE = ("QLabel { background: #fde2e1; color: #8a1111; border: 2px solid #c62828;"
             " border-radius: 4px; padding: 6px; font-weight: bold; }")  # fmt: skip
NOTICE_STYLE = "QLabel { color: #7a5a00; }"


def value_text(mean: float, std: float) -> str:
    """How a predicted value reads in the table: ``"152.3±1.2"``, ``"437.3±31"``
    (compact: seven columns share the dock)."""
    return f"{mean:.1f}±{std:.1f}" if std < 10 else f"{mean:.1f}±{std:.0f}"


class PredictPanel(QtWidgets.QWidget):
    """Rate curves in both units, their table, measured values and the OOD warning.

    Signals
    -------
    measured_typed(str, int, str)
        The user edited a measured cell: unit, C-rate index, the text typed.
    load_csv_requested, clear_measured_requested, card_requested
        The buttons.
    """

    measured_typed = QtCore.Signal(str, int, str)
    phases_toggled = QtCore.Signal(bool)
    load_csv_requested = QtCore.Signal()
    clear_measured_requested = QtCore.Signal()
    card_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.status_label = QtWidgets.QLabel("Accept the alignment to predict.")
        self.status_label.setWordWrap(True)
        self.card_button = QtWidgets.QPushButton("Model card…")
        self.card_button.setToolTip("What the models were trained on, and how well they do")
        self.card_button.setEnabled(False)
        self.card_button.clicked.connect(self.card_requested)
        self.data_label = QtWidgets.QLabel("Models trained on synthetic, physics-labelled data")
        self.data_label.setStyleSheet("QLabel { color: #555; font-size: 8pt; }")
        self.notice_label = QtWidgets.QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet(NOTICE_STYLE)
        self.notice_label.hide()
        self.ood_label = QtWidgets.QLabel()
        self.ood_label.setWordWrap(True)
        self.ood_label.setStyleSheet(OOD_STYLE)
        self.ood_label.hide()

        self.plots = {u: RatePlot(u) for u in UNITS}
        for plot in self.plots.values():
            plot.setMinimumHeight(190)
        self.tiles_check = QtWidgets.QCheckBox("Per-tile curves")
        self.tiles_check.setChecked(True)
        self.tiles_check.setToolTip("One thin curve per tile (the spread across the electrode)")
        self.tiles_check.toggled.connect(self.set_tiles_visible)

        self.physics_label = QtWidgets.QLabel()  # one line; the details in its tooltip
        self.physics_label.setWordWrap(True)
        self.physics_label.hide()
        self.phases_check = QtWidgets.QCheckBox("Show phases")
        self.phases_check.setToolTip(
            "Draw the measured phases on the mosaic: active material (green) and pores with "
            "carbon-binder (magenta), over the coating that was measured"
        )
        self.phases_check.setEnabled(False)
        self.phases_check.toggled.connect(self.phases_toggled)

        self.table = QtWidgets.QTableWidget(len(C_RATES), 7)
        self.table.setHorizontalHeaderLabels(
            ["C-rate", *(f"Predicted\n{s}" for s in UNITS.values()),
             *(f"Measured\n{s}" for s in UNITS.values()),
             *(f"Physics\n{s}" for s in UNITS.values())])  # fmt: skip
        self.table.verticalHeader().hide()
        font = self.table.font()  # seven columns share the dock: a size smaller
        font.setPointSizeF(font.pointSizeF() * 0.88)
        self.table.setFont(font)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Type measured capacities into the two right-hand columns")
        for row, c in enumerate(C_RATES):
            self._set_cell(row, 0, f"{c:g}C", editable=False)
            for unit in UNITS:
                self._set_cell(row, PREDICTED_COLUMN[unit], "", editable=False)
                self._set_cell(row, MEASURED_COLUMN[unit], "", editable=True)
                self._set_cell(row, PHYSICS_COLUMN[unit], "", editable=False)
        self.table.resizeRowsToContents()
        rows_height = sum(self.table.rowHeight(r) for r in range(len(C_RATES)))
        self.table.setFixedHeight(rows_height + header.sizeHint().height() + 4)
        self.table.itemChanged.connect(self._item_changed)

        self.load_button = QtWidgets.QPushButton("Load measured CSV…")
        self.load_button.setToolTip("Columns c_rate, capacity, unit (Ah/kg or Ah/L)")
        self.load_button.clicked.connect(self.load_csv_requested)
        self.clear_button = QtWidgets.QPushButton("Clear measured")
        self.clear_button.clicked.connect(self.clear_measured_requested)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.status_label, 1)
        top.addWidget(self.card_button)
        under = QtWidgets.QHBoxLayout()
        under.addWidget(self.data_label, 1)
        under.addWidget(self.tiles_check)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(under)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.ood_label)
        for plot in self.plots.values():
            layout.addWidget(plot, 1)
        physics = QtWidgets.QHBoxLayout()
        physics.addWidget(self.physics_label, 1)
        physics.addWidget(self.phases_check, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addLayout(physics)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def _set_cell(self, row: int, col: int, text: str, editable: bool) -> None:
        item = QtWidgets.QTableWidgetItem(text)
        flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
        if editable:
            flags |= QtCore.Qt.ItemFlag.ItemIsEditable
        item.setFlags(flags)
        item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.table.setItem(row, col, item)

    # --------------------------------------------------------------------- display
    def show_prediction(self, prediction, cards: dict | None = None) -> None:
        """Plot and tabulate a :class:`core.predict.Prediction` (None clears); ``cards``
        (the models' cards) give the CNN's held-out error to the physics cross-check."""
        self.table.blockSignals(True)
        try:
            for unit, plot in self.plots.items():
                up = None if prediction is None else prediction.units.get(unit)
                plot.show_prediction(up)
                flagged = up is not None and up.ood
                for row in range(len(C_RATES)):
                    text = "" if up is None else value_text(up.mean[row], up.std[row])
                    item = self.table.item(row, PREDICTED_COLUMN[unit])
                    item.setText(f"({text})" if flagged else text)
                    item.setForeground(QtGui.QColor(140, 140, 140) if flagged else
                                       self.table.palette().text().color())  # fmt: skip
                    item.setToolTip("Out of distribution: not a result — "
                                    + "; ".join(up.ood_reasons) if flagged else "")  # fmt: skip
        finally:
            self.table.blockSignals(False)
        self.show_ood(ood_text(prediction))
        self.show_physics(prediction, cards)

    def show_physics(self, prediction, cards: dict | None = None) -> None:
        """The physics curves, column and cross-check of ``prediction`` (None clears)."""
        from ratescope.core.measure.physics import cross_check, summary_lines

        est = None if prediction is None else prediction.physics
        checks = cross_check(prediction, est, cards) if est is not None else []
        self.table.blockSignals(True)
        try:
            for unit, plot in self.plots.items():
                curve = None if est is None else est.curves.get(unit)
                plot.show_physics(curve)
                for row in range(len(C_RATES)):
                    text = "" if curve is None else value_text(curve.mean[row], curve.sd[row])
                    self.table.item(row, PHYSICS_COLUMN[unit]).setText(text)
        finally:
            self.table.blockSignals(False)
        if est is None:
            self.physics_label.hide()
            self.phases_check.setEnabled(False)
            return
        self.physics_label.setText(physics_line(est, checks))
        self.physics_label.setToolTip("\n".join(summary_lines(est, checks)))
        disagree = any(not c.agree for c in checks)
        self.physics_label.setStyleSheet(DISAGREE_STYLE if disagree else AGREE_STYLE)
        self.physics_label.show()
        self.phases_check.setEnabled(bool(est.strips))

    def show_measured(self, measured) -> None:
        """Fill the measured columns and markers from a :class:`MeasuredValues`."""
        self.table.blockSignals(True)
        try:
            for unit, col in MEASURED_COLUMN.items():
                for row, v in enumerate(measured.values[unit]):
                    self.table.item(row, col).setText("" if v is None else f"{v:g}")
                self.plots[unit].show_measured(*measured.points(unit))
        finally:
            self.table.blockSignals(False)

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def show_notice(self, text: str) -> None:
        """A yellow line under the status (e.g. a stale prediction); empty hides it."""
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))

    def show_ood(self, text: str) -> None:
        """The out-of-distribution warning (empty hides it)."""
        self.ood_label.setText(text)
        self.ood_label.setVisible(bool(text))

    def set_tiles_visible(self, visible: bool) -> None:
        for plot in self.plots.values():
            plot.set_tiles_visible(visible)
        if self.tiles_check.isChecked() != visible:
            self.tiles_check.setChecked(visible)

    def _item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        for unit, col in MEASURED_COLUMN.items():
            if item.column() == col:
                self.measured_typed.emit(unit, item.row(), item.text())


def physics_line(estimate, checks) -> str:
    """The physics cross-check in one line: what was measured and the verdict."""
    m = estimate.micro
    if m is None or not estimate.curves:
        return "Physics: " + "; ".join(estimate.notes or ["not available"])
    head = (f"Physics: porosity {m.porosity:.3f} ± {m.porosity_sd:.3f} · d50 {m.d50_um:.1f} µm"
            f" · {m.thickness_um:.0f} µm thick")  # fmt: skip
    bad = [c for c in checks if not c.agree]
    if bad:
        where = ", ".join(f"{c.worst_rate:g}C {UNITS[c.unit]}" for c in bad)
        return f"⚠ {head} — disagrees with the CNN at {where}: see the tooltip"
    return f"✓ {head} — agrees with the CNN" if checks else head


def ood_text(prediction) -> str:
    """The warning shown for an out-of-distribution prediction ("" when none)."""
    if prediction is None or not prediction.ood:
        return ""
    return ("⚠ Out of distribution — not a result. This image does not look like the "
            "electrodes the model was trained on; the grey curves are shown for reference "
            "only.\n" + "\n".join(f"• {r}" for r in ood_reasons(prediction)))  # fmt: skip


def ood_reasons(prediction) -> list[str]:
    """The distinct reasons of both units' flags, in words, each once."""
    from ratescope.core.predict.predict import reasons_of

    return reasons_of(prediction)
