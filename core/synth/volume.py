"""Synthetic three-phase electrode tomography volumes (seeded, with ground truth).

A volume is a uint8 label array ``[z, y, x]`` with the default phase codes of
:mod:`core.volume.phases`: 0 = pore, 1 = active material, 2 = carbon-binder (CBD).

Construction
------------
1. **Active material**: polydisperse (log-normal radii) particles placed by random
   sequential addition with a bounded overlap, until a target active volume fraction is
   reached. Calendering (``compression`` c in [0, 0.6)) squeezes the electrode along z:
   the particle centres are generated in a layer ``1 / (1 - c)`` times thicker and mapped
   down, and each particle is flattened to an oblate ellipsoid whose z semi-axis is
   ``r * sqrt(1 - c)``; the packing density rises accordingly.
2. **Carbon-binder**: a patchy coating and neck bridges: the pore voxels with the lowest
   ``distance to the nearest active voxel + smooth noise`` become CBD until the target CBD
   fraction is met exactly (to one voxel).
3. **Pores**: the rest.

These volumes are synthetic and must be labelled so wherever they are used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from ratescope.core.progress import ProgressFn, report

VOXEL_SIZE_UM = 0.398
"""Voxel edge of the paper's tomography (398 nm), µm."""


@dataclass
class VolumeParams:
    """Parameters of one synthetic volume.

    Attributes
    ----------
    shape : tuple of int
        ``(z, y, x)`` in voxels.
    radius_um : float
        Median particle radius, µm (NMC secondary particles: about 3-6 µm).
    radius_sigma : float
        Log-normal shape parameter of the radii (polydispersity).
    active_fraction : float
        Target volume fraction of active material before calendering.
    cbd_fraction : float
        Volume fraction of carbon-binder (exact).
    compression : float
        Calendering compression c in [0, 0.6): thickness reduction along z.
    overlap : float
        Allowed fractional overlap of two particles' radii sum (0 = hard spheres).
    voxel_size_um : float
        Voxel edge, µm.
    seed : int
        Seed of the random generator; equal parameters give equal volumes.
    """

    shape: tuple[int, int, int] = (48, 224, 224)
    radius_um: float = 4.0
    radius_sigma: float = 0.3
    active_fraction: float = 0.42
    cbd_fraction: float = 0.12
    compression: float = 0.0
    overlap: float = 0.15
    voxel_size_um: float = VOXEL_SIZE_UM
    seed: int = 0


@dataclass
class SynthVolume:
    """A synthetic label volume with its ground truth.

    Attributes
    ----------
    labels : numpy.ndarray
        uint8 ``[z, y, x]``: 0 pore, 1 active, 2 carbon-binder.
    params : VolumeParams
        The parameters it was made from.
    fractions : dict
        Measured volume fractions ``{"pore", "active", "carbon_binder"}``.
    n_particles : int
        Number of active particles placed.
    """

    labels: np.ndarray
    params: VolumeParams
    fractions: dict = field(default_factory=dict)
    n_particles: int = 0

    def metadata(self) -> dict:
        """JSON-able ground truth for writing beside the volume."""
        meta = asdict(self.params)
        meta.update(fractions=self.fractions, n_particles=self.n_particles, synthetic=True)
        return meta


def _place_particles(p: VolumeParams, rng: np.random.Generator) -> np.ndarray:
    """Random sequential addition; returns rows ``(cz, cy, cx, r)`` in voxels (uncompressed z)."""
    nz, ny, nx = p.shape
    s = 1.0 - p.compression
    depth = nz / s  # uncompressed layer thickness
    r_med = p.radius_um / p.voxel_size_um
    # particles cut by the box faces and overlaps count less than their volume: aim 20 % higher
    target = 1.2 * p.active_fraction * depth * ny * nx
    placed: list[np.ndarray] = []
    arr = np.zeros((0, 4))
    volume = 0.0
    misses = 0
    while volume < target and misses < 4000:
        r = float(np.clip(rng.lognormal(np.log(r_med), p.radius_sigma), 0.4 * r_med, 2.5 * r_med))
        c = rng.uniform([-r / 2, -r / 2, -r / 2], [depth + r / 2, ny + r / 2, nx + r / 2])
        if len(arr):
            d = np.sqrt(((arr[:, :3] - c) ** 2).sum(axis=1))
            if np.any(d < (arr[:, 3] + r) * (1.0 - p.overlap)):
                misses += 1
                continue
        placed.append(np.array([*c, r]))
        arr = np.vstack(placed)
        # volume inside the box, roughly (spheres cut by the faces count partly)
        volume += 4.0 / 3.0 * np.pi * r**3 * (1.0 - p.overlap) ** 1.5
        misses = 0
    return arr


def _rasterize(shape: tuple[int, int, int], parts: np.ndarray, s: float) -> np.ndarray:
    """Fill oblate ellipsoids (z semi-axis ``r*sqrt(s)``, centres at ``z*s``) into a bool mask."""
    mask = np.zeros(shape, dtype=bool)
    nz, ny, nx = shape
    for cz, cy, cx, r in parts:
        cz = cz * s
        rz = r * np.sqrt(s)
        lo = np.floor([cz - rz, cy - r, cx - r]).astype(int)
        hi = np.ceil([cz + rz, cy + r, cx + r]).astype(int) + 1
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, shape)
        if np.any(hi <= lo):
            continue
        z = (np.arange(lo[0], hi[0]) - cz) / rz
        y = (np.arange(lo[1], hi[1]) - cy) / r
        x = (np.arange(lo[2], hi[2]) - cx) / r
        inside = z[:, None, None] ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2 <= 1.0
        mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] |= inside
    return mask


