"""Lab-like training folders for the issue-23 tests: synthetic mosaics written by real
writers (tifffile, ZEISS's pylibCZIrw) with a CSV of their physics labels.

``bright_binder`` is an appearance outside the embedded models' training looks: a thick,
smeared carbon-binder film nearly as bright as the NCM particles, seen slightly out of
focus. The embedded models' phase front end reads the binder as active material, so they
see denser electrodes than there are and underestimate the high-rate capacity
(about 10-20 % MAPE, not flagged as out of distribution) — the case fine-tuning is for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ratescope.core.labels import label_curve
from ratescope.core.synth.looks import LookParams, expose_look, paint, reshape_particles
from ratescope.core.synth.mosaic import generate_mosaic

BRIGHT_BINDER = LookParams(
    family="bright_binder",
    epoxy=0.08,
    pore=0.08,
    binder=0.5,
    particle=0.6,
    foil=0.92,
    grain_spread=0.05,
    binder_style="film",
    smear=0.4,
    blur_px=2.5,
    pixel_size_um=0.123,
    noise_level=1.0,
    rgb=True,
)


def bright_binder(phase: np.ndarray, seed: int) -> np.ndarray:
    """``phase`` (a synthetic mosaic's phase map) rendered in the bright-binder look."""
    rng = np.random.default_rng([seed, 99])
    phase = phase.copy()
    reshape_particles(phase, BRIGHT_BINDER, rng)
    return expose_look(paint(phase, BRIGHT_BINDER, rng), BRIGHT_BINDER, rng)


def electrodes(n: int, seed: int) -> list[tuple[str, float, float]]:
    """``n`` electrodes ``(name, porosity, particle radius µm)`` drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    return [(f"E{seed}-{i:02d}", float(rng.uniform(0.2, 0.5)), float(rng.uniform(4.0, 6.0)))
            for i in range(n)]  # fmt: skip


def write_lab_folder(
    folder: Path,
    n: int,
    *,
    seed: int = 0,
    width: int = 900,
    look=None,
    czi_every: int = 0,
    units=("Ah/kg",),
) -> Path:
    """Write ``n`` mosaics (TIFF; every ``czi_every``-th a CZI) and ``measured.csv``.

    Returns the CSV path. Labels are the DFN table's curves (:func:`core.labels.label_curve`)
    at each electrode's porosity and radius; ``look(phase, seed)`` repaints the mosaic.
    """
    import tifffile

    from ratescope.core.io.czi import write_czi_mosaic

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["sample,unit,0.2C,1C,2C,3C,5C"]
    for i, (name, porosity, radius) in enumerate(electrodes(n, seed)):
        m = generate_mosaic(seed * 1000 + i, porosity=porosity, particle_radius_um=radius,
                            width=width)  # fmt: skip
        image = m.image if look is None else look(m.phase, seed * 1000 + i)
        if czi_every and i % czi_every == czi_every - 1:
            write_czi_mosaic(folder / f"{name}.czi", image, tile_shape=(512, 512), overlap=32)
        else:
            tifffile.imwrite(folder / f"{name}.tif", image)
        for unit in units:
            key = "specific" if unit in ("Ah/kg", "mAh/g") else "volumetric"
            curve = label_curve(porosity, radius, key)
            rows.append(f"{name},{unit}," + ",".join(f"{v:.3f}" for v in curve))
    csv = folder / "measured.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv
