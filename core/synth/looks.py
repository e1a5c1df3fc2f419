"""Appearance families: the same microstructure as different microscopes would show it.

A model that must serve other labs has to read the structure, not the look. Each family
repaints the phase map of a :func:`core.synth.mosaic.generate_mosaic` electrode with its
own grey levels, colour, optics, noise, particle shapes and binder look; the physics
label stays the electrode's (porosity and particle radius), whatever its look.

The families (drawn per electrode from the family's ranges by a seeded generator):

``zeiss_bf``
    The generator's own bright-field look, unchanged (:mod:`core.synth.appearance`).
``midgrey_epoxy``
    Epoxy-filled pores mid-grey, carbon-binder a dark speckle *below* the epoxy,
    ellipsoidal and irregular particles; gray camera.
``colour_cast``
    Strong colour casts and wrong white balance, steep illumination gradients and
    vignetting; faceted polycrystalline particles with grain boundaries, a smeared dark
    binder film, bright polishing relief at particle rims.
``low_contrast``
    Little contrast between the phases, defocus blur, shot noise and JPEG compression;
    cracked particles broken into fragments; binder nearly invisible.
``polycrystalline``
    Darker particles with grain boundaries and inner pores, sintered and agglomerated
    grains, a binder film lighter than the near-black epoxy, dark rims, smearing.
``coarse_camera``
    Coarse pixels (0.16-0.25 µm) resampled to the model's 0.123 µm, hot pixels and salt
    noise, 16-bit data, pull-outs of whole particles.

In reflected light NMC is always brighter than the epoxy and the foil the brightest
phase; every family keeps that order, at any level and gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ratescope.core.synth.camera import illumination_ramp, tile_gain
from ratescope.core.synth.layer_frame import tile_layout
from ratescope.core.synth.noise import smooth_noise, standard_normal
from ratescope.core.synth.phases import Phase

FAMILIES = (
    "zeiss_bf",
    "midgrey_epoxy",
    "colour_cast",
    "low_contrast",
    "polycrystalline",
    "coarse_camera",
)
"""Appearance families, the generator's own look first."""

_COATING = (Phase.PARTICLE, Phase.BINDER, Phase.PORE, Phase.CRACK)


@dataclass(frozen=True, kw_only=True)
class LookParams:
    """One electrode's drawn look (recorded with the data set)."""

    family: str
    epoxy: float
    pore: float
    binder: float
    particle: float
    foil: float
    grain_spread: float
    binder_style: str  # "speckle", "film", "invisible"
    relief: float = 0.0  # relative brightness change at particle rims (+ bright, - dark)
    warp_px: float = 0.0
    facet_px: int = 0
    sinter_px: int = 0
    fragments: bool = False
    grain_boundaries: bool = False
    inner_pores: float = 0.0  # share of particle pixels in inner pores
    smear: float = 0.0
    pullouts: float = 0.0  # share of particles pulled out
    blur_px: float
    pixel_size_um: float  # the simulated camera's pixel, resampled to 0.123 µm
    gradient: float = 0.0
    vignetting: float = 0.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    rgb: bool = False
    noise: str = "gauss"  # "gauss", "shot", "salt"
    noise_level: float
    jpeg_quality: int = 0  # 0 = none
    bit_depth: int = 8

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["cast"] = list(self.cast)
        return d


