"""The paper's rate-capability CNN and its pickle-free model file."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from ratescope.core.constants import C_RATES
from ratescope.core.errors import RateScopeError
from ratescope.core.models.ratecnn import (
    RateCNN,
    RateCNNConfig,
    count_parameters,
    decay_parameter_names,
    tiles_to_tensor,
)
from ratescope.core.models.store import load_model, load_tree, save_model, save_tree

torch.set_num_threads(1)


def _model(seed: int = 0) -> RateCNN:
    torch.manual_seed(seed)
    m = RateCNN()
    m.set_normalisation([0.4, 0.5, 0.6], [0.2, 0.25, 0.3], [150, 140, 130, 120, 100], [5] * 5)
    # give the zero-initialised output layer and BN statistics non-trivial values
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for name, b in m.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
    return m.eval()


def test_parameter_count_matches_the_reconstructed_paper_architecture():
    m = RateCNN()
    # convs 204 000 + conv BN 768 + Dense(96->128) 12 416 + 4 dense of 64 and output
    # 21 061 + dense BN 512 = 238 757 (paper: "about 250 000")
    assert count_parameters(m) == 238_757
    features = sum(count_parameters(b) for b in (m.block1, m.block2, m.block3))
    assert features + 96 * 128 + 128 == 217_184  # "about 230 000" feature extraction
    assert 20_000 < count_parameters(m) - features - 12_416 < 22_000  # "about 20 000"
    # BN running mean/var 1 280, 10 BN step counters, 3+3+5+5 normalisation numbers
    assert sum(b.numel() for b in m.buffers()) == 1_280 + 10 + 16
    names = decay_parameter_names(m)
    assert len(names) == 6 + 6  # six conv and six dense weights
    assert all(n.endswith("weight") for n in names)


def test_output_shape_features_and_last_conv():
    m = _model()
    x = torch.rand(2, 3, 224, 672).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        y = m(x)
        f = m.features(x)
        fm = m.feature_map(x)
    assert y.shape == (2, len(C_RATES)) and torch.isfinite(y).all()
    assert f.shape == (2, 96) and fm.shape == (2, 96, 56, 168)
    assert isinstance(m.last_conv, torch.nn.Conv2d) and m.last_conv.out_channels == 96
    seen = []
    h = m.last_conv.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    with torch.inference_mode():
        m(x[:1])
    h.remove()
    assert seen == [torch.Size([1, 96, 56, 168])]


def test_untrained_model_predicts_the_label_mean():
    m = RateCNN()
    m.set_normalisation([0.5] * 3, [0.2] * 3, [150, 140, 130, 120, 100], [5] * 5)
    with torch.inference_mode():
        y = m.eval()(torch.rand(1, 3, 32, 96))
    assert torch.allclose(y, torch.tensor([[150.0, 140, 130, 120, 100]]))


def test_tiles_to_tensor_scales_and_replicates_gray():
    gray = np.full((2, 8, 24), 255, np.uint8)
    gray[0, 0, 0] = 0
    t = tiles_to_tensor(gray)
    assert t.shape == (2, 3, 8, 24) and t.dtype == torch.float32
    assert t.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(t[:, 0], t[:, 1]) and torch.equal(t[:, 1], t[:, 2])
    assert t[0, 0, 0, 0] == 0 and t[0, 0, 0, 1] == 1.0
    rgb = np.zeros((1, 8, 24, 3), np.uint16)
    rgb[..., 2] = 65535
    t = tiles_to_tensor(rgb)
    assert t[0, 2].min() == 1.0 and t[0, :2].max() == 0.0
    with pytest.raises(ValueError):
        tiles_to_tensor(np.zeros((1, 8, 24, 4), np.uint8))


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    m = _model(3).to(memory_format=torch.channels_last)
    card = {"unit": "specific", "c_rates": list(C_RATES), "note": "test"}
    path = save_model(tmp_path / "m.safetensors", m, card)
    m2, card2 = load_model(path)
    assert card2["unit"] == "specific" and card2["note"] == "test"
    assert card2["architecture"]["filters"] == [32, 64, 96]
    assert card2["normalisation"]["label_mean"] == [150, 140, 130, 120, 100]
    assert not m2.training
    x = torch.rand(2, 3, 64, 192).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert torch.equal(m(x), m2(x))
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert list(tmp_path.iterdir()) == [path]  # atomic write leaves no temporary file


def test_other_architecture_round_trips(tmp_path):
    m = RateCNN(RateCNNConfig(filters=(8, 16, 24), feature_dense=0, n_hidden=2, hidden=16))
    m2, card = load_model(save_model(tmp_path / "s.safetensors", m.eval(), {}))
    assert count_parameters(m2) == count_parameters(m)
    assert card["architecture"]["feature_dense"] == 0


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # would create the marker file if unpickled


def test_pickled_files_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(_Evil(marker), protocol=4))
    module = tmp_path / "module.safetensors"
    torch.save(RateCNN(), module)  # a full nn.Module: pickled code inside a zip
    legacy = tmp_path / "legacy.pt"
    torch.save({"x": _Evil(marker)}, legacy, _use_new_zipfile_serialization=False)
    for path in (evil, module, legacy):
        with pytest.raises(RateScopeError, match="refused|not a valid"):
            load_model(path)
        with pytest.raises(RateScopeError):
            load_tree(path)
    assert not marker.exists()


def test_corrupt_missing_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(RateScopeError, match="does not exist"):
        load_model(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(RateScopeError):
        load_model(junk)
    tree = save_tree(tmp_path / "tree.safetensors", {"a": torch.ones(2)})
    with pytest.raises(RateScopeError, match="not a RateScope"):
        load_model(tree)  # a state file is not a model


def test_state_tree_round_trip(tmp_path):
    tree = {
        "state": {0: {"step": torch.tensor(3.0), "m": torch.randn(4, 2)}},
        "groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "foreach": None, "params": [0, 1]}],
        "rng": torch.get_rng_state(),
        "best": None,
        "name": "x",
    }
    back = load_tree(save_tree(tmp_path / "t.safetensors", tree))
    assert back["groups"] == tree["groups"] and back["best"] is None and back["name"] == "x"
    assert torch.equal(back["state"][0]["m"], tree["state"][0]["m"])
    assert back["state"][0]["step"].shape == () and torch.equal(back["rng"], tree["rng"])
