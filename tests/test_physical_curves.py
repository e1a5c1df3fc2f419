"""The monotone head: capacity >= 0 and never rising with C-rate, for any input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ratescope.core.models.ratecnn import RateCNN, RateCNNConfig, monotone_curve
from ratescope.core.models.store import load_model, save_model
from ratescope.core.train.data import TileDataset
from ratescope.core.train.loop import TrainConfig, train_model

torch.set_num_threads(1)
MEAN = torch.tensor([170.0, 159.0, 147.0, 131.0, 91.0])
STD = torch.tensor([2.4, 6.0, 10.0, 15.0, 30.0])


def _physical(c: torch.Tensor) -> bool:
    return bool((c >= 0).all() and (c[..., :-1] >= c[..., 1:]).all())


def test_monotone_curve_is_physical_for_any_raw_output():
    g = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 10.0, 1e3):
        z = torch.randn(2000, 5, generator=g) * scale
        assert _physical(monotone_curve(z, MEAN, STD))
    zero = monotone_curve(torch.zeros(1, 5), MEAN, STD)[0]
    torch.testing.assert_close(zero, MEAN)  # starts at the mean curve, as the paper's head


def test_paper_head_can_break_physics_and_the_monotone_one_cannot():
    torch.manual_seed(3)
    x = torch.rand(6, 3, 64, 192) * 4 - 2  # far outside anything an image gives
    outs = {}
    for head in ("paper", "monotone"):
        torch.manual_seed(3)
        m = RateCNN(RateCNNConfig(head=head))
        for p in m.output.parameters():
            torch.nn.init.normal_(p, std=3.0)
        m.set_normalisation([0.3] * 3, [0.25] * 3, MEAN, STD)
        outs[head] = m.eval()(x)
    assert not _physical(outs["paper"])
    assert _physical(outs["monotone"])


def test_head_and_normalisation_travel_with_the_weights(tmp_path):
    m = RateCNN(RateCNNConfig(head="monotone", input_norm="phases"))
    m.set_normalisation([0.3] * 3, [0.25] * 3, MEAN, STD)
    save_model(tmp_path / "m.safetensors", m, {"unit": "specific"})
    back, card = load_model(tmp_path / "m.safetensors")
    assert back.config.head == "monotone" and back.config.input_norm == "phases"
    assert card["architecture"]["head"] == "monotone"
    # cards written before the option existed load as the paper's head on raw input
    old = {k: v for k, v in RateCNNConfig().as_dict().items() if k not in ("head", "input_norm")}
    cfg = RateCNNConfig.from_dict(old)
    assert cfg.head == "paper" and cfg.input_norm == "none"


def test_training_with_the_monotone_head_and_phase_normalisation():
    """A short run on tiles whose label follows the bright-phase share learns something,
    and every prediction it makes is physical."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 3)
    share = rng.uniform(0.3, 0.8, 12)[groups]
    tiles = np.zeros((len(groups), 32, 96), np.uint8)
    for i, s in enumerate(share):
        tiles[i] = np.where(rng.random((32, 96)) < s, 170, 40)
    labels = np.stack([150 - 60 * (1 - share) * i / 4 for i in range(5)], 1)
    ds = TileDataset(tiles, labels, groups, unit="specific", source="share task")
    tr, va = ds.subset(groups < 9), ds.subset(groups >= 9)
    arch = RateCNNConfig(head="monotone", input_norm="phases")
    cfg = TrainConfig(
        max_steps=12,
        batch_size=8,
        lr_max=1e-2,
        checkpoint_every=0,
        architecture=arch,
        augment=False,
    )
    res = train_model(tr, va, cfg)
    assert res.model.config.input_norm == "phases"
    from ratescope.core.train.metrics import predict

    p = predict(res.model, va.tiles)
    assert _physical(torch.from_numpy(p))
    assert np.isfinite(res.best_val_mape)


def test_cli_accepts_head_and_normalisation():
    import argparse

    from ratescope.cli.train import INPUT_NORMS, add_arguments
    from ratescope.core.predict.normalise import NORMALISATIONS

    assert sorted(INPUT_NORMS) == sorted(NORMALISATIONS)
    p = argparse.ArgumentParser()
    add_arguments(p)
    base = ["--unit", "specific", "--out", "x"]
    a = p.parse_args(base)
    assert (a.head, a.input_norm) == ("monotone", "phases")  # the embedded models' recipe
    a = p.parse_args(base + ["--head", "paper", "--input-norm", "none"])
    assert (a.head, a.input_norm) == ("paper", "none")
    with pytest.raises(SystemExit):
        p.parse_args(base + ["--input-norm", "histogram"])


def test_head_refit_learns_from_features_and_leaves_the_convolutions():
    """core.train.head: a head refitted on features whose first component sets the 5C
    capacity beats the mean curve on held-back electrodes, stays physical, and the
    convolutions are the base model's."""
    from ratescope.core.train.head import HeadConfig, fit_head, head_predict

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(150), 3)
    x = rng.normal(size=(150, 96)).astype(np.float32)[groups]
    x += 0.05 * rng.normal(size=x.shape).astype(np.float32)
    labels = np.stack([170 - 10 * i * (1.5 + np.tanh(x[:, 0])) for i in range(5)], 1)
    labels = labels.astype(np.float32)
    val = groups >= 120
    torch.manual_seed(0)
    base = RateCNN()
    new, log = fit_head(base, x, labels, groups, val, "phases", HeadConfig(steps=2000))
    assert new.config.head == "monotone" and new.config.input_norm == "phases"
    assert torch.equal(new.block1[0].weight, base.block1[0].weight)
    pred = head_predict(new, x[val])
    mean_mape = np.mean(np.abs(labels[~val].mean(0) - labels[val]) / labels[val]) * 100
    assert log["best_val_mape"] < 0.7 * mean_mape, (log["best_val_mape"], mean_mape)
    assert _physical(torch.from_numpy(pred))
    from ratescope.core.train.head import conv_fingerprint

    assert conv_fingerprint(new) == conv_fingerprint(base)  # the head does not count
    with torch.no_grad():
        new.block3[3].weight[0, 0, 0, 0] += 1e-3
    assert conv_fingerprint(new) != conv_fingerprint(base)


def test_features_for_head_refits_are_refused_for_other_models():
    """scripts/retrain_heads.py: features are stamped with the convolutions they came
    from, and lofo / publish / the looks bench refuse to pair them with other models."""
    import importlib.util

    from ratescope.core.constants import UNITS
    from ratescope.core.errors import RateScopeError
    from ratescope.core.resources import RESOURCES
    from ratescope.core.train.head import conv_fingerprint

    script = RESOURCES.parent / "scripts" / "retrain_heads.py"
    spec = importlib.util.spec_from_file_location("retrain_heads_test", script)
    rh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rh)
    torch.manual_seed(0)
    models = {u: [RateCNN(), RateCNN()] for u in UNITS}
    feats = np.zeros((2, 4, 96), np.float32)
    data = {u: feats for u in UNITS}
    data |= {f"fingerprint_{u}": np.array([conv_fingerprint(m) for m in models[u]]) for u in UNITS}
    assert rh._checked(data, "specific", models["specific"]) is feats
    assert rh._checked(data, "specific", models["specific"][:1]) is feats  # first rows
    with pytest.raises(RateScopeError, match="not computed from these models"):
        rh._checked(data, "specific", models["specific"][::-1])
    with pytest.raises(RateScopeError, match="unstamped"):
        rh._checked({"specific": feats}, "specific", models["specific"])
