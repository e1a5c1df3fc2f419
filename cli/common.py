"""Helpers shared by the sub-commands: error reporting and JSON output."""

from __future__ import annotations

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
