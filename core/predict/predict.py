"""Tiles -> rate-capability curves with spread and an out-of-distribution flag.

Spread: the ensemble gives one curve per (fold model, tile). ``mean`` averages all of
them; ``std`` is their standard deviation (folds and tiles together, ddof 0);
``fold_std`` is the spread of the fold means (model uncertainty) and ``tile_std`` the
spread across tiles averaged over folds (heterogeneity of the electrode).

Prediction is progressive: fold 0 of every unit first, then fold 1, ...;
``on_partial`` receives a :class:`Prediction` after each fold round (``complete`` False
until the last), so a view can show a first answer after two forward passes per tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.model_input import prepare_tiles
from ratescope.core.models.precision import inference_autocast
from ratescope.core.models.ratecnn import tiles_to_tensor
from ratescope.core.predict.ensemble import Ensemble
from ratescope.core.predict.normalise import normalise_with_stats, phase_stats
from ratescope.core.predict.ood import fold_mean_scores
from ratescope.core.progress import ProgressFn, report

RANGE_MARGIN = 0.05
"""A mean capacity more than 5 % outside the training labels' range is out of range."""


@dataclass
class UnitPrediction:
    """The prediction of one unit (see the module docstring for the spreads)."""

    unit: str
    mean: np.ndarray
    std: np.ndarray
    fold_std: np.ndarray
    tile_std: np.ndarray
    per_tile: np.ndarray  # (n_tiles, 5): mean over folds
    per_fold: np.ndarray  # (folds_done, 5): mean over tiles
    n_tiles: int
    folds_done: int
    folds_total: int
    ood_score: float | None = None
    ood_threshold: float | None = None
    out_of_range: bool = False
    c_rates: tuple[float, ...] = C_RATES
    ood_reasons: list[str] = field(default_factory=list)
    """Plain-words reasons for the flag, empty when the image looks like the training set."""

    @property
    def ood(self) -> bool:
        """True when the features are foreign, the phases are not an electrode's, or the
        curve leaves the training range (:attr:`ood_reasons` says which)."""
        foreign = self.ood_score is not None and self.ood_score > self.ood_threshold
        return bool(foreign or self.out_of_range or self.ood_reasons)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict with stable keys."""
        r = lambda a: np.round(np.asarray(a, float), 4).tolist()  # noqa: E731
        return {
            "unit": self.unit, "unit_symbol": UNITS[self.unit], "c_rate": list(self.c_rates),
            "mean": r(self.mean), "std": r(self.std), "fold_std": r(self.fold_std),
            "tile_std": r(self.tile_std), "per_tile": r(self.per_tile),
            "per_fold": r(self.per_fold), "tiles": self.n_tiles,
            "folds_done": self.folds_done, "folds_total": self.folds_total,
            "ood": self.ood, "ood_score": self.ood_score, "ood_threshold": self.ood_threshold,
            "out_of_range": self.out_of_range, "ood_reasons": list(self.ood_reasons),
        }  # fmt: skip


@dataclass
class Prediction:
    """Both units' predictions; ``complete`` once every fold model has run."""

    units: dict[str, UnitPrediction] = field(default_factory=dict)
    complete: bool = False
    physics: Any = None
    """The physics cross-check (:class:`core.measure.PhysicsEstimate`) when the coating
    was measured, else None."""
    model: str = ""
    """Which models made it (:func:`core.models.registry.describe` of their folder)."""

    @property
    def ood(self) -> bool:
        return any(u.ood for u in self.units.values())

    def to_dict(self) -> dict:
        d = {"complete": self.complete, "ood": self.ood, "model": self.model,
             "units": {k: v.to_dict() for k, v in self.units.items()}}  # fmt: skip
        if self.physics is not None:
            d["physics"] = self.physics.to_dict()
        return d


def reasons_of(prediction: Prediction) -> list[str]:
    """Every distinct out-of-distribution reason of a prediction's units, in order.

    A unit flagged without a recorded reason (an older result) reads as the generic one.
    """
    out: list[str] = []
    for unit, up in prediction.units.items():
        rs = list(up.ood_reasons)
        if up.ood and not rs:
            rs = [f"{UNITS[unit]}: the image lies outside the training data"]
        out += [r for r in rs if r not in out]
    return out


