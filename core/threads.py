"""How many compute threads this process should use, shared with the other RateScope runs.

Four ``predict`` processes started together each took every core (torch's default) and
ran slower than one after another: 27 s against 20 s on two cores, 15 s with one thread
each (issue 20). So every computing CLI run takes a share of the cores:

1. an explicit count wins: ``--threads N`` (``option``), else ``RATESCOPE_THREADS=N``
   (``auto`` or empty: decide as below);
2. otherwise the RateScope runs registered on this machine split the cores: each run
   holds a file ``<pid>`` in a per-user folder (``$XDG_RUNTIME_DIR/ratescope/``, else
   ``<temp>/ratescope-<user>/``; ``RATESCOPE_RUNTIME_DIR`` overrides) while it
   computes. The file holds ``auto`` or the run's explicit thread count; runs with an
   explicit count keep it and the automatic ones share what is left: ``free // n`` each,
   the remainder going one thread each to the lowest pids, at least 1 (:func:`share`);
3. when that folder cannot be used, the 1-minute load average is the fallback signal
   (:func:`share_from_load`).

A run is alive while it holds an exclusive lock on its file (``flock`` on Linux and
macOS, ``msvcrt.locking`` on Windows); the operating system drops the lock when the
process ends, even when it is killed, so a file whose lock can be taken belongs to a dead
run and is removed by whoever finds it. No pid test is needed: ``os.kill(pid, 0)`` would
terminate the process on Windows, and a reused pid would look alive.

The count is applied with ``torch.set_num_threads`` (intra-op threads, also MKL and
oneDNN), which may be called again: :meth:`ThreadBudget.refresh` re-evaluates between
files, so a run started alone shrinks when others start and grows when they end. Not
changed: torch's inter-op pool (``set_num_interop_threads`` works only once, before any
inter-op work, and RateScope's inference and explanations do none) and numpy's BLAS
(OpenBLAS reads ``OPENBLAS_NUM_THREADS`` only when numpy is first imported, which
environment variables would fix for this process's whole life and pass on to its
children; the alignment's numpy and scipy work is mostly single-threaded anyway).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ratescope.core.errors import RateScopeError

ENV = "RATESCOPE_THREADS"
"""Explicit thread count for every run of this environment (``auto``: share)."""
RUNTIME_ENV = "RATESCOPE_RUNTIME_DIR"
"""Folder of the run registrations, instead of the per-user default."""
AUTO = "auto"

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    _LOCK_AT = 1 << 20
    """Windows locks are mandatory: lock a byte far past the content, which stays readable."""

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCK_AT, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(fd: int) -> None:
        os.lseek(fd, _LOCK_AT, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for up to 10 s, then OSError

    def _drop(fd: int, path: Path) -> None:
        """Remove a dead run's file whose lock ``fd`` holds (an open file cannot be
        deleted on Windows: close first; a live run that reopened it keeps it)."""
        os.close(fd)
        _unlink(path)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits out a prober that holds it for a moment

    def _drop(fd: int, path: Path) -> None:
        """Remove a dead run's file while holding its lock (a run registering under the
        same pid meanwhile sees its file replaced and creates a new one)."""
        _unlink(path)
        os.close(fd)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _write(fd: int, text: str) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, text.encode())


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 64).decode("ascii", "replace").strip()


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """The per-user folder of the run registrations (created, private).

    ``RATESCOPE_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/ratescope`` (Linux), else
    ``ratescope-<user>`` in the temporary folder.

    Raises
    ------
    OSError
        When it cannot be created, or is a folder of another user or open to others.
    """
    env = os.environ if env is None else env
    if env.get(RUNTIME_ENV):
        folder = Path(env[RUNTIME_ENV])
    elif env.get("XDG_RUNTIME_DIR") and Path(env["XDG_RUNTIME_DIR"]).is_dir():
        folder = Path(env["XDG_RUNTIME_DIR"]) / "ratescope"
    else:
        user = str(os.getuid()) if hasattr(os, "getuid") else _user(env)
        folder = Path(tempfile.gettempdir()) / f"ratescope-{user}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid"):  # a shared temp folder: never trust another user's files
        st = folder.lstat()
        if not folder.is_dir() or folder.is_symlink() or st.st_uid != os.getuid():
            raise OSError(f"{folder} is not this user's folder")
        if st.st_mode & 0o022:
            raise OSError(f"{folder} is writable by other users")
    return folder


def _user(env: Mapping[str, str]) -> str:
    name = env.get("USERNAME") or env.get("USER") or "user"
    return "".join(c for c in name if c.isalnum() or c in "-_") or "user"


@dataclass(frozen=True)
class Run:
    """Another live RateScope run: its pid and explicit thread count (None: it shares)."""

    pid: int
    threads: int | None = None


def _parse_threads(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


class Registry:
    """The registrations folder: this process's own file and a view of the others'.

    Parameters
    ----------
    folder : path, optional
        Default :func:`runtime_dir` (its ``OSError`` propagates).
    """

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else runtime_dir()
        self.pid: int | None = None
        self._fd: int | None = None

    @property
    def path(self) -> Path | None:
        """This process's registration file, or None when not registered."""
        return None if self.pid is None else self.folder / str(self.pid)

    def register(self, threads: int | None = None, pid: int | None = None) -> None:
        """Hold a registration: ``threads`` is an explicit count, None for a share.

        ``pid`` defaults to this process (tests register several fake runs).
        """
        if self._fd is not None:
            raise RuntimeError("already registered")
        pid = os.getpid() if pid is None else pid
        path = self.folder / str(pid)
        for _ in range(10):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _lock(fd)
                # a prober may have taken the unlocked file for a dead run's and removed it
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            except OSError:
                os.close(fd)
                raise
            if same:
                break
            os.close(fd)
        else:
            raise OSError(f"could not register {path}")
        self._fd, self.pid = fd, pid
        self.update(threads)

    def update(self, threads: int | None) -> None:
        """Record this run's explicit thread count (None: it takes a share)."""
        if self._fd is not None:
            _write(self._fd, AUTO if threads is None else str(threads))

    def others(self) -> list[Run]:
        """The other live runs, lowest pid first; dead runs' files are removed."""
        runs = []
        for entry in sorted(os.listdir(self.folder)):
            if not entry.isdigit() or int(entry) == self.pid:
                continue  # not a registration, or this run's own
            path = self.folder / entry
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue  # removed meanwhile
            if _try_lock(fd):
                _drop(fd, path)  # its run has ended: the OS released the lock
                continue
            try:
                runs.append(Run(int(entry), _parse_threads(_read(fd))))
            finally:
                os.close(fd)
        return sorted(runs, key=lambda r: r.pid)

    def close(self) -> None:
        """Remove this run's registration."""
        if self._fd is None:
            return
        fd, path = self._fd, self.path
        self._fd = self.pid = None
        if sys.platform == "win32":  # pragma: no cover
            os.close(fd)
            _unlink(path)
        else:
            _unlink(path)
            os.close(fd)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def share(capacity: int, own_pid: int, others: list[Run]) -> int:
    """This run's threads when it shares ``capacity`` with ``others``.

    Runs with an explicit count keep it; the sharing runs (this one included) split the
    rest: ``free // n`` each, one more for the ``free % n`` lowest pids, never below 1.
    """
    fixed = sum(r.threads for r in others if r.threads is not None)
    sharing = sorted({own_pid, *(r.pid for r in others if r.threads is None)})
    base, extra = divmod(max(capacity - fixed, 0), len(sharing))
    return max(1, base + (1 if sharing.index(own_pid) < extra else 0))


