"""Image levels read on demand, so that opening a file decodes no pixels.

:class:`Deferred` decodes a (small) image whole on first access and keeps it;
:class:`RegionLevel` reads only the region that is sliced (large CZI mosaics). Both
slice like numpy arrays; ``np.asarray(level)`` gives the whole image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Deferred:
    """A level decoded whole by ``load()`` the first time its pixels are needed.

    Parameters
    ----------
    shape : tuple of int
        (H, W) or (H, W, 3), as the header declares it (checked against what ``load``
        returns).
    dtype : numpy.dtype
    load : callable
        Returns the whole image; called at most once.
    """

    def __init__(self, shape: tuple[int, ...], dtype: Any, load: Callable[[], np.ndarray]):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._load: Callable[[], np.ndarray] | None = load
        self._array: np.ndarray | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def loaded(self) -> bool:
        return self._array is not None

    @property
    def array(self) -> np.ndarray:
        """The whole image (decoded now if it was not yet)."""
        if self._array is None:
            assert self._load is not None
            array = np.asarray(self._load())
            if array.shape != self.shape or array.dtype != self.dtype:
                raise ValueError(
                    f"decoded {array.shape} {array.dtype}, declared {self.shape} {self.dtype}"
                )
            self._array, self._load = array, None
        return self._array

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.array[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)


class RegionLevel:
    """A level whose ``read_region(y0, y1, x0, x1)`` decodes only that rectangle.

    Subclasses implement :meth:`read_region`; slicing with steps reads the bounding
    region and subsamples it.
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def read_region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        yx = (key + (slice(None), slice(None)))[:2]
        ys, xs = (as_slice(k, n) for k, n in zip(yx, self.shape[:2], strict=True))
        region = self.read_region(ys.start, ys.stop, xs.start, xs.stop)[:: ys.step, :: xs.step]
        drop = tuple(0 if isinstance(k, (int, np.integer)) else slice(None) for k in yx)
        return region[drop + tuple(key[2:])]


def as_slice(k: Any, n: int) -> slice:
    """An int or forward slice over an axis of length ``n`` as a normalised slice."""
    if isinstance(k, (int, np.integer)):
        k = int(k) + n if k < 0 else int(k)
        return slice(k, k + 1, 1)
    start, stop, step = k.indices(n)
    if step < 1:
        raise IndexError("only forward slices are supported on a lazy level")
    return slice(start, max(start, stop), step)
