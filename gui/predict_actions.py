"""Measured values and the model card: the user actions of the prediction controller.

:class:`MeasuredActions` is mixed into :class:`gui.predict_controller.PredictionController`
(which provides ``window``, ``panel``, ``ensemble``, ``measured``, the
``measured_changed`` signal and ``_show_error``). Measured values are typed into the
panel's table or loaded from CSV (format: :mod:`gui.predict_measured`); bad input ends in
an error dialog that names the file, line and problem.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import RateScopeError
from ratescope.gui.predict_measured import MeasuredValues, parse_capacity, read_measured_csv


class MeasuredActions:
    """Measured-value editing and the model card dialog (a mixin, see the module)."""

    # -------------------------------------------------------------------- measured
    def set_measured(self, measured: MeasuredValues) -> None:
        """Replace the measured values (table, markers, :attr:`measured_changed`)."""
        self.measured = measured
        if self.panel is not None:
            self.panel.show_measured(measured)
        self.measured_changed.emit(measured)

    def _measured_typed(self, unit: str, row: int, text: str) -> None:
        values = {u: list(v) for u, v in self.measured.values.items()}
        try:
            values[unit][row] = parse_capacity(text)
        except ValueError as exc:
            self.panel.show_measured(self.measured)  # back to the last good value
            self._show_error("Not a capacity", f"Measured {UNITS[unit]} at "
                             f"{C_RATES[row]:g}C: {exc}.")  # fmt: skip
            return
        self.set_measured(MeasuredValues(values, "typed"))

    def load_measured(self, path: str | Path) -> bool:
        """Load measured values from a CSV (:mod:`gui.predict_measured`); errors in a dialog."""
        try:
            measured = read_measured_csv(path)
        except RateScopeError as exc:
            self._show_error("Could not load measured values", f"{path}:\n{exc.reason}")
            return False
        self.set_measured(measured)
        self.window.statusBar().showMessage(f"Measured values from {Path(path).name}", 8000)
        return True

    def load_measured_dialog(self) -> None:
        """Load measured CSV…: a file dialog, then :meth:`load_measured`."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.window, "Load measured capacities", self.window.settings.last_directory,
            "CSV (*.csv);;All files (*)")  # fmt: skip
        if path:
            self.load_measured(path)

    def clear_measured(self) -> None:
        self.set_measured(MeasuredValues())

    # ---------------------------------------------------------------------- other
    def show_card(self):
        """The model card dialog of the loaded ensemble (returned; modeless)."""
        from ratescope.gui.predict_card import ModelCardDialog

        if self.ensemble is None:
            self._show_error("No model card", "The models are not loaded.")
            return None
        dialog = ModelCardDialog(self.ensemble.cards, self.window)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog
