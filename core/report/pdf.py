"""The PDF report: a page per mosaic (more when its details need them), plus a summary
of all curves.

Built with matplotlib's PDF backend on explicit :class:`~matplotlib.figure.Figure`
objects (no pyplot state); TrueType fonts are embedded (``pdf.fonttype`` 42), so every
number and word is real, selectable, searchable text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ratescope.core.atomic import atomic_path
from ratescope.core.colours import overlay_legend
from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.progress import ProgressFn, report
from ratescope.core.report import draw
from ratescope.core.report.card import card_lines
from ratescope.core.report.record import SampleReport

A4 = (8.27, 11.69)
RC = {"pdf.fonttype": 42, "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7}  # fmt: skip


def _fmt_size(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def file_lines(rep: SampleReport) -> list[str]:
    """File facts: name, path, size, format, dimensions, pixel size."""
    lines = [f"File: {rep.name}", f"Path: {textwrap.shorten(str(rep.path), 80)}",
             f"Size: {_fmt_size(rep.file_size)}, format {rep.format or 'unknown'}"]  # fmt: skip
    if rep.shape:
        h, w = rep.shape[:2]
        lines.append(f"Image: {w} × {h} px")
        if rep.pixel_size_um:
            lines.append(f"Pixel size: {rep.pixel_size_um:.4g} µm/px ({rep.pixel_size_source})"
                         f", field {w * rep.pixel_size_um:.0f} × "
                         f"{h * rep.pixel_size_um:.0f} µm")  # fmt: skip
    if rep.prediction.model:
        lines.append(f"Model: {rep.prediction.model}")
    lines.append(f"Date: {rep.date}   RateScope {rep.version}")
    return lines


def alignment_lines(rep: SampleReport) -> list[str]:
    """Alignment parameters: angle, collector, surface, crop, tiles kept and rejected."""
    a = rep.alignment
    if a is None:
        return ["Alignment: not recorded"]
    c = a.collector
    lines = [f"Rotation: {a.angle_deg:+.3f}° (collector made horizontal), "
             f"detection confidence {c.confidence:.2f}",
             f"Collector edge: ({c.x0:.0f}, {c.y0:.0f}) – ({c.x1:.0f}, {c.y1:.0f}) px",
             f"Coating surface: mean y = {a.surface_y:.0f} px"]  # fmt: skip
    if a.rect is not None:
        r = a.rect
        lines.append(f"Crop (straightened): {r.width} × {r.height} px at "
                     f"({r.left}, {r.top})")  # fmt: skip
    kept = len(a.kept)
    reasons: dict[str, int] = {}
    for t in a.tiles:
        if not t.kept:
            why = t.reason or "by the user"
            reasons[why] = reasons.get(why, 0) + 1
    why = ", ".join(f"{n} {r}" for r, n in reasons.items())
    lines.append(f"Tiles: {kept} kept of {len(a.tiles)}" + (f" (rejected: {why})" if why else ""))
    overrides = sum(t.override is not None for t in a.tiles)
    if overrides:
        lines.append(f"Tile decisions changed by the user: {overrides}")
    return lines


TEXT_SIZE = 7.5
LINE_HEIGHT = TEXT_SIZE * 1.35 / 72 / A4[1]
"""One text line, in figure fractions of an A4 page."""
TEXT_TOP, TEXT_BOTTOM = 0.92, 0.04
"""Where continuation pages put their text (figure fractions)."""


def _wrap(lines: list[str], width: int) -> list[str]:
    return [w for line in lines for w in textwrap.wrap(line, width) or [""]]


def _fits(ax, lines: list[str]) -> bool:
    """Whether ``lines`` fit in ``ax``'s height at :data:`TEXT_SIZE`."""
    height = ax.get_position().height  # figure fraction
    return len(lines) * LINE_HEIGHT <= height


