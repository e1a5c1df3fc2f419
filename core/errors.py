"""The one error type RateScope raises for problems a user can act on."""

from __future__ import annotations

from pathlib import Path


class RateScopeError(Exception):
    """A problem with an input or an operation, in words a microscopist understands.

    Parameters
    ----------
    reason : str
        What went wrong, e.g. ``"the file is empty (0 bytes)"``.
    path : str or Path, optional
        The file concerned; it is named first in the message.
    """

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path.name}: {reason}" if self.path else reason)


class MultipleScenes(RateScopeError):
    """The file holds several scenes and the caller must pick one (``scene=``)."""

    def __init__(self, path: str | Path, scenes: list[str]):
        self.scenes = list(scenes)
        super().__init__(
            f"the file holds {len(scenes)} scenes ({', '.join(scenes)}); choose one", path
        )


class Cancelled(RateScopeError):
    """Raised from a progress callback to stop a long computation."""

    def __init__(self, reason: str = "cancelled by the user"):
        super().__init__(reason)
