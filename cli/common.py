"""Helpers shared by the sub-commands: error reporting, JSON output and compute threads."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ratescope.core.atomic import atomic_path
from ratescope.core.errors import RateScopeError


def fail(error: RateScopeError | str) -> int:
    """Print an error for the user on stderr and return exit code 1."""
    print(f"error: {error}", file=sys.stderr)
    return 1


def write_json(data: Any, path: str | Path | None) -> None:
    """Write ``data`` as JSON to ``path`` atomically, or to stdout when ``path`` is '-'/None."""
    text = json.dumps(data, indent=2, default=str)
    if path in (None, "-"):
        print(text)
        return
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def save_json(data: Any, path: str | Path | None) -> int:
    """:func:`write_json`, but a file that cannot be written loses nothing: the error names
    it and ``data`` goes to stdout instead. Returns the exit code (0 written, 1 not)."""
    try:
        write_json(data, path)
    except RateScopeError as e:
        fail(e)
        print("what could not be written there:", file=sys.stderr)
        write_json(data, "-")
        return 1
    return 0


SHARED_THREADS = frozenset({"predict", "explain", "align", "volume"})
"""Commands that compute with torch and share the cores with concurrent runs
(:mod:`core.threads`). ``bench`` is not one: its suites set all cores themselves; ``train``
and ``train-cae`` keep their own ``--threads`` (default all cores)."""


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return n


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N`` (a command that defines its own keeps it)."""
    try:
        p.add_argument(
            "--threads",
            type=_positive,
            metavar="N",
            help="compute threads (default: RATESCOPE_THREADS, else an equal share of the "
            "cores among the RateScope runs on this machine, re-evaluated per file)",
        )
    except argparse.ArgumentError:
        pass
    p.set_defaults(share_threads=True)


class _Fixed:
    """The budget of a command run without the dispatcher (tests): nothing changes."""

    threads = None

    def refresh(self) -> None:
        return None


def start_threads(args: argparse.Namespace) -> Any:
    """Start this run's :class:`core.threads.ThreadBudget` (``args.thread_budget``) when
    the command shares the cores, else None; the caller closes it when the command ends.
    Prints a note on stderr when other runs make its share smaller than the machine.

    Raises
    ------
    RateScopeError
        When ``RATESCOPE_THREADS`` is not understood.
    """
    if not getattr(args, "share_threads", False):
        return None
    from ratescope.core.threads import ThreadBudget

    budget = ThreadBudget(getattr(args, "threads", None))
    if note := budget.note():
        print(f"note: {note}", file=sys.stderr)
    args.thread_budget = budget
    return budget


def thread_budget(args: argparse.Namespace) -> Any:
    """The command's thread budget: ``refresh()`` between files, ``threads`` the count in
    use (None when the command was called without :func:`start_threads`)."""
    return getattr(args, "thread_budget", None) or _Fixed()
