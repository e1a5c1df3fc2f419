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


def preview(image: np.ndarray, alignment, path: str | Path) -> None:
    """Source image with the collector and surface lines (left), the straightened crop
    with the rectangle and tiles, rejected ones crossed out with their reason (right)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from ratescope.core.align import straighten
    from ratescope.core.align.prepare import to_gray

    gray = to_gray(image)
    a = alignment
    h, w = gray.shape
    fig = Figure(figsize=(14, 2 * 14 * h / w + 0.8), dpi=110)
    ax1, ax2 = fig.subplots(2, 1)
    ax1.imshow(gray, cmap="gray", vmin=0, vmax=1)
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
    ax1.set_title("source", fontsize=9)
    ax2.imshow(straighten(gray, a.frame), cmap="gray", vmin=0, vmax=1)
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
    from ratescope.core.align import Thresholds, align
    from ratescope.core.io import load_mosaic

    try:
        mosaic = load_mosaic(args.file, scene=args.scene)
        image = mosaic.image
        th = Thresholds()
        if args.stride:
            th.stride_px = int(args.stride)
        result = align(image, thresholds=th)
    except RateScopeError as e:
        return fail(e)
    data = result.to_dict()
    data["file"] = str(args.file)
    data["pixel_size_um"] = mosaic.pixel_size_um
    code = save_json(data, args.json)
    if args.png:
        try:
            preview(image, result, args.png)
        except RateScopeError as e:
            code = fail(e)
    return code