def share_from_load(capacity: int, load: float, own: float = 0.0) -> int:
    """Threads left to this run when the machine's run-queue load is ``load``.

    ``own`` is what this process itself contributes (its threads while it computes, 0
    before it started). The load average is a 1-minute exponential average: a burst of
    runs started together shows in it only after tens of seconds, and it stays high for
    a minute after they ended, so it is only the fallback when the registrations folder
    cannot be used (and the only signal about programs other than RateScope).
    """
    others = max(0.0, load - own)
    return max(1, min(capacity, int(capacity - others + 0.5)))


def load_average() -> float | None:
    """The 1-minute load average, None where there is none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def env_threads(env: Mapping[str, str] | None = None) -> int | None:
    """The count ``RATESCOPE_THREADS`` asks for, None when unset, empty or ``auto``.

    Raises
    ------
    RateScopeError
        When it is something else than a positive whole number or ``auto``.
    """
    env = os.environ if env is None else env
    text = env.get(ENV, "").strip()
    if text.lower() in ("", AUTO):
        return None
    if (n := _parse_threads(text)) is None:
        raise RateScopeError(f"{ENV}={text!r}: expected a positive whole number or '{AUTO}'")
    return n


_DEFAULT_THREADS: int | None = None


def default_threads() -> int:
    """torch's thread count when RateScope first asked: its default (the physical cores
    it may use, or ``OMP_NUM_THREADS``), the capacity the runs share."""
    global _DEFAULT_THREADS
    if _DEFAULT_THREADS is None:
        import torch

        _DEFAULT_THREADS = torch.get_num_threads()
    return _DEFAULT_THREADS


def torch_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (when it differs) and return them."""
    import torch

    if n is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


