"""Measured capacities beside the prediction: typed into the table, loaded from CSV, cleared.

:class:`MeasuredEditor` is owned by the prediction controller
(:class:`ratescope.gui.predict.controller.PredictionController`), which forwards its
``changed`` signal as ``measured_changed``. The CSV format is
:mod:`ratescope.gui.predict.measured`'s; bad input ends in an error dialog that names the
file, line and problem, and the last good values stay.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import RateScopeError
from ratescope.gui.predict.measured import MeasuredValues, parse_capacity, read_measured_csv


class MeasuredEditor(QtCore.QObject):
    """The measured values of the image on screen and the actions that change them.

    Signals
    -------
    changed(object)
        The :class:`~ratescope.gui.predict.measured.MeasuredValues` after any edit.
    """

    changed = QtCore.Signal(object)

    def __init__(self, window, show_error: Callable[[str, str], None], parent=None):
        super().__init__(parent)
        self.window, self._show_error = window, show_error
        self.values = MeasuredValues()
        self.panel = None

    def attach(self, panel) -> None:
        """Wire the prediction panel's table and buttons to this editor."""
        self.panel = panel
        panel.measured_typed.connect(self.typed)
        panel.load_csv_requested.connect(self.load_dialog)
        panel.clear_measured_requested.connect(self.clear)
        panel.show_measured(self.values)

    def set(self, measured: MeasuredValues) -> None:
        """Replace the measured values (table, plot markers, :attr:`changed`)."""
        self.values = measured
        if self.panel is not None:
            self.panel.show_measured(measured)
        self.changed.emit(measured)

    def typed(self, unit: str, row: int, text: str) -> None:
        """A value typed into the table's cell of ``unit`` at C-rate row ``row``."""
        values = {u: list(v) for u, v in self.values.values.items()}
        try:
            values[unit][row] = parse_capacity(text)
        except ValueError as exc:
            self.panel.show_measured(self.values)  # back to the last good value
            self._show_error("Not a capacity", f"Measured {UNITS[unit]} at "
                             f"{C_RATES[row]:g}C: {exc}.")  # fmt: skip
            return
        self.set(MeasuredValues(values, "typed"))

    def load(self, path: str | Path) -> bool:
        """Load measured values from a CSV; errors in a dialog. True when loaded."""
        try:
            measured = read_measured_csv(path)
        except RateScopeError as exc:
            self._show_error("Could not load measured values", f"{path}:\n{exc.reason}")
            return False
        self.set(measured)
        self.window.statusBar().showMessage(f"Measured values from {Path(path).name}", 8000)
        return True

    def load_dialog(self) -> None:
        """Load measured CSV…: a file dialog, then :meth:`load`."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.window, "Load measured capacities", self.window.settings.last_directory,
            "CSV (*.csv);;All files (*)")  # fmt: skip
        if path:
            self.load(path)

    def clear(self) -> None:
        self.set(MeasuredValues())