def draw_look(family: str, rng: np.random.Generator) -> LookParams:
    """Draw one electrode's look from ``family``'s ranges."""
    u = rng.uniform
    if family == "midgrey_epoxy":
        pore = u(0.16, 0.30)
        return LookParams(
            family=family,
            epoxy=pore * u(0.95, 1.05),
            pore=pore,
            binder=pore * u(0.35, 0.7),
            particle=u(0.50, 0.80),
            foil=u(0.86, 0.98),
            grain_spread=u(0.03, 0.08),
            binder_style="speckle",
            relief=u(-0.05, 0.05),
            warp_px=u(2.0, 5.0),
            blur_px=u(0.9, 1.6),
            pixel_size_um=u(0.10, 0.14),
            gradient=u(0.0, 0.08),
            vignetting=u(0.0, 0.08),
            noise_level=u(0.5, 1.5),
        )
    if family == "colour_cast":
        pore = u(0.03, 0.12)
        cast = rng.choice(
            [(1.25, 1.0, 0.62), (0.78, 0.95, 1.3), (1.0, 1.18, 0.8), (1.15, 0.9, 1.1)]
        )
        return LookParams(
            family=family,
            epoxy=pore,
            pore=pore,
            binder=pore * u(1.2, 2.2),
            particle=u(0.40, 0.75),
            foil=u(0.85, 0.97),
            grain_spread=u(0.05, 0.12),
            binder_style="film",
            relief=u(0.08, 0.25),
            warp_px=u(0.0, 2.0),
            facet_px=int(rng.integers(3, 6)),
            grain_boundaries=True,
            inner_pores=u(0.0, 0.02),
            blur_px=u(0.7, 1.2),
            pixel_size_um=u(0.10, 0.15),
            gradient=u(0.1, 0.3),
            vignetting=u(0.1, 0.3),
            cast=tuple(float(c) * u(0.95, 1.05) for c in cast),
            rgb=True,
            noise_level=u(0.5, 1.5),
        )
    if family == "low_contrast":
        pore = u(0.25, 0.40)
        return LookParams(
            family=family,
            epoxy=pore,
            pore=pore * u(0.97, 1.03),
            binder=pore * u(0.97, 1.08),
            particle=pore + u(0.12, 0.25),
            foil=u(0.70, 0.85),
            grain_spread=u(0.02, 0.06),
            binder_style="invisible",
            relief=u(-0.05, 0.05),
            warp_px=u(0.0, 3.0),
            fragments=True,
            blur_px=u(1.5, 2.6),
            pixel_size_um=u(0.10, 0.14),
            gradient=u(0.0, 0.15),
            vignetting=u(0.0, 0.1),
            rgb=bool(rng.random() < 0.5),
            noise="shot",
            noise_level=u(1.0, 3.0),
            jpeg_quality=int(rng.integers(35, 80)),
        )
    if family == "polycrystalline":
        pore = u(0.01, 0.06)
        return LookParams(
            family=family,
            epoxy=pore,
            pore=pore,
            binder=pore + u(0.06, 0.14),
            particle=u(0.30, 0.55),
            foil=u(0.75, 0.95),
            grain_spread=u(0.08, 0.15),
            binder_style="film",
            relief=-u(0.10, 0.30),
            warp_px=u(1.0, 3.0),
            facet_px=int(rng.integers(2, 5)),
            sinter_px=int(rng.integers(1, 3)),
            grain_boundaries=True,
            inner_pores=u(0.01, 0.04),
            smear=u(0.1, 0.4),
            blur_px=u(0.6, 1.1),
            pixel_size_um=u(0.10, 0.14),
            gradient=u(0.0, 0.1),
            vignetting=u(0.0, 0.15),
            cast=(u(0.95, 1.1), 1.0, u(0.85, 1.05)),
            rgb=True,
            noise_level=u(0.5, 2.0),
        )
    if family == "coarse_camera":
        pore = u(0.05, 0.20)
        return LookParams(
            family=family,
            epoxy=pore * u(0.9, 1.1),
            pore=pore,
            binder=pore * u(0.8, 1.6),
            particle=u(0.45, 0.85),
            foil=u(0.88, 1.0),
            grain_spread=u(0.04, 0.10),
            binder_style=str(rng.choice(["speckle", "film"])),
            relief=u(-0.1, 0.1),
            warp_px=u(0.0, 2.5),
            pullouts=u(0.01, 0.04),
            blur_px=u(0.5, 1.0),
            pixel_size_um=u(0.16, 0.25),
            gradient=u(0.0, 0.15),
            vignetting=u(0.0, 0.15),
            rgb=bool(rng.random() < 0.5),
            noise="salt",
            noise_level=u(0.5, 1.5),
            bit_depth=16,
        )
    raise ValueError(f"unknown appearance family {family!r} (one of {FAMILIES[1:]})")


def _band_rows(phase: np.ndarray) -> slice:
    rows = np.flatnonzero(np.isin(phase, _COATING).any(axis=1))
    if rows.size == 0:
        return slice(0, 0)
    return slice(max(int(rows[0]) - 8, 0), min(int(rows[-1]) + 9, phase.shape[0]))


