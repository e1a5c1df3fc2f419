"""Memory benchmark: peak RSS of ``info``, ``align`` and ``predict`` on a real-size mosaic.

A 20 000 x 60 000 px RGB CZI (3.6 GB of pixels) is written once into ``bench_results/``
(git-ignored), tile by tile with ZEISS's pylibCZIrw so the generator never holds it whole:
a generated electrode cross-section (coating, foil) repeated along the width, with
8 000 rows of mounting epoxy above and as many of epoxy below. Each command then runs in
a fresh process whose peak resident memory (``VmHWM``) is read at its exit; the target
is the memory budget of issue 20: 2 GB. The GUI row drives the real window offscreen
through the same steps (:mod:`gui.probe`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.bench import Row
from ratescope.core.resources import RESOURCES

SUITE = "memory"
SHAPE = (20_000, 60_000)
STRIP = (3_000, 6_000)
"""(height, width) of the generated electrode strip repeated along the width."""
STRIP_ROW = 8_000
"""Mosaic row of the strip's first row."""
CZI_TILE = 2_048
BENCH_DIR = RESOURCES.parent / "bench_results"
BIG_CZI = BENCH_DIR / f"memory_{SHAPE[0]}x{SHAPE[1]}_rgb.czi"
TARGET_MB = 2048


def run() -> list[Row]:
    """Rows: generation (first run), then peak RSS and time of info / align / predict."""
    rows = []
    if not BIG_CZI.exists():
        t0 = time.perf_counter()
        truth = write_big_czi(BIG_CZI)
        note = f"{BIG_CZI.stat().st_size / 1e6:.0f} MB; surface y {truth:.0f}"
        rows.append(Row(SUITE, f"generate {SHAPE[0]}x{SHAPE[1]} RGB CZI (once)",
                        time.perf_counter() - t0, "s", note=note))  # fmt: skip
    truth = json.loads(BIG_CZI.with_suffix(".json").read_text())["surface_y"]
    out = BENCH_DIR / "memory_out"
    out.mkdir(exist_ok=True)
    commands = {
        "info": ["info", str(BIG_CZI)],
        "align": ["align", str(BIG_CZI), "--json", str(out / "align.json")],
        "predict": ["predict", str(BIG_CZI), "--json", str(out / "predict.json")],
    }
    for name, argv in commands.items():
        peak_kb, seconds, code = peak_rss(argv)
        note = f"fresh process, VmHWM at exit; {seconds:.0f} s; exit {code}"
        if name == "align" and code == 0:
            found = json.loads((out / "align.json").read_text())
            note += (f"; surface y {found['surface_y']:.0f} (truth {truth:.0f}), "
                     f"{sum(t['kept'] for t in found['tiles'])} tiles kept")  # fmt: skip
        rows.append(Row(SUITE, f"peak RSS, {name} on {SHAPE[0]}x{SHAPE[1]} RGB CZI",
                        peak_kb / 1024, "MB", f"<= {TARGET_MB}", note))  # fmt: skip
    rows.append(gui_row())
    return rows


def gui_row() -> Row:
    """Peak RSS of the real window (offscreen) opening, aligning and predicting the file."""
    name = f"peak RSS, GUI open + align + predict on {SHAPE[0]}x{SHAPE[1]} RGB CZI"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "ratescope.gui.probe", str(BIG_CZI)],
                          cwd=RESOURCES.parent, env=env, capture_output=True, text=True,
                          timeout=1800)  # fmt: skip
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return Row(SUITE, name, float("nan"), "MB", f"<= {TARGET_MB}", note="probe failed")
    r = json.loads(lines[-1])
    note = (f"python -m ratescope.gui.probe; align {r['align_s']:.0f} s, predict "
            f"{r.get('predict_s', float('nan')):.0f} s, {r['tiles_kept']} tiles kept")  # fmt: skip
    return Row(SUITE, name, r["peak_rss_mb"], "MB", f"<= {TARGET_MB}", note)


def peak_rss(argv: list[str]) -> tuple[float, float, int]:
    """Run ``python -m ratescope ARGV`` in a fresh process: (peak RSS kB, seconds, exit)."""
    code = (
        "import json, sys\n"
        "from ratescope.cli import main\n"
        f"rc = main({argv!r})\n"
        "status = open('/proc/self/status').read().splitlines()\n"
        "peak = next(int(ln.split()[1]) for ln in status if ln.startswith('VmHWM'))\n"
        "print('PEAK', json.dumps([peak, rc]))\n"
    )
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=RESOURCES.parent,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    seconds = time.perf_counter() - t0
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK ")]
    if not lines:
        return float("nan"), seconds, done.returncode
    peak, rc = json.loads(lines[-1][5:])
    return float(peak), seconds, int(rc)


def write_big_czi(path: Path, shape: tuple[int, int] = SHAPE, seed: int = 3) -> float:
    """Write the benchmark mosaic tile by tile; returns the true mean surface row.

    The truth (surface row) is also written beside it as ``<name>.json``.
    """
    from pylibCZIrw import czi as pyczi

    from ratescope.core.synth.mosaic import generate_mosaic

    g = generate_mosaic(seed, height=STRIP[0], width=STRIP[1], collector_y=2_000, tilt_deg=0.0)
    strip = g.image
    epoxy_above = strip[:600]  # rows of mount epoxy above the coating in the strip
    epoxy_below = strip[-600:]  # below the foil
    h, w = shape

    def pixels(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        out = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
        ys = np.arange(y0, y1)
        xs = np.arange(x0, x1) % STRIP[1]
        inside = (ys >= STRIP_ROW) & (ys < STRIP_ROW + STRIP[0])
        src_rows = np.where(inside, ys - STRIP_ROW, ys % 600)
        for i, (y, r) in enumerate(zip(ys, src_rows, strict=True)):
            source = strip if STRIP_ROW <= y < STRIP_ROW + STRIP[0] else (
                epoxy_above if y < STRIP_ROW else epoxy_below)  # fmt: skip
            out[i] = source[r, xs]
        return out

    with atomic_path(path) as tmp:
        tmp.unlink()
        with pyczi.create_czi(str(tmp), compression_options="zstd0:ExplicitLevel=1") as czi:
            for y in range(0, h, CZI_TILE):
                for x in range(0, w, CZI_TILE):
                    tile = pixels(y, min(h, y + CZI_TILE), x, min(w, x + CZI_TILE))
                    czi.write(np.ascontiguousarray(tile[..., ::-1]), location=(x, y),
                              plane={"C": 0, "Z": 0, "T": 0}, scene=0)  # fmt: skip
            czi.write_metadata(document_name="RateScope memory benchmark",
                               scale_x=0.123e-6, scale_y=0.123e-6)  # fmt: skip
    surface_y = STRIP_ROW + float(g.truth.surface_y)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"surface_y": surface_y, "shape": list(shape)}))
    return surface_y
