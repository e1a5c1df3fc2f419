"""Classical 2D measurements of the straightened coating: phases, porosity, particle sizes.

The coating is measured where the user accepted it: in the straightened frame of the
alignment, over the columns of the kept tiles, from the mean surface line down to the
collector edge (a small margin keeps the foil's bright edge out). The pixels are the
model image's (0.123 µm/px, :mod:`core.align.band`).

**Segmentation** (scikit-image): luminance (Rec. 709, so a colour cast does not matter),
a light Gaussian, one Otsu threshold over the whole coating (the brightest phase in
reflected light is always NCM; epoxy-filled pores and carbon-binder are darker), holes
smaller than ``HOLE_UM2`` filled (cracks and inner specks belong to the particle) and
specks smaller than ``SPECK_UM2`` removed.

**What the image shows and what the label table needs.** A light micrograph rarely
separates carbon-binder from epoxy-filled pores, so the measured quantity is the
*non-active fraction* (pores and carbon-binder together, ``1 - active``). The label table
(:mod:`core.labels`) describes electrodes of the paper's composition (92/4/4 wt%, densities
of :mod:`core.electrode`), in which the active volume fraction fixes the porosity:
``active = (1 - porosity) * 0.92 rho_solid / rho_NCM``. :attr:`Microstructure.porosity`
is that inversion: the pore fraction *under the table's binder assumption*.

**Particle sizes**: touching particles are split by a watershed on the distance
transform; the equivalent-circle diameter of every section gives d10/d50/d90 (number
weighted), with the Miles-Lantuéjoul edge correction (a section cut by the window's edge
is dropped and the others weighted by the inverse of the area where they could lie).
Sections of spheres are smaller than the spheres: for spheres of radius R cut at random
heights the median section radius is ``sqrt(3)/2 R``, so :attr:`particle_radius_um`
(the table's particle radius) is ``d50 / 2 / (sqrt(3)/2)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, filters, measure, morphology, segmentation

from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM, TILE_WIDTH
from ratescope.core.electrode import DENSITIES_G_CM3, MASS_FRACTIONS, solid_density_g_cm3
from ratescope.core.errors import RateScopeError

CHUNK_PX = 6 * TILE_WIDTH
"""Widest strip measured at once (a whole number of tiles: the spread blocks stay whole)."""
FOIL_MARGIN_PX = 3
"""Rows kept clear of the collector edge (its bright, blurred rim is not coating)."""
SURFACE_ALLOWANCE_UM = 8.0
"""How far above the mean surface line the window starts, to take in the particles that
stand above it; in each column the coating begins at its topmost active pixel."""
HOLE_UM2 = 0.6
"""Dark holes inside a particle smaller than this (µm²) are cracks or specks: particle."""
SPECK_UM2 = 0.3
"""Bright specks smaller than this (µm²) are noise or carbon glints, not particles."""
MIN_SECTION_UM = 1.0
"""Sections with an equivalent diameter below this are not counted in the size statistics."""
OTSU_BINS = 1024
"""Histogram bins of the luminance (0-256) the Otsu threshold is found on."""
HALF_BELOW_UM = 0.2
"""Pixels finer than this are binned 2 x 2 for the size statistics (4 x faster)."""
SECTION_TO_SPHERE = math.sqrt(3.0) / 2.0
"""Median section radius / sphere radius for spheres cut at random heights."""
SEGMENTATION_SD = 0.01
"""Systematic uncertainty of the active fraction from the threshold (blur at the rims)."""
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def active_share_of_porosity() -> float:
    """Active volume fraction per unit solid fraction under the table's composition."""
    return MASS_FRACTIONS["NCM111"] * solid_density_g_cm3() / DENSITIES_G_CM3["NCM111"]


def porosity_from_active(active_fraction: float) -> float:
    """Porosity whose active volume fraction (92/4/4 wt%) is ``active_fraction``."""
    return 1.0 - active_fraction / active_share_of_porosity()


