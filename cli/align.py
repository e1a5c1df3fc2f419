"""``python main.py align FILE``: automatic collector alignment, crop and tiles.

Writes the alignment as JSON (stable keys ``angle_deg``, ``collector``, ``surface_y``,
``tiles``; all positions in source-image pixels, tile rectangles in the straightened
image) and optionally a PNG preview with the lines, the rectangle and the tiles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ratescope.cli.common import fail, save_json
from ratescope.core.atomic import atomic_path
from ratescope.core.errors import RateScopeError

HELP = "find the collector and coating surface, crop the active layer into 224 x 672 tiles"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="mosaic (CZI, ZVI, TIFF, PNG, JPEG)")
    p.add_argument("--json", default="-", help="where to write the alignment (default stdout)")
    p.add_argument("--png", help="write a preview image here")
    p.add_argument("--stride", type=int, help="tile stride in px (default: tile width)")
    p.add_argument("--scene", type=int, help="scene of a multi-scene CZI")


PREVIEW_WIDTH = 4000
"""Columns of the preview images (wider mosaics are block-averaged down)."""


def _straight_preview(gray: np.ndarray, frame, step: int, chunk: int = 4096) -> np.ndarray:
    """The straightened ``gray`` block-averaged by ``step``, made in column chunks so that
    no full-resolution float copy of a wide band is needed."""
    from ratescope.core.align import straighten
    from ratescope.core.io.overview import block_mean

    h, w = gray.shape
    chunk = max(step, chunk // step * step)
    parts = [
        block_mean(straighten(gray, frame, cols=(c, min(w, c + chunk))), step)
        for c in range(0, w // step * step, chunk)
    ]
    return np.concatenate(parts, axis=1)


def preview(working, alignment, path: str | Path) -> None:
    """The aligned pixels with the collector and surface lines (top), the straightened
    crop with the rectangle and tiles, rejected ones crossed out with their reason
    (bottom). For a large mosaic ``working`` is the band around the coating."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from ratescope.core.align.band import working_frame
    from ratescope.core.io.overview import block_mean

    image, dy, z = working.image, working.y0, working.zoom
    gray = np.round(image.mean(axis=2, dtype=np.float32)).astype(np.uint8)
    a = alignment
    h, w = gray.shape
    step = max(1, -(-w // PREVIEW_WIDTH))
    straight = _straight_preview(gray, working_frame(working, a), step)
    small = block_mean(gray, step)
    sh, sw = small.shape[0] * step * z, small.shape[1] * step * z  # in mosaic pixels
    extent = (-0.5, sw - 0.5, dy + sh - 0.5, dy - 0.5)
    fig = Figure(figsize=(14, 2 * 14 * h / w + 0.8), dpi=110)
    ax1, ax2 = fig.subplots(2, 1)
    ax1.imshow(small, cmap="gray", vmin=0, vmax=255, extent=extent)
    c, s = a.collector, a.surface
    ax1.plot(
        [c.x0, c.x1],
        [c.y0, c.y1],
        "-",
        color="tab:orange",
        lw=1.2,
        label=f"collector {c.angle_deg:+.3f}°",
    )
    ax1.plot(
        [s.x0, s.x1],
        [s.y0, s.y1],
        "-",
        color="tab:cyan",
        lw=1.2,
        label=f"surface (mean y {a.surface_y:.1f})",
    )
    ax1.legend(loc="upper right", fontsize=7)
    rows = "" if working.whole else f" rows {working.rows[0]}-{working.rows[1]}"
    ax1.set_title(f"source{rows}", fontsize=9)
    s_ext = (-0.5, straight.shape[1] * step - 0.5, straight.shape[0] * step - 0.5, -0.5)
    ax2.imshow(straight, cmap="gray", vmin=0, vmax=255, extent=s_ext)
    if a.rect is not None:
        r = a.rect
        ax2.add_patch(
            Rectangle(
                (r.left - 0.5, r.top - 0.5),
                r.width,
                r.height,
                fill=False,
                ec="tab:cyan",
                lw=1,
                ls="--",
            )
        )
    for t in a.tiles:
        top, left, hh, ww = t.rect
        col = "tab:green" if t.kept else "tab:red"
        ax2.add_patch(Rectangle((left - 0.5, top - 0.5), ww, hh, fill=False, ec=col, lw=1.2))
        if not t.kept:
            ax2.plot([left, left + ww], [top, top + hh], color=col, lw=1)
            ax2.plot([left, left + ww], [top + hh, top], color=col, lw=1)
            ax2.text(
                left + ww / 2,
                top + hh / 2,
                t.reason or "user",
                color="white",
                ha="center",
                va="center",
                fontsize=7,
                bbox={"fc": "tab:red", "alpha": 0.7, "lw": 0},
            )
    ax2.set_title(f"straightened: {len(a.kept)} of {len(a.tiles)} tiles kept", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_axis_off()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def run(args: argparse.Namespace) -> int:
    from ratescope.core.align import Thresholds
    from ratescope.core.align.band import align_mosaic
    from ratescope.core.io import load_mosaic

    try:
        mosaic = load_mosaic(args.file, scene=args.scene)
        th = Thresholds()
        if args.stride:
            th.stride_px = int(args.stride)
        result, working = align_mosaic(mosaic, thresholds=th)
    except RateScopeError as e:
        return fail(e)
    data = result.to_dict()
    data["file"] = str(args.file)
    data["pixel_size_um"] = mosaic.pixel_size_um
    code = save_json(data, args.json)
    if args.png:
        try:
            preview(working, result, args.png)
        except RateScopeError as e:
            code = fail(e)
    return code
