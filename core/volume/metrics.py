"""Microstructure metrics of a labelled electrode volume: what drives rate capability.

* **Tortuosity factor** of the pore phase through the electrode (axis 0 by default), from
  a steady-state diffusion solve (:mod:`core.volume.tortuosity`).
* **Pore connectivity**: fraction of the pore voxels in 6-connected clusters that touch
  both through-plane faces, and the number of pore clusters.
* **Particle size distribution** of the active phase: the active voxels are split into
  particles by a watershed of their Euclidean distance map (one marker per distance
  maximum at least ``min_distance`` apart); each particle's volume-equivalent diameter
  ``(6 V / pi)^(1/3)``. Particles cut by the volume's faces are left out when at least
  :data:`MIN_INTERIOR` remain inside. d10/d50/d90 are **volume-weighted** (as a laser
  diffraction data sheet gives them); the number-weighted median is reported beside.
* **Specific surface area** of the active/pore interface per volume of electrode
  (µm^-1). Each phase's surface is meshed by marching cubes on its mask smoothed with a
  Gaussian of 0.7 voxels (a voxelised sphere's area comes out within 1 %, 9 % too large
  without smoothing), slab by slab; with three phases every interface is counted by two
  phase surfaces, so ``A(active|pore) = (S_active + S_pore - S_cbd) / 2``.
* **Physics rate curve** from the bundled DFN label table (:mod:`core.labels`), see
  :func:`physics_curves`.

Assumptions: pores are the pore code only; the carbon-binder domain counts as solid (its
nano-porosity is ignored), as in :mod:`core.electrode`, whose coating solid includes PVdF
and carbon and whose porosity is the electrolyte-filled volume fraction the table uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.progress import ProgressFn, report
from ratescope.core.volume.phases import PhaseMap
from ratescope.core.volume.tortuosity import TortuosityResult, tortuosity_factor

MIN_INTERIOR = 10
"""Particles needed inside the volume before those cut by its faces are left out."""
TABLE_BRUGGEMAN = 2.0
"""Bruggeman exponent b of the cathode electrolyte in the label table
(``scripts/make_labels.py``, ``resources/labels/PROVENANCE.md``): ``D_eff = D eps^b``,
so the table's own tortuosity factor is ``tau_B = eps^(1 - b) = 1 / eps``."""
SURFACE_SIGMA = 0.7
"""Gaussian smoothing (voxels) of each phase mask before marching cubes."""
SLAB = 32
"""Slices meshed at once for the surface area."""


@dataclass(frozen=True)
class ParticleSizes:
    """Equivalent diameters of the active particles.

    Attributes
    ----------
    d10_um, d50_um, d90_um : float
        Volume-weighted percentiles of the volume-equivalent diameter, µm.
    number_d50_um : float
        Number-weighted median diameter, µm.
    n_particles : int
        Particles counted.
    n_cut : int
        Particles left out because they touch a face of the volume.
    """

    d10_um: float
    d50_um: float
    d90_um: float
    number_d50_um: float
    n_particles: int
    n_cut: int


@dataclass(frozen=True)
class Connectivity:
    """How the pore space connects the two through-plane faces.

    Attributes
    ----------
    percolating_fraction : float
        Fraction of the pore voxels in clusters touching both faces.
    n_clusters : int
        6-connected pore clusters.
    """

    percolating_fraction: float
    n_clusters: int


