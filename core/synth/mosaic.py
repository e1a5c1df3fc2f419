"""Seeded synthetic MosaiX cross-sections of a cathode, with exact ground truth.

Top to bottom: mounting epoxy; the coating (polished polydisperse NCM sections, some
cracked, carbon-binder flakes and epoxy-filled pores, a rough surface set by the topmost
particles); the 15 µm Al foil; epoxy again. The layer is tilted by rotating the geometry
(never by resampling the image), so the ground-truth lines are exact. A MosaiX look
(per-tile brightness and vignetting with visible seams, illumination gradient, optics
blur, sensor noise) and optional preparation artefacts are added on top.

Conventions of the ground truth: :mod:`core.synth.mosaic_truth`. This is synthetic data:
wherever it is used the model card says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM
from ratescope.core.electrode import FOIL_THICKNESS_UM, active_volume_fraction, coating_thickness_um
from ratescope.core.synth import appearance, camera, microstructure, packing
from ratescope.core.synth.artefacts import ARTEFACT_TYPES, add_artefacts
from ratescope.core.synth.layer_frame import (
    LayerFrame,
    collector_y_range,
    fitting_tilt_limit_deg,
    tile_layout,
)
from ratescope.core.synth.mosaic_truth import (
    MosaicTruth,
    line_points,
    phase_shares,
    surface_line,
    surface_profile,
)

MAX_TILT_DEG = 5.0
DEFAULT_MAX_TILT_DEG = 2.0
"""A random tilt is drawn within ±2° (less when the layer would leave the image)."""


@dataclass
class SyntheticMosaic:
    """A generated mosaic.

    Attributes
    ----------
    image : ndarray
        (H, W, 3) RGB or (H, W) gray, uint8 or uint16 (see ``generate_mosaic``).
    phase : ndarray of uint8, shape (H, W)
        :class:`core.synth.phases.Phase` label of every pixel, artefacts included.
    truth : MosaicTruth
        Ground truth; ``truth.to_dict()`` is JSON-serialisable.
    """

    image: np.ndarray
    phase: np.ndarray
    truth: MosaicTruth


def generate_mosaic(
    seed: int,
    *,
    porosity: float = 0.3,
    particle_radius_um: float = 5.0,
    radius_spread: float = 0.3,
    height: int = 975,
    width: int = 6300,
    pixel_size_um: float = DEFAULT_PIXEL_SIZE_UM,
    tilt_deg: float | None = None,
    collector_y: float | None = None,
    rgb: bool = True,
    bit_depth: int = 8,
    significant_bits: int | None = None,
    artefacts: Iterable[str] = (),
    tile_shape: tuple[int, int] = (1030, 1300),
    tile_overlap: float = 0.1,
    crack_fraction: float = 0.12,
    surface_roughness_um: float | None = None,
    illumination_gradient: float | None = None,
    vignetting: float = 0.12,
    tile_gain_spread: float = 0.015,
    noise_level: float = 1.0,
    blur_sigma_px: float = 0.9,
) -> SyntheticMosaic:
    """Generate a synthetic cathode cross-section mosaic and its ground truth.

    Parameters
    ----------
    seed : int
        Everything random follows from it; equal arguments give equal outputs. The
        microstructure does not depend on the look or artefact options.
    porosity : float
        Pore volume fraction of the coating (area fraction of epoxy-filled pores in the
        section), in [0.05, 0.7].
    particle_radius_um, radius_spread : float
        Median (µm) and log-standard deviation of the lognormal NCM sphere radii,
        truncated at ``median * exp(2.5 * spread)``. Sections cut the spheres at random
        heights, so section radii are smaller and vary more.
    height, width : int
        Image size, px.
    pixel_size_um : float
        µm per pixel.
    tilt_deg : float, optional
        Layer rotation in [-5, 5] degrees, positive when the foil rises to the right.
        Default: uniform within ±2°, narrowed so the layer stays in view.
    collector_y : float, optional
        y (px) of the foil's top edge at the centre column ``(width - 1) / 2``. Default:
        uniform over the positions that keep the whole layer (coating and foil) in view
        with a margin; when none does (large tilt), the layer is centred and both ends
        leave the image.
    rgb : bool
        RGB with a bright-field colour cast, else gray = Rec. 709 luminance of the RGB.
    bit_depth : {8, 16}
        uint8, or uint16 holding ``significant_bits`` of data (default 12: 0-4095, as a
        12-bit camera writes into 16-bit files; 16 uses the full range).
    artefacts : iterable of {"void", "scratch", "bubble"}
        Preparation artefacts to add (one to three of each kind named).
    tile_shape, tile_overlap : (int, int), float
        Camera frame (rows, cols) and the overlap fraction of the MosaiX scan.
    crack_fraction : float
        Share of the particles (section radius > 1.5 µm) that are cracked.
    surface_roughness_um : float, optional
        Standard deviation of the surface particle tops (default 0.6 x median radius).
    illumination_gradient : float, optional
        Relative illumination change from the image centre to its edge along a random
        direction (default random in [0, 0.05]; 0 for none).
    vignetting, tile_gain_spread, noise_level, blur_sigma_px : float
        Darkening of tile corners, s.d. of the tile gains, noise scale (0 = none) and
        optics blur (px).

    Returns
    -------
    SyntheticMosaic
        Image, phase map and ground truth.

    Examples
    --------
    >>> m = generate_mosaic(1, height=600, width=1200, rgb=False)
    >>> m.image.shape, m.image.dtype.name, m.phase.shape
    ((600, 1200), 'uint8', (600, 1200))
    """
    kinds = tuple(sorted(set(artefacts)))
    _check(porosity, tilt_deg, bit_depth, kinds)
    bits = significant_bits or (8 if bit_depth == 8 else 12)
    ss = np.random.SeedSequence(seed)
    geo_rng, pack_rng, tex_rng, art_rng, cam_rng = (np.random.default_rng(s) for s in ss.spawn(5))

    px = 1.0 / pixel_size_um
    thickness_um = coating_thickness_um(porosity)
    t_px, foil_px, median_px = thickness_um * px, FOIL_THICKNESS_UM * px, particle_radius_um * px
    rough_px = (
        0.6 * particle_radius_um if surface_roughness_um is None else surface_roughness_um
    ) * px
    margin = 0.03 * height
    if tilt_deg is None:
        reach = t_px + median_px + 2 * rough_px + foil_px
        limit = min(DEFAULT_MAX_TILT_DEG, fitting_tilt_limit_deg(height, width, reach, margin))
        tilt_deg = float(geo_rng.uniform(-limit, limit))
    draft = LayerFrame(tilt_deg, (width - 1) / 2, 0.0)
    pad = 2.0 * median_px * math.exp(packing.MAX_RADIUS_SIGMAS * radius_spread) + 8.0
    ends = [
        draft.u_at_column(x, v) for x in (0, width - 1) for v in (-foil_px, t_px + 3 * median_px)
    ]
    u_grid = np.arange(min(ends) - pad, max(ends) + pad + 1.0)

    chain = packing.surface_chain(
        pack_rng, u_grid[0], u_grid[-1], t_px, median_px, radius_spread, rough_px
    )
    surface = packing.surface_height(chain, u_grid)
    seen = (u_grid >= draft.u_at_column(0, t_px)) & (u_grid <= draft.u_at_column(width - 1, t_px))
    shift = t_px - float(np.mean(surface[seen]))
    chain.v += shift
    surface += shift
    particle_share = active_volume_fraction(porosity)
    binder_share = 1.0 - porosity - particle_share
    target = particle_share * float(np.sum(surface)) - float(np.sum(np.pi * chain.r**2))
    interior = packing.pack_interior(
        pack_rng, u_grid, surface, chain, 1.1 * target, median_px, radius_spread
    )
    sections = _concat(interior, chain)

    lo, hi = collector_y_range(height, width, tilt_deg, float(surface.max()), foil_px, margin)
    if collector_y is None:
        collector_y = float(geo_rng.uniform(lo, hi)) if lo <= hi else (lo + hi) / 2
    frame = LayerFrame(tilt_deg, (width - 1) / 2, float(collector_y))

    band_rows = _band_rows(frame, height, width, float(surface.max()), foil_px)
    band = microstructure.render_band(
        tex_rng, frame, sections, u_grid, surface, band_rows, width, foil_px,
        particle_share, binder_share,
    )  # fmt: skip
    microstructure.add_cracks(tex_rng, band, frame, sections, crack_fraction, 1.5 * px)
    phase = np.zeros((height, width), dtype=np.uint8)
    phase[band.row0 : band.row1] = band.phase

    shares = phase_shares(phase)
    profile = surface_profile(phase)
    surface_y, surface_pts, measured_t = surface_line(frame, profile)

    grain_gain = np.clip(tex_rng.normal(1.0, appearance.GRAIN_SPREAD, len(sections)), 0.8, 1.2)
    refl = appearance.reflectance(tex_rng, band, height, width, foil_px, grain_gain)
    records = add_artefacts(art_rng, kinds, phase, refl, frame, sections, band, px)

    tiles = tile_layout(height, width, tile_shape, tile_overlap)
    if illumination_gradient is None:
        illumination_gradient = float(cam_rng.uniform(0.0, 0.05))
    light_angle = float(cam_rng.uniform(0.0, 360.0))
    gain = camera.tile_gain(cam_rng, (height, width), tiles, vignetting, tile_gain_spread)
    gain *= camera.illumination_ramp((height, width), illumination_gradient, light_angle)
    image = camera.expose(
        cam_rng, refl, gain, rgb=rgb, blur_sigma_px=blur_sigma_px, noise_level=noise_level,
        full_scale=2**bits - 1, dtype=np.uint8 if bit_depth == 8 else np.uint16,
    )  # fmt: skip

    params = {
        "porosity": porosity, "particle_radius_um": particle_radius_um,
        "radius_spread": radius_spread, "height": height, "width": width,
        "pixel_size_um": pixel_size_um, "tilt_deg": tilt_deg, "collector_y": collector_y,
        "rgb": rgb, "bit_depth": bit_depth, "significant_bits": bits,
        "artefacts": list(kinds), "tile_shape": list(tile_shape), "tile_overlap": tile_overlap,
        "crack_fraction": crack_fraction, "surface_roughness_um": rough_px / px,
        "illumination_gradient": illumination_gradient, "illumination_angle_deg": light_angle,
        "vignetting": vignetting, "tile_gain_spread": tile_gain_spread,
        "noise_level": noise_level, "blur_sigma_px": blur_sigma_px,
    }  # fmt: skip
    scale = np.where(sections.on_surface, 1.0, band.radius_scale)
    truth = MosaicTruth(
        seed=seed,
        params=params,
        pixel_size_um=pixel_size_um,
        height=height,
        width=width,
        porosity_requested=porosity,
        porosity_measured=float(shares["pore"]),
        particle_share_target=particle_share,
        particle_share_measured=float(shares["particle"]),
        binder_share_target=binder_share,
        binder_share_measured=float(shares["binder"]),
        particle_radius_median_um=particle_radius_um,
        particle_radius_spread=radius_spread,
        sphere_radii_um=np.round(sections.sphere_r * scale / px, 3).tolist(),
        section_radii_um=np.round(sections.r * scale / px, 3).tolist(),
        radius_scale=band.radius_scale,
        coating_thickness_um=thickness_um,
        coating_thickness_px=t_px,
        coating_thickness_measured_px=measured_t,
        foil_thickness_um=FOIL_THICKNESS_UM,
        foil_thickness_px=foil_px,
        tilt_deg=tilt_deg,
        collector=line_points(frame, width, 0.0),
        collector_bottom=line_points(frame, width, -foil_px),
        surface_y=surface_y,
        surface=surface_pts,
        surface_profile_y=[None if np.isnan(y) else float(y) for y in profile],
        tiles=tiles,
        artefacts=records,
    )
    return SyntheticMosaic(image=image, phase=phase, truth=truth)


def _check(porosity: float, tilt_deg: float | None, bit_depth: int, kinds: tuple) -> None:
    if not 0.05 <= porosity <= 0.7:
        raise ValueError(f"porosity must be in [0.05, 0.7], got {porosity}")
    if tilt_deg is not None and abs(tilt_deg) > MAX_TILT_DEG:
        raise ValueError(f"tilt_deg must be within ±{MAX_TILT_DEG}°, got {tilt_deg}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    unknown = set(kinds) - set(ARTEFACT_TYPES)
    if unknown:
        raise ValueError(f"unknown artefacts {sorted(unknown)}; choose from {ARTEFACT_TYPES}")


def _concat(a: packing.Sections, b: packing.Sections) -> packing.Sections:
    return packing.Sections(
        *(
            np.concatenate([getattr(a, f), getattr(b, f)])
            for f in ("u", "v", "r", "sphere_r", "on_surface")
        )
    )


def _band_rows(frame: LayerFrame, height: int, width: int, top_px: float, foil_px: float):
    xs = np.array([0.0, width - 1.0])
    ys = np.concatenate([frame.line_y(xs, top_px), frame.line_y(xs, -foil_px)])
    row0 = int(np.clip(math.floor(ys.min()) - 3, 0, height))
    row1 = int(np.clip(math.ceil(ys.max()) + 4, row0, height))
    return row0, row1
