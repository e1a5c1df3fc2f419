"""A one-figure preview of synthetic mosaics with their ground truth (docs, README).

Uses matplotlib's Agg canvas directly (no pyplot, so no GUI backend is ever chosen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ratescope.core.synth.mosaic import SyntheticMosaic, generate_mosaic
from ratescope.core.synth.phases import Phase

PHASE_COLOURS = {
    Phase.EPOXY: "#202020", Phase.PARTICLE: "#b8c4d8", Phase.BINDER: "#7a5a3a",
    Phase.PORE: "#000000", Phase.FOIL: "#f0f0f0", Phase.CRACK: "#ff8c00",
    Phase.VOID: "#e0008c", Phase.SCRATCH: "#00e0e0", Phase.BUBBLE: "#40ff40",
}  # fmt: skip


def _overlay_truth(ax, m: SyntheticMosaic, step: int = 1, x0: int = 0, y0: int = 0) -> None:
    for key, colour in (("collector", "#ff3030"), ("surface", "#30c0ff")):
        (ax_, ay), (bx, by) = getattr(m.truth, key)
        ax.plot([(ax_ - x0) / step, (bx - x0) / step], [(ay - y0) / step, (by - y0) / step],
                color=colour, lw=1.0, ls="--", label=key)  # fmt: skip


def render_preview(path: str | Path, seed: int = 2) -> Path:
    """Write a PNG preview: a whole 975 x 6300 mosaic (downsampled, with tiles and the
    ground-truth lines), full-resolution crops at 20 % and 50 % porosity, artefacts and
    the phase map. Returns the path."""
    main = generate_mosaic(
        seed, porosity=0.3, tilt_deg=1.2, artefacts=("void", "scratch", "bubble")
    )
    dense = generate_mosaic(seed + 1, porosity=0.2, tilt_deg=0.0)
    loose = generate_mosaic(seed + 2, porosity=0.5, tilt_deg=-0.5)

    fig = Figure(figsize=(11, 8.4), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 3, height_ratios=[0.58, 1, 1], hspace=0.14, wspace=0.03,
                            left=0.01, right=0.99, top=0.97, bottom=0.04)  # fmt: skip
    ax = fig.add_subplot(grid[0, :])
    step = 6
    ax.imshow(main.image[::step, ::step], interpolation="antialiased")
    for t in main.truth.tiles:
        ax.add_patch(_rect(t, step))
    _overlay_truth(ax, main, step)
    ax.set_title(f"synthetic MosaiX 975 x 6300 px (0.123 µm/px), porosity 0.30, tilt "
                 f"{main.truth.tilt_deg:.1f}°; dashed: ground-truth collector (red) and "
                 f"surface (blue); boxes: camera tiles", fontsize=8)  # fmt: skip
    ax.set_axis_off()

    crops = [
        (dense, "porosity 0.20", (100, 2500)),
        (loose, "porosity 0.50", (None, 2500)),
        (main, "artefacts (void, scratch, bubble)", _artefact_corner(main)),
    ]
    for k, (m, title, (cy, cx)) in enumerate(crops):
        cy = _crop_top(m) if cy is None else cy
        sl = (slice(cy, cy + 560), slice(cx, cx + 672))
        a = fig.add_subplot(grid[1, k])
        a.imshow(m.image[sl], interpolation="nearest")
        a.set_title(f"{title} (full resolution, 560 x 672 px)", fontsize=8)
        a.set_axis_off()
        b = fig.add_subplot(grid[2, k])
        b.imshow(m.phase[sl], cmap=ListedColormap(list(PHASE_COLOURS.values())),
                 vmin=0, vmax=len(Phase) - 1, interpolation="nearest")  # fmt: skip
        _overlay_truth(b, m, 1, cx, cy)
        b.set_xlim(0, 671)
        b.set_ylim(559, 0)
        b.set_title("phase map: " + ", ".join(_present(m.phase[sl])), fontsize=7)
        b.set_axis_off()
    fig.text(0.5, 0.01, "RateScope synthetic data (core.synth.mosaic) — not a real micrograph",
             ha="center", fontsize=8)  # fmt: skip
    canvas = fig.canvas
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    out = Path(path)
    try:  # Pillow only for the 192-colour PNG (the test and bundle extras install it)
        from PIL import Image
    except ImportError as exc:
        raise ImportError("render_preview needs Pillow: pip install pillow") from exc
    img = Image.fromarray(rgba[..., :3]).quantize(colors=192, method=Image.Quantize.MEDIANCUT)
    img.save(out, optimize=True)
    return out


def _rect(tile, step):
    from matplotlib.patches import Rectangle

    return Rectangle(((tile["x0"] - 0.5) / step, (tile["y0"] - 0.5) / step),
                     (tile["x1"] - tile["x0"]) / step, (tile["y1"] - tile["y0"]) / step,
                     fill=False, ec="white", lw=0.4, alpha=0.6)  # fmt: skip


def _crop_top(m: SyntheticMosaic) -> int:
    return int(max(0, min(m.truth.height - 560, m.truth.surface_y - 40)))


def _artefact_corner(m: SyntheticMosaic) -> tuple[int, int]:
    voids = [a for a in m.truth.artefacts if a["type"] == "void"]
    if not voids:
        return _crop_top(m), 2500
    x0, _, x1, _ = voids[0]["bbox"]
    cx = int(np.clip((x0 + x1) / 2 - 336, 0, m.truth.width - 672))
    return _crop_top(m), cx


def _present(phase: np.ndarray) -> list[str]:
    return [p.name.lower() for p in Phase if np.any(phase == p)]
