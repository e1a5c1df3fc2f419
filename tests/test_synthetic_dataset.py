"""The synthetic training set: plan, automatic-alignment tiles in the HDF5 cache, labels."""

from __future__ import annotations

import numpy as np
import pytest

from ratescope.core.labels import load_label_table
from ratescope.core.train.data import folds
from ratescope.core.train.synthetic import (
    build_training_set,
    electrode_labels,
    generate_cache,
    plan_electrodes,
    read_cache,
)


def test_plan_spans_the_ranges_and_keeps_test_electrodes_apart():
    specs = plan_electrodes(40, 10)
    assert specs == plan_electrodes(40, 10)  # deterministic
    train = [s for s in specs if s.split == "train"]
    test = [s for s in specs if s.split == "test"]
    assert len(train) == 40 and len(test) == 10
    assert len({s.seed for s in specs}) == 50
    por = np.array([s.porosity for s in train])
    rad = np.array([s.particle_radius_um for s in train])
    assert 0.15 <= por.min() < 0.17 and 0.53 < por.max() <= 0.55
    assert 3.0 <= rad.min() < 3.2 and 7.8 < rad.max() <= 8.0
    # one electrode per porosity stratum: no gaps in the range
    assert np.all(np.diff(np.sort(por)) < 2.5 * 0.4 / 40)
    assert {s.bit_depth for s in specs} == {8, 16} and {s.rgb for s in specs} == {True, False}


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    specs = plan_electrodes(3, 1, seed=7)
    path = tmp_path_factory.mktemp("cache") / "tiny.h5"
    calls = []
    generate_cache(
        path, specs, workers=1, progress=lambda f, m: calls.append(f), mosaic_kw={"width": 1500}
    )
    assert calls[-1] == 1.0 and path.is_file()
    return path, specs


def test_cache_holds_auto_aligned_uint8_rgb_tiles_per_electrode(tiny_cache):
    path, specs = tiny_cache
    tiles, groups, by_id, infos = read_cache(path)
    assert tiles.dtype == np.uint8 and tiles.shape[1:] == (224, 672, 3)
    assert set(by_id) == {s.id for s in specs}
    for s in specs:
        assert infos[s.id]["error"] == ""
        assert infos[s.id]["tiles_kept"] == int(np.sum(groups == s.id)) >= 1
    # gray electrodes are replicated to three equal channels
    for s in specs:
        t = tiles[groups == s.id]
        assert np.array_equal(t[..., 0], t[..., 1]) == (not s.rgb)


def test_resuming_a_build_skips_what_is_done(tiny_cache, tmp_path):
    path, specs = tiny_cache
    import shutil

    part = tmp_path / "again.h5.building"
    shutil.copy(path, part)
    seen = []
    generate_cache(tmp_path / "again.h5", specs, progress=lambda f, m: seen.append(m))
    assert seen == [f"{len(specs)}/{len(specs)} electrodes"]  # nothing rendered again


def test_training_set_groups_are_never_split_and_labels_follow_physics(tiny_cache):
    path, specs = tiny_cache
    train = build_training_set("specific", cache=path)
    test = build_training_set("specific", cache=path, split="test")
    assert set(np.unique(train.groups)) == {s.id for s in specs if s.split == "train"}
    assert set(np.unique(test.groups)).isdisjoint(train.groups)
    for f in folds(train.groups, k=3):
        sets = [set(train.groups[i]) for i in (f.train, f.val, f.test)]
        assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    table = load_label_table()
    by_id = {s.id: s for s in specs}
    clean = electrode_labels(by_id, "specific", noisy=False, table=table)
    for g in np.unique(train.groups):
        rows = train.labels[train.groups == g]
        assert np.all(rows == rows[0])  # one (noisy) curve per electrode
        rel = rows[0] / clean[g] - 1
        assert 0 < np.abs(rel).max() < 0.05  # ~1 % scatter, never zero
        s = by_id[g]
        assert np.allclose(clean[g], table.curve(s.porosity, s.particle_radius_um, "specific"))
    for g in np.unique(test.groups):  # evaluation labels stay clean
        assert np.allclose(test.labels[test.groups == g][0], clean[g])
    vol = build_training_set("volumetric", cache=path, split="test")
    assert not np.allclose(vol.labels, test.labels)


