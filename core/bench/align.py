"""Alignment accuracy and speed on generated mosaics with ground truth.

50 mosaics span porosity 20-50 %, tilt -5..+5 degrees, gray/RGB, 8/16 bit, with and
without artefacts. Errors are against :class:`core.synth.mosaic_truth.MosaicTruth`;
tile contents are judged from the ground-truth phase map resampled through the same
straightening (nearest neighbour).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ratescope.core.align import align, straighten
from ratescope.core.bench import Row, median_time
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.core.synth.phases import ARTEFACT_PHASES, Phase

N_MOSAICS = 50
POROSITIES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def cases(n: int = N_MOSAICS) -> list[dict]:
    """Deterministic parameter sets covering the required ranges."""
    tilts = np.linspace(-5.0, 5.0, n)
    order = np.random.default_rng(0).permutation(n)
    out = []
    for i in range(n):
        out.append(
            dict(
                seed=1000 + i,
                porosity=POROSITIES[i % len(POROSITIES)],
                tilt_deg=float(tilts[order[i]]),
                rgb=bool(i % 2),
                bit_depth=8 if (i // 2) % 2 else 16,
                artefacts=("void", "scratch", "bubble") if i % 3 else (),
            )
        )
    return out


def evaluate(m, a) -> dict:
    """Errors of one alignment ``a`` against the synthetic mosaic ``m``."""
    t = m.truth
    (x0, y0), (x1, y1) = t.collector
    xc = (m.image.shape[1] - 1) / 2.0
    y_true = y0 + (y1 - y0) * (xc - x0) / (x1 - x0)
    prof = np.array([np.nan if v is None else v for v in t.surface_profile_y], float)
    cols = np.flatnonzero(np.isfinite(prof))
    surf_est = float(np.mean(a.surface.y_at(cols))) if len(cols) else a.surface_y
    bad_layer = bad_art = bad_art_100 = rejected_clean = 0
    clean_reasons: dict[str, int] = {}
    for tile in a.tiles:
        top, left, hh, ww = tile.rect
        ph = straighten(
            m.phase,
            a.frame,
            rows=(top, top + hh),
            cols=(left, left + ww),
            order=0,
            cval=int(Phase.EPOXY),
        )
        layer = bool(np.isin(ph, (Phase.FOIL, Phase.EPOXY)).any())
        art = int(np.isin(ph, ARTEFACT_PHASES).sum())
        if tile.kept:
            bad_layer += layer
            bad_art += art > 0
            bad_art_100 += art >= 100
        elif not layer and art == 0:
            rejected_clean += 1
            clean_reasons[tile.reason] = clean_reasons.get(tile.reason, 0) + 1
    return {
        "angle_err": abs(a.angle_deg - t.tilt_deg),
        "collector_err": abs(float(a.collector.y_at(xc)) - y_true),
        "surface_err": abs(surf_est - float(np.nanmean(prof[cols]))) if len(cols) else np.nan,
        "kept": len(a.kept),
        "tiles": len(a.tiles),
        "kept_layer": bad_layer,
        "kept_artefact": bad_art,
        "kept_artefact_100": bad_art_100,
        "rejected_clean": rejected_clean,
        "rejected_clean_reasons": clean_reasons,
    }


def median_cpu_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median CPU time (``time.process_time``, all threads of this process) of ``fn()``
    in seconds: unlike wall time it does not grow when other processes load the machine."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def run(n: int = N_MOSAICS) -> list[Row]:
    results, times, cpu, failures = [], [], [], 0
    for c in cases(n):
        m = generate_mosaic(**c)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            a = align(m.image)
        except Exception:  # noqa: BLE001 - a failure is a figure of this benchmark
            failures += 1
            continue
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        results.append(evaluate(m, a))
    m = generate_mosaic(
        7, porosity=0.3, tilt_deg=2.0, rgb=True, bit_depth=8, artefacts=("void", "scratch")
    )
    speed = median_time(lambda: align(m.image), repeats=5)
    speed_cpu = median_cpu_time(lambda: align(m.image), repeats=5)

    def col(k):
        return np.array([r[k] for r in results], float)

    s = "align"
    reasons: dict[str, int] = {}
    for r in results:
        for k, v in r["rejected_clean_reasons"].items():
            reasons[str(k)] = reasons.get(str(k), 0) + v
    by_reason = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"
    note = f"{len(results)} mosaics, {failures} failed"
    return [
        Row(
            s,
            "collector angle error, median",
            float(np.median(col("angle_err"))),
            "deg",
            "<= 0.05",
            note,
        ),
        Row(s, "collector angle error, max", float(np.max(col("angle_err"))), "deg", "<= 0.2"),
        Row(
            s,
            "collector position error (centre), median",
            float(np.median(col("collector_err"))),
            "px",
            "<= 3",
            f"max {np.max(col('collector_err')):.2f} px",
        ),
        Row(
            s,
            "surface mean height error, median",
            float(np.nanmedian(col("surface_err"))),
            "px",
            "<= 3",
            f"max {np.nanmax(col('surface_err')):.1f} px",
        ),
        Row(
            s,
            "kept tiles with foil or epoxy",
            float(col("kept_layer").sum()),
            "tiles",
            "0",
            f"of {int(col('kept').sum())} kept / {int(col('tiles').sum())} tiles",
        ),
        Row(
            s,
            "kept tiles with an artefact (any pixel)",
            float(col("kept_artefact").sum()),
            "tiles",
            "0",
            f"{int(col('kept_artefact_100').sum())} with >= 100 artefact px",
        ),
        Row(
            s,
            "rejected tiles without foil/epoxy/artefact",
            float(col("rejected_clean").sum()),
            "tiles",
            "",
            f"false rejections ({by_reason})",
        ),
        Row(
            s,
            "align 975x6300 RGB8 (detect+straighten+rect+tiles)",
            speed,
            "s",
            "<= 0.3",
            f"median of 5; all mosaics: median {statistics.median(times):.3f} s"
            if times
            else "no successful run",
        ),
        Row(
            s,
            "align 975x6300 RGB8, CPU time",
            speed_cpu,
            "s",
            "<= 0.3",
            f"median of 5, time.process_time; all mosaics: median {statistics.median(cpu):.3f} s"
            if cpu
            else "no successful run",
        ),
        Row(s, "alignment failures", float(failures), "mosaics", "0"),
        tall_row(),
    ]


TALL = ((12000, 6000), (20000, 19000), (20000, 1500))
"""(height, collector y) of the tall mosaics: epoxy above, far more above, far more below."""


def tall_row(width: int = 3000) -> Row:
    """Surface error on mosaics whose coating is a small share of the height."""
    errors = []
    for height, collector_y in TALL:
        m = generate_mosaic(5, height=height, width=width, tilt_deg=0.5, collector_y=collector_y)
        try:
            errors.append(abs(align(m.image).surface.mean_y - m.truth.surface_y))
        except Exception:  # noqa: BLE001 - a failure is a figure of this benchmark
            errors.append(float("inf"))
    sizes = ", ".join(f"{h} px tall, foil at {y}" for h, y in TALL)
    return Row("align", "tall mosaic surface error, max", float(max(errors)), "px", "<= 20",
               f"{sizes}; {width} px wide, coating ~440 px")  # fmt: skip
