"""Training machinery: Lookahead, schedule, augmentation, folds, loop, resume, lab data."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.models.store import load_model, load_tree, save_tree
from ratescope.core.train.augment import photometric, shift_rotate
from ratescope.core.train.data import TileDataset, folds
from ratescope.core.train.labdata import cut_tiles, load_lab_dataset, read_capacity_csv
from ratescope.core.train.loop import TrainConfig, result_from_checkpoint, train_model
from ratescope.core.train.metrics import predict, scores
from ratescope.core.train.optim import Lookahead, make_optimizer, mape
from ratescope.core.train.schedule import lr_at

torch.set_num_threads(1)


def brightness_task(n_groups=12, per=4, shape=(16, 48), seed=0) -> TileDataset:
    """Tiles whose capacities are a smooth function of their sample's mean brightness."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), per)
    b = rng.uniform(0.2, 0.8, n_groups)[groups]
    noise = rng.normal(0, 0.1, (len(b), *shape))
    tiles = (np.clip(b[:, None, None] + noise, 0, 1) * 255).astype(np.uint8)
    labels = np.stack([100 + 80 * b * (1 - 0.1 * i) for i in range(5)], 1)
    return TileDataset(tiles, labels, groups, unit="specific", source="brightness task")


def split(ds):
    f = folds(ds.groups, 4, 0)[0]
    return ds.subset(f.train), ds.subset(f.val)


def test_lookahead_matches_its_definition_on_a_toy_problem():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    la = Lookahead(torch.optim.SGD([w], lr=0.1), k=3, alpha=0.5)
    slow, fast = w.detach().clone(), w.detach().clone()
    for step in range(1, 10):
        la.zero_grad()
        (w**2).sum().backward()
        la.step()
        fast = fast - 0.1 * 2 * fast  # plain SGD on the fast weights
        if step % 3 == 0:
            slow = slow + 0.5 * (fast - slow)
            fast = slow.clone()
            assert torch.allclose(la.slow[0][0], slow)
        assert torch.allclose(w.detach(), fast), step
    state = la.state_dict()
    la2 = Lookahead(torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1), k=3)
    la2.load_state_dict(state)
    assert la2.counter == 9 and torch.equal(la2.slow[0][0], la.slow[0][0])
    with pytest.raises(ValueError):
        Lookahead(torch.optim.SGD([w], lr=0.1), k=0)


def test_optimizer_is_lookahead_radam_with_l2_on_weights_only():
    from ratescope.core.models.ratecnn import RateCNN

    opt = make_optimizer(RateCNN(), weight_decay=1e-4)
    assert isinstance(opt.inner, torch.optim.RAdam) and (opt.k, opt.alpha) == (6, 0.5)
    decay, other = opt.param_groups
    assert decay["weight_decay"] == 1e-4 and other["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() == 1 for p in other["params"])


def test_mape_is_in_percent():
    assert mape(torch.tensor([110.0, 90.0]), torch.tensor([100.0, 100.0])).item() == pytest.approx(
        10
    )


def test_lr_schedule_values_at_key_steps():
    assert lr_at(0) == pytest.approx(1e-5)
    assert lr_at(250) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)
    assert lr_at(500) == pytest.approx(1e-3)  # end of 10 % warm-up
    mid = 500 + (4999 - 500) / 2
    assert lr_at(math.floor(mid)) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-3)
    assert lr_at(4999) == pytest.approx(1e-5)
    assert lr_at(6000) == pytest.approx(1e-5)
    assert lr_at(2749, decay="linear") == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-3)
    lrs = [lr_at(s) for s in range(5000)]
    assert max(lrs) == pytest.approx(1e-3) and np.argmax(lrs) == 500
    assert all(a >= b for a, b in zip(lrs[500:], lrs[501:], strict=False))


def test_augmentation_keeps_shape_and_fills_by_mirroring():
    x = torch.rand(4, 3, 32, 96) * 0.5 + 0.25  # no zeros anywhere
    x = x.contiguous(memory_format=torch.channels_last)
    out = shift_rotate(x, torch.Generator().manual_seed(1), max_shift=0.25, max_degrees=20)
    assert out.shape == x.shape and out.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(out, x)
    assert out.min() >= 0.25 - 1e-5  # mirror fill: no zero (or any new) values at borders
    assert out[..., 0].min() >= 0.25 - 1e-5 and out[..., :, 0, :].min() >= 0.25 - 1e-5
    same = shift_rotate(x, torch.Generator().manual_seed(1), max_shift=0.25, max_degrees=20)
    assert torch.equal(out, same)
    # a pure shift by a few pixels: the entering border is the mirror of the image edge
    ramp = torch.arange(96.0).expand(1, 1, 8, 96).contiguous()
    shifted = shift_rotate(ramp, torch.Generator().manual_seed(0), max_shift=0.2, max_degrees=0)
    row = shifted[0, 0, 4]
    assert row.min() >= 0 and row.max() <= 95
    assert not torch.allclose(row, ramp[0, 0, 4])