def _text_block(ax, lines: list[str]) -> None:
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=TEXT_SIZE,
            transform=ax.transAxes, linespacing=1.35)  # fmt: skip


def physics_text(rep: SampleReport) -> list[str]:
    """The measurement and the CNN-vs-physics verdicts in words."""
    from ratescope.core.measure.physics import cross_check, summary_lines

    est = rep.prediction.physics
    checks = cross_check(rep.prediction, est, rep.cards) if est is not None else []
    return summary_lines(est, checks)


def _disagreement(rep: SampleReport) -> str:
    """The first CNN-vs-physics disagreement in words, or ''."""
    from ratescope.core.measure.physics import cross_check

    est = rep.prediction.physics
    if est is None:
        return ""
    bad = [c.message for c in cross_check(rep.prediction, est, rep.cards) if not c.agree]
    return bad[0] if bad else ""


def _header(fig: Figure, rep: SampleReport, continued: bool = False) -> None:
    title = f"RateScope report — {rep.name}" + (" (continued)" if continued else "")
    fig.text(0.08, 0.965, title, fontsize=13, weight="bold")
    fig.text(0.08, 0.945, f"Predicted rate capability, {rep.date}, RateScope {rep.version}",
             fontsize=8, color="0.3")  # fmt: skip


def sample_pages(rep: SampleReport) -> list[Figure]:
    """The report of one mosaic: one page when everything fits, else the figures on the
    first page and the details (explanation, file, alignment, model card) flowing over
    continuation pages. Nothing is ever clipped."""
    file_text, align_text = _wrap(file_lines(rep), 62), _wrap(alignment_lines(rep), 62)
    phys_text = _wrap(["Microstructure and physics cross-check"] + physics_text(rep), 125)
    card_text = _wrap(["Model card"] + card_lines(rep.cards), 125)
    if rep.explanation is None:
        fig, areas = _first_page(rep, details=True, physics_lines=len(phys_text))
        texts = (file_text, align_text, phys_text, card_text)
        if all(_fits(ax, text) for ax, text in zip(areas, texts, strict=True)):
            for ax, text in zip(areas, texts, strict=True):
                _text_block(ax, text)
            return [fig]
    first, _ = _first_page(rep, details=False)
    details = (["File"] + _wrap(file_lines(rep), 125) + ["", "Alignment"]
               + _wrap(alignment_lines(rep), 125) + [""] + phys_text + [""]
               + card_text)  # fmt: skip
    return [first] + _text_pages(rep, details)


def sample_page(rep: SampleReport) -> Figure:
    """The first page of :func:`sample_pages` (all of it when it fits on one)."""
    return sample_pages(rep)[0]