@pytest.mark.slow
def test_train_evaluate_publish_round_trip(tiny_cache, tmp_path):
    """The whole embedded pipeline at toy scale: CV training -> held-out eval -> publish."""
    from ratescope.core.predict import load_ensemble, predict_tiles
    from ratescope.core.train.synthetic.card import publish_embedded
    from ratescope.core.train.synthetic.embedded import evaluate_embedded, train_embedded

    path, _ = tiny_cache
    runs = tmp_path / "runs"
    for unit in ("specific", "volumetric"):
        s = train_embedded(unit, runs, steps=2, batch=2, k=3, cache=path, command="toy")
        assert len(s["folds"]) == 3
    ev = evaluate_embedded(runs, tmp_path / "eval.npz", cache=path)
    dest = tmp_path / "published"
    summary = publish_embedded(runs, ev, dest, cache=path, command="toy", status="toy run")
    assert set(summary) == {"specific", "volumetric"}
    card_md = (dest / "MODEL_CARD_ratecnn.md").read_text()
    assert "synthetic data only" in card_md and "| all held-out electrodes |" in card_md
    assert "- Status: toy run" in card_md
    ens = load_ensemble(dest)
    assert len(ens.models["specific"]) == 3 and ens.ood["volumetric"] is not None
    assert ens.card("specific")["heldout"]["electrodes"] == 1
    assert ens.card("volumetric")["status"] == "toy run"
    tiles, _, _, _ = read_cache(path, "test")
    pred = predict_tiles(tiles, ens)
    assert pred.complete and pred.units["specific"].ood_score is not None


def test_snapshot_publishes_only_the_folds_asked_for(tiny_cache, tmp_path):
    """publish --folds 0,1,2,3 must not pick up a fold that has only just started."""
    import shutil

    from ratescope.core.resources import MODELS
    from ratescope.core.train.synthetic.embedded import snapshot_embedded

    path, _ = tiny_cache
    run, out = tmp_path / "run", tmp_path / "out"
    run.mkdir()
    for i in (0, 1):
        name = f"specific_fold{i}.safetensors"
        shutil.copyfile(MODELS / name, run / name)
    assert snapshot_embedded("specific", run, out, cache=path, only=[1]) == [1]
    assert [p.name for p in out.iterdir()] == ["specific_fold1.safetensors"]
    assert snapshot_embedded("specific", run, out, cache=path) == [0, 1]


def test_write_fold_scores_pre_normalised_tiles_like_raw_ones(tiny_cache, tmp_path):
    """Publishing normalises a unit's tiles once (normalised=True) and gets the same card
    metrics as normalising every subset inside the prediction."""
    from ratescope.core.models.store import load_model
    from ratescope.core.resources import MODELS
    from ratescope.core.train.cv import write_fold
    from ratescope.core.train.loop import TrainConfig, TrainResult, normalised

    path, _ = tiny_cache
    data = build_training_set("specific", cache=path)
    model, _ = load_model(MODELS / "specific_fold0.safetensors")
    assert model.config.input_norm == "phases"
    res = TrainResult(model=model, best_val_mape=1.0, steps=1, epochs=1, best_step=1,
                      stopped_early=False, seconds=0.0, history=[])  # fmt: skip
    split = folds(data.groups, 3, 0)[0]
    cfg = TrainConfig(architecture=model.config)
    raw = write_fold(tmp_path / "a.safetensors", res, data, 0, 3, split, cfg)
    once = write_fold(tmp_path / "b.safetensors", res, normalised(data, "phases"), 0, 3, split,
                      cfg, normalised=True)  # fmt: skip
    for part in ("train", "val", "test"):
        assert once[part]["mape"] == pytest.approx(raw[part]["mape"], rel=1e-5)
    assert raw["train"]["mape"] > 0
