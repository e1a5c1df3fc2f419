"""CSV of the predicted numbers: one row per sample x unit x C-rate."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.constants import UNITS
from ratescope.core.report.record import SampleReport

COLUMNS = ("file", "unit", "unit_symbol", "c_rate", "mean", "std", "fold_std", "tile_std",
           "tiles", "folds", "ood", "measured", "ood_reason", "physics_mean", "physics_sd",
           "physics_agrees", "non_active_fraction", "porosity", "particle_d50_um",
           "thickness_um", "model")  # fmt: skip
"""Column order; ``file, unit, c_rate, mean, std, tiles, ood`` are the stable core. The
``physics_*`` columns and the microstructure are empty when the coating was not measured
(:mod:`core.measure`); ``model`` names the models that made the prediction."""


def _num(x, digits: int = 4):
    return "" if x is None or not np.isfinite(x) else round(float(x), digits)


def physics_columns(rep: SampleReport, unit: str, i: int, agrees: dict) -> dict:
    """The physics cross-check columns of one row (empty strings where unknown);
    ``agrees``: the cross-check's verdict per unit."""
    est = rep.prediction.physics
    out = dict.fromkeys(COLUMNS[COLUMNS.index("physics_mean") : COLUMNS.index("model")], "")
    if est is None or est.micro is None:
        return out
    m = est.micro
    out.update(non_active_fraction=_num(m.non_active_fraction), porosity=_num(m.porosity),
               particle_d50_um=_num(m.d50_um, 3), thickness_um=_num(m.thickness_um, 2))  # fmt: skip
    curve = est.curves.get(unit)
    if curve is not None:
        out.update(physics_mean=_num(curve.mean[i]), physics_sd=_num(curve.sd[i]),
                   physics_agrees=agrees.get(unit, ""))  # fmt: skip
    return out


def csv_rows(reports: Iterable[SampleReport]) -> list[dict]:
    """The rows (dicts keyed by :data:`COLUMNS`) of ``reports``."""
    from ratescope.core.measure import cross_check

    rows = []
    for rep in reports:
        est = rep.prediction.physics
        checks = cross_check(rep.prediction, est, rep.cards) if est is not None else []
        agrees = {c.unit: c.agree for c in checks}
        for unit, up in rep.prediction.units.items():
            measured = rep.measured.get(unit)
            for i, c in enumerate(up.c_rates):
                m = None if measured is None or not np.isfinite(measured[i]) else measured[i]
                rows.append({
                    "file": str(rep.path), "unit": unit, "unit_symbol": UNITS.get(unit, ""),
                    "c_rate": float(c), "mean": round(float(up.mean[i]), 4),
                    "std": round(float(up.std[i]), 4),
                    "fold_std": round(float(up.fold_std[i]), 4),
                    "tile_std": round(float(up.tile_std[i]), 4), "tiles": int(up.n_tiles),
                    "folds": int(up.folds_done), "ood": bool(up.ood),
                    "measured": "" if m is None else round(float(m), 4),
                    "ood_reason": ("out of distribution, not a result: "
                                   + "; ".join(up.ood_reasons)) if up.ood else "",
                    **physics_columns(rep, unit, i, agrees),
                    "model": rep.prediction.model,
                })  # fmt: skip
    return rows


def csv_text(reports: Iterable[SampleReport]) -> str:
    """The CSV document (header + rows) as a string."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(reports))
    return buf.getvalue()


def write_csv(reports: Iterable[SampleReport], path: str | Path) -> Path:
    """Write the CSV of ``reports`` to ``path`` atomically (UTF-8)."""
    text = csv_text(reports)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
