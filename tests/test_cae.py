"""The paper's 3D CAE: shapes, parameter counts (Tables 3 and 4), training, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from ratescope.core.errors import RateScopeError
from ratescope.core.models.cae import CAE3D, load_model, parameter_counts, save_model
from ratescope.core.models.cae_card import heldout_metrics, pca_mse
from ratescope.core.models.cae_train import (
    TrainConfig,
    WindowSet,
    split,
    train_cae,
    window_stats,
)
from ratescope.core.resources import MODELS
from ratescope.core.synth.volume import VolumeParams, make_volume
from ratescope.core.synth.volume_sets import RANGES, varied_params, varied_set
from ratescope.core.volume.phases import Scaling

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
    assert card["split"]["method"].startswith("by volume")
    seeds = {k: {v["seed"] for v in vols} for k, vols in card["training_data"]["volumes"].items()}
    assert not (seeds["train"] & seeds["val"] or seeds["train"] & seeds["heldout"])
    m = card["metrics"]
    assert 0 < m["val_mse"] < 0.9 and 0 <= m["fit_ttest"]["pvalue"] <= 1  # below var(x)
    ho = m["heldout"]
    assert (
        ho["windows"] > 1 and 0 < ho["mse"] < 0.9 and 0 <= ho["window_means_ttest"]["pvalue"] <= 1
    )
    assert card["paper"]["val_mse"] == 0.071 and "train-cae" in card["command"]
    pp = card["paper_protocol"]  # the paper's window split: validation overlaps training
    assert pp["split"]["method"].startswith("random 85/15")
    assert "--split window" in pp["command_run"]
    assert pp["val_mse"] < 0.5 * pp["heldout"]["mse"] and pp["fit_ttest"]["pvalue"] > 0.05
    assert not set(pp["volumes"]["train"]) & set(pp["volumes"]["heldout"])
    assert card["parameters"] == {"encoder": 1_550_970, "decoder": 1_562_609, "total": 3_113_579}


def test_embedded_model_latents_depend_on_the_input():
    """A collapsed CAE (dead ReLUs: constant latents, mean output) would fail this."""
    model, _ = load_model()
    a = make_volume(VolumeParams(shape=(24, 224, 224), compression=0.0, seed=41)).labels
    b = make_volume(VolumeParams(shape=(24, 224, 224), compression=0.4, seed=42)).labels
    x = torch.from_numpy(np.stack([Scaling().apply(a), Scaling().apply(b)])[:, None])
    with torch.inference_mode():
        z = model.encode(x)
        y = model(x)
    assert (z[0] - z[1]).abs().max() > 1e-3 * max(float(z.abs().max()), 1.0)
    mse = ((y - x) ** 2).mean(dim=(1, 2, 3, 4))
    assert torch.all(mse < x.var(dim=(1, 2, 3, 4), unbiased=False) * 1.05)


def test_augmented_windows_are_flips_of_random_crops():
    vol = make_volume(VolumeParams(shape=(6, 226, 226), radius_um=2.5, seed=22)).labels
    data = WindowSet([vol], [Scaling()], window=4, stride=1)
    assert len(data) == 3 * 2 * 2  # 3 z starts, in-plane tiles at 0 and 2
    a = data.batch([0, 5], rng=np.random.default_rng(7)).numpy()
    b = data.batch([0, 5], rng=np.random.default_rng(7)).numpy()
    assert a.shape == (2, 1, 4, 224, 224) and np.array_equal(a, b)  # seeded
    lut = Scaling().phases.lut()

    def variants(z0):
        for y0 in range(3):
            for x0 in range(3):
                crop = lut[vol[z0 : z0 + 4, y0 : y0 + 224, x0 : x0 + 224]]
                for t in (crop, crop.transpose(0, 2, 1)):
                    for flips in ([], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]):
                        yield np.flip(t, axis=flips) if flips else t

    for sample, i in zip(a[:, 0], [0, 5], strict=True):
        z0 = data.items[i][1].z0
        assert any(np.array_equal(sample, v) for v in variants(z0))
    many = data.batch([0] * 8, rng=np.random.default_rng(8)).numpy()
    assert len({m.tobytes() for m in many}) > 1  # the draws differ


def test_split_by_volume_trains_on_all_windows_and_validates_on_others():
    made = varied_set(2, (5, 224, 224), seed=31)
    train = WindowSet([made[0].labels], [Scaling()], window=4, stride=1)
    val = WindowSet([made[1].labels], [Scaling()], window=4, stride=4)
    cfg = TrainConfig(window=4, epochs=2, lr=1e-3, seed=2, augment=True, eval_windows=1)
    r = train_cae(train, cfg, val_data=val)
    assert (r.n_train, r.n_val) == (2, 1) and len(r.history) == 2
    assert len(r.train_mse) == 1  # eval_windows caps the evaluated training windows
    np.testing.assert_allclose(r.val_mse, window_stats(r.model, val, [0])["mse"])
    ho = heldout_metrics(r, val)
    st = window_stats(r.model, val, [0])
    assert ho["mse"] == pytest.approx(float(st["mse"][0]))
    assert 0.5 < ho["predict_mean_mse"] < 1.0  # the voxel variance of a three-phase window


def test_varied_family_spans_compression_with_disjoint_seeds():
    ps = varied_params(6, (8, 40, 40), seed=100)
    cs = [p.compression for p in ps]
    lo, hi = RANGES["compression"]
    assert all(lo + (hi - lo) * i / 6 <= c < lo + (hi - lo) * (i + 1) / 6 for i, c in enumerate(cs))
    assert [p.seed for p in ps] == list(range(100, 106))
    for p in ps:
        assert RANGES["radius_um"][0] <= p.radius_um <= RANGES["radius_um"][1]


def test_bf16_training_step_of_the_paper_network_learns():
    vol = make_volume(VolumeParams(shape=(25, 224, 224), radius_um=3.0, seed=23)).labels
    data = WindowSet([vol], [Scaling()], window=24, stride=1)
    cfg = TrainConfig(epochs=2, lr=1e-3, seed=3, precision="bf16", val_fraction=0.5)
    r = train_cae(data, cfg)  # 1 training window, 1 validation window
    v = [e["val_mse"] for e in r.history]
    assert np.all(np.isfinite(v)) and v[1] < v[0], v
    assert r.model.encoder[0].weight.dtype == torch.float32  # weights stay float32


def test_pca_reference_equals_numpy_svd_and_is_exact_on_its_own_span():
    made = varied_set(2, (7, 224, 224), seed=41)
    train = WindowSet([made[0].labels], [Scaling()], window=4, stride=1)  # 4 windows
    test = WindowSet([made[1].labels], [Scaling()], window=4, stride=3)  # 2 windows
    x = train.batch(range(len(train))).reshape(len(train), -1).double().numpy()
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    for k in (1, 2):
        basis = vt[:k]
        want = []
        for i in range(len(test)):
            y = test.batch([i]).reshape(-1).double().numpy() - mean
            want.append(np.mean((y - basis.T @ (basis @ y)) ** 2))
        assert pca_mse(train, test, k=k) == pytest.approx(np.mean(want), rel=1e-9)
    # 3 directions span the 4 centred training windows: they reconstruct themselves
    assert pca_mse(train, train, k=3) < 1e-12


def test_cli_window_split_validates_on_the_training_volumes_windows():
    """``--split window`` (the paper's protocol): no validation volumes, a random 15 % of
    the training volumes' windows instead; held-out volumes stay separate."""
    import argparse

    from ratescope.cli import train_cae as cli

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    base = ["--synthetic", "1", "--heldout", "1", "--depth", "6", "--synthetic-plane", "224",
            "--window", "4"]  # fmt: skip
    train, val, heldout, desc = cli._synthetic_sets(p.parse_args(base + ["--split", "window"]))
    assert val is None and len(train) == 3 and len(heldout) == 1
    assert desc["volumes"]["val"] == []
    train, val, heldout, desc = cli._synthetic_sets(p.parse_args(base + ["--val-synthetic", "1"]))
    assert len(val) == 1 and {v["seed"] for v in desc["volumes"]["val"]} == {cli.SEEDS["val"]}


def test_training_can_start_from_given_weights(tmp_path):
    vol = make_volume(VolumeParams(shape=(6, 224, 224), radius_um=2.5, seed=24)).labels
    data = WindowSet([vol], [Scaling()], window=4, stride=1)
    torch.manual_seed(5)
    start = CAE3D(window=4).state_dict()
    kept = train_cae(data, TrainConfig(window=4, epochs=0, seed=0), init=start).model
    for k, v in kept.state_dict().items():
        assert torch.equal(v, start[k]), k
    ck = tmp_path / "ck.safetensors"
    r = train_cae(data, TrainConfig(window=4, epochs=1, lr=1e-3, seed=0), ck, init=start)
    assert len(r.history) == 1 and ck.is_file()


def test_auto_precision_takes_bfloat16_only_on_amx(monkeypatch):
    """On CPUs with AVX512-BF16 but no AMX (an AMD EPYC here) a bf16 CAE step was slower."""
    import argparse

    from ratescope.cli import train_cae as cli
    from ratescope.core.models import precision

    args = argparse.Namespace(precision="auto", device="cpu", window=24)
    for amx, want in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "cpu_has_amx", lambda amx=amx: amx)
        assert cli._precision(args) == want
    assert cli._precision(argparse.Namespace(precision="bf16", device="cpu", window=4)) == "bf16"
    args.window = 4
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    assert cli._precision(args) == "fp32"