@dataclass
class MicrostructureMetrics:
    """Everything :func:`microstructure_metrics` measures.

    Attributes
    ----------
    fractions : dict
        Volume fraction of each phase.
    voxel_um : tuple of float
        Voxel edges (z, y, x) in µm used for the lengths.
    tortuosity : TortuosityResult
        Pore phase along ``tortuosity.axis``.
    connectivity : Connectivity
    particles : ParticleSizes or None
        None when the volume holds no active particle.
    specific_surface_um : float
        Active/pore interface area per electrode volume, µm^-1.
    active_surface_um : float
        Whole active surface (against pores and carbon-binder) per electrode volume, µm^-1.
    physics : dict
        :func:`physics_curves` result.
    """

    fractions: dict
    voxel_um: tuple
    tortuosity: TortuosityResult
    connectivity: Connectivity
    particles: ParticleSizes | None
    specific_surface_um: float
    active_surface_um: float
    physics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The JSON layout of ``python main.py volume --json`` (see ``cli/volume.py``)."""
        tau = self.tortuosity
        return {
            "tortuosity": {
                "factor": tau.tau if np.isfinite(tau.tau) else None,
                **{k: v for k, v in tau.as_dict().items() if k != "tau"},
                "phase": "pore",
            },
            "particle_size": asdict(self.particles) if self.particles else None,
            "specific_surface_um-1": self.specific_surface_um,
            "active_surface_um-1": self.active_surface_um,
            "pore_connectivity": asdict(self.connectivity),
            "physics": self.physics,
            "voxel_size_um_zyx": list(self.voxel_um),
        }


def _checker(progress, cancel):
    def check(fraction: float, message: str) -> None:
        if cancel is not None and cancel():
            raise Cancelled()
        report(progress, fraction, message)

    return check


def _scaled(progress, lo: float, hi: float):
    if progress is None:
        return None
    return lambda f, m: progress(lo + (hi - lo) * f, m)


def pore_connectivity(pore: np.ndarray, axis: int = 0) -> Connectivity:
    """Percolating fraction and cluster count of a pore mask (6-connectivity)."""
    labels, n = ndimage.label(pore)
    first = np.unique(np.take(labels, 0, axis=axis))
    last = np.unique(np.take(labels, -1, axis=axis))
    both = np.intersect1d(first[first > 0], last[last > 0])
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    total = int(counts[1:].sum())
    frac = float(counts[both].sum() / total) if total else 0.0
    return Connectivity(frac, int(n))


def particle_sizes(
    active: np.ndarray,
    voxel_um: tuple[float, float, float] = (1.0, 1.0, 1.0),
    check: Callable[[float, str], None] | None = None,
) -> ParticleSizes | None:
    """Watershed-separated particle sizes of an active-phase mask; see the module notes."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    check = check or (lambda f, m: None)
    if not active.any():
        return None
    check(0.0, "distance map of the active phase")
    dist = ndimage.distance_transform_edt(active, sampling=voxel_um).astype(np.float32)
    dist /= np.float32(min(voxel_um))  # in voxels of the finest edge
    depth = np.percentile(dist[active], 90)
    min_distance = max(2, int(round(0.5 * depth)))
    check(0.3, "finding particle centres")
    peaks = peak_local_max(
        dist,
        min_distance=min_distance,
        threshold_abs=1.5,
        labels=active.astype(np.int32),
        exclude_border=False,
    )
    if len(peaks) == 0:
        return None
    markers = np.zeros(active.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    check(0.45, f"separating {len(peaks)} particles (watershed)")
    parts = watershed(-dist, markers, mask=active)
    del dist, markers
    counts = np.bincount(parts.ravel(), minlength=len(peaks) + 1)[1:]
    cut = np.zeros(counts.size, bool)
    for ax in range(3):
        for face in (0, -1):
            ids = np.unique(np.take(parts, face, axis=ax))
            cut[ids[ids > 0] - 1] = True
    del parts
    present = counts > 0
    keep = present & ~cut
    if keep.sum() < MIN_INTERIOR:
        keep = present
    vol = counts[keep] * float(np.prod(voxel_um))
    diam = np.cbrt(6.0 * vol / np.pi)
    order = np.argsort(diam)
    cum = np.cumsum(vol[order]) / vol.sum()
    d10, d50, d90 = (float(diam[order][np.searchsorted(cum, q)]) for q in (0.1, 0.5, 0.9))
    check(1.0, "particle sizes done")
    return ParticleSizes(
        d10, d50, d90, float(np.median(diam)), int(keep.sum()), int((present & ~keep).sum())
    )


def phase_surface_area(
    mask: np.ndarray,
    voxel_um: tuple[float, float, float] = (1.0, 1.0, 1.0),
    check: Callable[[float, str], None] | None = None,
) -> float:
    """Area (µm²) of a phase's surface inside the volume (the volume's faces not counted).

    Marching cubes on the mask smoothed by :data:`SURFACE_SIGMA`, :data:`SLAB` slices at a
    time (with a halo; each triangle counted in the slab that holds its centre). The mesh
    spans the voxel centres, i.e. ``(n - 1)`` voxel edges along each axis: divide by that
    volume for an area per volume.
    """
    from skimage.measure import marching_cubes, mesh_surface_area

    nz = mask.shape[0]
    halo = 3
    area = 0.0
    for z0 in range(0, nz, SLAB):
        if check is not None:
            check(z0 / nz, f"surface, slice {z0} of {nz}")
        z1 = min(z0 + SLAB, nz)
        a, b = max(z0 - halo, 0), min(z1 + halo, nz)
        block = ndimage.gaussian_filter(mask[a:b].astype(np.float32), SURFACE_SIGMA)
        if block.min() >= 0.5 or block.max() <= 0.5 or min(block.shape) < 2:
            continue
        verts, faces, _, _ = marching_cubes(block, 0.5, spacing=voxel_um)
        zc = verts[faces, 0].mean(axis=1) / voxel_um[0] + a
        own = (zc >= z0) & (zc < z1)  # each cube [k, k + 1] belongs to the slab of k
        area += float(mesh_surface_area(verts, faces[own])) if own.any() else 0.0
    return area


def physics_curves(porosity: float, radius_um: float | None, tau: float | None, table=None) -> dict:
    """Rate curves from the DFN label table at the measured porosity and particle radius.

    Two curves per unit (``"specific"`` Ah/kg, ``"volumetric"`` Ah/L):

    * ``bruggeman``: the table as it is, at (porosity, radius). The table's electrolyte
      transport assumes Bruggeman, ``D_eff / D = eps^b`` with b = :data:`TABLE_BRUGGEMAN`.
    * ``measured_tortuosity``: the measured tau replaces Bruggeman. The table varies only
      porosity, so the specific curve (Ah/kg NCM) is read at the *effective porosity*
      ``eps_eff`` whose Bruggeman transport equals the measured one: ``eps_eff^b = eps /
      tau``, i.e. ``eps_eff = (eps / tau)^(1/b)``. The volumetric curve (Ah/L) is the
      table's at the real porosity times the same per-rate ratio ``specific(eps_eff) /
      specific(eps)``, so that the material per litre stays that of the real porosity.

    Limits of the second curve: in the table, porosity also sets the coating thickness
    (constant loading) and the active volume fraction, so the specific curve at ``eps_eff``
    is that of a slightly thinner or thicker coating, not only of a different electrolyte
    transport; the solid-phase (electronic) transport
    and the carbon-binder's nano-porosity are not measured; tau is the through-plane value
    of the imaged volume only. It is an estimate of the direction and size of the effect of
    the real pore network, not a simulation of it.

    Parameters
    ----------
    porosity : float
        Pore volume fraction (carbon-binder counted as solid).
    radius_um : float or None
        Particle radius, µm (the volume-weighted d50 / 2).
    tau : float or None
        Measured tortuosity factor of the pores (inf/None: not percolating).
    table : LabelTable, optional
        Default: the bundled table.

    Returns
    -------
    dict
        ``c_rates``, ``porosity``, ``radius_um``, ``bruggeman_tau``, ``effective_porosity``,
        ``curves`` ({"bruggeman"|"measured_tortuosity": {unit: [5 values] or None}}),
        ``notes`` (why a curve is missing), ``units``.
    """
    from ratescope.core.constants import C_RATES, UNITS
    from ratescope.core.labels import load_label_table

    table = table or load_label_table()
    b = TABLE_BRUGGEMAN
    out: dict = {
        "c_rates": list(C_RATES),
        "units": dict(UNITS),
        "porosity": float(porosity),
        "radius_um": None if radius_um is None else float(radius_um),
        "bruggeman_exponent": b,
        "bruggeman_tau": float(porosity ** (1.0 - b)) if porosity > 0 else None,
        "measured_tau": None if tau is None or not np.isfinite(tau) else float(tau),
        "effective_porosity": None,
        "curves": {"bruggeman": None, "measured_tortuosity": None},
        "notes": [],
        "source": "DFN label table (synthetic physics labels), core.labels",
    }
    if radius_um is None:
        out["notes"].append("no particle radius (no active particles)")
        return out

    def read(eps: float, name: str):
        try:
            return {u: [float(v) for v in table.curve(eps, radius_um, u)] for u in UNITS}
        except ValueError as e:
            out["notes"].append(f"{name}: {e}")
            return None

    out["curves"]["bruggeman"] = read(porosity, "bruggeman")
    if out["measured_tau"] is None:
        out["notes"].append("measured_tortuosity: the pores do not connect the two faces")
    else:
        eps_eff = (porosity / out["measured_tau"]) ** (1.0 / b)
        out["effective_porosity"] = float(eps_eff)
        at_eff, at_real = read(eps_eff, "measured_tortuosity"), out["curves"]["bruggeman"]
        if at_eff is not None and at_real is not None:
            ratio = np.divide(at_eff["specific"], at_real["specific"])
            vol = np.asarray(at_real["volumetric"]) * ratio
            out["curves"]["measured_tortuosity"] = {
                "specific": at_eff["specific"],
                "volumetric": [float(v) for v in vol],
            }
    return out


def _read_labels(source) -> tuple[np.ndarray, str]:
    if hasattr(source, "read"):
        return np.asarray(source.read(0, source.shape[0])), str(getattr(source, "path", ""))
    return np.asarray(source), ""


def microstructure_metrics(
    source,
    phases: PhaseMap | None = None,
    voxel_um: float | tuple[float, float, float] | None = None,
    axis: int = 0,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
    table=None,
) -> MicrostructureMetrics:
    """All metrics of a label volume.

    Parameters
    ----------
    source : VolumeSource or numpy.ndarray
        Integer labels ``[z, y, x]`` (read whole: 1 byte per voxel for uint8).
    phases : PhaseMap, optional
        Codes of pore / active / carbon_binder (default 0 / 1 / 2).
    voxel_um : float or tuple, optional
        Voxel edge(s) in µm; default the source's ``voxel_size_um``.
    axis : int
        Through-plane axis (0 = slices).
    progress, cancel
        As for :func:`core.volume.tortuosity.tortuosity_factor`.
    table : LabelTable, optional
        For the physics curves (default: the bundled table).

    Returns
    -------
    MicrostructureMetrics

    Raises
    ------
    RateScopeError
        Without a voxel size, or when the volume is not 3D.
    """
    check = _checker(progress, cancel)
    path = getattr(source, "path", None)
    if voxel_um is None:
        voxel_um = getattr(source, "voxel_size_um", None)
    if voxel_um is None:
        raise RateScopeError("the voxel size is unknown: give it (µm) to measure lengths", path)
    vs = tuple(float(v) for v in np.broadcast_to(np.asarray(voxel_um, float), (3,)))
    phases = phases or PhaseMap()
    check(0.0, "reading the labels")
    labels, _ = _read_labels(source)
    if labels.ndim != 3 or min(labels.shape) < 2:
        raise RateScopeError(f"expected a 3D label volume, got shape {labels.shape}", path)
    codes = phases.codes
    pore = labels == codes.get("pore", 0)
    active = labels == codes.get("active", 1)
    cbd = labels == codes.get("carbon_binder", 2)
    n = labels.size
    fractions = {"pore": pore.sum() / n, "active": active.sum() / n, "carbon_binder": cbd.sum() / n}
    fractions = {k: float(v) for k, v in fractions.items()}
    del labels
    check(0.03, "pore connectivity")
    conn = pore_connectivity(pore, axis)
    tau = tortuosity_factor(
        pore,
        axis,
        progress=_scaled(check, 0.06, 0.55),
        spacing=vs,
    )
    parts = particle_sizes(active, vs, _scaled(check, 0.55, 0.8))
    sa = [
        phase_surface_area(m, vs, _scaled(check, lo, lo + 0.06))
        for m, lo in ((active, 0.8), (pore, 0.86), (cbd, 0.92))
    ]
    # marching cubes meshes between voxel centres: (n - 1) voxel spacings along each axis
    total_um3 = float(np.prod([(k - 1) * v for k, v in zip(pore.shape, vs, strict=True)]))
    interface = max(0.5 * (sa[0] + sa[1] - sa[2]), 0.0)
    check(0.98, "rate curves from the label table")
    physics = physics_curves(
        fractions["pore"],
        None if parts is None else parts.d50_um / 2.0,
        tau.tau,
        table,
    )
    report(progress, 1.0, "microstructure metrics done")
    return MicrostructureMetrics(
        fractions, vs, tau, conn, parts, interface / total_um3, sa[0] / total_um3, physics
    )
