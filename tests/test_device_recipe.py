"""scripts/device_recipe.py: the one-command GPU recipe, its schedule fitting, and a CPU
dry run of the whole flow (gen -> ten training processes -> calibration restart ->
publish -> archives)."""

from __future__ import annotations

import importlib.util
import json
import tarfile

import pytest

from ratescope.core.resources import MODELS


def _recipe():
    path = MODELS.parents[1] / "scripts" / "device_recipe.py"
    spec = importlib.util.spec_from_file_location("device_recipe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fitted_steps_ends_by_the_deadline_on_a_checkpoint():
    fit = _recipe().fitted_steps
    # 10 steps/s, 100 done, 300 s left, 30 s to restart: 100 + 2700 -> 2800
    assert fit(10.0, 100, 300.0, 30.0, 5000) == 2800
    assert fit(100.0, 100, 300.0, 30.0, 5000) == 5000  # the full schedule fits
    assert fit(0.37, 41, 100.0, 10.0, 5000) == 60  # 41 + 33.3 = 74 -> checkpoint 60
    assert fit(1.0, 0, 5.0, 30.0, 5000) == 20  # no time left: one checkpoint interval


def test_last_step_reads_the_training_log(tmp_path):
    last_step = _recipe().last_step
    log = tmp_path / "train.log"
    assert last_step(log) is None
    log.write_text("loading\n")
    assert last_step(log) is None
    log.write_text("[12:00:00] specific  60.0% fold 4/5: step 7/600  train MAPE 20 %\n"
                   "[12:00:20] specific  61.0% fold 4/5: step 31/600  best val 9 %\n")  # fmt: skip
    assert last_step(log) == 31


@pytest.mark.slow
def test_cpu_dry_run_trains_ten_models_refits_the_schedule_and_packs(tmp_path):
    """The recipe as the next GPU run will use it: every layer fine-tuned from the
    embedded models (``--init``)."""
    from ratescope.core.predict import load_ensemble

    out, dest = tmp_path / "out", tmp_path / "dest"
    args = ["--out", str(out), "--run", str(tmp_path / "run"), "--cache",
            str(tmp_path / "cache.h5"), "--dest", str(dest), "--steps", "4000",
            "--train-s", "150", "--calibrate-s", "4", "--poll-s", "0.5", "--log-every-s", "0",
            "--batch", "2", "--train", "10", "--test", "3", "--workers", "2",
            "--device", "cpu", "--precision", "fp32", "--init", str(MODELS)]  # fmt: skip
    assert _recipe().main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "error" not in summary, summary
    # stopped at the deadline, every model saved its checkpoint and ended cleanly
    assert set(summary["exit_codes"].values()) == {0}, summary["exit_codes"]
    assert len(summary["published"]) == 10
    cal = summary["calibration"]
    assert 20 <= cal["fitted_steps"] < 4000  # the schedule was shortened to the budget
    with tarfile.open(out / "models.tgz") as tar:
        names = set(tar.getnames())
    folds = {f"resources/models/{u}_fold{i}.safetensors"
             for u in ("specific", "volumetric") for i in range(5)}  # fmt: skip
    assert folds <= names and "resources/models/MODEL_CARD_ratecnn.md" in names
    ens = load_ensemble(dest)
    assert {u: len(m) for u, m in ens.models.items()} == {"specific": 5, "volumetric": 5}
    assert str(cal["fitted_steps"]) in ens.card("specific")["status"]
    assert f"fine-tuned from {MODELS}" in ens.card("specific")["status"]
    n = len(list(MODELS.glob("volumetric_fold*.safetensors")))
    for i, card in enumerate(ens.cards["volumetric"]):  # fold i started from embedded i mod n
        assert card["training"]["init"] == f"models/volumetric_fold{i % n}.safetensors"
    assert (out / "logs.tgz").is_file()


def test_checkpoints_come_back_in_archives_under_the_file_limit(tmp_path):
    """When publishing fails, the checkpoints come back, three to an archive (8 files max)."""
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    for unit in ("specific", "volumetric"):
        for fold in range(5):
            (ckpts / f"{unit}_fold{fold}.ckpt.safetensors").write_bytes(bytes([fold]) * 100)
    out = tmp_path / "out"
    out.mkdir()
    names = _recipe().pack_checkpoints(tmp_path / "run", out)
    assert names == [f"checkpoints_{i}.tgz" for i in range(4)]
    packed = []
    for name in names:
        with tarfile.open(out / name) as tar:
            packed += tar.getnames()
    assert sorted(packed) == sorted(f"checkpoints/{p.name}" for p in ckpts.iterdir())
