"""Undo/redo of alignment edits: every edit swaps one edit state for another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtGui

if TYPE_CHECKING:
    from ratescope.gui.align.jobs import EditState


class EditCommand(QtGui.QUndoCommand):
    """Swap the controller's edit state; threshold edits of one field merge."""

    def __init__(
        self,
        controller,  # the AlignmentController whose edits these are (not imported: a cycle)
        before: EditState,
        after: EditState,
        text: str,
        merge_field: str | None = None,
    ):
        super().__init__(text)
        self.controller, self.before, self.after = controller, before, after
        self.merge_field = merge_field

    def id(self) -> int:  # noqa: A003 (Qt's name)
        return 3 if self.merge_field else -1

    def mergeWith(self, other: QtGui.QUndoCommand) -> bool:  # noqa: N802
        if getattr(other, "merge_field", None) != self.merge_field:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self.controller.apply_state(self.after)

    def undo(self) -> None:
        self.controller.apply_state(self.before)