def make_volume(
    params: VolumeParams | None = None, progress: ProgressFn | None = None
) -> SynthVolume:
    """Generate one synthetic three-phase volume.

    Parameters
    ----------
    params : VolumeParams, optional
        Geometry and seed; defaults to ``VolumeParams()`` (48 x 224 x 224, uncalendered).
    progress : ProgressFn, optional
        Called with (fraction, message); may raise :class:`core.errors.Cancelled`.

    Returns
    -------
    SynthVolume
        uint8 labels ``[z, y, x]`` (0 pore, 1 active, 2 carbon-binder) and ground truth.

    Examples
    --------
    >>> v = make_volume(VolumeParams(shape=(8, 40, 40), radius_um=2.0, seed=1))
    >>> v.labels.shape, v.labels.dtype.name
    ((8, 40, 40), 'uint8')
    """
    p = params or VolumeParams()
    if not 0.0 <= p.compression < 0.6:
        raise ValueError(f"compression must be in [0, 0.6), got {p.compression}")
    rng = np.random.default_rng(p.seed)
    report(progress, 0.0, "placing particles")
    parts = _place_particles(p, rng)
    report(progress, 0.3, f"rasterising {len(parts)} particles")
    active = _rasterize(p.shape, parts, 1.0 - p.compression)
    report(progress, 0.6, "coating with carbon-binder")
    labels = active.astype(np.uint8)
    pore = ~active
    n_cbd = int(round(p.cbd_fraction * active.size))
    n_cbd = min(n_cbd, int(pore.sum()))
    if n_cbd > 0:
        dist = ndimage.distance_transform_edt(pore).astype(np.float32)
        noise = ndimage.gaussian_filter(rng.standard_normal(p.shape).astype(np.float32), 1.5)
        noise *= 1.5 / max(float(noise.std()), 1e-6)
        score = (dist + noise)[pore]
        idx = np.argpartition(score, n_cbd - 1)[:n_cbd]
        flat = np.flatnonzero(pore)[idx]
        labels.reshape(-1)[flat] = 2
    counts = np.bincount(labels.reshape(-1), minlength=3)[:3] / labels.size
    fractions = {
        "pore": float(counts[0]),
        "active": float(counts[1]),
        "carbon_binder": float(counts[2]),
    }
    report(progress, 1.0, "done")
    return SynthVolume(labels=labels, params=p, fractions=fractions, n_particles=len(parts))


def training_set(
    n: int = 6, shape: tuple[int, int, int] = (72, 224, 224), seed: int = 100
) -> list[SynthVolume]:
    """A family of volumes spanning uncalendered to calendered, for training the CAE.

    Volume i has compression ``0.35 * i / (n - 1)`` (alternating around it a little),
    radius 3.5-4.5 µm and seed ``seed + i``; half are "UNCAL"-like, half "CAL"-like as in
    the paper's data set.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = 0.35 * i / max(n - 1, 1)
        out.append(
            make_volume(
                VolumeParams(
                    shape=shape,
                    compression=c,
                    radius_um=float(rng.uniform(3.5, 4.5)),
                    active_fraction=float(rng.uniform(0.38, 0.44)),
                    cbd_fraction=float(rng.uniform(0.10, 0.14)),
                    seed=seed + i,
                )
            )
        )
    return out


def write_tiff(
    path: str | Path,
    labels: np.ndarray,
    voxel_size_um: float = VOXEL_SIZE_UM,
    metadata: dict | None = None,
) -> None:
    """Write a label volume as an ImageJ multi-page TIFF (zlib) atomically.

    The voxel size goes into the X/Y resolution (pixels per µm) and ImageJ ``spacing``.
    """
    import json

    import tifffile

    from ratescope.core.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        tifffile.imwrite(
            tmp,
            labels,
            imagej=True,
            compression="zlib",
            resolution=(1.0 / voxel_size_um, 1.0 / voxel_size_um),
            metadata={
                "spacing": voxel_size_um,
                "unit": "um",
                "axes": "ZYX",
                "Info": json.dumps(metadata or {}),
            },
        )


def write_hdf5(
    path: str | Path,
    labels: np.ndarray,
    voxel_size_um: float = VOXEL_SIZE_UM,
    dataset: str = "labels",
    metadata: dict | None = None,
) -> None:
    """Write a label volume as one gzip-compressed, chunked HDF5 dataset atomically.

    The voxel size is stored as attributes ``element_size_um`` (z, y, x) and
    ``voxel_size_um``; ``metadata`` goes to the ``ground_truth`` attribute as JSON.
    """
    import json

    import h5py

    from ratescope.core.atomic import atomic_path

    with atomic_path(Path(path)) as tmp, h5py.File(tmp, "w") as f:
        chunks = (1, *labels.shape[1:]) if labels.ndim == 3 else True
        ds = f.create_dataset(
            dataset,
            data=labels,
            compression="gzip",
            compression_opts=6,
            chunks=chunks,
            shuffle=True,
        )
        ds.attrs["element_size_um"] = np.array([voxel_size_um] * 3)
        ds.attrs["voxel_size_um"] = voxel_size_um
        ds.attrs["phases"] = json.dumps({"0": "pore", "1": "active", "2": "carbon_binder"})
        if metadata:
            ds.attrs["ground_truth"] = json.dumps(metadata)
