"""The questions sessions and exports put to the user, in one replaceable object.

Tests replace ``window.session.ask`` with a recorder having the same methods; the
recovery and unsaved-changes questions are only put where someone can answer them (the
interactive dialogs, or a replaced ``ask``).
"""

from __future__ import annotations

from PySide6 import QtWidgets

SESSION_FILTER = "RateScope sessions (*.ratescope);;All files (*)"
SCALES = ("1×", "2×", "3×", "4×")


class SessionDialogs:
    """Modal Qt dialogs for Save/Open Session, recovery, locating files and exports."""

    def save_path(self, parent, title: str, start: str, filters: str) -> str | None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, title, start, filters)
        return path or None

    def open_path(self, parent, title: str, start: str, filters: str) -> str | None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, title, start, filters)
        return path or None

    def folder(self, parent, title: str, start: str) -> str | None:
        return QtWidgets.QFileDialog.getExistingDirectory(parent, title, start) or None

    def yes_no(self, parent, title: str, text: str) -> bool:
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(parent, title, text, buttons.Yes | buttons.No)
        return answer == buttons.Yes

    def unsaved(self, parent, title: str, text: str) -> str:
        """Save / Discard / Cancel before closing: ``"save"``, ``"discard"`` or ``"cancel"``
        (Escape and the title bar's close button cancel)."""
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(
            parent, title, text, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def scale(self, parent) -> int | None:
        """Resolution factor for a PNG export (1-4), or None when cancelled."""
        choice, ok = QtWidgets.QInputDialog.getItem(
            parent, "Export view as PNG", "Resolution (× screen pixels):", SCALES, 1, False
        )
        return SCALES.index(choice) + 1 if ok else None

    def info(self, parent, title: str, text: str) -> None:
        QtWidgets.QMessageBox.information(parent, title, text)
