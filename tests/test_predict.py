"""Prediction API: input convention, ensemble loading, progressive predict_tiles, OOD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.models.ratecnn import RateCNN
from ratescope.core.models.store import save_model, save_tree
from ratescope.core.predict import load_ensemble, predict_tiles, prepare_tiles, to_model_image
from ratescope.core.predict.ensemble import ood_path
from ratescope.core.predict.ood import fit_ood

KEYS = {"unit", "unit_symbol", "c_rate", "mean", "std", "fold_std", "tile_std", "per_tile",
        "per_fold", "tiles", "folds_done", "folds_total", "ood", "ood_score",
        "ood_threshold", "out_of_range", "ood_reasons"}  # fmt: skip


def make_ensemble(folder, k=2, seed=0, shape=(64, 192)):
    """A small real ensemble (untrained weights, label scale set) with OOD statistics.

    Returns random tiles of ``shape`` (small by default: the network takes any size)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tiles = rng.integers(60, 200, (6, *shape, 3), dtype=np.uint8)
    for unit, scale in (("specific", 150.0), ("volumetric", 400.0)):
        feats = []
        for f in range(k):
            m = RateCNN().eval()
            m.set_normalisation([0.5] * 3, [0.2] * 3, np.full(5, scale), np.full(5, 10.0))
            torch.nn.init.normal_(m.output.weight, std=0.1)
            save_model(folder / f"{unit}_fold{f}.safetensors", m, {"unit": unit, "fold": f})
            with torch.inference_mode():
                x = torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255
                feats.append(m.features(x).numpy())
        feats = np.stack(feats)
        ood, _ = fit_ood(feats, feats, np.full((4, 5), scale) * [[0.8], [0.9], [1.1], [1.2]])
        save_tree(ood_path(folder, unit), ood.to_tree())
    return tiles


def test_input_convention():
    gray16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 372  # 12-bit data, max 4092
    rgb = to_model_image(gray16)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].max() == round(4092 * 255 / 4095) and np.all(rgb[..., 0] == rgb[..., 2])
    assert to_model_image(np.full((2, 2), 0.5))[0, 0, 0] == 128
    with pytest.raises(RateScopeError):
        to_model_image(np.zeros((2, 2, 5)))
    t = prepare_tiles(np.zeros((2, 224, 672), np.uint16))
    assert t.shape == (2, 224, 672, 3) and t.dtype == np.uint8
    with pytest.raises(RateScopeError, match="no tiles"):
        prepare_tiles(np.zeros((0, 224, 672, 3), np.uint8))


def test_load_ensemble_needs_models(tmp_path):
    with pytest.raises(RateScopeError, match="no specific model"):
        load_ensemble(tmp_path)


def test_predict_tiles_shapes_keys_and_progressive_partials(tmp_path):
    tiles = make_ensemble(tmp_path, k=2)
    ens = load_ensemble(tmp_path)
    assert ens.units == ["specific", "volumetric"] and len(ens.models["specific"]) == 2
    partials, fracs = [], []
    pred = predict_tiles(
        tiles[:3], ens, progress=lambda f, m: fracs.append(f), on_partial=partials.append
    )
    assert [p.complete for p in partials] == [False, True] and partials[-1] is pred
    assert [p.units["specific"].folds_done for p in partials] == [1, 2]
    assert fracs[0] == 0.0 and fracs[-1] == 1.0 and fracs == sorted(fracs)
    for unit, up in pred.units.items():
        d = up.to_dict()
        assert d["unit"] == unit and set(d) == KEYS and d["tiles"] == 3 and d["folds_total"] == 2
        assert np.array(d["per_tile"]).shape == (3, 5) and np.array(d["per_fold"]).shape == (2, 5)
        assert len(d["mean"]) == len(d["std"]) == len(d["c_rate"]) == 5
        assert np.allclose(up.mean, up.per_tile.mean(0))
        assert np.allclose(up.mean, up.per_fold.mean(0))
        assert np.all(up.std >= up.fold_std - 1e-9) and np.all(up.std > 0)
        assert d["ood_score"] is not None and d["ood_threshold"] > 0
    assert set(pred.to_dict()) == {"complete", "ood", "model", "units"}
    assert pred.model == ens.name
    # gray tiles are replicated like in training: same result as their RGB replica
    gray = tiles[:2, ..., 1]
    a = predict_tiles(gray, ens).units["volumetric"].mean
    b = predict_tiles(np.repeat(gray[..., None], 3, -1), ens).units["volumetric"].mean
    assert np.allclose(a, b)


def test_predict_tiles_can_be_cancelled(tmp_path):
    tiles = make_ensemble(tmp_path, k=2)
    ens = load_ensemble(tmp_path)

    def cancel(frac, msg):
        if frac > 0.3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        predict_tiles(tiles, ens, progress=cancel)
