"""Alignment confirmation (the step before prediction): detect, show, edit, undo, accept.

``install_alignment(window)`` adds an Alignment menu and, once a mosaic opens, the
collector/surface lines over the mosaic (:mod:`gui.align.overlay`) and a bottom dock
(:mod:`gui.align.panel`) with the angle, the straightened preview and its tiles, the
threshold form and Accept. Detection starts as soon as a mosaic opens.

How it works: the user's decisions are an :class:`gui.align.jobs.EditState`; every edit
(line drag, hand-drawn line, tile toggle, threshold, re-detect) is a command on a
:class:`QUndoStack` that swaps one state for another. A state's alignment runs off the
GUI thread through the window's runner, one run at a time: edits made meanwhile wait and
only the latest is run. Results are cached by their geometry, so undo/redo and tile
toggles show at once.

For the next step: :attr:`AlignmentController.alignment_accepted` carries the accepted
:class:`core.align.Alignment` (mosaic pixels); ``controller.source.tiles(alignment)``
cuts its kept tiles, in a worker, from the pixels it was made on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.gui.align.undo import EditCommand

if TYPE_CHECKING:  # numpy, core.align and pyqtgraph load with the first mosaic
    from ratescope.core.align import Alignment
    from ratescope.core.io.mosaic import Mosaic
    from ratescope.gui.align.jobs import AlignResult, EditState
    from ratescope.gui.align.overlay import AlignOverlay
    from ratescope.gui.align.panel import AlignPanel

LAYOUT_FIELDS = {"margin_foil_px", "margin_surface_px", "stride_px"}
"""Thresholds that move the tiles (the user's tile decisions are dropped when they change)."""

DOCK_HEIGHT = 250
"""Initial height of the alignment dock (px): the mosaic keeps most of the window."""
LOW_CONFIDENCE = 0.5
"""Below this detection confidence the user is asked to check the collector line."""


class AlignmentController(QtCore.QObject):
    """Runs and edits the alignment of the window's current mosaic.

    Signals
    -------
    alignment_changed(object)
        The alignment now shown (an :class:`~core.align.Alignment`, or None).
    alignment_accepted(object)
        The user pressed Accept: the final :class:`~core.align.Alignment`, overrides in.
    """

    alignment_changed = QtCore.Signal(object)
    alignment_accepted = QtCore.Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.undo_stack = QtGui.QUndoStack(self)
        self.state: EditState | None = None
        self.alignment: Alignment | None = None
        self.accepted: Alignment | None = None
        self.source = None
        self.overlay: AlignOverlay | None = None
        self.panel: AlignPanel | None = None
        self.dock: QtWidgets.QDockWidget | None = None
        self._cache: dict[str, AlignResult] = {}
        self._task = None
        self._pending = False
        self._build_menu()
        window.mosaic_opened.connect(self.start)
        window.runner.busy_changed.connect(self._runner_changed)

    # ------------------------------------------------------------------ construction
    def _build_menu(self) -> None:
        menu = QtWidgets.QMenu("&Alignment", self.window)
        self.window.menuBar().insertMenu(self.window.help_menu.menuAction(), menu)
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QtGui.QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(
            [QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")]
        )
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            menu.addAction(action)
        menu.addSeparator()
        self.draw_action = menu.addAction("&Draw Collector")
        self.draw_action.setCheckable(True)
        self.draw_action.toggled.connect(self.set_drawing)
        self.redetect_action = menu.addAction("Re-&detect", self.redetect)
        self.accept_action = menu.addAction("&Accept Alignment", self.accept)
        for action in (self.draw_action, self.redetect_action, self.accept_action):
            action.setEnabled(False)
        self.menu = menu

    def _ensure_widgets(self) -> None:
        """Overlay and dock, made with the first mosaic (pyqtgraph is loaded by then)."""
        if self.panel is not None:
            return
        from ratescope.gui.align.overlay import AlignOverlay
        from ratescope.gui.align.panel import AlignPanel

        self.overlay = AlignOverlay(self.window.mosaic_view.view_box, self)
        self.overlay.collector_moving.connect(self._show_angle)
        self.overlay.tile_clicked.connect(self.toggle_tile)
        self.overlay.collector_edited.connect(self._collector_edited)
        self.overlay.surface_edited.connect(self._surface_edited)
        panel = self.panel = AlignPanel()
        panel.undo_button.setDefaultAction(self.undo_action)
        panel.redo_button.setDefaultAction(self.redo_action)
        panel.draw_button.toggled.connect(self.draw_action.setChecked)
        self.draw_action.toggled.connect(panel.draw_button.setChecked)
        panel.redetect_button.clicked.connect(self.redetect)
        panel.accept_button.clicked.connect(self.accept)
        panel.preview.tile_clicked.connect(self.toggle_tile)
        panel.thresholds.changed.connect(self._threshold_changed)
        self.dock = QtWidgets.QDockWidget("Alignment")
        self.dock.setObjectName("AlignmentDock")
        scroll = QtWidgets.QScrollArea()  # a small window may squeeze the dock: it scrolls
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setMinimumHeight(32)
        self.dock.setWidget(scroll)
        self.window.add_panel(self.dock, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.window.resizeDocks([self.dock], [DOCK_HEIGHT], QtCore.Qt.Orientation.Vertical)

    # --------------------------------------------------------------------- running
    def start(self, mosaic: Mosaic) -> None:
        """A mosaic is on screen: forget the last one's edits and detect at once."""
        from ratescope.gui.align.jobs import EditState, Source

        self._ensure_widgets()
        self.dock.show()
        self.source = Source(mosaic)
        self._cache.clear()
        self.accepted = None
        self.undo_stack.clear()
        self._forget_shown()
        for action in (self.draw_action, self.redetect_action):
            action.setEnabled(True)
        self.apply_state(EditState())

    def apply_state(self, state: EditState) -> None:
        """Show ``state`` (from the cache at once, else after a background run)."""
        self.state = state
        self.accepted = None
        self.panel.thresholds.set_thresholds(state.thresholds)
        result = self._cache.get(state.geometry_key)
        if result is not None:
            self._show(result)
            return
        if state.collector is not None:  # the line where the user put it, meanwhile
            c = state.collector
            self.overlay.show_alignment(None, (c.x0, c.y0, c.x1, c.y1))
        self.panel.summary_label.setText("Aligning…")
        self.accept_action.setEnabled(False)
        self.panel.accept_button.setEnabled(False)
        self._request()

    def working(self) -> bool:
        """True while this controller's background task runs."""
        return self._task is not None and self._task in self.window.runner.tasks

    def _request(self) -> None:
        if self.working():
            self._pending = True  # the latest state runs when this one lands
            return
        from ratescope.gui.align.jobs import run_alignment

        self._pending = False
        source, state = self.source, self.state
        self._task = self.window.runner.start(
            run_alignment,
            source,
            state,
            message=f"Aligning {source.mosaic.path.name}…",
            on_done=lambda result: self._landed(source, state, result, None),
            on_error=lambda error: self._landed(source, state, None, error),
        )

    def _landed(self, source, state: EditState, result, error) -> None:
        self._task = None
        current = source is self.source and state.geometry_key == self.state.geometry_key
        if result is not None and source is self.source:
            self._cache[result.key] = result
        if self._pending or not current:
            self._request()
        elif error is not None:
            self._failed(error)
        else:
            self._show(result)

    def _runner_changed(self, *_args) -> None:
        if self._task is not None and self._task.cancelled and not self.working():
            self._task, self._pending = None, False  # the user pressed Cancel
            if self.panel is not None:
                self.panel.summary_label.setText("Alignment cancelled")

    def _forget_shown(self) -> None:
        """Nothing of an earlier alignment stays on screen (a new file, a failure)."""
        self.alignment = None
        self.overlay.clear()
        self.panel.show_notice("")
        self.panel.preview.show_result(None, None)
        self.panel.angle_label.setText("Collector angle: —")
        self.panel.summary_label.setText("")
        self.accept_action.setEnabled(False)
        self.panel.accept_button.setEnabled(False)

    def _failed(self, error: BaseException) -> None:
        """Automatic detection failed (no foil, no coating: not an electrode, or an unusual
        one): one path, always offering to draw the collector by hand. A failure after
        the user's own edit only says why."""
        from ratescope.core.errors import RateScopeError

        name = self.source.mosaic.path.name
        self._forget_shown()
        reason = str(error).removeprefix(f"{name}: ")
        if self.state.collector is None and isinstance(error, RateScopeError):
            text = (
                f"RateScope found no electrode cross-section in {name} ({reason}).\n\n"
                "If it is one, draw the collector by hand: click the foil's left end, then "
                "its right end."
            )
            self.panel.show_notice("No electrode found — click the collector's two ends on "
                                   "the mosaic.")  # fmt: skip
            self.set_drawing(True)
            self.window.statusBar().showMessage("No electrode found: draw the collector by hand",
                                                15000)  # fmt: skip
            self.window.dialogs.show_error(self.window, "No electrode found", text)
            return
        if self.state.collector is not None:  # keep the user's line where they put it
            c = self.state.collector
            self.overlay.show_alignment(None, (c.x0, c.y0, c.x1, c.y1))
        self.panel.summary_label.setText("Alignment failed")
        self.panel.show_notice(f"No alignment from this line: {reason}")
        self.window.dialogs.show_error(self.window, "Alignment failed", f"{name}: {reason}")

    def _show(self, result: AlignResult) -> None:
        alignment = result.for_state(self.state)
        self.alignment = alignment
        self.window.statusBar().clearMessage()  # no stale "draw it by hand" prompt
        self.overlay.show_alignment(alignment)
        confidence = alignment.collector.confidence
        self.panel.show_notice(
            f"The collector was found with low confidence ({confidence:.2f}): check the "
            "yellow line, drag its ends or draw it by hand."
            if self.state.collector is None and confidence < LOW_CONFIDENCE
            else ""
        )
        self.panel.preview.show_result(alignment, result.preview)
        self._show_angle(alignment.angle_deg)
        kept, total = len(alignment.kept), len(alignment.tiles)
        um = self.source.mosaic.pixel_size_um * alignment.coating_thickness_px()
        self.panel.summary_label.setText(
            f"Coating {um:.1f} µm · "
            + (f"{kept} of {total} tiles kept · click a tile to keep or reject it"
               if total else "no tile fits between surface and collector")
        )  # fmt: skip
        ok = total > 0
        self.accept_action.setEnabled(ok)
        self.panel.accept_button.setEnabled(ok)
        self.alignment_changed.emit(alignment)

    def _show_angle(self, angle: float) -> None:
        self.panel.angle_label.setText(f"Collector angle: {angle:+.2f}°")

    # ----------------------------------------------------------------------- edits
    def _push(self, after: EditState, text: str, merge_field: str | None = None) -> None:
        self.undo_stack.push(EditCommand(self, self.state, after, text, merge_field))

    def _collector_edited(self, ends) -> None:
        from ratescope.core.align import CollectorLine

        drawn = self.draw_action.isChecked()
        above = self.alignment.collector.coating_above if self.alignment else True
        x0, y0, x1, y1 = self._across_image(ends)
        line = CollectorLine(x0, y0, x1, y1, 1.0, above)
        self.set_drawing(False)
        self._push(
            replace(self.state, collector=line, overrides=()),
            "Draw collector" if drawn else "Move collector",
        )

    def _surface_edited(self, ends) -> None:
        from ratescope.core.align import Surface

        old = self.alignment.surface if self.alignment else None
        x0, y0, x1, y1 = self._across_image(ends)
        surface = Surface(
            x0, y0, x1, y1, list(old.xs) if old else [], list(old.depth) if old else []
        )
        collector = self.state.collector or (self.alignment.collector if self.alignment else None)
        self._push(
            replace(self.state, collector=collector, surface=surface, overrides=()), "Move surface"
        )

    def _across_image(self, ends) -> tuple[float, float, float, float]:
        """The line through ``ends`` from the image's first to its last column."""
        x0, y0, x1, y1 = map(float, ends)
        right = float(self.source.mosaic.width - 1)
        slope = (y1 - y0) / (x1 - x0)
        return 0.0, y0 - slope * x0, right, y0 + slope * (right - x0)

    def toggle_tile(self, index: int) -> None:
        """Keep a rejected tile or reject a kept one (an undoable edit)."""
        tile = self.alignment.tiles[index]
        keep = not tile.kept
        override = None if keep == tile.auto_keep else keep
        verb = "Keep" if keep else "Reject"
        self._push(self.state.with_override(index, override), f"{verb} tile {index + 1}")

    def _threshold_changed(self, name: str, value) -> None:
        after = replace(self.state, thresholds=replace(self.state.thresholds, **{name: value}))
        if name in LAYOUT_FIELDS:
            after = replace(after, overrides=())
        self._push(after, f"Change {name.replace('_', ' ')}", merge_field=name)

    def redetect(self) -> None:
        """Forget line edits and tile decisions; detect again (thresholds stay)."""
        from ratescope.gui.align.jobs import EditState

        if self.state is not None:
            self._push(EditState(thresholds=self.state.thresholds), "Re-detect")

    def set_drawing(self, on: bool) -> None:
        """Enter or leave "Draw collector" mode."""
        if self.draw_action.isChecked() != on:
            self.draw_action.setChecked(on)  # comes back here through toggled
            return
        if self.overlay is not None:
            self.overlay.set_drawing(on)
        if on:
            self.window.show_workspace("mosaic")
            self.window.statusBar().showMessage(
                "Draw collector: click the foil's left end, then its right end", 15000
            )

    def accept(self) -> None:
        """Accept the alignment shown: :attr:`alignment_accepted` carries it."""
        if self.alignment is None or self.working() or self._pending:
            return
        self.accepted = self.alignment
        kept, total = len(self.alignment.kept), len(self.alignment.tiles)
        self.panel.summary_label.setText(f"Accepted: {kept} of {total} tiles")
        self.window.statusBar().showMessage(f"Alignment accepted: {kept} of {total} tiles", 8000)
        self.alignment_accepted.emit(self.alignment)


def install_alignment(window) -> AlignmentController:
    """Add alignment confirmation to ``window`` (a :class:`gui.shell.main_window.MainWindow`)."""
    return AlignmentController(window)