def _first_page(rep: SampleReport, details: bool, physics_lines: int = 2) -> tuple[Figure, list]:
    """Curves, values, mosaic and (if any) the explanation; with ``details`` also the
    four empty text areas (file, alignment, physics, model card) below, returned for
    filling."""
    fig = Figure(figsize=A4)
    has_ex = rep.explanation is not None and not details
    phys = 0.17 * (physics_lines + 1)  # the physics area grows with its text
    rows = [2.2, 1.15, 1.1] + ([1.45] if has_ex else []) + ([1.3, phys, 1.45] if details else [])
    gs = fig.add_gridspec(len(rows), 2, height_ratios=rows, left=0.08, right=0.96, top=0.89,
                          bottom=0.03, hspace=0.5, wspace=0.28)  # fmt: skip
    _header(fig, rep)
    if rep.prediction.ood:
        from ratescope.core.predict.predict import reasons_of  # lazily: the report needs no torch

        why = "; ".join(reasons_of(rep.prediction))
        fig.text(0.08, 0.925, "OUT OF DISTRIBUTION — NOT A RESULT: this image lies outside "
                 "what the model was trained on; the grey curves are for reference only.",
                 color="#b00000", fontsize=8.5, weight="bold")  # fmt: skip
        fig.text(0.08, 0.910, textwrap.shorten("Why: " + why, 190), color="#b00000",
                 fontsize=7)  # fmt: skip
    elif warning := _disagreement(rep):
        fig.text(0.08, 0.925, "CNN AND PHYSICS DISAGREE — treat the prediction with caution.",
                 color="#a05000", fontsize=8.5, weight="bold")  # fmt: skip
        fig.text(0.08, 0.910, textwrap.shorten(warning, 190), color="#a05000", fontsize=7)
    units = [u for u in UNITS if u in rep.prediction.units]
    for i, unit in enumerate(units[:2]):
        ax = fig.add_subplot(gs[0, i])
        draw.rate_curve(ax, rep, unit)
        draw.log_rate_axis(ax, unit)
        ax.set_title(f"{UNITS[unit]} ({unit}), bands: ± 1 std")
        ax.legend(loc="lower left")
    ax = fig.add_subplot(gs[1, :])
    draw.value_table(ax, rep)
    notes = ", ".join(f"{UNITS.get(up.unit, up.unit)} {_count(up.n_tiles, 'tile')} × "
                      f"{_count(up.folds_done, 'model')}"
                      for up in rep.prediction.units.values())  # fmt: skip
    ax.set_title(f"Predicted values ({notes}); std over models and tiles; folds / tiles: "
                 "model and electrode spread", fontsize=7.5)  # fmt: skip
    ax = fig.add_subplot(gs[2, :])
    draw.thumbnail(ax, rep)
    ax.set_title(f"Mosaic: {overlay_legend()}", fontsize=7.5)
    if has_ex:
        draw.explanation(fig.add_subplot(gs[3, :]), rep.explanation)
    areas = []
    if details:
        areas = [fig.add_subplot(gs[-3, 0]), fig.add_subplot(gs[-3, 1]),
                 fig.add_subplot(gs[-2, :]), fig.add_subplot(gs[-1, :])]  # fmt: skip
        for area in areas:
            area.axis("off")
    return fig, areas


def _text_pages(rep: SampleReport, lines: list[str]) -> list[Figure]:
    """``lines`` flowed over as many pages as they need."""
    per_page = int((TEXT_TOP - TEXT_BOTTOM) / LINE_HEIGHT)
    pages = []
    for start in range(0, max(len(lines), 1), per_page):
        fig = Figure(figsize=A4)
        _header(fig, rep, continued=True)
        chunk = lines[start : start + per_page]
        fig.text(0.08, TEXT_TOP, "\n".join(chunk), va="top", ha="left", fontsize=TEXT_SIZE,
                 linespacing=1.35)  # fmt: skip
        pages.append(fig)
    return pages


def summary_pages(reports: Sequence[SampleReport]) -> list[Figure]:
    """All curves of a batch on one page with the mean values of as many files as fit;
    the rest of the table continues on further pages (never cut off)."""
    fig = Figure(figsize=A4)
    gs = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.4], left=0.08, right=0.96, top=0.92,
                          bottom=0.05, hspace=0.25, wspace=0.28)  # fmt: skip
    fig.text(0.08, 0.965, f"RateScope batch summary — {len(reports)} mosaics",
             fontsize=13, weight="bold")  # fmt: skip
    for i, unit in enumerate(UNITS):
        ax = fig.add_subplot(gs[0, i])
        for j, rep in enumerate(reports):
            if unit in rep.prediction.units:
                color = draw.CURVE_COLORS[j % len(draw.CURVE_COLORS)]
                draw.rate_curve(ax, rep, unit, color, textwrap.shorten(rep.name, 28),
                                measured=False)  # fmt: skip
        draw.log_rate_axis(ax, unit)
        ax.set_title(f"{UNITS[unit]} ({unit})")
        if len(reports) <= 12:
            ax.legend(loc="lower left", fontsize=6)
    rows = [_summary_row(rep) for rep in reports]
    ax = fig.add_subplot(gs[1, :])
    first = _table_capacity(ax)
    _summary_table(ax, rows[:first])
    pages = [fig]
    start = first
    while start < len(rows):
        page = Figure(figsize=A4)
        ax = page.add_axes((0.08, 0.04, 0.88, 0.89))
        n = _table_capacity(ax)
        page.text(0.08, 0.965, f"RateScope batch summary (continued): files {start + 1}–"
                  f"{min(len(rows), start + n)} of {len(rows)}", fontsize=11,
                  weight="bold")  # fmt: skip
        _summary_table(ax, rows[start : start + n])
        pages.append(page)
        start += n
    return pages


