"""The review table of a training data set: one row per mosaic (use, status, tiles kept,
angle, where the alignment came from, the measured C-rates, reasons), and a note listing
the measurements without a mosaic and the data set's problems."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.constants import UNITS

REVIEW_COLUMNS = (
    "Use",
    "File",
    "Electrode",
    "Status",
    "Tiles kept",
    "Angle (°)",
    "Alignment",
    "Measured (C-rates)",
    "Reasons",
)
USE, FILE, ELECTRODE, STATUS, TILES, ANGLE, ALIGNMENT, MEASURED, REASONS = range(9)
STATUS_COLOURS = {"ok": "#d8f0d8", "failed": "#f6d3d3"}
OTHER_STATUS_COLOUR = "#fbe9c8"


def c_rate_text(c: float) -> str:
    """``0.2C``, ``1C``."""
    return f"{c:g}C"


def measured_text(row) -> str:
    """``"Ah/kg: 0.2C 1C 2C 5C"`` per unit measured for a review row, ``"—"`` without one."""
    units = getattr(row, "units", None) or (
        {row.measured.unit: row.measured} if getattr(row, "measured", None) else {}
    )
    parts = []
    for unit in [u for u in UNITS if u in units]:
        rates = " ".join(c_rate_text(c) for c in sorted(units[unit].values))
        parts.append(f"{UNITS[unit]}: {rates}")
    return "; ".join(parts) or "—"


def angle_text(angle_deg: float | None) -> str:
    """``"+0.85"``, ``"0.00"`` (never ``"-0.00"``), ``"—"`` when unknown."""
    if angle_deg is None:
        return "—"
    return "0.00" if abs(angle_deg) < 0.005 else f"{angle_deg:+.2f}"


def usable(review) -> list:
    """Rows of ``review`` that go into the data set (ok and ticked)."""
    return [] if review is None else [r for r in review.rows if r.status == "ok" and r.include]


def electrode_count(review) -> int:
    """Electrodes in the data set (several mosaics of one electrode count once)."""
    return len({r.name for r in usable(review)})


def notes_html(review) -> str:
    """The measurements without a mosaic and the problems, as a short HTML list."""
    items = [
        f"CSV line {m.line}: no mosaic matches <b>{_esc(m.name)}</b>" for m in review.unmatched
    ]
    items += [_esc(p) for p in review.problems]
    if not items:
        return ""
    return "<ul style='margin:0'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ReviewTable(QtWidgets.QTableWidget):
    """One row per mosaic of a :class:`core.train.mosaic_set.Review`; the Use box of an
    ok row sets its ``include``.

    Signals
    -------
    include_changed()
    """

    include_changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(REVIEW_COLUMNS), parent)
        self.review = None
        self.setHorizontalHeaderLabels(REVIEW_COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.itemChanged.connect(self._item_changed)

    def show_review(self, review) -> None:
        """Fill the table from ``review`` (None empties it)."""
        self.review = review
        rows = [] if review is None else review.rows
        self.blockSignals(True)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            angle = angle_text(row.angle_deg)
            values = [
                "",
                row.path.name,
                row.name,
                row.status,
                str(row.tiles_kept),
                angle,
                "saved session" if row.from_session else "automatic",
                measured_text(row),
                "; ".join(row.reasons) or "—",
            ]
            colour = QtGui.QColor(STATUS_COLOURS.get(row.status, OTHER_STATUS_COLOUR))
            for c, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                if c == USE:
                    flags = QtCore.Qt.ItemFlag.ItemIsEnabled
                    if row.status == "ok":
                        flags |= QtCore.Qt.ItemFlag.ItemIsUserCheckable
                    item.setFlags(flags)
                    on = row.status == "ok" and row.include
                    item.setCheckState(
                        QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked
                    )
                elif c in (TILES, ANGLE):
                    item.setTextAlignment(
                        QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                    )
                elif c == STATUS:
                    item.setBackground(colour)
                if c in (FILE, REASONS):
                    item.setToolTip(str(row.path) if c == FILE else text)
                self.setItem(r, c, item)
        self.blockSignals(False)

    def _item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.column() != USE or self.review is None or item.row() >= len(self.review.rows):
            return
        row = self.review.rows[item.row()]
        on = item.checkState() == QtCore.Qt.CheckState.Checked
        if row.status == "ok" and row.include != on:
            row.include = on
            self.include_changed.emit()