@dataclass
class Microstructure:
    """What the straightened coating shows.

    Attributes
    ----------
    non_active_fraction : float
        Area fraction of the coating that is not active material (pores + carbon-binder).
    porosity, porosity_sd : float
        Pore fraction under the label table's binder assumption, and its standard
        uncertainty (spread between strips and the threshold's systematic part).
    d10_um, d50_um, d90_um : float
        Percentiles of the particle sections' equivalent diameters (number weighted).
    particle_radius_um, particle_radius_sd : float
        Sphere radius estimated from the section d50, and its standard uncertainty.
    thickness_um : float
        Mean coating thickness (surface line to collector edge).
    n_particles : int
        Sections counted in the size statistics.
    area_um2 : float
        Coating area measured.
    threshold : float
        Luminance threshold (0-255) between active material and the rest.
    pixel_size_um : float
    strip_fractions : list of float
        Non-active fraction of each block one tile wide (their spread is the sampling
        part of ``porosity_sd``).
    """

    non_active_fraction: float
    porosity: float
    porosity_sd: float
    d10_um: float
    d50_um: float
    d90_um: float
    particle_radius_um: float
    particle_radius_sd: float
    thickness_um: float
    n_particles: int
    area_um2: float
    threshold: float
    pixel_size_um: float = DEFAULT_PIXEL_SIZE_UM
    strip_fractions: list[float] = field(default_factory=list)

    @property
    def active_fraction(self) -> float:
        return 1.0 - self.non_active_fraction

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Microstructure:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: (math.nan if v is None else v) for k, v in d.items() if k in names})


@dataclass
class Strip:
    """One straightened coating strip and where it lies (straightened px)."""

    image: np.ndarray
    top: int
    left: int


def coating_window(alignment) -> tuple[int, int, list[tuple[int, int]]]:
    """``(top, bottom, [(left, right), ...])`` of the measured coating, straightened px.

    Rows from :data:`SURFACE_ALLOWANCE_UM` above the mean surface line to
    :data:`FOIL_MARGIN_PX` above the collector edge (never outside the image); columns of
    the kept tiles (adjacent tiles merged into one span).
    """
    kept = alignment.kept
    if not kept:
        raise RateScopeError("no kept tile: accept at least one tile to measure the coating")
    f = alignment.frame
    allowance = SURFACE_ALLOWANCE_UM / DEFAULT_PIXEL_SIZE_UM
    surface = _surface_v(alignment)
    bottom = int(math.floor(f.collector_row(alignment.collector) - 0.5)) - FOIL_MARGIN_PX
    if bottom - surface < 20:
        raise RateScopeError("the coating is too thin to measure (under 20 px)")
    spans: list[list[int]] = []
    for t in sorted(kept, key=lambda t: t.rect[1]):
        left, width = t.rect[1], t.rect[3]
        if spans and left <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], left + width)
        else:
            spans.append([left, left + width])
    # long spans are cut into chunks, so a 100 000 px wide band is measured piece by piece
    spans = [[a, min(a + CHUNK_PX, b)] for a0, b in spans for a in range(a0, b, CHUNK_PX)]
    u = np.arange(spans[0][0], spans[-1][1], dtype=float)
    vmin, _ = f.valid_rows(u)
    top = int(math.ceil(max(surface - allowance, float(vmin.max()))))
    return min(top, int(math.ceil(surface))), bottom, [(a, b) for a, b in spans]


def coating_strips(image: np.ndarray, frame, alignment) -> list[Strip]:
    """Luminance (uint8) of the straightened coating (:func:`coating_window`) of ``image``.

    ``frame`` is the alignment's frame for ``image``'s pixels (``alignment.frame`` for the
    whole model image, :func:`core.align.band.working_frame` for a band). Only the source
    pixels under each strip are converted to luminance (one plane is straightened).
    """
    from ratescope.core.align.straighten import straighten

    top, bottom, spans = coating_window(alignment)
    h, w = image.shape[:2]
    out = []
    for a, b in spans:
        xs, ys = frame.to_source(np.array([a, b, a, b]), np.array([top, top, bottom, bottom]))
        x0, y0 = max(0, int(xs.min()) - 2), max(0, int(ys.min()) - 2)
        x1, y1 = min(w, int(xs.max()) + 3), min(h, int(ys.max()) + 3)
        crop = luminance(image[y0:y1, x0:x1])
        sub = frame.in_working(y0, 1.0, crop.shape, x0)
        lum = straighten(crop, sub, rows=(top, bottom), cols=(a, b), dtype=np.uint8)
        out.append(Strip(lum, top, a))
    return out


def luminance(image: np.ndarray) -> np.ndarray:
    """float32 luminance of a gray or RGB image."""
    a = np.asarray(image)
    if a.ndim == 3:
        return a[..., :3].astype(np.float32) @ LUMA
    return a.astype(np.float32)


