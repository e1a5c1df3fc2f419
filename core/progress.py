"""Progress reporting and cancellation for long core functions.

Long functions take ``progress: ProgressFn | None``; they call it now and then
with a fraction in [0, 1] and a short message. The callback may raise
:class:`core.errors.Cancelled` to stop the work; the function lets it
propagate and leaves nothing half-written behind.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[float, str], None]


def report(progress: ProgressFn | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, clamping ``fraction`` to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)
