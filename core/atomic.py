"""Atomic file writes: a temporary file beside the target, then a rename.

A failed write (read-only folder, full disk) leaves the target as it was and raises
:class:`~ratescope.core.errors.RateScopeError` naming the target, not the hidden
temporary file; temporary files of earlier writes that were killed are removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ratescope.core.errors import RateScopeError

STALE_S = 3600.0
"""Temporary files of a target older than this are left-overs of a killed write."""


def _remove_stale(target: Path) -> None:
    now = time.time()
    for part in target.parent.glob(f".{target.name}.*.part"):
        with contextlib.suppress(OSError):
            if now - part.stat().st_mtime > STALE_S:
                part.unlink()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it over ``target``.

    If the body raises, the temporary file is removed and ``target`` is left
    exactly as it was.

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:          # doctest: +SKIP
    ...     tmp.write_text("a,b\\n")
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(target)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's mode
        yield tmp
        os.replace(tmp, target)
    except OSError as e:
        raise RateScopeError(f"could not write the file ({e.strerror or e})", target) from e
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
