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
