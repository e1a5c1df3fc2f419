"""Recovery copies: one file per window, offered at start once their window is gone.

Every window autosaves to its own file in the recovery folder,
``recovery-<pid>-<token>.ratescope``: ``pid`` is the process that owns the window,
``token`` a random name per window. A window's clean close removes only its own file. At
start-up a window offers the files whose process no longer runs (a crash, a kill, a
power cut); the files of windows still open, in this process or another RateScope, are
left alone. A process id the system gave again to a newer process is told apart by its
start time where the system says it (Linux): a process started after the file was last
written cannot own it. ``recovery.ratescope``, the single file of earlier versions, is
offered as well.

No Qt here: the folder is chosen by :mod:`gui.session.controller`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from pathlib import Path

LEGACY_NAME = "recovery.ratescope"
"""The one recovery file of versions before per-window recovery."""
PREFIX, SUFFIX = "recovery-", ".ratescope"
CLOCK_SLACK_S = 2.0
"""A process started this much after a file's last write still counts as its writer
(boot time is known to the second only)."""

_claimed: set[Path] = set()
"""Orphans a window of this process is restoring (not offered to a second window)."""


def window_file_name(pid: int | None = None) -> str:
    """A new window's recovery file name: ``recovery-<pid>-<random>.ratescope``."""
    pid = os.getpid() if pid is None else pid
    return f"{PREFIX}{pid}-{uuid.uuid4().hex[:12]}{SUFFIX}"


def owner_pid(path: str | Path) -> int | None:
    """The process id in a per-window file's name; None for other names."""
    name = Path(path).name
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    pid = name[len(PREFIX) : -len(SUFFIX)].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def pid_running(pid: int) -> bool:
    """True while a process with this id exists (without signalling it)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_running(pid)
    try:
        os.kill(pid, 0)  # signal 0: only the existence and permission checks
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return False
    return True


def _windows_pid_running(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return None


def owner_running(path: str | Path) -> bool:
    """True while the window that writes ``path`` may still be open.

    False for a legacy file and for a file whose process is gone, or whose process id
    now belongs to a process started after the file was last written.
    """
    pid = owner_pid(path)
    if pid is None or not pid_running(pid):
        return False
    started = process_start_time(pid)
    if started is None:
        return True
    try:
        written = Path(path).stat().st_mtime
    except OSError:
        return False
    return started <= written + CLOCK_SLACK_S


def orphans(folder: str | Path) -> list[Path]:
    """Recovery files in ``folder`` whose window is gone, the newest first.

    The legacy ``recovery.ratescope`` is among them when present; files a window of this
    process is restoring are not.
    """
    folder = Path(folder)
    found = [p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if owner_pid(p) is not None]
    found = [p for p in found if not owner_running(p)]
    legacy = folder / LEGACY_NAME
    if legacy.is_file():
        found.append(legacy)

    def written(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted((p for p in found if p not in _claimed), key=written, reverse=True)


def claim(path: Path) -> None:
    """A window of this process restores ``path``: no other window offers it meanwhile."""
    _claimed.add(Path(path))


def adopt(orphan: Path, own: Path) -> None:
    """The restored ``orphan`` becomes the window's own recovery file ``own`` (a rename:
    atomic; it holds exactly the state now shown). Gone already: nothing to do."""
    _claimed.discard(Path(orphan))
    if Path(orphan) == Path(own):
        return
    with contextlib.suppress(FileNotFoundError):
        os.replace(orphan, own)


def release(path: Path) -> None:
    """A claimed orphan was not restored (an error, a source not located): offer it
    again at the next start."""
    _claimed.discard(Path(path))