def summary_page(reports: Sequence[SampleReport]) -> Figure:
    """The first page of :func:`summary_pages`."""
    return summary_pages(reports)[0]


def _summary_row(rep: SampleReport) -> list[str]:
    row = [textwrap.shorten(rep.name, 34)]
    for u in UNITS:
        up = rep.prediction.units.get(u)
        cell = lambda i, up=up: f"{up.mean[i]:.1f} ± {up.std[i]:.1f}"  # noqa: E731
        row += ["–"] * 2 if up is None else [cell(0), cell(-1)]
    first = next(iter(rep.prediction.units.values()))
    return row + [str(first.n_tiles), "yes" if rep.prediction.ood else "no"]


TABLE_ROW = 11 / 72 / A4[1]
"""Height of one summary-table row (6.5 pt text), in figure fractions."""


def _table_capacity(ax) -> int:
    """Data rows that fit in ``ax`` under the header row."""
    return max(1, int(ax.get_position().height / TABLE_ROW) - 1)


def _summary_table(ax, rows: list[list[str]]) -> None:
    """The rows as a table at the top of ``ax``, each row :data:`TABLE_ROW` tall."""
    ax.axis("off")
    header = ["file"] + [f"{UNITS[u]} {c:g}C" for u in UNITS for c in (C_RATES[0], C_RATES[-1])]
    header += ["tiles", "OOD"]
    height = (len(rows) + 1) * TABLE_ROW / ax.get_position().height
    table = ax.table(cellText=rows, colLabels=header, cellLoc="center",
                     bbox=(0.0, 1.0 - height, 1.0, height))  # fmt: skip
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    for (r, _c), cell in table.get_celld().items():
        cell.set_linewidth(0.4)
        if r == 0:
            cell.set_facecolor("#e8e8e8")


def write_pdf(reports: Sequence[SampleReport], path: str | Path, summary: bool | None = None,
              progress: ProgressFn | None = None) -> Path:  # fmt: skip
    """Write the report of ``reports`` to ``path`` atomically.

    Parameters
    ----------
    reports : sequence of SampleReport
        One page each, in order.
    summary : bool, optional
        Add the summary page comparing all curves (default: when there are several).
    progress : ProgressFn, optional
        Called per page; may raise :class:`~core.errors.Cancelled` (nothing is written).
    """
    reports = list(reports)
    if summary is None:
        summary = len(reports) > 1
    n = len(reports) + int(summary)
    meta = {"Title": "RateScope report", "Creator": "RateScope",
            "Subject": "Predicted rate capability of electrode cross-sections"}  # fmt: skip
    with matplotlib.rc_context(RC), atomic_path(path) as tmp, PdfPages(tmp, metadata=meta) as pdf:
        if summary:
            for page in summary_pages(reports):
                pdf.savefig(page)
            report(progress, 1 / n, "summary page")
        for i, rep in enumerate(reports):
            for page in sample_pages(rep):
                pdf.savefig(page)
            report(progress, (i + 1 + int(summary)) / n, rep.name)
    return Path(path)


def _count(n: int, noun: str) -> str:
    """``"1 tile"``, ``"6 tiles"``."""
    return f"{n} {noun}{'s' * (n != 1)}"
