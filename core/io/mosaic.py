"""The :class:`Mosaic` every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.lazy import Deferred
from ratescope.core.io.limits import MEMORY_BUDGET_BYTES, gigabytes

MAX_IN_MEMORY_BYTES = MEMORY_BUDGET_BYTES
"""Level 0 larger than this is never materialised whole; read regions instead."""


class ArrayLike(Protocol):
    """A 2-D (gray) or 3-D (H, W, 3 RGB) array, possibly read lazily on slicing."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def __getitem__(self, key: Any) -> np.ndarray: ...


@dataclass
class Mosaic:
    """A micrograph mosaic, stitched, as the rest of RateScope sees it.

    Attributes
    ----------
    path : Path
        The file it came from.
    format : str
        ``"CZI"``, ``"ZVI"``, ``"TIFF"``, ``"OME-TIFF"``, ``"PNG"`` or ``"JPEG"``.
    levels : list of ArrayLike
        Resolution levels, full resolution first; each (H, W) gray or (H, W, 3) RGB,
        uint8 or uint16 exactly as stored (never rescaled). Lazy levels read only the
        region that is sliced.
    pixel_size_um : float
        Size of one level-0 pixel in micrometres.
    pixel_size_source : str
        ``"metadata"`` when read from the file, ``"default"`` when the paper's 0.123 µm
        was assumed, ``"user"`` when given by the caller.
    metadata : dict
        JSON-serialisable source facts: tiles, instrument, scenes, acquisition ...
    scene : int or None
        The scene index loaded, for multi-scene files.
    """

    path: Path
    format: str
    levels: list[ArrayLike]
    pixel_size_um: float
    pixel_size_source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    scene: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the full-resolution level."""
        return tuple(self.levels[0].shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.levels[0].dtype)

    @property
    def is_rgb(self) -> bool:
        return len(self.shape) == 3

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    def level_scale(self, level: int) -> float:
        """Level-0 pixels per pixel of ``level`` (1.0 for level 0)."""
        return self.levels[0].shape[1] / self.levels[level].shape[1]

    def read(self, y0: int, y1: int, x0: int, x1: int, level: int = 0) -> np.ndarray:
        """Read rows ``y0:y1`` and columns ``x0:x1`` of ``level`` (level pixels)."""
        return np.asarray(self.levels[level][y0:y1, x0:x1])

    @property
    def image(self) -> np.ndarray:
        """The whole full-resolution image as a numpy array.

        Raises
        ------
        RateScopeError
            If it would take more than :data:`MAX_IN_MEMORY_BYTES`.
        """
        level = self.levels[0]
        if isinstance(level, np.ndarray):
            return level
        if isinstance(level, Deferred):
            return level.array
        nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        if nbytes > MAX_IN_MEMORY_BYTES:
            raise RateScopeError(
                f"the image is {gigabytes(nbytes)}, too large to load whole within "
                f"RateScope's memory budget of {gigabytes(MAX_IN_MEMORY_BYTES)}; "
                "read regions of it instead",
                self.path,
            )
        return np.asarray(level[:, :])

    @property
    def nbytes(self) -> int:
        """Bytes of the full-resolution level, decoded."""
        return int(np.prod(self.shape)) * self.dtype.itemsize
