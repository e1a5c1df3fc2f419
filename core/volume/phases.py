"""Phase codes of segmented label volumes, the CAE's voxel scaling, and phase fractions.

Default codes (configurable per volume with :class:`PhaseMap`): 0 = pore, 1 = active
material, 2 = carbon-binder domain (CBD).

Input scaling for the CAE (single channel, as in the paper): each phase is given a grey
level in [-1, 1] ordered like its X-ray attenuation, pore -1 < carbon-binder 0 < active +1;
voxels of codes not in the map get 0 and are counted as ``"other"``. Grayscale volumes are
scaled linearly from ``[lo, hi]`` (the volume's range) to [-1, 1]. The inputs are thus
roughly zero-centred, like the paper's (its mini-volumes have voxel means of -0.2 to -0.36
and standard deviations of 0.47-0.59); the decoder has no output activation and starts
near 0, so a [0, 1] scaling would spend its first thousands of Adam steps (lr 1e-4) moving
one output bias. MSE values are in these units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ratescope.core.progress import ProgressFn, report

DEFAULT_CODES = {"pore": 0, "active": 1, "carbon_binder": 2}
DEFAULT_LEVELS = {"pore": -1.0, "carbon_binder": 0.0, "active": 1.0}
RANGE = (-1.0, 1.0)
"""Range of the CAE input values."""


@dataclass(frozen=True)
class PhaseMap:
    """Which integer code is which phase, and the grey level the CAE sees for it.

    Attributes
    ----------
    codes : dict of str to int
        Phase name -> label code (0..255).
    levels : dict of str to float
        Phase name -> CAE input value in [-1, 1].
    """

    codes: dict = field(default_factory=lambda: dict(DEFAULT_CODES))
    levels: dict = field(default_factory=lambda: dict(DEFAULT_LEVELS))

    def lut(self) -> np.ndarray:
        """float32 lookup table ``[256]``: label code -> CAE input value."""
        table = np.zeros(256, dtype=np.float32)
        for name, code in self.codes.items():
            table[int(code)] = float(self.levels.get(name, 0.0))
        return table


@dataclass(frozen=True)
class Scaling:
    """How raw voxel values become CAE inputs in [-1, 1].

    Attributes
    ----------
    kind : str
        ``"labels"`` (lookup through ``phases``) or ``"grayscale"`` (linear ``lo..hi``).
    phases : PhaseMap
        Used when ``kind == "labels"``.
    lo, hi : float
        Grey range mapped to [-1, 1] when ``kind == "grayscale"``.
    """

    kind: str = "labels"
    phases: PhaseMap = field(default_factory=PhaseMap)
    lo: float = 0.0
    hi: float = 1.0

    def apply(self, block: np.ndarray) -> np.ndarray:
        """Scale a raw block (any shape) to float32 in [-1, 1]."""
        if self.kind == "labels":
            if block.dtype != np.uint8:
                block = np.clip(block, 0, 255).astype(np.uint8)
            return self.phases.lut()[block]
        span = self.hi - self.lo if self.hi > self.lo else 1.0
        out = (block.astype(np.float32) - np.float32(self.lo)) * np.float32(2.0 / span) - 1
        return np.clip(out, -1.0, 1.0, out=out)


def phase_fractions(
    source, phases: PhaseMap | None = None, chunk: int = 16, progress: ProgressFn | None = None
) -> dict[str, float]:
    """Volume fraction of each phase of a label volume, computed ``chunk`` slices at a time.

    Parameters
    ----------
    source : VolumeSource or numpy.ndarray
        Integer labels ``[z, y, x]``; a :class:`core.volume.io.VolumeSource` is read lazily.
    phases : PhaseMap, optional
        Code of each phase (default 0 pore, 1 active, 2 carbon-binder).
    chunk : int
        Slices read at once (memory: ``chunk * y * x`` voxels).
    progress : ProgressFn, optional
        May raise :class:`core.errors.Cancelled`.

    Returns
    -------
    dict
        ``{phase name: fraction}`` summing with ``"other"`` (codes not in the map) to 1.
    """
    phases = phases or PhaseMap()
    nz = source.shape[0]
    counts = np.zeros(256, dtype=np.int64)
    for z0 in range(0, nz, chunk):
        report(progress, z0 / nz, f"counting phases, slice {z0} of {nz}")
        block = (
            source.read(z0, min(z0 + chunk, nz))
            if hasattr(source, "read")
            else (np.asarray(source[z0 : z0 + chunk]))
        )
        values = np.asarray(block).reshape(-1)
        if values.dtype != np.uint8:
            values = np.clip(values, 0, 255).astype(np.uint8)
        counts += np.bincount(values, minlength=256)
    total = max(int(counts.sum()), 1)
    out = {name: float(counts[code] / total) for name, code in phases.codes.items()}
    known = sum(counts[c] for c in set(phases.codes.values()))
    out["other"] = float((total - known) / total) if counts.sum() else 0.0
    report(progress, 1.0, "phase fractions done")
    return out