class ThreadBudget:
    """The compute threads of this process, applied while it is open.

    Parameters
    ----------
    option : int, optional
        An explicit count (``--threads``); wins over ``RATESCOPE_THREADS``.
    env : mapping, optional
        Where ``RATESCOPE_THREADS`` and the folder variables are read (default the
        process's environment).
    registry : Registry, optional
        Default: one on :func:`runtime_dir`; without a usable folder the load average
        decides.
    capacity : int, optional
        The threads all runs share (default :func:`default_threads`).
    apply : callable, optional
        ``apply(n) -> n`` sets the threads (default :func:`torch_threads`); ``apply(None)``
        reads them.
    loadavg : callable, optional
        The 1-minute load average or None (default :func:`load_average`).

    Raises
    ------
    RateScopeError
        When ``RATESCOPE_THREADS`` is not understood.
    """

    def __init__(
        self,
        option: int | None = None,
        *,
        env: Mapping[str, str] | None = None,
        registry: Registry | None = None,
        capacity: int | None = None,
        apply: Callable[[int | None], int] = torch_threads,
        loadavg: Callable[[], float | None] = load_average,
    ):
        env = os.environ if env is None else env
        if option is not None and option < 1:
            raise RateScopeError(f"--threads {option}: at least 1")
        self.explicit = option if option is not None else env_threads(env)
        self.source = "--threads" if option is not None else ENV if self.explicit else "shared"
        self.capacity = capacity if capacity is not None else default_threads()
        self._apply, self._loadavg = apply, loadavg
        self._before = apply(None)
        self.runs = 1
        """RateScope runs sharing the machine at the last evaluation (this one included)."""
        self.load: float | None = None
        self.registry = registry
        if registry is None:
            try:
                self.registry = Registry(runtime_dir(env))
            except OSError:
                self.registry = None
        if self.registry is not None:
            try:
                self.registry.register(self.explicit)
            except OSError:
                self.registry = None
        self.threads = self._apply(self._decide(own=0.0))

    def _decide(self, own: float) -> int:
        if self.explicit is not None:
            return self.explicit
        if self.registry is not None:
            try:
                others = self.registry.others()
            except OSError:  # the folder went away: fall back to the load
                self.registry.close()
                self.registry = None
            else:
                self.runs = 1 + len(others)
                return share(self.capacity, self.registry.pid, others)
        self.source = "load"
        self.load = self._loadavg()
        if self.load is None:
            return self.capacity
        return share_from_load(self.capacity, self.load, own)

    def refresh(self) -> int:
        """Re-evaluate the share (cheap: one folder listing) and apply it; the threads."""
        if self.explicit is None and (n := self._decide(own=self.threads)) != self.threads:
            self.threads = self._apply(n)
        return self.threads

    def note(self) -> str | None:
        """A line for the user when this run got fewer threads than the machine offers
        because others compute too; None otherwise."""
        if self.explicit is not None or self.threads >= self.capacity:
            return None
        why = (
            f"{self.runs} RateScope runs share the cores"
            if self.source == "shared"
            else f"load average {self.load:.1f}"
        )
        return (
            f"{why}: this one uses {self.threads} of {self.capacity} threads "
            f"(--threads N or {ENV}=N to choose)"
        )

    def close(self) -> None:
        """Unregister and give back the thread count found at the start."""
        if self.registry is not None:
            self.registry.close()
            self.registry = None
        self._apply(self._before)

    def __enter__(self) -> ThreadBudget:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