def test_photometric_jitter_varies_contrast_and_colour_within_range():
    x = (torch.rand(16, 3, 24, 72) * 0.6 + 0.2).contiguous(memory_format=torch.channels_last)
    x[:, 0] *= 0.7  # colour: the channels differ
    assert photometric(x, torch.Generator().manual_seed(0), 0.0) is x  # the paper's recipe
    out = photometric(x, torch.Generator().manual_seed(0), 0.3, gray_p=0.5)
    assert out.shape == x.shape and out.is_contiguous(memory_format=torch.channels_last)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert torch.equal(out, photometric(x, torch.Generator().manual_seed(0), 0.3, gray_p=0.5))
    gray = (out[:, 0] == out[:, 1]).all(dim=(1, 2)) & (out[:, 1] == out[:, 2]).all(dim=(1, 2))
    assert 0 < int(gray.sum()) < 16  # some images gray, some in colour
    contrast = out.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert contrast.max() / contrast.min() > 1.2  # per-image contrast differs
    # structure is kept: each image stays correlated with its original (rank order of pixels)
    for i in range(16):
        a, b = out[i].mean(0).flatten(), x[i].mean(0).flatten()
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9


def test_folds_never_split_a_group_and_cover_everything():
    groups = np.repeat(np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]), 3)
    groups = np.concatenate([groups, ["k"] * 7])
    fs = folds(groups, 5, seed=1)
    assert len(fs) == 5
    test_union = np.concatenate([f.test for f in fs])
    assert len(set(test_union.tolist())) == len(test_union)  # test sets are disjoint
    held = np.concatenate([np.concatenate([f.val, f.test]) for f in fs])
    assert set(held.tolist()) == set(range(len(groups)))  # every tile is held out once
    for f in fs:
        parts = [set(groups[f.train]), set(groups[f.val]), set(groups[f.test])]
        assert all(parts) and not (
            parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]
        )
        assert len(f.train) + len(f.val) + len(f.test) == len(groups)
    assert [f.test.tolist() for f in folds(groups, 5, 1)] == [f.test.tolist() for f in fs]
    assert [f.test.tolist() for f in folds(groups, 5, 2)] != [f.test.tolist() for f in fs]
    small = folds(np.array([1, 1, 2, 3, 3]), 3, 0)  # one group per chunk: next chunk validates
    for f in small:
        assert len(f.train) and len(f.val) and len(f.test)
    with pytest.raises(RateScopeError):
        folds(np.array([1, 2, 3]), 4)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_short_training_run_lowers_the_validation_error(precision):
    tr, va = split(brightness_task())
    cfg = TrainConfig(max_steps=40, batch_size=8, lr_min=1e-4, lr_max=3e-2, checkpoint_every=0,
                      precision=precision)  # fmt: skip
    seen = []
    res = train_model(tr, va, cfg, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and len(seen) == 40
    baseline = scores(np.tile(tr.labels.mean(0), (len(va), 1)), va.labels)["mape"]
    assert res.steps == 40 and res.epochs == len(res.history) == 40 // (len(tr) // 8)
    assert res.best_val_mape < 0.85 * baseline
    assert res.history[-1]["val_mape"] < res.history[0]["val_mape"]
    final = scores(predict(res.model, va.tiles), va.labels)["mape"]
    assert final == pytest.approx(res.best_val_mape, rel=1e-4)  # best weights restored


def test_unknown_precision_is_refused():
    tr, va = split(brightness_task())
    with pytest.raises(RateScopeError, match="precision"):
        train_model(tr, va, TrainConfig(max_steps=1, batch_size=8, precision="fp8"))


def test_early_stopping_restores_the_best_weights():
    tr, va = split(brightness_task())
    cfg = TrainConfig(max_steps=200, batch_size=8, lr_min=1e-1, lr_max=1.0, patience_epochs=2,
                      checkpoint_every=0, augment=False)  # fmt: skip
    res = train_model(tr, va, cfg)
    assert res.stopped_early and res.steps < 200
    vals = [h["val_mape"] for h in res.history]
    assert res.best_val_mape == min(vals) and len(vals) - 1 - np.argmin(vals) == 2
    assert scores(predict(res.model, va.tiles), va.labels)["mape"] == pytest.approx(min(vals))


def test_resume_after_a_crash_or_cancel_gives_the_same_weights(tmp_path):
    tr, va = split(brightness_task())
    cfg = TrainConfig(max_steps=14, batch_size=8, checkpoint_every=4, lr_max=3e-2, lookahead_k=3)
    ref = train_model(tr, va, cfg).model.state_dict()

    def crash(frac, msg):
        if msg.startswith("step 7/"):
            raise RuntimeError("power cut")

    def cancel(frac, msg):
        if msg.startswith("step 6/"):
            raise Cancelled()

    for name, stop, exc in (("crash", crash, RuntimeError), ("cancel", cancel, Cancelled)):
        ckpt = tmp_path / f"{name}.ckpt.safetensors"
        with pytest.raises(exc):
            train_model(tr, va, cfg, checkpoint=ckpt, progress=stop)
        assert ckpt.exists()
        out = train_model(tr, va, cfg, checkpoint=ckpt, resume=True).model.state_dict()
        for k, v in ref.items():
            assert torch.equal(v, out[k]), (name, k)
    longer = train_model(tr, va, replace(cfg, max_steps=16), checkpoint=ckpt, resume=True)
    assert longer.steps == 16 or longer.stopped_early  # a longer schedule continues the run
    # an unfinished run publishes its best weights so far
    snap, snap_cfg = result_from_checkpoint(ckpt)
    assert snap_cfg == replace(cfg, max_steps=16) and snap.steps == longer.steps
    assert snap.best_step == longer.best_step and snap.seconds > 0
    best = longer.model.state_dict()
    assert all(torch.equal(v, best[k]) for k, v in snap.model.state_dict().items())
    with pytest.raises(RateScopeError, match="other settings"):
        train_model(tr, va, replace(cfg, lr_max=1e-3), checkpoint=ckpt, resume=True)
    with pytest.raises(RateScopeError, match="other settings"):
        train_model(tr, va, replace(cfg, photometric=0.3), checkpoint=ckpt, resume=True)
    # a checkpoint written before the photometric setting existed resumes as "off"
    tree = load_tree(ckpt)
    del tree["config"]["photometric"]
    save_tree(ckpt, tree)
    resumed = train_model(tr, va, replace(cfg, max_steps=18), checkpoint=ckpt, resume=True)
    assert resumed.steps == 18 or resumed.stopped_early


def test_lab_folder_and_csv(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "tiles" / "S2").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (224, 672 * 2 + 10, 3), dtype=np.uint8)).save(
        tmp_path / "tiles" / "S1_area1.png"
    )
    Image.fromarray(rng.integers(0, 255, (230, 672), dtype=np.uint8).astype(np.uint8)).save(
        tmp_path / "tiles" / "S2" / "x.png"
    )
    (tmp_path / "tiles" / "unrelated.png").write_bytes(b"")
    csv = tmp_path / "caps.csv"
    csv.write_text(
        "sample,unit,0.2C,1C,2C,3C,5C\n"
        "S1,Ah/kg,150,145,140,130,110\nS1,Ah/L,300,290,280,260,220\n"
        "S2,specific,151,146,141,131,111\n"
    )
    caps = read_capacity_csv(csv, "volumetric")
    assert list(caps) == ["S1"] and caps["S1"].tolist() == [300, 290, 280, 260, 220]
    with pytest.raises(RateScopeError):
        load_lab_dataset(tmp_path / "tiles", csv, "specific")  # S2 is gray, S1 RGB
    (tmp_path / "tiles" / "S2" / "x.png").unlink()
    Image.fromarray(rng.integers(0, 255, (224, 700, 3), dtype=np.uint8)).save(
        tmp_path / "tiles" / "S2" / "x.png"
    )
    ds = load_lab_dataset(tmp_path / "tiles", csv, "specific")
    assert ds.tiles.shape == (3, 224, 672, 3) and ds.groups.tolist() == ["S1", "S1", "S2"]
    assert ds.labels[2].tolist() == [151, 146, 141, 131, 111]
    with pytest.raises(RateScopeError, match="smaller"):
        cut_tiles(np.zeros((100, 672)))
    bad = tmp_path / "bad.csv"
    bad.write_text("sample,0.2C,1C,2C,3C\nS1,1,2,3,4\n")
    with pytest.raises(RateScopeError, match="C-rate"):
        read_capacity_csv(bad, "specific")