def segment_active(
    strips: list[np.ndarray], pixel_size_um: float
) -> tuple[list[np.ndarray], float]:
    """Active-material masks of strips (gray or RGB), with one shared Otsu threshold.

    Two passes, one strip at a time (a 100 000 px wide coating never has a float copy of
    all of it): the histogram of the smoothed luminance, then the masks.
    """
    edges = np.linspace(0.0, 256.0, OTSU_BINS + 1)
    counts = np.zeros(OTSU_BINS, np.int64)
    for s in strips:
        counts += np.histogram(_smoothed(s), bins=edges)[0]
    filled = np.flatnonzero(counts)
    if filled.size == 0 or edges[filled[-1] + 1] - edges[filled[0]] < 2.0:
        raise RateScopeError("the coating shows no contrast: nothing to segment")
    centres = (edges[:-1] + edges[1:]) / 2
    threshold = float(filters.threshold_otsu(hist=(counts, centres)))
    px2 = pixel_size_um**2
    hole, speck = max(1, round(HOLE_UM2 / px2)), max(1, round(SPECK_UM2 / px2))
    masks = []
    for s in strips:
        m = morphology.remove_small_holes(_smoothed(s) > threshold, max_size=hole)
        masks.append(morphology.remove_small_objects(m, max_size=speck))
    return masks, threshold


def _smoothed(strip: np.ndarray) -> np.ndarray:
    return ndi.gaussian_filter(luminance(strip), 1.0)


