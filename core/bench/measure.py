"""The 2D microstructure measurement and the physics cross-check (``bench --only measure``).

Rows: the measurement time on the bundled sample (target <= 0.5 s); its accuracy on
generated mosaics with ground truth across appearance families (porosity MAE <= 0.02,
section d50 error <= 10 %, also the table's sphere radius and the thickness); whether the
physics 5C curve orders a fresh porosity series (Spearman >= 0.9).
"""

from __future__ import annotations

import numpy as np

from ratescope.core.bench import Row, median_time

SEED = 7_000_000
FAMILIES = ("zeiss_bf", "midgrey_epoxy", "colour_cast", "low_contrast", "polycrystalline",
            "coarse_camera")  # fmt: skip
POINTS = ((0.2, 4.0), (0.3, 5.0), (0.45, 6.0), (0.35, 3.5))
"""(porosity, particle radius µm) of the electrodes measured per family."""


def _sample_time() -> tuple[float, int]:
    from ratescope.core.align.band import align_mosaic, working_frame
    from ratescope.core.io import load_mosaic
    from ratescope.core.measure.microstructure import measure_coating
    from ratescope.core.resources import SAMPLE_MOSAIC

    alignment, working = align_mosaic(load_mosaic(SAMPLE_MOSAIC))
    frame = working_frame(working, alignment)
    t = median_time(lambda: measure_coating(working.image, alignment, frame), repeats=5)
    return t, len(alignment.kept)


def _accuracy() -> dict[str, list[float]]:
    from ratescope.core.align import align
    from ratescope.core.measure.microstructure import measure_coating
    from ratescope.core.predict import to_model_image
    from ratescope.core.synth.looks import restyle
    from ratescope.core.synth.mosaic import generate_mosaic

    err: dict[str, list[float]] = {"porosity": [], "d50": [], "radius": [], "thickness": []}
    for f, family in enumerate(FAMILIES):
        for i, (p, r) in enumerate(POINTS):
            seed = SEED + 100 * f + i
            m = generate_mosaic(seed, porosity=p, particle_radius_um=r, width=6300)
            img = m.image if family == "zeiss_bf" else restyle(m.phase, family, seed)[0]
            img = to_model_image(img)
            micro, _ = measure_coating(img, align(img))
            t = m.truth
            err["porosity"].append(abs(micro.porosity - t.porosity_measured))
            d50 = 2 * float(np.median(t.section_radii_um))
            err["d50"].append(abs(micro.d50_um / d50 - 1))
            err["radius"].append(abs(micro.particle_radius_um / r - 1))
            err["thickness"].append(abs(micro.thickness_um / t.coating_thickness_um - 1))
    return err


def _ordering() -> float:
    from ratescope.core.align import align
    from ratescope.core.measure import measure_physics
    from ratescope.core.predict import to_model_image
    from ratescope.core.synth.mosaic import generate_mosaic
    from ratescope.core.train.metrics import spearman

    pors = np.linspace(0.2, 0.5, 10)
    kg5 = []
    for i, p in enumerate(pors):
        img = to_model_image(generate_mosaic(SEED + 5000 + i, porosity=float(p)).image)
        kg5.append(measure_physics(img, align(img)).curves["specific"].mean[-1])
    return float(spearman(np.array(kg5), pors))


def run() -> list[Row]:
    t, kept = _sample_time()
    err = _accuracy()
    n = len(err["porosity"])
    note = f"{n} generated mosaics: {len(FAMILIES)} looks x {len(POINTS)} electrodes"
    pct = lambda a: 100 * float(np.mean(a))  # noqa: E731
    return [
        Row("measure", "2D measurement of the sample's coating", t, "s", "<= 0.5 s",
            f"{kept} kept tiles, median of 5"),
        Row("measure", "porosity MAE vs truth", float(np.mean(err["porosity"])), "", "<= 0.02",
            note + f"; max {max(err['porosity']):.3f}"),
        Row("measure", "section d50 error vs truth, mean", pct(err["d50"]), "%", "<= 10 %",
            note + f"; max {100 * max(err['d50']):.1f} %"),
        Row("measure", "sphere radius error vs generator", pct(err["radius"]), "%", "",
            note + f"; max {100 * max(err['radius']):.1f} %"),
        Row("measure", "thickness error vs truth", pct(err["thickness"]), "%", "", note),
        Row("measure", "Spearman(physics 5C Ah/kg, porosity)", _ordering(), "", ">= 0.9",
            "10 fresh electrodes, porosity 0.2-0.5, r 5 µm"),
    ]  # fmt: skip
