"""File ▸ Save Session / Open Session, autosave every minute, recovery, unsaved-work prompt.

``install_session(window)`` returns the :class:`SessionController` the window keeps as
``window.session`` (and installs the export actions, :mod:`gui.shell.export`).

A session (:mod:`core.session`) holds the source path and SHA-256, the alignment with
the tile decisions, the prediction, explanation maps and measured values. Saving and
opening run off the GUI thread. While there are unsaved changes a recovery copy is
written every :data:`AUTOSAVE_MS` to the window's own ``recovery_path`` (one file per
window in ``recovery_dir``, the user's data folder; :mod:`gui.session.recovery`); it is
removed after a normal save or a clean close of that window, and offered at a later
start once its window's process is gone. A source file that moved or changed is
reported, and the user is asked to locate it.

Unsaved changes are the user's work since the last save or restore: an alignment edit
(anything on the alignment's undo stack), an accepted alignment, a prediction, typed
measured values, and a recovered session (saved in no session file). Detection right
after opening a file is not: opening the file again gives it back. Closing a window
with unsaved changes (its close button, File ▸ Quit, Ctrl+Q) asks Save / Discard /
Cancel, autosaved or not; Save saves as File ▸ Save Session does and closes once the
session is written.

Other panels restore their part from :attr:`SessionController.session_restored`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from PySide6 import QtCore

from ratescope.gui.session import recovery
from ratescope.gui.session.dialogs import SESSION_FILTER, SessionDialogs

AUTOSAVE_MS = 60_000
SESSION_SUFFIX = ".ratescope"  # core.session.SUFFIX (not imported: h5py at start-up)


def default_recovery_dir() -> Path:
    """The folder of the recovery files: the user's application data folder."""
    loc = QtCore.QStandardPaths.StandardLocation.AppDataLocation
    return Path(QtCore.QStandardPaths.writableLocation(loc))


