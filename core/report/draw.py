"""Drawing helpers for report pages: each fills one matplotlib ``Axes`` (no pyplot)."""

from __future__ import annotations

import numpy as np

from ratescope.core import colours
from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.report.record import Explanation, SampleReport

KEPT, REJECTED, COLLECTOR = colours.KEPT.hex, colours.REJECTED.hex, colours.COLLECTOR.hex
SURFACE, CROP = colours.SURFACE.hex, colours.CROP.hex
PHYSICS = "#2ca02c"
"""Colour of the physics curve (the label table at the measured microstructure)."""
CURVE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def log_rate_axis(ax, unit: str) -> None:
    """Log C-rate x axis with the five C-rates as ticks, capacity in ``unit`` on y."""
    ax.set_xscale("log")
    ax.set_xticks(list(C_RATES))
    ax.set_xticklabels([f"{c:g}C" for c in C_RATES])
    ax.minorticks_off()
    ax.set_xlim(C_RATES[0] / 1.3, C_RATES[-1] * 1.3)
    ax.set_xlabel("C-rate")
    ax.set_ylabel(f"capacity ({UNITS.get(unit, unit)})")
    ax.grid(True, alpha=0.3)


def rate_curve(ax, report: SampleReport, unit: str, color: str = CURVE_COLORS[0],
               label: str | None = None, measured: bool = True) -> None:  # fmt: skip
    """Ensemble mean with a ±1 std band, and measured points where given."""
    up = report.prediction.units[unit]
    c = np.asarray(up.c_rates, float)
    style = "o-"
    if up.ood:  # shown, but not as a result: grey and dashed, as in the window
        color, style, label = "0.6", "o--", "flagged: not a result"
    ax.fill_between(c, up.mean - up.std, up.mean + up.std, color=color, alpha=0.2, lw=0)
    ax.plot(c, up.mean, style, color=color, ms=3.5, lw=1.4, label=label or "predicted")
    est = report.prediction.physics
    phys = est.curves.get(unit) if est is not None else None
    if phys is not None:
        ax.fill_between(c, phys.mean - phys.sd, phys.mean + phys.sd, color=PHYSICS, alpha=0.15,
                        lw=0)  # fmt: skip
        ax.plot(c, phys.mean, "^:", color=PHYSICS, ms=3.5, lw=1.2, label="physics (measured)")
    m = report.measured.get(unit)
    if measured and m is not None:
        ok = np.isfinite(m)
        ax.plot(c[ok], m[ok], "s", mfc="none", mec="k", ms=5, label="measured")


def _physics(report: SampleReport, unit: str):
    est = report.prediction.physics
    return est.curves.get(unit) if est is not None else None


def value_table(ax, report: SampleReport) -> None:
    """Table: C-rate, mean ± std per unit (and measured values), spreads."""
    ax.axis("off")
    units = list(report.prediction.units)
    header = ["C-rate"]
    for u in units:
        sym = UNITS.get(u, u)
        header += [f"{sym} mean ± std", f"{sym} folds/tiles"]
        if _physics(report, u) is not None:
            header.append(f"{sym} physics")
        if u in report.measured:
            header.append(f"{sym} measured")
    rows = []
    for i, c in enumerate(C_RATES):
        row = [f"{c:g}C"]
        for u in units:
            up = report.prediction.units[u]
            value = f"{up.mean[i]:.1f} ± {up.std[i]:.1f}"
            row += [f"({value}) flagged" if up.ood else value,
                    f"{up.fold_std[i]:.1f} / {up.tile_std[i]:.1f}"]  # fmt: skip
            if (phys := _physics(report, u)) is not None:
                row.append(f"{phys.mean[i]:.1f} ± {phys.sd[i]:.1f}")
            if u in report.measured:
                v = report.measured[u][i]
                row.append(f"{v:.1f}" if np.isfinite(v) else "–")
        rows.append(row)
    table = ax.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.scale(1.0, 1.25)
    for (r, _c), cell in table.get_celld().items():
        cell.set_linewidth(0.4)
        if r == 0:
            cell.set_facecolor("#e8e8e8")


def _polygon(frame, top: float, left: float, height: float, width: float) -> np.ndarray:
    u = np.array([left, left + width, left + width, left, left])
    v = np.array([top, top, top + height, top + height, top])
    x, y = frame.to_source(u, v)
    return np.stack([x, y], axis=1)


def thumbnail(ax, report: SampleReport) -> None:
    """The mosaic with the collector line, the crop rectangle and the tiles."""
    ax.set_xticks([])
    ax.set_yticks([])
    if report.thumbnail is None:
        ax.text(0.5, 0.5, "no image", ha="center", va="center", transform=ax.transAxes)
        return
    th, tw = report.thumbnail.shape[:2]
    k = report.thumb_scale
    h, w = report.shape[:2] if report.shape else (th * k, tw * k)
    ax.imshow(report.thumbnail, extent=(0, w, h, 0), interpolation="antialiased")
    a = report.alignment
    if a is None:
        return
    c, s = a.collector, a.surface
    ax.plot([c.x0, c.x1], [c.y0, c.y1], color=COLLECTOR, lw=1.0)
    ax.plot([s.x0, s.x1], [s.y0, s.y1], color=SURFACE, lw=0.8)
    frame = a.frame
    if a.rect is not None:
        p = _polygon(frame, a.rect.top, a.rect.left, a.rect.height, a.rect.width)
        ax.plot(p[:, 0], p[:, 1], color=CROP, lw=0.8, ls="--")
    for t in a.tiles:
        p = _polygon(frame, *t.rect)
        color = KEPT if t.kept else REJECTED
        ax.plot(p[:, 0], p[:, 1], color=color, lw=1.0)
        if not t.kept:
            ax.plot(p[[0, 2], 0], p[[0, 2], 1], color=color, lw=0.6)
            ax.plot(p[[1, 3], 0], p[[1, 3], 1], color=color, lw=0.6)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)


def explanation(ax, ex: Explanation) -> None:
    """The explanation map over its tile (diverging colours, red raises the prediction)."""
    ax.set_xticks([])
    ax.set_yticks([])
    m = np.asarray(ex.map, float)
    extent = (0, 672, 224, 0)
    if ex.tile_image is not None:
        img = np.asarray(ex.tile_image)
        extent = (0, img.shape[1], img.shape[0], 0)
        gray = img.mean(-1) if img.ndim == 3 else img
        ax.imshow(gray, cmap="gray", extent=extent)
    vmax = float(np.nanmax(np.abs(m))) or 1.0
    alpha = np.clip(np.abs(np.nan_to_num(m)) / vmax * 1.5, 0, 0.8)  # weak regions show the image
    im = ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, alpha=alpha, extent=extent,
                   interpolation="nearest")  # fmt: skip
    name = {"gradram": "Grad-RAM", "guided": "guided backprop", "occlusion": "occlusion"}
    ax.set_title(f"{name.get(ex.method, ex.method)}, tile {ex.tile + 1}, "
                 f"{UNITS.get(ex.unit, ex.unit)} at {ex.c_rate:g}C "
                 "(red raises, blue lowers)", fontsize=7.5)  # fmt: skip
    cb = ax.figure.colorbar(im, ax=ax, orientation="horizontal", fraction=0.08, pad=0.04)
    cb.ax.tick_params(labelsize=6)
