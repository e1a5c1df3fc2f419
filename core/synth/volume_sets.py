"""Families of synthetic volumes for training and evaluating the CAE.

:func:`varied_set` draws every geometric parameter at random (seeded): calendering
compression, median particle radius and its spread, active and carbon-binder fractions.
Disjoint seed ranges give disjoint training / validation / held-out families
(``core.models.cae_train`` splits by volume). All volumes are SYNTHETIC.
"""

from __future__ import annotations

import numpy as np

from ratescope.core.progress import ProgressFn, report
from ratescope.core.synth.volume import SynthVolume, VolumeParams, make_volume

RANGES = {
    "compression": (0.0, 0.45),
    "radius_um": (2.5, 5.5),
    "radius_sigma": (0.15, 0.4),
    "active_fraction": (0.36, 0.46),
    "cbd_fraction": (0.08, 0.16),
}
"""Uniform ranges of the parameters drawn per volume."""


def varied_params(n: int, shape: tuple[int, int, int], seed: int) -> list[VolumeParams]:
    """``n`` parameter sets drawn from :data:`RANGES`; volume i gets seed ``seed + i``.

    Compression is stratified (volume i in the i-th of n equal bins) so that every family
    spans uncalendered to calendered.
    """
    rng = np.random.default_rng(seed)
    lo, hi = RANGES["compression"]
    out = []
    for i in range(n):
        draw = {k: float(rng.uniform(*r)) for k, r in RANGES.items() if k != "compression"}
        c = lo + (hi - lo) * (i + float(rng.uniform())) / n
        out.append(VolumeParams(shape=shape, compression=c, seed=seed + i, **draw))
    return out


def varied_set(
    n: int,
    shape: tuple[int, int, int] = (48, 256, 256),
    seed: int = 100,
    progress: ProgressFn | None = None,
) -> list[SynthVolume]:
    """``n`` synthetic volumes with randomly drawn geometry (see :func:`varied_params`)."""
    out = []
    for i, p in enumerate(varied_params(n, shape, seed)):
        report(progress, i / max(n, 1), f"synthetic volume {i + 1} of {n}")
        out.append(make_volume(p))
    report(progress, 1.0, "synthetic volumes done")
    return out
