"""Run slow work off the GUI thread, with a busy indicator, Cancel and error dialogs.

Every long operation of the window goes through :meth:`TaskRunner.start`, so each one
gets the same treatment: a message and a progress bar in the status bar, a Cancel button,
and failures reported through the window's dialogs (never only on the console).
A function that accepts a ``progress`` keyword gets a callback ``progress(fraction,
message)`` that raises :class:`core.errors.Cancelled` once the user pressed Cancel.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6 import QtCore, QtWidgets

from ratescope.core.errors import Cancelled
from ratescope.gui import threads

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Task:
    """One piece of background work and what to do with its outcome."""

    message: str
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None]
    cancelled: bool = False
    fraction: float | None = None
    worker: Any = field(default=None, repr=False)

    def cancel(self) -> None:
        """Ask the work to stop; its result, if it still comes, is dropped."""
        self.cancelled = True


class TaskRunner(QtCore.QObject):
    """Starts background tasks and tells the busy indicator what is running.

    Signals
    -------
    busy_changed(bool, str, float)
        Whether anything runs, the newest task's message, its fraction done (-1 unknown).
    """

    busy_changed = QtCore.Signal(bool, str, float)
    _progress = QtCore.Signal(object, float, str)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.tasks: list[Task] = []
        self._progress.connect(self._on_progress)

    @property
    def busy(self) -> bool:
        return bool(self.tasks)

    def start(
        self,
        func: Callable[..., Any],
        *args: Any,
        message: str,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        **kwargs: Any,
    ) -> Task:
        """Run ``func(*args, **kwargs)`` in a worker thread (:func:`gui.threads.start_worker`).

        ``on_done(result)`` or ``on_error(exception)`` is then called on the GUI thread,
        unless the task was cancelled first.
        """
        task = Task(message, on_done, on_error)
        if "progress" in inspect.signature(func).parameters:
            kwargs["progress"] = self._progress_callback(task)
        self.tasks.append(task)  # before the start: the outcome may land at once
        self._announce()
        try:
            task.worker = threads.start_worker(
                func,
                *args,
                connect={
                    "returned": lambda result: self._finish(task, result, None),
                    "errored": lambda exc: self._finish(task, None, exc),
                },
                **kwargs,
            )
        except BaseException:
            self.tasks.remove(task)
            self._announce()
            raise
        return task

    def cancel_all(self) -> None:
        """Cancel every running task (the status bar's Cancel button)."""
        for task in list(self.tasks):
            task.cancel()
            self.tasks.remove(task)
        self._announce()

    def _progress_callback(self, task: Task) -> Callable[[float, str], None]:
        def progress(fraction: float, message: str = "") -> None:
            if task.cancelled:
                raise Cancelled()
            self._progress.emit(task, float(fraction), message)

        return progress

    def _on_progress(self, task: Task, fraction: float, message: str) -> None:
        task.fraction = fraction
        if message:
            task.message = message
        self._announce()

    def _finish(self, task: Task, result: Any, error: BaseException | None) -> None:
        if not shiboken6.isValid(self):
            return  # the window closed while the work ran
        if task in self.tasks:
            self.tasks.remove(task)
        self._announce()
        if task.cancelled or isinstance(error, Cancelled):
            return
        callback = task.on_done if error is None else task.on_error
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, QtCore.QObject) and not shiboken6.isValid(owner):
            return  # the widget that asked was closed meanwhile
        if error is None:
            task.on_done(result)
        else:
            log.error("%s failed", task.message, exc_info=error)
            task.on_error(error)

    def _announce(self) -> None:
        if self.tasks:
            newest = self.tasks[-1]
            fraction = -1.0 if newest.fraction is None else newest.fraction
            self.busy_changed.emit(True, newest.message, fraction)
        else:
            self.busy_changed.emit(False, "", -1.0)


class BusyIndicator(QtWidgets.QWidget):
    """Status-bar widget: what runs, a progress bar (indeterminate if unknown), Cancel."""

    def __init__(self, runner: TaskRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel()
        self.bar = QtWidgets.QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.cancel_button = QtWidgets.QToolButton(text="Cancel")
        self.cancel_button.clicked.connect(runner.cancel_all)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)
        runner.busy_changed.connect(self.show_state)
        self.setVisible(False)

    def show_state(self, busy: bool, message: str, fraction: float) -> None:
        self.setVisible(busy)
        self.label.setText(message)
        if fraction < 0:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
