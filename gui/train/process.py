"""The training run as a separate process (``python -m ratescope train … --progress-jsonl``).

Training runs outside the GUI process, so the window stays responsive however busy torch
keeps the cores, and a crash of the training cannot take the window with it. Its stdout
lines are progress events (:mod:`gui.train.events`); stderr is kept for the error message.
Cancel sends SIGTERM (the process writes a resumable checkpoint and exits with a
"cancelled" event); if it has not ended after :data:`KILL_AFTER_MS` it is killed.
"""

from __future__ import annotations

import sys

from PySide6 import QtCore

from ratescope.gui.train.events import parse_line

KILL_AFTER_MS = 60_000
"""How long a cancelled run may take to write its checkpoint before it is killed."""


class TrainProcess(QtCore.QObject):
    """Starts, watches and stops one training process.

    Signals
    -------
    event(dict)
        One progress event from the process's stdout.
    finished(int, bool)
        The exit code and whether the run was cancelled by :meth:`cancel`.
    """

    event = QtCore.Signal(dict)
    finished = QtCore.Signal(int, bool)

    def __init__(self, parent: QtCore.QObject | None = None, program: str | None = None):
        super().__init__(parent)
        self.program = program or sys.executable
        self.process: QtCore.QProcess | None = None
        self.arguments: list[str] = []
        self.stderr_tail = ""
        self.cancelling = False
        self._buffer = b""
        self._kill_timer = QtCore.QTimer(self, singleShot=True, interval=KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self._kill)

    def running(self) -> bool:
        p = self.process
        return p is not None and p.state() != QtCore.QProcess.ProcessState.NotRunning

    def start(self, arguments: list[str], environment: dict[str, str] | None = None) -> None:
        """Run ``program arguments`` (stdout parsed line by line)."""
        if self.running():
            raise RuntimeError("a training process is already running")
        self.arguments = list(arguments)
        self.stderr_tail, self._buffer, self.cancelling = "", b"", False
        p = self.process = QtCore.QProcess(self)
        env = QtCore.QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        for key, value in (environment or {}).items():
            env.insert(key, value)
        p.setProcessEnvironment(env)
        p.readyReadStandardOutput.connect(self._read_stdout)
        p.readyReadStandardError.connect(self._read_stderr)
        p.finished.connect(self._finished)
        p.errorOccurred.connect(self._error)
        p.start(self.program, self.arguments)

    def cancel(self) -> None:
        """Ask the run to stop (SIGTERM: it leaves a resumable checkpoint)."""
        if not self.running():
            return
        self.cancelling = True
        self.process.terminate()
        self._kill_timer.start()

    def _kill(self) -> None:
        if self.running():
            self.process.kill()

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = parse_line(line)
            if event is not None:
                self.event.emit(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self.stderr_tail = (self.stderr_tail + text)[-4000:]

    def _error(self, error: QtCore.QProcess.ProcessError) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self.stderr_tail += f"\ncould not start {self.program}"
            self._kill_timer.stop()
            self.finished.emit(-1, False)

    def _finished(self, code: int, _status=None) -> None:
        self._kill_timer.stop()
        if self.process is not None:
            self._read_stdout()
            self._read_stderr()
            if self._buffer:
                event = parse_line(self._buffer)
                self._buffer = b""
                if event is not None:
                    self.event.emit(event)
        self.finished.emit(int(code), self.cancelling)

    def error_text(self) -> str:
        """The last lines the process wrote on stderr (for the error dialog)."""
        lines = [ln for ln in self.stderr_tail.strip().splitlines() if ln.strip()]
        return "\n".join(lines[-8:])
