"""Mini-volume data for the CAE: windows of several volumes, read and scaled on demand.

Two ways to split (core.models.cae_train):

* **by window** (the paper's): one :class:`WindowSet`, its windows split 85/15 at random
  by :func:`split`. With stride 1 neighbouring windows share l - 1 slices, so validation
  windows are not independent of the training ones.
* **by volume**: a training ``WindowSet`` and a validation ``WindowSet`` built from other
  volumes (plus held-out volumes never used during training).

Augmentation (``batch(..., rng=...)``): each training window is taken at a random in-plane
offset of its volume (the plane may be larger than 224) and flipped along z, y, x and
transposed in-plane at random; the 16 variants are all valid electrode geometries
(the calendering axis z stays z).
"""

from __future__ import annotations

import numpy as np
import torch

from ratescope.core.volume.phases import Scaling
from ratescope.core.volume.windows import Window, read_window, sliding_windows


class WindowSet:
    """The mini-volumes of several volumes, read and scaled on demand.

    Parameters
    ----------
    volumes : list
        Arrays or :class:`core.volume.io.VolumeSource` objects ``[z, y, x]``.
    scalings : list of Scaling
        One per volume (raw values -> [-1, 1]).
    window, stride, plane : int
        Window length, z stride, in-plane size.
    """

    def __init__(
        self,
        volumes: list,
        scalings: list[Scaling],
        window: int = 24,
        stride: int = 1,
        plane: int = 224,
    ):
        self.volumes, self.scalings = volumes, scalings
        self.window, self.plane = window, plane
        self.items: list[tuple[int, Window]] = [
            (i, w)
            for i, v in enumerate(volumes)
            for w in sliding_windows(v.shape, window, stride, plane)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def _augmented(self, v: int, w: Window, rng: np.random.Generator) -> np.ndarray:
        _, ny, nx = self.volumes[v].shape
        y0 = int(rng.integers(0, max(ny - self.plane, 0) + 1))
        x0 = int(rng.integers(0, max(nx - self.plane, 0) + 1))
        raw = read_window(self.volumes[v], Window(w.z0, y0, x0), self.window, self.plane)
        flips = [ax for ax in range(3) if rng.random() < 0.5]
        if flips:
            raw = np.flip(raw, axis=flips)
        if rng.random() < 0.5:
            raw = raw.transpose(0, 2, 1)
        return np.ascontiguousarray(raw)

    def batch(self, indices, rng: np.random.Generator | None = None) -> torch.Tensor:
        """float32 ``[len(indices), 1, l, plane, plane]``; augmented when ``rng`` is given."""
        arrays = []
        for i in indices:
            v, w = self.items[int(i)]
            if rng is None:
                raw = read_window(self.volumes[v], w, self.window, self.plane)
            else:
                raw = self._augmented(v, w, rng)
            arrays.append(self.scalings[v].apply(raw))
        return torch.from_numpy(np.stack(arrays)[:, None])


def split(n: int, val_fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random 85/15 split of ``n`` window indices: ``(train, validation)``, each sorted."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(val_fraction * n))) if n > 1 else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
