"""The model manager dialog: the embedded and user models with their cards; Activate,
Export…, Import…, Delete….

The dialog only shows and asks; :class:`gui.models.controller.ModelsController` does the
work (off the GUI thread) and refreshes it.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.constants import UNITS
from ratescope.gui.models.cards import card_html, kind_text, mape_text

COLUMNS = ("Model", "Kind", "Units", "Created", "Held-out MAPE (embedded)")


class ModelManager(QtWidgets.QDialog):
    """Lists models; the buttons ask the controller.

    Signals
    -------
    activate_requested(str), export_requested(str), delete_requested(str)
        The selected model's id.
    import_requested()
    """

    activate_requested = QtCore.Signal(str)
    export_requested = QtCore.Signal(str)
    delete_requested = QtCore.Signal(str)
    import_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.entries: list = []
        self.active_id = ""
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self._emit(self.activate_requested))
        self.card = QtWidgets.QTextBrowser()
        self.card.setOpenLinks(False)
        self.card.setMinimumWidth(320)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.activate_button = QtWidgets.QPushButton("Activate")
        self.activate_button.setToolTip("Predict with this model (reports record which)")
        self.export_button = QtWidgets.QPushButton("Export…")
        self.import_button = QtWidgets.QPushButton("Import…")
        self.delete_button = QtWidgets.QPushButton("Delete…")
        self.close_button = QtWidgets.QPushButton("Close")
        self.activate_button.clicked.connect(lambda: self._emit(self.activate_requested))
        self.export_button.clicked.connect(lambda: self._emit(self.export_requested))
        self.delete_button.clicked.connect(lambda: self._emit(self.delete_requested))
        self.import_button.clicked.connect(self.import_requested)
        self.close_button.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.activate_button, self.export_button, self.import_button,
                  self.delete_button):  # fmt: skip
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        split = QtWidgets.QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.card)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        intro = QtWidgets.QLabel(
            "Predictions use the active model (●); reports, CSV and JSON records name it. "
            "Models trained on your electrodes show their error on held-out electrodes "
            "beside the embedded model's on the same electrodes."
        )
        intro.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(1100, 460)
        self._selection_changed()

    def show_entries(self, entries: list, active_id: str, select: str | None = None) -> None:
        """List ``entries`` (embedded first), mark ``active_id``, select ``select`` (or the
        previous selection, or the active model)."""
        keep = select or self.selected_id() or active_id
        self.entries, self.active_id = list(entries), active_id
        self.table.setRowCount(len(self.entries))
        bold = QtGui.QFont()
        bold.setBold(True)
        for r, entry in enumerate(self.entries):
            active = entry.id == active_id
            name = ("● " if active else "   ") + entry.name
            units = ", ".join(UNITS.get(u, u) for u in entry.units)
            values = (name, kind_text(entry), units, entry.created[:16], mape_text(entry))
            for c, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                item.setData(QtCore.Qt.ItemDataRole.UserRole, entry.id)
                if active:
                    item.setFont(bold)
                if c == 0:
                    item.setToolTip(str(entry.path) + ("\n(active)" if active else ""))
                self.table.setItem(r, c, item)
        ids = [e.id for e in self.entries]
        self.table.selectRow(ids.index(keep) if keep in ids else 0)
        self._selection_changed()

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.entries):
            return None
        return self.entries[rows[0].row()].id

    def select(self, model_id: str) -> None:
        ids = [e.id for e in self.entries]
        if model_id in ids:
            self.table.selectRow(ids.index(model_id))

    def selected_entry(self):
        chosen = self.selected_id()
        return next((e for e in self.entries if e.id == chosen), None)

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        self.card.setHtml("" if entry is None else card_html(entry, entry.id == self.active_id))
        self.activate_button.setEnabled(entry is not None and entry.id != self.active_id)
        self.export_button.setEnabled(entry is not None)
        self.delete_button.setEnabled(entry is not None and not entry.embedded)

    def _emit(self, signal) -> None:
        chosen = self.selected_id()
        if chosen is not None:
            signal.emit(chosen)

    def show_status(self, text: str, error: bool = False) -> None:
        """A line under the list (an import refusal in red)."""
        self.status.setStyleSheet("color: #b00020" if error else "")
        self.status.setText(text)
