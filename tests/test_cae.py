"""The paper's 3D CAE: shapes, parameter counts (Tables 3 and 4), training, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from core.errors import RateScopeError
from core.models.cae import CAE3D, load_model, parameter_counts, save_model
from core.models.cae_train import TrainConfig, WindowSet, split, train_cae
from core.resources import MODELS
from core.synth.volume import VolumeParams, make_volume
from core.volume.phases import Scaling

TABLE3 = {  # the paper's Table 3: trainable parameters per layer, l = 24, 128 hidden
    "encoder": [80, 1168, 55312, 1493120, 1290],
    "decoder": [1408, 1504656, 55312, 1160, 73],
}


def _layer_counts(seq) -> list[int]:
    counts = [sum(p.numel() for p in m.parameters()) for m in seq]
    return [c for c in counts if c]


def test_parameter_counts_match_the_paper():
    m = CAE3D()
    assert _layer_counts(m.encoder) == TABLE3["encoder"]
    assert _layer_counts(m.decoder) == TABLE3["decoder"]
    c = parameter_counts(m)
    assert c == {"encoder": 1_550_970, "decoder": 1_562_609, "total": 3_113_579}
    print(f"encoder {c['encoder']:,} parameters, decoder {c['decoder']:,}")  # 1.55 M + 1.56 M
    # Table 4 (l = 4): only the depth-spanning convolution changes, to 9 232
    m4 = CAE3D(window=4)
    assert _layer_counts(m4.encoder)[2] == 9232 and _layer_counts(m4.decoder)[2] == 9232


def test_feature_map_shapes():
    m = CAE3D().eval()
    x = torch.rand(2, 1, 24, 224, 224)
    shapes = []
    h = x
    with torch.inference_mode():
        for layer in m.encoder:
            h = layer(h)
            if isinstance(layer, torch.nn.Conv3d):
                shapes.append(tuple(h.shape[1:]))
        assert shapes == [(8, 24, 111, 111), (16, 24, 55, 55), (16, 1, 27, 27)]
        assert h.shape == (2, 10)
        y = m.decode(h)
        assert y.shape == x.shape and torch.allclose(m(x), y)


def _tiny_set() -> WindowSet:
    """3 windows of l = 4 (the paper's case study 2 network, 6x cheaper): 2 train, 1 val."""
    vol = make_volume(VolumeParams(shape=(6, 224, 224), radius_um=2.5, seed=21)).labels
    return WindowSet([vol], [Scaling()], window=4, stride=1)


def test_split_is_85_15_and_seeded():
    tr, va = split(294, 0.15, seed=0)
    assert (len(tr), len(va)) == (250, 44) and not set(tr) & set(va)
    assert np.array_equal(split(294, 0.15, 0)[1], va)


def test_short_training_lowers_the_loss_and_resumes(tmp_path):
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = _tiny_set()
    assert len(data) == 3
    cfg = TrainConfig(window=4, epochs=5, lr=1e-3, seed=1)
    full = train_cae(data, cfg)
    h = [e["train_mse"] for e in full.history]
    v = [e["val_mse"] for e in full.history]
    # 5 Adam steps from the random start: small but steady progress on both sets
    assert np.all(np.diff(h) < 0) and h[-1] < h[0] - 2e-3, h
    assert np.all(np.diff(v) < 0) and v[-1] < v[0] - 2e-3, v
    assert full.best_epoch == 5 and full.val_mse.mean() == pytest.approx(v[-1], rel=1e-5)
    assert (full.n_train, full.n_val) == (2, 1) and full.recon_test is not None
    # interrupted after 3 epochs, resumed to 5: same history as the uninterrupted run
    ck = tmp_path / "ck.safetensors"
    train_cae(data, TrainConfig(window=4, epochs=3, lr=1e-3, seed=1), checkpoint=ck)
    with safe_open(str(ck), framework="pt") as f:  # safetensors, no pickle
        meta = json.loads(f.metadata()["state"])
        assert meta["epoch"] == 2 and any(k.startswith("opt.") for k in f.keys())
    resumed = train_cae(data, cfg, checkpoint=ck)
    assert len(resumed.history) == 5
    np.testing.assert_allclose([e["train_mse"] for e in resumed.history], h, rtol=1e-3)


def test_save_and_load_round_trip(tmp_path):
    m = CAE3D()
    save_model(m, tmp_path / "cae.safetensors", {"name": "test", "metrics": {"val_mse": 0.1}})
    m2, card = load_model(tmp_path / "cae.safetensors")
    assert card["name"] == "test" and card["parameters"]["encoder"] == 1_550_970
    assert json.loads((tmp_path / "cae.json").read_text())["config"]["window"] == 24
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(RateScopeError, match="bad.safetensors"):
        load_model(tmp_path / "bad.safetensors")
    with pytest.raises(RateScopeError, match="missing.safetensors"):
        load_model(tmp_path / "missing.safetensors")


def test_embedded_model_has_a_model_card():
    path = MODELS / "cae.safetensors"
    model, card = load_model(path)
    assert "SYNTHETIC" in card["training_data"]["kind"]
    m = card["metrics"]
    assert 0 < m["val_mse"] < 0.9 and 0 <= m["fit_ttest"]["pvalue"] <= 1  # below var(x)
    assert card["paper"]["val_mse"] == 0.071 and "heldout" in m
    assert card["parameters"] == {"encoder": 1_550_970, "decoder": 1_562_609, "total": 3_113_579}
