"""The review table of a training data set: one row per mosaic (status, tiles kept,
angle, where the alignment came from, the measured C-rates, reasons), and a note listing
the measurements without a mosaic and the data set's problems."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.constants import UNITS

REVIEW_COLUMNS = (
    "File",
    "Status",
    "Tiles kept",
    "Angle (°)",
    "Alignment",
    "Measured (C-rates)",
    "Reasons",
)
STATUS_COLOURS = {"ok": "#d8f0d8", "failed": "#f6d3d3"}
OTHER_STATUS_COLOUR = "#fbe9c8"


def c_rate_text(c: float) -> str:
    """``0.2C``, ``1C``."""
    return f"{c:g}C"


def measured_text(row) -> str:
    """``"Ah/kg: 0.2C 1C 2C 5C"`` for a review row's measurement, ``"—"`` without one."""
    m = getattr(row, "measured", None)
    if not m:
        return "—"
    parts = []
    for one in m if isinstance(m, list | tuple) else [m]:
        rates = " ".join(c_rate_text(c) for c in sorted(one.values))
        parts.append(f"{UNITS.get(one.unit, one.unit)}: {rates}")
    return "; ".join(parts)


def ok_count(review) -> int:
    """Mosaics of ``review`` usable for training (status ``ok``)."""
    return sum(1 for r in review.rows if r.status == "ok")


def summary_text(review) -> str:
    """One line: how many mosaics are usable, tiles kept, what is left out."""
    rows = review.rows
    ok = [r for r in rows if r.status == "ok"]
    tiles = sum(r.tiles_kept for r in ok)
    text = f"{len(ok)} of {len(rows)} mosaics usable, {tiles} tiles"
    sessions = sum(1 for r in rows if r.from_session)
    if sessions:
        text += f"; {sessions} alignment{'s' * (sessions != 1)} from saved sessions"
    if review.unmatched:
        n = len(review.unmatched)
        text += f"; {n} measurement{'s' * (n != 1)} without a mosaic"
    return text


def notes_html(review) -> str:
    """The measurements without a mosaic and the problems, as a short HTML list."""
    items = [f"CSV line {m.line}: no mosaic named <b>{_esc(m.name)}</b>" for m in review.unmatched]
    items += [_esc(p) for p in review.problems]
    if not items:
        return ""
    return "<ul style='margin:0'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ReviewTable(QtWidgets.QTableWidget):
    """One row per mosaic of a :class:`core.train.mosaic_set.Review`."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, len(REVIEW_COLUMNS), parent)
        self.setHorizontalHeaderLabels(REVIEW_COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def show_review(self, review) -> None:
        """Fill the table from ``review`` (None empties it)."""
        rows = [] if review is None else review.rows
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            angle = "—" if row.angle_deg is None else f"{row.angle_deg:+.2f}"
            values = [
                row.path.name,
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
                if c in (2, 3):
                    item.setTextAlignment(
                        QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                    )
                if c == 1:
                    item.setBackground(colour)
                if c in (0, 6):
                    item.setToolTip(str(row.path) if c == 0 else text)
                self.setItem(r, c, item)

    def column_texts(self, column: int) -> list[str]:
        """The texts of one column, top to bottom (tests)."""
        return [self.item(r, column).text() for r in range(self.rowCount())]