def reshape_particles(phase: np.ndarray, look: LookParams, rng: np.random.Generator) -> None:
    """Change particle shapes in place (warp, facets, sintering, fragments, pull-outs)."""
    rows = _band_rows(phase)
    band = phase[rows]
    if band.size == 0:
        return
    coating = np.isin(band, _COATING)
    if look.warp_px > 0:
        h, w = band.shape
        dy = smooth_noise(rng, (h, w), 14) * np.float32(look.warp_px)
        dx = smooth_noise(rng, (h, w), 14) * np.float32(look.warp_px)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        src = ndimage.map_coordinates(band, [yy + dy, xx + dx], order=0, mode="nearest")
        ok = coating & np.isin(src, _COATING)
        band[ok] = src[ok]
    part = band == Phase.PARTICLE
    if look.facet_px:
        k = look.facet_px
        square = np.ones((k, k), bool)
        if rng.random() < 0.5:  # a diamond: facets at 45 degrees
            square = ndimage.generate_binary_structure(2, 1)
            square = ndimage.iterate_structure(square, max(k // 2, 1))
        opened = ndimage.binary_opening(part, square)
        band[part & ~opened] = Phase.BINDER
        part = opened
    if look.sinter_px:
        disk = ndimage.iterate_structure(ndimage.generate_binary_structure(2, 1), look.sinter_px)
        closed = ndimage.binary_closing(part, disk) & coating
        band[closed & ~part] = Phase.PARTICLE
        part = closed
    if look.fragments:
        crack = ndimage.binary_dilation(band == Phase.CRACK, iterations=1) & part
        band[crack] = Phase.CRACK
    if look.pullouts > 0:
        lab, n = ndimage.label(band == Phase.PARTICLE)
        gone = np.flatnonzero(rng.random(n + 1) < look.pullouts)
        gone = gone[gone > 0]
        if gone.size:
            band[np.isin(lab, gone)] = Phase.VOID
    phase[rows] = band


def _grain_boundaries(rng: np.random.Generator, shape: tuple[int, int], grain_px: float):
    """Boundaries of random Voronoi grains about ``grain_px`` across (bool ``shape``)."""
    h, w = shape
    n = max(int(h * w / grain_px**2), 1)
    seeds = np.ones(shape, bool)
    seeds[rng.integers(0, h, n), rng.integers(0, w, n)] = False
    _, (iy, ix) = ndimage.distance_transform_edt(seeds, return_indices=True)
    owner = iy.astype(np.int64) * w + ix
    edge = np.zeros(shape, bool)
    edge[:, 1:] |= owner[:, 1:] != owner[:, :-1]
    edge[1:, :] |= owner[1:, :] != owner[:-1, :]
    return edge


def paint(phase: np.ndarray, look: LookParams, rng: np.random.Generator) -> np.ndarray:
    """Reflectance (float32, H x W) of a phase map in ``look``'s grey levels and textures."""
    level = np.zeros(16, np.float32)
    level[Phase.EPOXY] = look.epoxy
    level[Phase.PORE] = look.pore
    level[Phase.BINDER] = look.binder
    level[Phase.PARTICLE] = look.particle
    level[Phase.FOIL] = look.foil
    level[Phase.CRACK] = look.pore
    level[Phase.VOID] = look.pore * 0.6
    level[Phase.SCRATCH] = look.pore
    level[Phase.BUBBLE] = look.epoxy * 0.5
    shape = phase.shape
    ref = np.take(level, phase)
    ref *= 1.0 + 0.04 * smooth_noise(rng, shape, 40)  # epoxy and foil texture
    part = phase == Phase.PARTICLE
    grains = 1.0 + look.grain_spread * smooth_noise(rng, shape, 18)
    ref = np.where(part, ref * grains, ref)
    binder = phase == Phase.BINDER
    if look.binder_style == "speckle":
        fine = standard_normal(rng, shape)
        ref = np.where(binder, ref * (1.0 + 0.35 * fine), ref)
    elif look.binder_style == "film":
        soft = ndimage.gaussian_filter(binder.astype(np.float32), 1.5)
        ref += soft * (look.binder - ref) * ~part
    if look.relief:
        dist = ndimage.distance_transform_edt(part)
        rim = (dist > 0) & (dist <= 2.0)
        ref = np.where(rim, ref * (1.0 + look.relief), ref)
    if look.grain_boundaries:
        edge = _grain_boundaries(rng, shape, float(rng.uniform(14, 30))) & part
        ref = np.where(edge, ref * 0.55, ref)
    if look.inner_pores > 0:
        dots = rng.random(shape) < look.inner_pores / 9.0
        dots = ndimage.binary_dilation(dots, iterations=1) & part
        ref = np.where(dots, look.pore, ref)
    if look.smear > 0:
        smeared = ndimage.uniform_filter1d(ref, int(rng.integers(5, 15)), axis=1)
        near = ndimage.binary_dilation(part, iterations=3) & ~part
        ref = np.where(near, (1 - look.smear) * ref + look.smear * smeared, ref)
    return ref.astype(np.float32)


def expose_look(ref: np.ndarray, look: LookParams, rng: np.random.Generator) -> np.ndarray:
    """The camera: pixel size, blur, illumination, colour, noise, JPEG, quantisation."""
    h, w = ref.shape
    img = ref
    if look.pixel_size_um > 0.125:  # a coarser camera, resampled to the model's pixel
        f = 0.123 / look.pixel_size_um
        small = ndimage.zoom(img, f, order=1, grid_mode=True, mode="nearest")
        img = ndimage.zoom(
            small, (h / small.shape[0], w / small.shape[1]), order=1, grid_mode=True, mode="nearest"
        )
    if look.blur_px > 0:
        img = ndimage.gaussian_filter(img, look.blur_px)
    gain = tile_gain(rng, (h, w), tile_layout(h, w, (1030, 1300), 0.1), look.vignetting, 0.02)
    gain *= illumination_ramp((h, w), look.gradient, float(rng.uniform(0, 360)))
    img = img * gain
    if look.noise == "shot":
        img = img + np.sqrt(np.clip(img, 0, None) * 2e-3 * look.noise_level) * standard_normal(
            rng, img.shape
        )
    else:
        img = img + 0.01 * look.noise_level * standard_normal(rng, img.shape)
    if look.noise == "salt":
        hot = rng.random(img.shape) < 5e-4 * look.noise_level
        img = np.where(hot, rng.choice([0.0, 1.0], img.shape).astype(np.float32), img)
    if look.rgb:
        cast = np.asarray(look.cast, np.float32)
        img = img[..., None] * cast
    full = 255 if look.bit_depth == 8 else 4095
    out = np.clip(img * full + 0.5, 0, full)
    out = out.astype(np.uint8 if look.bit_depth == 8 else np.uint16)
    if look.jpeg_quality and look.bit_depth == 8:
        out = jpeg_roundtrip(out, look.jpeg_quality)
    return out


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """``img`` (uint8, gray or RGB) saved as a baseline JPEG of ``quality`` and read back.

    imagecodecs (the app's codec library) where installed, else Pillow with the same 4:2:0
    chroma subsampling: both wrap libjpeg-turbo and give identical pixels (tested), so a
    training machine with only Pillow renders the same data set.
    """
    try:
        import imagecodecs
    except ImportError:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=int(quality), subsampling=2)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    return imagecodecs.jpeg8_decode(imagecodecs.jpeg8_encode(img, level=int(quality)))


def restyle(phase: np.ndarray, family: str, seed: int) -> tuple[np.ndarray, LookParams]:
    """Render ``phase`` (a synthetic mosaic's phase map) in a look drawn from ``family``.

    Returns the image (uint8 or uint16, gray or RGB) and the drawn :class:`LookParams`.
    Equal arguments give equal outputs.
    """
    if family not in FAMILIES[1:]:
        raise ValueError(f"unknown appearance family {family!r} (one of {FAMILIES[1:]})")
    rng = np.random.default_rng([seed, FAMILIES.index(family), 77])
    look = draw_look(family, rng)
    phase = phase.copy()
    reshape_particles(phase, look, rng)
    return expose_look(paint(phase, look, rng), look, rng), look