def particle_sections(mask: np.ndarray, pixel_size_um: float) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent diameters (µm) of the particle sections of ``mask`` and their weights.

    Touching particles are split by a watershed on the smoothed distance transform
    (markers at its maxima, at least one particle radius apart); sections touching the
    border are dropped and the rest weighted by ``HW / ((H - h)(W - w))`` (Miles-Lantuéjoul).
    """
    if pixel_size_um < HALF_BELOW_UM:  # sections are >= 8 px across: half resolution will do
        h2, w2 = mask.shape[0] // 2 * 2, mask.shape[1] // 2 * 2
        half = mask[:h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2).mean(axis=(1, 3)) >= 0.5
        return particle_sections(half, pixel_size_um * 2)
    h, w = mask.shape
    dist = ndi.gaussian_filter(ndi.distance_transform_edt(mask), 1.0)
    min_px = max(2, round(MIN_SECTION_UM / pixel_size_um / 2))
    peaks = feature.peak_local_max(dist, min_distance=min_px, threshold_abs=min_px / 2,
                                   labels=measure.label(mask), exclude_border=False)  # fmt: skip
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = segmentation.watershed(-dist, markers, mask=mask)
    diam, weight = [], []
    for p in measure.regionprops(labels):
        r0, c0, r1, c1 = p.bbox
        if r0 == 0 or c0 == 0 or r1 == h or c1 == w:
            continue
        d = p.equivalent_diameter_area * pixel_size_um
        if d < MIN_SECTION_UM:
            continue
        diam.append(d)
        weight.append(h * w / max(1, (h - (r1 - r0)) * (w - (c1 - c0))))
    return np.asarray(diam, float), np.asarray(weight, float)


def weighted_percentiles(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    """Percentiles ``q`` (0-100) of ``x`` with weights ``w`` (midpoint rule)."""
    if x.size == 0:
        return np.full(len(np.atleast_1d(q)), np.nan)
    order = np.argsort(x)
    x, w = x[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.asarray(q, float) / 100.0, cum, x)


def coating_mask(active: np.ndarray, surface_row: int) -> np.ndarray:
    """Pixels of the coating in a strip: in every column, from its topmost active pixel down
    (from ``surface_row`` where a column shows no active material)."""
    rows = np.arange(active.shape[0])[:, None]
    first = np.where(active.any(axis=0), np.argmax(active, axis=0), surface_row)
    return rows >= first[None, :]


def measure_strips(
    strips: list[np.ndarray], pixel_size_um: float = DEFAULT_PIXEL_SIZE_UM, surface_row: int = 0
) -> tuple[Microstructure, list[np.ndarray], list[np.ndarray]]:
    """Measure straightened coating strips (rows from above the surface to the collector;
    the mean surface line at ``surface_row``); also the active and coating masks."""
    if not strips:
        raise RateScopeError("no coating to measure")
    masks, threshold = segment_active(strips, pixel_size_um)  # strips: RGB or luminance
    coats = [coating_mask(m, surface_row) for m in masks]
    # blocks one tile wide: their spread is the sampling uncertainty
    active_px, area = [], []
    for m, c in zip(masks, coats, strict=True):
        for j in range(0, m.shape[1], TILE_WIDTH):
            blk = c[:, j : j + TILE_WIDTH]
            if blk.shape[1] >= TILE_WIDTH // 2:
                active_px.append(float((m[:, j : j + TILE_WIDTH] & blk).sum()))
                area.append(float(blk.sum()))
    active_px, area = np.array(active_px), np.array(area)
    active = active_px / np.maximum(area, 1.0)
    active_mean = float(active_px.sum() / max(area.sum(), 1.0))
    spread = float(np.std(active, ddof=1) / math.sqrt(len(active))) if len(active) > 1 else 0.05
    k = active_share_of_porosity()
    diam, weight = [], []
    for m in masks:
        d, wt = particle_sections(m, pixel_size_um)
        diam.append(d)
        weight.append(wt)
    d_all, w_all = np.concatenate(diam), np.concatenate(weight)
    d10, d50, d90 = weighted_percentiles(d_all, w_all, [10, 50, 90])
    radius = d50 / 2.0 / SECTION_TO_SPHERE
    # median's standard error ~ 1.25 sd / sqrt(n) on the log scale, plus 5 % stereology
    n = int(d_all.size)
    if n > 1:
        log_sd = float(np.std(np.log(d_all)))
        r_sd = radius * math.hypot(1.25 * log_sd / math.sqrt(n), 0.05)
    else:
        r_sd = math.nan
    rows = strips[0].shape[0] - surface_row
    micro = Microstructure(
        non_active_fraction=1.0 - active_mean,
        porosity=porosity_from_active(active_mean),
        porosity_sd=math.hypot(spread, SEGMENTATION_SD) / k,
        d10_um=float(d10), d50_um=float(d50), d90_um=float(d90),
        particle_radius_um=float(radius), particle_radius_sd=float(r_sd),
        thickness_um=(rows + FOIL_MARGIN_PX) * pixel_size_um,
        n_particles=n, area_um2=float(area.sum()) * pixel_size_um**2, threshold=threshold,
        pixel_size_um=pixel_size_um,
        strip_fractions=[float(1.0 - a) for a in active],
    )  # fmt: skip
    return micro, masks, coats


def measure_coating(
    image: np.ndarray, alignment, frame=None, pixel_size_um: float = DEFAULT_PIXEL_SIZE_UM
) -> tuple[Microstructure, list[Strip]]:
    """Measure the accepted coating of a model image (the whole mosaic, or a working band
    with its ``frame``); returns the measurement and each strip's :func:`phase_map`."""
    strips = coating_strips(image, alignment.frame if frame is None else frame, alignment)
    micro, masks, coats = measure_strips(
        [s.image for s in strips], pixel_size_um, surface_row=surface_row(alignment)
    )
    thickness = alignment.coating_thickness_px() / alignment.zoom * pixel_size_um
    micro.thickness_um = float(thickness)
    return micro, [Strip(phase_map(m, c), s.top, s.left)
                   for m, c, s in zip(masks, coats, strips, strict=True)]  # fmt: skip


def _surface_v(alignment) -> float:
    """Straightened row of the mean surface line."""
    s = alignment.surface
    _, v = alignment.frame.to_straight(np.array([s.x0, s.x1]), np.array([s.y0, s.y1]))
    return float(np.mean(v))


def surface_row(alignment) -> int:
    """Row of the mean surface line inside the strips of :func:`coating_window`."""
    return max(0, int(round(_surface_v(alignment))) - coating_window(alignment)[0])


OUTSIDE, OTHER, ACTIVE = 0, 1, 2
"""Values of a strip's phase map: outside the coating, pores + binder, active material."""


def phase_map(active: np.ndarray, coating: np.ndarray) -> np.ndarray:
    """uint8 map of a strip: :data:`OUTSIDE`, :data:`OTHER` or :data:`ACTIVE`."""
    out = np.where(coating, OTHER, OUTSIDE).astype(np.uint8)
    out[active & coating] = ACTIVE
    return out
