"""``python main.py info FILE``: what a microscope file holds, without opening the GUI."""

from __future__ import annotations

import argparse
from typing import Any

from ratescope.cli.common import fail, write_json
from ratescope.core.errors import MultipleScenes, RateScopeError
from ratescope.core.io import list_scenes, load_mosaic

HELP = "show format, size, dtype, pixel size (and its source), tiles and scenes of an image file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="CZI, ZVI, TIFF/OME-TIFF, PNG or JPEG file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--scene", type=int, default=None, help="0-based scene of a multi-scene CZI")
    p.add_argument("--pixel-size", type=float, default=None, help="override the pixel size (µm)")


def describe(args: argparse.Namespace) -> dict[str, Any]:
    """The facts ``info`` prints, as a JSON-ready dict."""
    scenes = list_scenes(args.file)
    try:
        m = load_mosaic(args.file, scene=args.scene, pixel_size_um=args.pixel_size)
    except MultipleScenes:
        m = load_mosaic(args.file, scene=0, pixel_size_um=args.pixel_size)
    return {
        "file": str(m.path),
        "format": m.format,
        "scene": m.scene,
        "scenes": scenes,
        "height_px": m.height,
        "width_px": m.width,
        "channels": "RGB" if m.is_rgb else "gray",
        "dtype": m.dtype.name,
        "pixel_size_um": m.pixel_size_um,
        "pixel_size_source": m.pixel_size_source,
        "size_um": [round(m.height * m.pixel_size_um, 3), round(m.width * m.pixel_size_um, 3)],
        "levels": [list(lv.shape) for lv in m.levels],
        "tiles": m.metadata.get("tiles"),
        "metadata": m.metadata,
    }


def run(args: argparse.Namespace) -> int:
    try:
        info = describe(args)
    except RateScopeError as e:
        return fail(e)
    if args.json:
        write_json(info, None)
        return 0
    scene_note = ""
    if len(info["scenes"]) > 1:
        scene_note = f"  (showing scene {info['scene']}; choose with --scene N)"
    rows = [
        ("file", info["file"]),
        ("format", info["format"]),
        (
            "size",
            f"{info['width_px']} x {info['height_px']} px, {info['channels']} {info['dtype']}",
        ),
        ("pixel size", f"{info['pixel_size_um']:.4g} µm/px ({info['pixel_size_source']})"),
        ("extent", f"{info['size_um'][1]:.1f} x {info['size_um'][0]:.1f} µm"),
        ("levels", " ".join("x".join(map(str, s[:2][::-1])) for s in info["levels"])),
        ("tiles", info["tiles"]),
        ("scenes", ", ".join(info["scenes"]) + scene_note),
    ]
    for key in ("microscope", "objective", "instrument", "software"):
        if key in info["metadata"]:
            rows.append((key, info["metadata"][key]))
    for key, value in rows:
        print(f"{key:<11} {value}")
    return 0
