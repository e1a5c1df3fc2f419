"""The physics opinion: the label table's rate curve at the measured microstructure, and
how it compares with the CNN.

The bundled DFN table (:mod:`core.labels`) is what labels the CNN's training data; here it
is read at the porosity and particle radius measured on the image
(:mod:`core.measure.microstructure`), so the curve does not depend on how the image looks.
The table has no thickness axis: its electrodes have the paper's loading, so thickness
follows from porosity. The measured thickness is compared with the table's at the
measured porosity and a difference over :data:`THICKNESS_TOLERANCE` is reported in words
(the loading then differs and the curve is less certain).

Uncertainty per C-rate (standard, 1 sd), three parts added in quadrature:

- the measurement's: ``porosity_sd`` and ``particle_radius_sd`` pushed through the table
  by central differences;
- the table's interpolation error: leave-one-out on the grid (each interior grid line
  predicted from its neighbours with it removed, a conservative bound because removing a
  line doubles the spacing), the RMS relative error per C-rate (:func:`interpolation_error`).

The CNN's uncertainty is its ensemble spread (folds, and tiles over their number) plus its
held-out error from the model card (MAPE x 1.25 ~ one sd). The two disagree when, at some
C-rate, ``|cnn - physics| > K_AGREE * sqrt(sd_cnn² + sd_physics²)`` (about 95 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.labels import LabelTable, load_label_table
from ratescope.core.measure.microstructure import Microstructure

THICKNESS_TOLERANCE = 0.15
"""Relative thickness difference from the table's electrode that is worth a note."""
K_AGREE = 2.0
"""Coverage factor of the combined uncertainty in the agreement test (~95 %)."""


@lru_cache(maxsize=4)
def interpolation_error(table: LabelTable) -> dict[str, np.ndarray]:
    """RMS relative leave-one-out interpolation error per unit and C-rate, shape (5,)."""
    out = {}
    for unit in UNITS:
        vals = table.values(unit)
        errs = []
        for axis, grid in ((0, table.porosity), (1, table.particle_radius_um)):
            for i in range(1, len(grid) - 1):
                keep = np.array([j for j in range(len(grid)) if j != i])
                sub = np.take(vals, keep, axis=axis)
                axes = [table.porosity, table.particle_radius_um]
                axes[axis] = grid[keep]
                f = RegularGridInterpolator(tuple(axes), sub, method="pchip")
                other = table.particle_radius_um if axis == 0 else table.porosity
                pts = np.array([(grid[i], o) if axis == 0 else (o, grid[i]) for o in other])
                truth = np.take(vals, i, axis=axis)
                errs.append((f(pts) - truth) / truth)
        out[unit] = np.sqrt(np.mean(np.concatenate(errs) ** 2, axis=0))
    return out


@dataclass
class PhysicsCurve:
    """The table's curve at the measured microstructure for one unit."""

    unit: str
    mean: np.ndarray
    sd: np.ndarray

    def to_dict(self) -> dict:
        return {"unit": self.unit, "mean": _floats(self.mean), "sd": _floats(self.sd)}


@dataclass
class PhysicsEstimate:
    """Physics curves of both units, the microstructure they came from and notes.

    ``curves`` is empty when the measured point lies outside the table (``notes`` says
    why): the table does not extrapolate.
    """

    micro: Microstructure | None
    curves: dict[str, PhysicsCurve] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    table_thickness_um: float = math.nan
    strips: list = field(default_factory=list, repr=False)
    """The measured strips' phase maps (:class:`core.measure.microstructure.Strip`), for
    the overlay; not saved."""

    def unit_dict(self, unit: str) -> dict:
        """``predict --json``'s ``physics`` entry of one unit's row."""
        d = self.to_dict()
        d["mean"] = d["mean"].get(unit)
        d["sd"] = d["sd"].get(unit)
        return d

    def to_dict(self) -> dict:
        """The ``physics`` entry of ``predict --json``: 5 means per unit and the measurement."""
        m = self.micro
        if m is None:
            return {"mean": {}, "sd": {}, "c_rates": list(C_RATES), "notes": list(self.notes)}
        return {
            "mean": {u: _floats(c.mean) for u, c in self.curves.items()},
            "sd": {u: _floats(c.sd) for u, c in self.curves.items()},
            "c_rates": list(C_RATES),
            "non_active_fraction": _float(m.non_active_fraction),
            "porosity": _float(m.porosity),
            "porosity_sd": _float(m.porosity_sd),
            "particle_d10_um": _float(m.d10_um),
            "particle_d50_um": _float(m.d50_um),
            "particle_d90_um": _float(m.d90_um),
            "particle_radius_um": _float(m.particle_radius_um),
            "thickness_um": _float(m.thickness_um),
            "table_thickness_um": _float(self.table_thickness_um),
            "n_particles": int(m.n_particles),
            "porosity_definition": POROSITY_DEFINITION,
            "notes": list(self.notes),
        }