class SessionController(QtCore.QObject):
    """Saves, opens, autosaves and recovers the window's session.

    Signals
    -------
    session_restored(object)
        A :class:`core.session.Session` was opened and its mosaic is on screen.
    open_failed(str)
        A session could not be opened (the message names the file).
    saved(str)
        A session (or the recovery copy) was written to this path.
    """

    session_restored = QtCore.Signal(object)
    open_failed = QtCore.Signal(str)
    saved = QtCore.Signal(str)

    def __init__(self, window, recovery_dir: str | Path | None = None,
                 autosave_ms: int = AUTOSAVE_MS):  # fmt: skip
        super().__init__(window)
        from ratescope.gui.shell.dialogs import Dialogs

        self.window = window
        self.ask = SessionDialogs()
        self.interactive = type(window.dialogs) is Dialogs  # never ask where no one answers
        self.recovery_dir = Path(recovery_dir) if recovery_dir else default_recovery_dir()
        self.recovery_name = recovery.window_file_name()  # this window's own file
        self.path: Path | None = None
        self.dirty = False
        self._restoring = None
        self._recovering: Path | None = None  # the orphaned recovery file being restored
        self._discarded = threading.Event()  # set when the window closes without its copy
        self._close_after_save = False
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(autosave_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        menu, before = window.file_menu, window.file_menu_end
        self.open_action = menu.addAction("Open Sess&ion…", self.open_dialog)
        self.save_action = menu.addAction("Save Sessio&n", self.save_current)
        self.save_action.setShortcut("Ctrl+S")
        self.save_as_action = menu.addAction("Save Session &As…", self.save_dialog)
        for a in (self.open_action, self.save_action, self.save_as_action):
            menu.insertAction(before, a)
        menu.insertSeparator(before)
        window.mosaic_opened.connect(self._mosaic_opened)
        for name, signal in (("alignment", "alignment_accepted"),
                             ("prediction", "prediction_changed"),
                             ("prediction", "measured_changed")):  # fmt: skip
            obj = getattr(window, name, None)
            if obj is not None and hasattr(obj, signal):
                getattr(obj, signal).connect(self.mark_dirty)
        self._undo = getattr(getattr(window, "alignment", None), "undo_stack", None)
        if self._undo is not None:  # an edit, undo or redo (not the detection after opening)
            self._undo.indexChanged.connect(self._undo_moved)
        window.first_painted.connect(self.offer_recovery)
        window.installEventFilter(self)

    @property
    def recovery_path(self) -> Path:
        """This window's own recovery file (written by :meth:`autosave`)."""
        return self.recovery_dir / self.recovery_name

    @property
    def can_ask(self) -> bool:
        """Someone can answer a question (never in ``--smoke`` or a headless run)."""
        return self.interactive or type(self.ask) is not SessionDialogs

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QtCore.QEvent.Type.Close:
            if not self.close_requested():
                event.ignore()
                return True  # the window stays open
        elif obj is self.window and event.type() == QtCore.QEvent.Type.Show:
            if self._discarded.is_set():  # shown again after a close
                self._discarded = threading.Event()
                self.timer.start()
        return False

    # ------------------------------------------------------------------- the state
    def mark_dirty(self, *_args) -> None:
        if self._restoring is None and self.window.current_mosaic is not None:
            self.dirty = True

    def _undo_moved(self, _index: int) -> None:
        try:
            edited = not self._undo.isClean()
        except RuntimeError:  # the stack is going with its window
            return
        if edited:
            self.mark_dirty()

    def snapshot(self):
        """The window's state as a :class:`core.session.Session` (cheap; no hashing)."""
        from ratescope.core.report import normalise_measured
        from ratescope.core.session import Session

        w = self.window
        m = w.current_mosaic
        pred_ctl = getattr(w, "prediction", None)
        align = getattr(w, "alignment", None)
        alignment = getattr(align, "alignment", None) if align is not None else None
        measured = getattr(getattr(pred_ctl, "measured", None), "values", None)
        explain = getattr(w, "explanation", None)
        accepted = align is not None and align.accepted is not None and alignment is not None
        view = None
        if m is not None and getattr(w, "mosaic_page", None) is not None:
            r = w.mosaic_view.view_box.viewRect()
            view = (r.left(), r.top(), r.right(), r.bottom())
        return Session(
            source_path=None if m is None else Path(m.path).resolve(),
            source_format="" if m is None else m.format,
            pixel_size_um=None if m is None else m.pixel_size_um,
            scene=None if m is None else m.scene, alignment=alignment,
            prediction=getattr(pred_ctl, "prediction", None),
            maps=list(getattr(explain, "maps", []) or []),
            measured=normalise_measured(measured), accepted=accepted, view=view,
        )  # fmt: skip

    # ---------------------------------------------------------------------- saving
    def save_current(self):
        """File ▸ Save Session (asks for a name the first time); the task, or None when
        the file dialog was cancelled."""
        if self.path is None:
            return self.save_dialog()
        return self.save(self.path)

    def save_dialog(self):
        start = str(self.path or Path(self.window.settings.last_directory) / "session.ratescope")
        path = self.ask.save_path(self.window, "Save session", start, SESSION_FILTER)
        if not path:
            return None
        path = Path(path)
        return self.save(path if path.suffix else path.with_suffix(".ratescope"))

    def save(self, path: str | Path, recovery: bool = False):
        """Write the session to ``path`` off the GUI thread; returns the task."""
        from ratescope.gui.session.jobs import autosave_job, save_job

        session, path = self.snapshot(), Path(path)
        job, args = (autosave_job, (self._discarded,)) if recovery else (save_job, ())
        return self.window.runner.start(
            job, session, path, *args,
            message="Autosaving…" if recovery else "Saving session…",
            on_done=lambda p: self._saved(p, recovery),
            on_error=lambda e: self._save_failed(e),
        )  # fmt: skip

    def _saved(self, path: Path, recovery: bool) -> None:
        if not recovery:
            self.path, self.dirty = Path(path), False
            self.window.settings.last_directory = str(Path(path).resolve().parent)
            self.discard_recovery()
            self.window.statusBar().showMessage(f"Session saved to {Path(path).name}", 8000)
            if self._close_after_save:  # Save in the close question: now close
                self._close_after_save = False
                QtCore.QTimer.singleShot(0, self.window.close)
        self.saved.emit(str(path))

    def _save_failed(self, error: BaseException) -> None:
        self._close_after_save = False  # the window stays open with its work
        self._error("Could not save the session", error)

    def autosave(self):
        """Write the recovery copy when there are unsaved changes; the task or None."""
        if self.dirty and self.window.current_mosaic is not None:
            return self.save(self.recovery_path, recovery=True)
        return None

    def discard_recovery(self) -> None:
        """Remove this window's recovery file (only its own: other windows keep theirs)."""
        with contextlib.suppress(OSError):
            self.recovery_path.unlink(missing_ok=True)

    def close_requested(self) -> bool:
        """The window is asked to close (close button, File ▸ Quit, Ctrl+Q): with unsaved
        changes ask Save / Discard / Cancel. True when the window may close now."""
        if self.dirty and self.can_ask:
            m = self.window.current_mosaic
            name = self.path.name if self.path else Path(m.path).name if m else "This window"
            answer = self.ask.unsaved(
                self.window, "Save changes?",
                f"{name} has changes that are not saved in a session: the alignment, "
                "prediction or measured values. Save them before closing?",
            )  # fmt: skip
            if answer == "save":
                self._close_after_save = self.save_current() is not None
                return False  # closes once saved (a cancelled file dialog: stays open)
            if answer != "discard":
                return False
            self.dirty = False
        self.close()
        return True

    def close(self) -> None:
        """The window closes: without unsaved changes its recovery copy goes (a window that
        could not ask keeps it, to be offered at the next start)."""
        self.timer.stop()
        if not self.dirty:
            self._discarded.set()  # an autosave still running removes what it wrote
            self.discard_recovery()

    # --------------------------------------------------------------------- opening
    def open_dialog(self) -> None:
        path = self.ask.open_path(self.window, "Open session", self.window.settings.last_directory,
                                  SESSION_FILTER)  # fmt: skip
        if path:
            self.open(path)

    def open(self, path: str | Path, located: str | Path | None = None, recovered=False):
        """Read ``path`` off the GUI thread, check its source, then restore it."""
        from ratescope.gui.session.jobs import open_job

        return self.window.runner.start(
            open_job, Path(path), located, message="Opening session…",
            on_done=lambda r: self._opened(Path(path), *r, recovered=recovered),
            on_error=lambda e: self._open_failed(e, recovered),
        )  # fmt: skip

    def _open_failed(self, error: BaseException, recovered: bool) -> None:
        if recovered:
            self._give_up_recovery()
        self._error("Could not open the session", error)
        self.open_failed.emit(str(error))

    def _give_up_recovery(self) -> None:
        """A recovery copy was not restored: it stays where it is, offered next time."""
        if self._recovering is not None:
            recovery.release(self._recovering)
            self._recovering = None

    def _opened(self, path: Path, session, check, recovered: bool = False) -> None:
        if check.status == "missing" or check.status == "changed":
            self.window.dialogs.show_error(self.window, "Source file moved or changed",
                                           check.message)  # fmt: skip
            start = str(check.path.parent if check.path else "")
            name = check.path.name if check.path else "the source file"
            found = self.ask.open_path(self.window, f"Locate {name}", start, "All files (*)")
            if found:
                self.open(path, found, recovered)
            elif recovered:
                self._give_up_recovery()
            return
        from dataclasses import replace

        self._restoring = replace(session, source_path=check.path)
        self.path = None if recovered else path
        self.window.open_path(check.path)

    def _mosaic_opened(self, mosaic) -> None:
        s, self._restoring = self._restoring, None
        if s is None:
            self.dirty = False
            return
        if s.view is not None:
            x0, y0, x1, y1 = s.view
            rect = QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)
            view_box = self.window.mosaic_view.view_box
            QtCore.QTimer.singleShot(0, lambda: view_box.setRange(rect, padding=0))
        if s.alignment is not None and getattr(self.window, "alignment", None) is not None:
            from ratescope.gui.align.jobs import EditState

            a = s.alignment
            overrides = tuple((i, bool(t.override)) for i, t in enumerate(a.tiles)
                              if t.override is not None)  # fmt: skip
            if s.accepted:
                self._accept_when_aligned(s)
            self.window.alignment.apply_state(EditState(a.collector, a.surface, a.thresholds,
                                                        overrides))  # fmt: skip
        pred = getattr(self.window, "prediction", None)
        if pred is not None:
            from ratescope.gui.predict.measured import MeasuredValues

            if s.measured:
                values = {u: [None if v != v else float(v) for v in vals]
                          for u, vals in s.measured.items()}  # fmt: skip
                pred.measured_editor.set(MeasuredValues({**MeasuredValues().values, **values},
                                                 "session"))  # fmt: skip
            if s.prediction is not None:
                pred.alignment = s.alignment
                pred.show_prediction(s.prediction)
        self.dirty = False
        if self._recovering is not None:  # recovered work is saved in no session yet
            recovery.adopt(self._recovering, self.recovery_path)
            self._recovering, self.dirty = None, True
        self.session_restored.emit(s)
        self.window.statusBar().showMessage("Session restored", 8000)

    def _accept_when_aligned(self, s) -> None:
        """Once the restored alignment is shown, accept it as it was, without predicting
        again (the saved prediction is kept) and with the saved explanation map back."""
        align = self.window.alignment

        def landed(alignment) -> None:
            align.alignment_changed.disconnect(landed)
            if alignment is None:
                return
            pred = getattr(self.window, "prediction", None)
            if pred is not None and s.prediction is not None:
                from ratescope.gui.predict.jobs import tile_key

                pred._key = tile_key(align.source, alignment)  # the saved one is this
            explain = getattr(self.window, "explanation", None)
            if explain is not None and s.maps:
                explain.restore(s.maps[-1])
            was_dirty = self.dirty
            align.accept()  # as saved: not an edit of the user's
            self.dirty = was_dirty

        align.alignment_changed.connect(landed)

    def offer_recovery(self) -> None:
        """At start: offer the recovery copies of windows that are gone (newest first).

        The first one accepted is restored in this window (others wait for the next
        start); a declined one is removed. Copies of windows still open are left alone.
        """
        if not self.can_ask or self._recovering is not None:
            return
        found = [p for p in recovery.orphans(self.recovery_dir) if p != self.recovery_path]
        for i, orphan in enumerate(found):
            try:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(orphan.stat().st_mtime))
            except OSError:
                continue  # restored or declined by another window meanwhile
            more = f" ({i + 1} of {len(found)})" if len(found) > 1 else ""
            if self.ask.yes_no(self.window, "Recover unsaved work?",
                               f"RateScope did not close normally{more}: work last autosaved "
                               f"{when} was not saved. Restore it?"):  # fmt: skip
                recovery.claim(orphan)
                self._recovering = orphan
                self.open(orphan, recovered=True)
                return
            with contextlib.suppress(OSError):
                orphan.unlink()

    def _error(self, title: str, error: BaseException) -> None:
        self.window.dialogs.show_error(self.window, title, str(error))


def install_session(window) -> SessionController:
    """Session menu actions, autosave and recovery, plus the export actions."""
    from ratescope.gui.shell.export import ExportController

    controller = SessionController(window)
    controller.export = ExportController(window, controller)
    return controller
