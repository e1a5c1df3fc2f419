"""Shared fixtures of the report/session/batch tests (no tests here)."""

from __future__ import annotations

import numpy as np

from ratescope.core.constants import C_RATES

CARD = {
    "model": "RateCNN (Deeg et al., Batteries 2024)", "unit_symbol": "Ah/kg", "synthetic": True,
    "data": {"k": 5, "source": "synthetic MosaiX cross-sections"}, "date": "2026-01-02",
    "metrics": {"test": {"mape": 1.87, "r2": 0.951}}, "software": {"ratescope": "0.1.0"},
    "label_source": "DFN half-cell model (PyBaMM)",
}  # fmt: skip


def fake_prediction(scale: float = 1.0, ood: bool = False):
    """A Prediction with realistic, distinct numbers (no model needed)."""
    from ratescope.core.predict.predict import Prediction, UnitPrediction

    units = {}
    base = {"specific": [151.37, 143.21, 132.58, 118.94, 87.46],
            "volumetric": [412.83, 390.62, 361.77, 324.15, 238.09]}  # fmt: skip
    rng = np.random.default_rng(int(scale * 10))
    for unit, b in base.items():
        mean = np.array(b) * scale
        per_tile = mean + rng.normal(0, 1.5, (6, 5))
        per_fold = mean + rng.normal(0, 0.8, (3, 5))
        units[unit] = UnitPrediction(
            unit=unit, mean=mean, std=np.array([1.23, 2.34, 3.45, 4.56, 5.67]),
            fold_std=per_fold.std(0), tile_std=per_tile.std(0), per_tile=per_tile,
            per_fold=per_fold, n_tiles=6, folds_done=3, folds_total=3, ood_score=0.8,
            ood_threshold=2.0 if not ood else 0.5, out_of_range=False, c_rates=C_RATES,
        )  # fmt: skip
    return Prediction(units, complete=True)


def cards():
    return {"specific": dict(CARD), "volumetric": {**CARD, "unit_symbol": "Ah/L"}}


def tiny_ensemble(folder, k: int = 1, seed: int = 0):
    """Untrained fold models (label scale set) written like the embedded ones, with cards."""
    import torch

    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.models.store import save_model

    torch.manual_seed(seed)
    scale = {"specific": np.array([150.0, 140, 130, 115, 85]),
             "volumetric": np.array([410.0, 390, 360, 320, 240])}  # fmt: skip
    for unit, mean in scale.items():
        for f in range(k):
            m = RateCNN().eval()
            m.set_normalisation([0.5] * 3, [0.2] * 3, mean, np.full(5, 5.0))
            card = {**CARD, "unit": unit, "fold": f}
            save_model(folder / f"{unit}_fold{f}.safetensors", m, card)
    return folder
