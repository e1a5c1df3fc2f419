"""I/O benchmark: sample CZI load, and open / region read of a huge pyramidal BigTIFF.

The 20 000 x 100 000 RGB BigTIFF is generated once into ``bench_results/`` (git-ignored)
from JPEG tiles encoded in advance: the procedural pattern repeats along x with the tile
width, so each pyramid level needs only one encoded tile per tile row, and writing
the ~8 000 level-0 tiles is bound by the disk, not the encoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.bench import Row, median_time
from ratescope.core.resources import RESOURCES, SAMPLE_MOSAIC

SUITE = "io"
BIG_SHAPE = (20_000, 100_000)
TILE = 512
LEVELS = 6
REGION = (1000, 3000)
BENCH_DIR = RESOURCES.parent / "bench_results"
BIG_TIFF = BENCH_DIR / f"io_bigtiff_{BIG_SHAPE[0]}x{BIG_SHAPE[1]}_rgb.tif"


def run() -> list[Row]:
    """Rows: sample CZI load, BigTIFF generation (first run), open, region reads, memory."""
    from ratescope.core.io import load_mosaic

    rows = [_sample_row(load_mosaic)]
    if not BIG_TIFF.exists():
        t0 = time.perf_counter()
        write_big_pyramid(BIG_TIFF)
        rows.append(
            Row(
                SUITE,
                "generate 20000x100000 RGB pyramidal BigTIFF (once)",
                time.perf_counter() - t0,
                "s",
                note=f"{BIG_TIFF.stat().st_size / 1e6:.0f} MB",
            )
        )
    open_s = median_time(lambda: load_mosaic(BIG_TIFF), repeats=5)
    rows.append(Row(SUITE, "open 20000x100000 pyramidal BigTIFF", open_s * 1e3, "ms", "< 100 ms"))
    m = load_mosaic(BIG_TIFF)
    starts = iter([(y, x) for y in range(0, 18_000, 2_500) for x in range(0, 96_000, 9_000)] * 4)

    def read_region(level: int = 0) -> np.ndarray:
        y, x = next(starts)
        s = int(m.level_scale(level))
        return m.read(y // s, y // s + REGION[0], x // s, x // s + REGION[1], level=level)

    read_s = median_time(read_region, repeats=7)
    rows.append(
        Row(
            SUITE,
            "read 1000x3000 region, level 0",
            read_s * 1e3,
            "ms",
            "< 200 ms",
            note="JPEG tiles 512x512, a different region each repeat",
        )
    )
    over_s = median_time(lambda: read_region(3), repeats=7)
    rows.append(Row(SUITE, "read 1000x3000 region, level 3 (1:8 overview)", over_s * 1e3, "ms"))
    tracemalloc.start()
    load_mosaic(BIG_TIFF).read(5_000, 5_000 + REGION[0], 40_000, 40_000 + REGION[1])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(
        Row(
            SUITE,
            "peak Python/numpy memory, open + region read",
            peak / 1e6,
            "MB",
            "< 100 MB",
            note="tracemalloc; the region itself is 9 MB",
        )
    )
    rows.extend(_rss_rows())
    return rows


def _sample_row(load_mosaic) -> Row:
    name = "load sample CZI (stitch + pixel size)"
    if not SAMPLE_MOSAIC.exists():
        return Row(
            SUITE,
            name,
            float("nan"),
            "ms",
            "< 1000 ms",
            note=f"skipped: {SAMPLE_MOSAIC.name} not found",
        )
    seconds = median_time(lambda: load_mosaic(SAMPLE_MOSAIC), repeats=5)
    shape = "x".join(map(str, load_mosaic(SAMPLE_MOSAIC).shape))
    return Row(SUITE, name, seconds * 1e3, "ms", "< 1000 ms", note=shape)


def _rss_rows() -> list[Row]:
    """Peak resident memory of a fresh process that opens the BigTIFF and reads a region."""
    # VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the parent's peak across fork + exec
    code = (
        "import json, resource, imagecodecs, tifffile; from ratescope.core.io import load_mosaic\n"
        "def peak():\n"
        "    try:\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith('VmHWM:'): return int(line.split()[1])\n"
        "    except OSError: pass\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "base = peak()\n"
        f"m = load_mosaic({str(BIG_TIFF)!r}); m.read(5000, 6000, 40000, 43000)\n"
        "print(json.dumps([base, peak()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=RESOURCES.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        return [Row(SUITE, "peak RSS, open + region read", float("nan"), "MB", note="failed")]
    base, peak = json.loads(out.stdout.strip().splitlines()[-1])
    note = "VmHWM of a child process, numpy/tifffile imports included"
    return [
        Row(
            SUITE,
            "peak RSS, fresh process: import + open + region read",
            peak / 1024,
            "MB",
            "< 150 MB",
            note=note,
        ),
        Row(
            SUITE,
            "peak RSS added by open + region read",
            (peak - base) / 1024,
            "MB",
            "< 100 MB",
            note="over the same process after its imports",
        ),
    ]


def write_big_pyramid(path: Path, shape: tuple[int, int] = BIG_SHAPE, levels: int = LEVELS) -> None:
    """Write a tiled, JPEG-compressed RGB BigTIFF pyramid (sub-IFDs) of ``shape``.

    Parameters
    ----------
    path : Path
        Target file, written atomically.
    shape : (int, int)
        Level-0 (height, width) in pixels.
    levels : int
        Number of levels, each half the size of the previous one.
    """
    import imagecodecs
    import tifffile

    def encoded_rows(level: int) -> list[bytes]:
        scale = 2**level
        n_rows = -(-shape[0] // scale // TILE)
        return [imagecodecs.jpeg8_encode(_pattern(r, scale), level=85) for r in range(n_rows)]

    def tiles(level: int):
        h, w = -(-shape[0] // 2**level), -(-shape[1] // 2**level)
        rows = encoded_rows(level)
        for r in range(-(-h // TILE)):
            for _ in range(-(-w // TILE)):
                yield rows[r]

    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=True) as tw:
        opts = dict(dtype=np.uint8, tile=(TILE, TILE), compression="jpeg", photometric="rgb")
        tw.write(
            tiles(0),
            shape=(*shape, 3),
            subifds=levels - 1,
            resolution=(1e4 / 0.123, 1e4 / 0.123),
            resolutionunit="CENTIMETER",
            **opts,
        )
        for level in range(1, levels):
            h, w = -(-shape[0] // 2**level), -(-shape[1] // 2**level)
            tw.write(tiles(level), shape=(h, w, 3), subfiletype=1, **opts)


def _pattern(tile_row: int, scale: int) -> np.ndarray:
    """A 512 x 512 RGB tile of a grain-like pattern, periodic in x with the tile width."""
    y, x = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    gy = (tile_row * TILE + y) * scale  # level-0 row
    gx = (x * scale) % TILE
    grains = np.sin(gx / 23.0 + np.sin(gy / 31.0) * 2) * np.cos(gy / 17.0 + np.cos(gx / 29.0))
    band = 0.5 + 0.5 * np.sin(gy / 2500.0)
    gray = 90 + 90 * band * (grains > 0.2) + 20 * grains
    rgb = np.stack([gray * 1.02, gray, gray * 0.93], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)
