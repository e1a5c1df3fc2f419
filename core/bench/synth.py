"""Synthetic MosaiX generator: time for a paper-sized mosaic, and how well the image
matches the requested porosity and thickness."""

from __future__ import annotations

import time

from ratescope.core.bench import Row, median_time
from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM
from ratescope.core.synth.mosaic import generate_mosaic

SUITE = "synth"


def _cpu_time(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def run() -> list[Row]:
    rows = []
    for label, kw in (
        ("975x6300 RGB 8-bit", {}),
        ("975x6300 gray 16-bit, all artefacts", {"rgb": False, "bit_depth": 16,
                                                 "artefacts": ("void", "scratch", "bubble")}),
    ):  # fmt: skip
        wall = median_time(lambda kw=kw: generate_mosaic(0, **kw), repeats=3)
        cpu = _cpu_time(lambda kw=kw: generate_mosaic(1, **kw))
        rows.append(Row(SUITE, f"generate {label}", wall, "s", "< 2 s", f"cpu {cpu:.2f} s"))
    worst_pore = worst_thick = 0.0
    for i, porosity in enumerate((0.2, 0.25, 0.3, 0.35, 0.5)):
        t = generate_mosaic(10 + i, porosity=porosity, tilt_deg=0.0, rgb=False).truth
        worst_pore = max(worst_pore, abs(t.porosity_measured - porosity))
        thick = t.coating_thickness_measured_px * DEFAULT_PIXEL_SIZE_UM
        worst_thick = max(worst_thick, abs(thick / t.coating_thickness_um - 1))
    rows.append(Row(SUITE, "porosity error, phase map vs requested (max, 0.2-0.5)", worst_pore,
                    "", "< 0.01"))  # fmt: skip
    rows.append(Row(SUITE, "thickness error, phase map vs electrode model (max)",
                    100 * worst_thick, "%", "< 1 %"))  # fmt: skip
    return rows