def test_cli_init_starts_from_given_weights_and_says_so(tmp_path, capsys):
    import argparse

    from ratescope.cli import train_cae as cli

    torch.manual_seed(6)
    start = CAE3D(window=4).eval()
    card = {"name": "start", "hyperparameters": {"batch": 2, "epoch_windows": None},
            "split": {"train_windows": 3}, "history": [{}, {}]}  # fmt: skip
    save_model(start, tmp_path / "start.safetensors", card)
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    base = ["--synthetic", "1", "--val-synthetic", "1", "--heldout", "0", "--depth", "6",
            "--synthetic-plane", "224", "--epochs", "0", "--precision", "fp32",
            "--checkpoint", str(tmp_path / "ck.safetensors"),
            "--out", str(tmp_path / "o.safetensors"),
            "--init", str(tmp_path / "start.safetensors")]  # fmt: skip
    assert cli.run(p.parse_args([*base, "--window", "24"])) == 1  # weights for l = 4
    assert "start.safetensors" in capsys.readouterr().err
    assert cli.run(p.parse_args([*base, "--window", "4"])) == 0
    model, out = load_model(tmp_path / "o.safetensors")
    assert out["initialised_from"]["steps"] == 4  # 2 epochs x ceil(3 / 2) steps
    for k, v in model.state_dict().items():
        assert torch.equal(v, start.state_dict()[k]), k  # 0 epochs: the given weights


def test_paper_protocol_script_reproduces_the_embedded_cards_run():
    """scripts/cae_paper_protocol.py run passes the options the card's paper-protocol run
    used (the paper's split, lr, no augmentation), so its command reproduces that run."""
    import argparse
    import importlib.util

    from ratescope.cli import train_cae as cli

    path = MODELS.parents[1] / "scripts" / "cae_paper_protocol.py"
    spec = importlib.util.spec_from_file_location("cae_paper_protocol", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    args = p.parse_args(mod.PROTOCOL)
    assert (args.split, args.augment, args.lr, args.stride) == ("window", False, 1e-4, 1)
    ran = load_model(MODELS / "cae.safetensors")[1]["paper_protocol"]["command_run"].split()
    pairs = zip(mod.PROTOCOL, [*mod.PROTOCOL[1:], ""], strict=True)
    for opt, value in pairs:
        if opt.startswith("--"):
            i = ran.index(opt)
            assert value.startswith("--") or ran[i + 1] == value, (opt, value)