def test_cli_trains_a_fold_ensemble_on_a_lab_folder(tmp_path, capsys):
    from PIL import Image

    from ratescope.cli import main

    rng = np.random.default_rng(0)
    (tmp_path / "t").mkdir()
    rows = ["sample,0.2C,1C,2C,3C,5C"]
    for g in range(4):
        img = rng.integers(0, 255, (224, 672), dtype=np.uint8)
        Image.fromarray(img).save(tmp_path / "t" / f"E{g}.png")
        rows.append(f"E{g}," + ",".join(str(150 - 10 * i - g) for i in range(5)))
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "models"
    args = ["train", "--tiles", str(tmp_path / "t"), "--labels", str(tmp_path / "c.csv"),
            "--unit", "specific", "--folds", "2", "--out", str(out), "--steps", "1",
            "--batch", "2", "--device", "cpu", "--threads", "1",
            "--photometric", "0.3"]  # fmt: skip
    assert main(args) == 0
    assert "mean test MAPE" in capsys.readouterr().out
    model, card = load_model(out / "specific_fold1.safetensors")
    assert card["unit_symbol"] == "Ah/kg" and card["data"]["tiles"] == 4
    assert card["training"]["steps_done"] == 1 and card["input"]["channels"].startswith("gray")
    from ratescope.core.models.precision import cpu_has_bf16

    auto = "bf16" if cpu_has_bf16() else "fp32"  # --precision auto
    assert card["training"]["precision"] == auto and card["training"]["photometric"] == 0.3
    assert set(card["data"]["test_samples"]).isdisjoint(card["data"]["train_samples"])
    assert (out / "specific_cv.json").exists()
    assert main(args + ["--resume"]) == 0  # finished folds are kept, not retrained


