"""Every background thread of the GUI starts here, so quitting and the tests can wait for it.

Two kinds of background work, both counted by :func:`running` and awaited by
:func:`wait_all`:

- **workers** (:func:`start_worker`): superqt function workers on Qt's global thread pool.
  Everything the :class:`gui.background.TaskRunner` runs and the mosaic view's region
  reads are workers.
- **threads** (:func:`start_thread`): a Python thread of its own, for work that must not
  hold a pool slot because it cannot be cancelled and may take long: loading the models
  imports torch (seconds), and work queued in the pool would wait behind it.

Quitting (:func:`gui.app.finish_background`) cancels the window's tasks and calls
:func:`wait_all`; the GUI tests' teardown waits until :func:`running` is empty, and a test
that leaves anything running fails (``tests/conftest.py``). A signal emitted by a thread
after its window was deleted can crash the process, so nothing in ``gui/`` may start a
thread or executor any other way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

_lock = threading.Lock()
_threads: list[threading.Thread] = []


def _pool() -> QtCore.QThreadPool:
    return QtCore.QThreadPool.globalInstance()


def start_worker(
    func: Callable[..., Any],
    *args: Any,
    connect: dict[str, Callable[..., Any]] | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``func(*args, **kwargs)`` as a superqt worker on the global pool; return it.

    ``connect`` maps worker signal names (``returned``, ``errored``, ``finished``, …) to
    slots, connected before the worker starts.
    """
    from superqt.utils import create_worker  # ~0.3-1 s to import: not at start-up

    worker = create_worker(func, *args, _start_thread=False, _connect=connect, **kwargs)
    worker.start()
    return worker


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Run ``target()`` in a daemon thread of its own named ``name``; return the thread.

    For long work that cannot be cancelled and must not occupy the worker pool.
    ``target`` must not touch widgets; it may emit signals (queued to the GUI thread).
    """
    thread = threading.Thread(target=target, name=name, daemon=True)
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def running() -> list[str]:
    """What still runs: the names of live threads, then ``"N pool worker(s)"`` if any."""
    with _lock:
        names = [t.name for t in _threads if t.is_alive()]
    workers = _pool().activeThreadCount()
    if workers:
        names.append(f"{workers} pool worker{'s' * (workers != 1)}")
    return names


def wait_all(timeout_s: float) -> bool:
    """Block until every thread and worker has returned, at most ``timeout_s`` in all.

    Returns True when nothing runs any more. Results that arrive meanwhile are queued
    to the GUI thread, which does not process them while this blocks.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with _lock:
            live = [t for t in _threads if t.is_alive()]
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        _pool().waitForDone(left_ms)
        if not running() or time.monotonic() >= deadline:
            return not running()
