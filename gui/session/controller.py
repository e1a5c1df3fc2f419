"""File ▸ Save Session / Open Session, autosave every minute, recovery at the next start.

``install_session(window)`` returns the :class:`SessionController` the window keeps as
``window.session`` (and installs the export actions, :mod:`gui.shell.export`).

A session (:mod:`core.session`) holds the source path and SHA-256, the alignment with
the tile decisions, the prediction, explanation maps and measured values. Saving and
opening run off the GUI thread. While there are unsaved changes a recovery copy is
written every :data:`AUTOSAVE_MS` to ``recovery_path`` (the user's data folder); it is
offered at the next start and removed after a normal save or a clean close. A source
file that moved or changed is reported, and the user is asked to locate it.

Other panels restore their part from :attr:`SessionController.session_restored`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ratescope.gui.session.dialogs import SESSION_FILTER, SessionDialogs

AUTOSAVE_MS = 60_000
SESSION_SUFFIX = ".ratescope"  # core.session.SUFFIX (not imported: h5py at start-up)
RECOVERY_NAME = "recovery.ratescope"


def default_recovery_path() -> Path:
    loc = QtCore.QStandardPaths.StandardLocation.AppDataLocation
    return Path(QtCore.QStandardPaths.writableLocation(loc)) / RECOVERY_NAME


class SessionController(QtCore.QObject):
    """Saves, opens, autosaves and recovers the window's session.

    Signals
    -------
    session_restored(object)
        A :class:`core.session.Session` was opened and its mosaic is on screen.
    saved(str)
        A session (or the recovery copy) was written to this path.
    """

    session_restored = QtCore.Signal(object)
    saved = QtCore.Signal(str)

    def __init__(self, window, recovery_path: str | Path | None = None,
                 autosave_ms: int = AUTOSAVE_MS):  # fmt: skip
        super().__init__(window)
        from ratescope.gui.shell.dialogs import Dialogs

        self.window = window
        self.ask = SessionDialogs()
        self.interactive = type(window.dialogs) is Dialogs  # never ask where no one answers
        self.recovery_path = Path(recovery_path) if recovery_path else default_recovery_path()
        self.path: Path | None = None
        self.dirty = False
        self._restoring = None
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(autosave_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        menu, before = window.file_menu, window.file_menu_end
        self.open_action = menu.addAction("Open Session…", self.open_dialog)
        self.save_action = menu.addAction("Save Session", self.save_current)
        self.save_action.setShortcut("Ctrl+S")
        self.save_as_action = menu.addAction("Save Session As…", self.save_dialog)
        for a in (self.open_action, self.save_action, self.save_as_action):
            menu.insertAction(before, a)
        menu.insertSeparator(before)
        window.mosaic_opened.connect(self._mosaic_opened)
        for name, signal in (("alignment", "alignment_changed"),
                             ("prediction", "prediction_changed"),
                             ("prediction", "measured_changed")):  # fmt: skip
            obj = getattr(window, name, None)
            if obj is not None and hasattr(obj, signal):
                getattr(obj, signal).connect(self.mark_dirty)
        window.first_painted.connect(self.offer_recovery)
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QtCore.QEvent.Type.Close:
            self.close()
        return False

    # ------------------------------------------------------------------- the state
    def mark_dirty(self, *_args) -> None:
        if self._restoring is None and self.window.current_mosaic is not None:
            self.dirty = True

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
        return Session(
            source_path=None if m is None else Path(m.path).resolve(),
            source_format="" if m is None else m.format,
            pixel_size_um=None if m is None else m.pixel_size_um,
            scene=None if m is None else m.scene, alignment=alignment,
            prediction=getattr(pred_ctl, "prediction", None),
            maps=list(getattr(explain, "maps", []) or []),
            measured=normalise_measured(measured),
        )  # fmt: skip

    # ---------------------------------------------------------------------- saving
    def save_current(self) -> None:
        """File ▸ Save Session (asks for a name the first time)."""
        if self.path is None:
            self.save_dialog()
        else:
            self.save(self.path)

    def save_dialog(self) -> None:
        start = str(self.path or Path(self.window.settings.last_directory) / "session.ratescope")
        path = self.ask.save_path(self.window, "Save session", start, SESSION_FILTER)
        if path:
            path = Path(path)
            self.save(path if path.suffix else path.with_suffix(".ratescope"))

    def save(self, path: str | Path, recovery: bool = False):
        """Write the session to ``path`` off the GUI thread; returns the task."""
        from ratescope.gui.session.jobs import save_job

        session, path = self.snapshot(), Path(path)
        return self.window.runner.start(
            save_job, session, path, message="Autosaving…" if recovery else "Saving session…",
            on_done=lambda p: self._saved(p, recovery),
            on_error=lambda e: self._error("Could not save the session", e),
        )  # fmt: skip

    def _saved(self, path: Path, recovery: bool) -> None:
        if not recovery:
            self.path, self.dirty = Path(path), False
            self.discard_recovery()
            self.window.statusBar().showMessage(f"Session saved to {Path(path).name}", 8000)
        self.saved.emit(str(path))

    def autosave(self) -> None:
        """Write the recovery copy when there are unsaved changes."""
        if self.dirty and self.window.current_mosaic is not None:
            self.save(self.recovery_path, recovery=True)

    def discard_recovery(self) -> None:
        self.recovery_path.unlink(missing_ok=True)

    def close(self) -> None:
        """The window closes normally: without unsaved changes no recovery is needed."""
        self.timer.stop()
        if not self.dirty:
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
            on_error=lambda e: self._error("Could not open the session", e),
        )  # fmt: skip

    def _opened(self, path: Path, session, check, recovered: bool = False) -> None:
        if check.status == "missing" or check.status == "changed":
            self.window.dialogs.show_error(self.window, "Source file moved or changed",
                                           check.message)  # fmt: skip
            start = str(check.path.parent if check.path else "")
            name = check.path.name if check.path else "the source file"
            found = self.ask.open_path(self.window, f"Locate {name}", start, "All files (*)")
            if found:
                self.open(path, found, recovered)
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
        if s.alignment is not None and getattr(self.window, "alignment", None) is not None:
            from ratescope.gui.align.jobs import EditState

            a = s.alignment
            overrides = tuple((i, bool(t.override)) for i, t in enumerate(a.tiles)
                              if t.override is not None)  # fmt: skip
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
        self.session_restored.emit(s)
        self.window.statusBar().showMessage("Session restored", 8000)

    def offer_recovery(self) -> None:
        """At start: offer the recovery copy of a session that was not saved."""
        can_ask = self.interactive or type(self.ask) is not SessionDialogs
        if not can_ask or not self.recovery_path.is_file():
            return
        if self.ask.yes_no(self.window, "Recover unsaved work?",
                           "RateScope did not close normally last time. Restore the work "
                           "that was not saved?"):  # fmt: skip
            self.open(self.recovery_path, recovered=True)
        else:
            self.discard_recovery()

    def _error(self, title: str, error: BaseException) -> None:
        self.window.dialogs.show_error(self.window, title, str(error))


def install_session(window) -> SessionController:
    """Session menu actions, autosave and recovery, plus the export actions."""
    from ratescope.gui.shell.export import ExportController

    controller = SessionController(window)
    controller.export = ExportController(window, controller)
    return controller