def _summarise(unit: str, preds: list[np.ndarray], feats: list[np.ndarray],
               ensemble: Ensemble, phase: np.ndarray | None = None) -> UnitPrediction:  # fmt: skip
    p = np.stack(preds).astype(np.float64)  # (folds_done, n_tiles, 5)
    up = UnitPrediction(
        unit=unit, mean=p.mean((0, 1)), std=p.reshape(-1, p.shape[-1]).std(0),
        fold_std=p.mean(1).std(0), tile_std=p.std(1).mean(0), per_tile=p.mean(0),
        per_fold=p.mean(1), n_tiles=p.shape[1], folds_done=len(p),
        folds_total=len(ensemble.models[unit]),
    )  # fmt: skip
    ood = ensemble.ood.get(unit)
    if ood is not None:
        up.ood_score = float(np.median(fold_mean_scores(ood, np.stack(feats))))
        up.ood_threshold = float(ood.threshold)
        lo = ood.label_min * (1 - RANGE_MARGIN)
        hi = ood.label_max * (1 + RANGE_MARGIN)
        up.out_of_range = bool(np.any(up.mean < lo) or np.any(up.mean > hi))
        if phase is not None and len(phase):
            up.ood_reasons += ood.phase_reasons(*map(float, np.median(phase, axis=0)))
        if up.ood_score > up.ood_threshold:
            up.ood_reasons.append(
                f"{UNITS[unit]} models: the image's features lie outside those of the "
                f"training electrodes (distance {up.ood_score:.2f} > {up.ood_threshold:.2f})"
            )
        if up.out_of_range:
            up.ood_reasons.append("the predicted curve leaves the range of the training labels")
    bad = np.any(up.mean < 0) or np.any(np.diff(up.mean) > 1e-6 * np.abs(up.mean[:-1]))
    if bad:  # only a model with the paper's linear head can produce this
        up.ood_reasons.append("the curve is physically impossible (negative, or rising "
                              "with C-rate)")  # fmt: skip
    return up


@torch.inference_mode()
def predict_tiles(
    tiles: np.ndarray,
    ensemble: Ensemble,
    progress: ProgressFn | None = None,
    on_partial: Callable[[Prediction], None] | None = None,
    batch: int | None = None,
) -> Prediction:
    """Predict both units' curves for ``tiles`` with every fold model of ``ensemble``.

    Parameters
    ----------
    tiles : ndarray
        (N, 224, 672[, 3]) gray or RGB, uint8/uint16/float (converted as in training,
        :func:`core.model_input.prepare_tiles`).
    ensemble : Ensemble
        From :func:`core.predict.ensemble.load_ensemble`.
    progress : ProgressFn, optional
        May raise :class:`~core.errors.Cancelled` (checked between forward batches).
    on_partial : callable, optional
        Receives a partial :class:`Prediction` after each round of fold models.
    batch : int, optional
        Tiles per forward pass; default 1 on a CPU, 16 on a GPU. On a CPU one tile at a
        time is fastest: a batch's 100 MB activations go through glibc's mmap each time
        (4 models x 5 tiles: 1.78 s at batch 16, 1.20 s at 2, 0.72 s at 1; under tcmalloc
        0.67-0.70 s for all).

    The convolutions run under :func:`core.models.precision.inference_autocast`
    (float32 unless ``RATESCOPE_PRECISION`` asks for bfloat16); the dense head in float32.

    Returns
    -------
    Prediction
    """
    x_all = prepare_tiles(tiles)
    units = ensemble.units
    # each normalisation once; the phase statistics only where an OOD model checks them
    norms = sorted({m.config.input_norm for u in units for m in ensemble.models[u]})
    checks = any(o is not None and o.phase_lo is not None for o in ensemble.ood.values())
    inputs, phase = {"none": x_all}, None
    report(progress, 0.0, "normalising tiles")
    for norm in (n for n in norms if n != "none"):
        inputs[norm], stats = normalise_with_stats(
            x_all, norm, lambda f, m: report(progress, 0.1 * f, m)
        )
        phase = np.array([s.as_row() for s in stats])
    if checks and phase is None:
        phase = np.array([s.as_row() for s in phase_stats(x_all)])
    if batch is None:
        dev = next(ensemble.models[units[0]][0].parameters()).device
        batch = 1 if dev.type == "cpu" else 16
    rounds = max(len(ensemble.models[u]) for u in units)
    total = sum(len(ensemble.models[u]) for u in units) * len(x_all)
    done = 0
    preds: dict[str, list] = {u: [] for u in units}
    feats: dict[str, list] = {u: [] for u in units}
    result = Prediction()
    report(progress, 0.1, "predicting")
    for f in range(rounds):
        for unit in units:
            if f >= len(ensemble.models[unit]):
                continue
            model = ensemble.models[unit][f]
            dev = next(model.parameters()).device
            x_in = inputs[model.config.input_norm]
            pp, ff = [], []
            for i in range(0, len(x_in), batch):
                x = tiles_to_tensor(x_in[i : i + batch]).to(dev)
                with inference_autocast(dev):  # the convolutions: bf16 only when asked
                    z = model.features(x.contiguous(memory_format=torch.channels_last))
                z = z.float()
                ff.append(z.cpu().numpy())
                pp.append(model.head(z).cpu().numpy())
                done += len(z)
                report(progress, 0.1 + 0.9 * done / total, f"{unit} model {f + 1}/{rounds}")
            preds[unit].append(np.concatenate(pp))
            feats[unit].append(np.concatenate(ff))
        result = Prediction({u: _summarise(u, preds[u], feats[u], ensemble, phase)
                             for u in units}, complete=f == rounds - 1,
                            model=ensemble.name)  # fmt: skip
        if on_partial is not None:
            on_partial(result)
    return result