def test_explicit_bf16_on_a_cpu_that_emulates_it_is_warned_about(monkeypatch, capsys):
    """Emulated bfloat16 made a training step 7x slower than float32 (AVX2 EPYC)."""
    import argparse

    from ratescope.cli import train as cli
    from ratescope.cli import train_cae
    from ratescope.core.models import precision

    for native in (True, False):
        monkeypatch.setattr(precision, "cpu_has_bf16", lambda native=native: native)
        assert cli._precision("bf16", "cpu") == "bf16"  # asked for: kept, but said
        assert ("no native bfloat16" in capsys.readouterr().err) is not native
    assert cli._precision("fp32", "cpu") == "fp32" and cli._precision("auto", "cpu") == "fp32"
    assert cli._precision("bf16", "cuda") == "bf16"
    assert capsys.readouterr().err == ""  # fp32, auto and CUDA: nothing to warn about
    args = argparse.Namespace(precision="bf16", device="cpu", window=24)
    assert train_cae._precision(args) == "bf16"
    assert "--precision fp32" in capsys.readouterr().err


def test_cross_validate_can_advance_one_fold_at_a_time(tmp_path):
    from ratescope.core.train.cv import cross_validate, fold_path

    data = brightness_task()
    cfg = TrainConfig(max_steps=4, batch_size=8, checkpoint_every=0)
    first = cross_validate(data, tmp_path, 3, cfg, only=[1])
    assert [f["fold"] for f in first["folds"]] == [1]
    assert [fold_path(tmp_path, data.unit, i).exists() for i in range(3)] == [False, True, False]
    both = cross_validate(data, tmp_path, 3, cfg, resume=True, only=[0])
    assert sorted(f["fold"] for f in both["folds"]) == [0, 1]
    assert both["folds"][1] == first["folds"][0]  # fold 1 read back, not retrained


def test_fold_card_names_the_model_it_was_fine_tuned_from(tmp_path):
    from ratescope.core.models.store import load_model
    from ratescope.core.train.cv import cross_validate, fold_path
    from ratescope.core.train.head_publish import _conv_date, _conv_origin

    data = brightness_task()
    cfg = TrainConfig(max_steps=2, batch_size=8, checkpoint_every=0)
    cross_validate(data, tmp_path / "a", 3, cfg, only=[0])
    start = fold_path(tmp_path / "a", data.unit, 0)
    cross_validate(data, tmp_path / "b", 3, cfg, only=[2], init=[start])
    _, scratch = load_model(start)
    _, tuned = load_model(fold_path(tmp_path / "b", data.unit, 2))
    assert scratch["training"]["init"] is None and "from scratch" in _conv_origin(scratch)
    assert tuned["training"]["init"] == f"a/{data.unit}_fold0.safetensors"
    assert f"fine-tuned from a/{data.unit}_fold0.safetensors" in _conv_origin(tuned)
    assert "2 of 5000 steps" in _conv_origin(tuned)
    # a head refit keeps the convolutions' origin and date, not its own
    refitted = {**tuned, "date": "2099-01-01",
                "head_refit": {"convolutions": "X", "convolutions_from": "2000-01-01"}}  # fmt: skip
    assert _conv_origin(refitted) == "X" and _conv_date(refitted) == "2000-01-01"
    # an unfinished fine-tuning run published from its checkpoint still names its start
    tr, va = split(data)
    ckpt, scratch_ckpt = tmp_path / "tuned.ckpt.safetensors", tmp_path / "s.ckpt.safetensors"
    train_model(tr, va, replace(cfg, checkpoint_every=1), checkpoint=ckpt, init=start)
    train_model(tr, va, replace(cfg, checkpoint_every=1), checkpoint=scratch_ckpt)
    assert result_from_checkpoint(ckpt)[0].init == start
    assert result_from_checkpoint(scratch_ckpt)[0].init is None