POROSITY_DEFINITION = (
    "pores only: the non-active area fraction minus the carbon-binder volume that the "
    "label table's 92/4/4 wt% composition implies"
)


def _float(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _floats(a) -> list[float | None]:
    return [_float(v) for v in np.asarray(a, float)]


@lru_cache(maxsize=1)
def default_table() -> LabelTable:
    return load_label_table()


def physics_estimate(micro: Microstructure, table: LabelTable | None = None) -> PhysicsEstimate:
    """The label table's curves at ``micro``'s porosity and particle radius, with their
    uncertainty; notes (plain words) when the point is outside the table or the thickness
    does not match the table's loading."""
    table = table or default_table()
    est = PhysicsEstimate(micro)
    por, rad = micro.porosity, micro.particle_radius_um
    if not (math.isfinite(por) and math.isfinite(rad)):
        est.notes.append("the coating could not be measured, so there is no physics curve")
        return est
    p_lo, p_hi = float(table.porosity[0]), float(table.porosity[-1])
    r_lo, r_hi = float(table.particle_radius_um[0]), float(table.particle_radius_um[-1])
    outside = []
    if not p_lo <= por <= p_hi:
        outside.append(f"porosity {por:.3f} is outside the table's {p_lo:g}-{p_hi:g}")
    if not r_lo <= rad <= r_hi:
        outside.append(f"particle radius {rad:.2f} µm is outside the table's {r_lo:g}-{r_hi:g} µm")
    if outside:
        est.notes.append("; ".join(outside) + ": the physics table does not extrapolate")
        return est
    est.table_thickness_um = float(np.interp(por, table.porosity, table.thickness_um))
    t = micro.thickness_um
    if math.isfinite(t) and abs(t / est.table_thickness_um - 1.0) > THICKNESS_TOLERANCE:
        est.notes.append(
            f"the coating is {t:.0f} µm thick where the table's electrode at this porosity is "
            f"{est.table_thickness_um:.0f} µm: its loading differs from the table's "
            "(15.4 mg/cm²), so the physics curve is less certain"
        )
    interp = interpolation_error(table)
    for unit in UNITS:
        mean = table.curve(por, rad, unit)
        parts = [interp[unit] * np.abs(mean)]
        axes = ((por, micro.porosity_sd, p_lo, p_hi, "p"),
                (rad, micro.particle_radius_sd, r_lo, r_hi, "r"))  # fmt: skip
        for value, sd, lo, hi, name in axes:
            if not math.isfinite(sd) or sd <= 0:
                continue
            a, b = max(lo, value - sd), min(hi, value + sd)
            if b <= a:
                continue
            ca = table.curve(a, rad, unit) if name == "p" else table.curve(por, a, unit)
            cb = table.curve(b, rad, unit) if name == "p" else table.curve(por, b, unit)
            parts.append(np.abs(cb - ca) / (b - a) * sd)
        sd = np.sqrt(np.sum(np.square(parts), axis=0))
        est.curves[unit] = PhysicsCurve(unit, np.asarray(mean, float), sd)
    return est


@dataclass
class CrossCheck:
    """CNN vs physics for one unit: difference, combined uncertainty and the verdict."""

    unit: str
    difference: np.ndarray
    combined_sd: np.ndarray
    agree: bool
    worst_rate: float
    message: str

    def to_dict(self) -> dict:
        return {"unit": self.unit, "difference": _floats(self.difference),
                "combined_sd": _floats(self.combined_sd), "agree": self.agree,
                "worst_c_rate": self.worst_rate, "message": self.message}  # fmt: skip


def cnn_sd(up, card: dict | None = None) -> np.ndarray:
    """Standard uncertainty of a :class:`core.predict.UnitPrediction`'s electrode mean:
    fold spread, tile spread over the number of tiles, and the card's held-out error."""
    from ratescope.core.report.card import headline_metrics

    mean = np.asarray(up.mean, float)
    n = max(int(up.n_tiles), 1)
    sd2 = np.square(np.asarray(up.fold_std, float)) + np.square(np.asarray(up.tile_std)) / n
    head = headline_metrics([card]) if card else None
    if head and head.get("mape") is not None:
        per = head.get("mape_per_output")
        mape = np.asarray(per if per is not None and len(per) == len(mean) else [head["mape"]])
        sd2 = sd2 + np.square(1.25 * mape / 100.0 * np.abs(mean))
    return np.sqrt(sd2)


def cross_check(
    prediction, estimate: PhysicsEstimate, cards: dict | None = None
) -> list[CrossCheck]:
    """Compare each unit of a :class:`core.predict.Prediction` with the physics curves."""
    out = []
    for unit, up in prediction.units.items():
        phys = estimate.curves.get(unit)
        if phys is None:
            continue
        card = (cards or {}).get(unit)
        card = card[0] if isinstance(card, list | tuple) and card else card
        diff = np.asarray(up.mean, float) - phys.mean
        comb = np.sqrt(np.square(cnn_sd(up, card)) + np.square(phys.sd))
        ratio = np.abs(diff) / np.maximum(comb, 1e-9)
        k = int(np.argmax(ratio))
        agree = bool(ratio[k] <= K_AGREE)
        sym, rate = UNITS[unit], C_RATES[k]
        if agree:
            msg = (f"{sym}: the CNN and the physics of the measured microstructure agree "
                   f"within their uncertainty at every C-rate")  # fmt: skip
        else:
            side = "above" if diff[k] > 0 else "below"
            msg = (f"{sym}: the CNN is {abs(diff[k]):.1f} {sym} {side} the physics estimate at "
                   f"{rate:g}C, more than their combined uncertainty (±{K_AGREE * comb[k]:.1f}); "
                   "check the crop and the measured porosity, or treat the CNN's value "
                   "with caution")  # fmt: skip
        out.append(CrossCheck(unit, diff, comb, agree, rate, msg))
    return out


def summary_lines(estimate: PhysicsEstimate | None, checks: list[CrossCheck] = ()) -> list[str]:
    """Plain-words lines of the measurement and the cross-check (PDF, window, CLI)."""
    if estimate is None:
        return ["Physics cross-check: not computed for this prediction"]
    m = estimate.micro
    lines = []
    if m is not None:
        lines += [
            f"Measured on {m.area_um2 / 1e3:.1f} × 10³ µm² of coating: non-active fraction "
            f"{m.non_active_fraction:.3f} (pores and carbon-binder), porosity "
            f"{m.porosity:.3f} ± {m.porosity_sd:.3f} (pores only, 92/4/4 wt% assumed)",
            f"Particle sections ({m.n_particles}): d10 / d50 / d90 = {m.d10_um:.1f} / "
            f"{m.d50_um:.1f} / {m.d90_um:.1f} µm, sphere radius {m.particle_radius_um:.2f} "
            f"± {m.particle_radius_sd:.2f} µm; coating {m.thickness_um:.1f} µm thick"
            + (f" (table: {estimate.table_thickness_um:.1f} µm)"
               if math.isfinite(estimate.table_thickness_um) else ""),
        ]  # fmt: skip
    lines += [c.message for c in checks]
    lines += [f"Note: {n}" for n in estimate.notes]
    return lines
