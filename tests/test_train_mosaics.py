"""Training on a lab's mosaics (issue 23): review, data set, fine-tuning from the embedded
ensemble, cancel -> resume, DDP on the data set path.

Mosaics are synthetic electrodes written by real writers (tifffile, ZEISS's pylibCZIrw);
their labels are the DFN table's curves. The fine-tuning test uses the bright-binder look
(tests/_train_helpers.py), outside the embedded models' training looks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from _train_helpers import bright_binder, write_lab_folder

from ratescope.cli import train as train_cli
from ratescope.core.errors import RateScopeError
from ratescope.core.models.store import load_model
from ratescope.core.train.mosaic_set import load_dataset, review_mosaics, write_dataset

ROOT = Path(__file__).resolve().parent.parent


def _train(*argv) -> int:
    p = argparse.ArgumentParser()
    train_cli.add_arguments(p)
    return train_cli.run(p.parse_args(list(argv)))


def test_review_pairs_aligns_reuses_sessions_and_writes_the_data_set(tmp_path):
    from ratescope.core.align.band import align_mosaic
    from ratescope.core.io import load_mosaic
    from ratescope.core.session import Session, file_sha256, save_session

    folder = tmp_path / "lab"
    csv = write_lab_folder(folder, 4, seed=7, width=1500, czi_every=2)  # 2 TIFF + 2 CZI
    names = [p.stem for p in sorted(folder.glob("E*"))]
    # a fifth electrode only in the CSV, one missing C-rate, a mosaic without a row, and an
    # image that is no electrode
    text = csv.read_text().splitlines()
    text[1] = ",".join(text[1].split(",")[:-1]) + ","  # 5C of the first: not measured
    text.append("E-gone,Ah/kg,170,160,150,140,100")
    csv.write_text("\n".join(text) + "\n")
    shutil.copy(folder / f"{names[0]}.tif", folder / "unlisted.tif")
    noise = np.random.default_rng(0).integers(0, 255, (400, 900), dtype=np.uint8)
    tifffile.imwrite(folder / f"{names[2]}_blank.tif", noise)
    # the user confirmed the alignment of the second mosaic with one tile turned off
    czi = folder / f"{names[1]}.czi"
    alignment, _ = align_mosaic(load_mosaic(czi))
    auto = len(alignment.kept)
    alignment.tiles[next(i for i, t in enumerate(alignment.tiles) if t.kept)].override = False
    save_session(Session(source_path=czi, source_sha256=file_sha256(czi), alignment=alignment,
                         accepted=True), folder / "confirmed.ratescope")  # fmt: skip

    review = review_mosaics(folder, csv)
    by_file = {r.path.name: r for r in review.rows}
    assert [m.line for m in review.unmatched] == [6]
    assert "line 6: 'E-gone' matches no mosaic" in review.unmatched_messages()[0]
    assert by_file["unlisted.tif"].status == "no measurement"
    assert by_file[f"{names[2]}_blank.tif"].status == "failed"  # pairs with E..-02, no electrode
    assert by_file[f"{names[2]}_blank.tif"].reasons
    ok = [by_file[f"{n}.tif" if f"{n}.tif" in by_file else f"{n}.czi"] for n in names]
    assert all(r.status == "ok" and r.tiles_kept >= 1 for r in ok)
    assert all(abs(r.angle_deg) < 5 for r in ok)
    assert ok[1].from_session and ok[1].tiles_kept == auto - 1
    assert not any(r.from_session for r in ok if r is not ok[1])
    assert any("not measured (Ah/kg, CSV line 2): 5C" in s for s in ok[0].reasons)

    ds_path = write_dataset(review, tmp_path / "ds.h5")
    ds = load_dataset(ds_path, "specific")
    assert len(ds) == sum(r.tiles_kept for r in ok) and ds.tiles.shape[1:] == (224, 672, 3)
    assert sorted(set(ds.groups)) == sorted(names)
    first = ds.labels[ds.groups == names[0]]
    assert np.isnan(first[:, 4]).all() and np.isfinite(first[:, :4]).all()  # never guessed
    assert np.isfinite(ds.labels[ds.groups != names[0]]).all()
    with pytest.raises(RateScopeError, match="no capacities in Ah/L"):
        load_dataset(ds_path, "volumetric")


@pytest.fixture(scope="module")
def bright(tmp_path_factory):
    """12 bright-binder electrodes (one tile each at most) reviewed into a data set."""
    base = tmp_path_factory.mktemp("bright")
    csv = write_lab_folder(base / "lab", 12, seed=3, width=900, look=bright_binder)
    review = review_mosaics(base / "lab", csv)
    ok = [r for r in review.rows if r.status == "ok"]  # a tile may be rejected (scratch)
    assert len(ok) >= 10, [r.reasons for r in review.rows]
    return base, write_dataset(review, base / "ds.h5")


SETTINGS = ["--folds", "4", "--steps", "80", "--checkpoint-every", "10"]


@pytest.fixture(scope="module")
def finetuned(bright):
    """``main.py train --dataset`` (head fine-tuning from the embedded ensemble) and its
    printed summary."""
    import contextlib
    import io

    base, ds = bright
    out = base / "ft"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        code = _train("--dataset", str(ds), *SETTINGS, "--out", str(out), "--name", "bright")
    assert code == 0
    return out, text.getvalue()


def test_fine_tuning_beats_the_embedded_model_on_a_look_it_handles_badly(finetuned, capsys):
    out, printed = finetuned
    held = json.loads((out / "card.json").read_text())["units"]["specific"]["held_out"]
    assert "vs the embedded model" in printed
    with capsys.disabled():
        print(
            f"\nheld-out MAPE by electrode on {held['electrodes']} bright-binder electrodes: "
            f"fine-tuned {held['mape']:.2f} %, embedded {held['embedded_mape']:.2f} %"
        )
    assert held["embedded_mape"] > 8.0  # the embedded model handles this look badly
    assert held["mape"] < 0.75 * held["embedded_mape"]  # fine-tuning helps clearly
    for i in range(4):  # every fold model is a loadable model with its own comparison
        card = load_model(out / f"specific_fold{i}.safetensors")[1]
        assert "embedded_test" in card["metrics"] and card["data"]["split"].startswith("group")


def _weights(folder: Path) -> list[dict]:
    return [load_model(p)[0].state_dict() for p in sorted(folder.glob("specific_fold*.safe*"))]


def test_cancel_then_resume_ends_as_an_uninterrupted_run(bright, finetuned):
    """SIGINT to a real ``python -m ratescope train --progress-jsonl`` process mid-fold,
    then ``--resume``: the same weights and metrics as the run never interrupted."""
    base, ds = bright
    runs = {"whole": finetuned[0], "cut": base / "cut"}
    runs["cut"].mkdir()
    # the pooled features of the embedded models, computed once (a cache the run checks)
    shutil.copy(runs["whole"] / "features_specific.safetensors", runs["cut"])
    common = ["--dataset", str(ds), *SETTINGS]
    cmd = [sys.executable, "-m", "ratescope", "train", *common, "--out", str(runs["cut"]),
           "--progress-jsonl"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        e = events[-1]
        if e["event"] == "step" and e["fold"] == 1 and e["step"] == 25:
            proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    assert proc.returncode == 1, proc.stderr.read()
    assert events[0]["event"] == "start" and events[0]["steps"] == 80
    assert events[-1]["event"] == "cancelled" and "--resume" in events[-1]["message"]
    assert not (runs["cut"] / "specific_fold1.safetensors").exists()
    assert (runs["cut"] / "checkpoints" / "specific_fold1.head.safetensors").exists()
    assert _train(*common, "--out", str(runs["cut"]), "--resume") == 0
    a, b = _weights(runs["whole"]), _weights(runs["cut"])
    assert len(a) == len(b) == 4
    for sa, sb in zip(a, b, strict=True):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ca = json.loads((runs["whole"] / "specific_cv.json").read_text())
    cb = json.loads((runs["cut"] / "specific_cv.json").read_text())
    assert ca["held_out"] == cb["held_out"]
    assert [f["test"] for f in ca["folds"]] == [f["test"] for f in cb["folds"]]


def test_two_process_ddp_on_the_data_set_path(bright):
    """Full training of every layer from the embedded weights under DDP (2 CPU processes,
    gloo) on the written data set, NaN labels included: both ranks end identical."""
    from ratescope.core.train.data import folds
    from ratescope.core.train.ddp import train_spawned_cpu
    from ratescope.core.train.loop import TrainConfig

    base, ds_path = bright
    ds = load_dataset(ds_path, "specific")
    ds.labels[::3, 2] = np.nan  # some 2C values not measured
    f = folds(ds.groups, 4, 0)[0]
    tr, va = ds.subset(f.train), ds.subset(f.val)
    cfg = TrainConfig(max_steps=2, batch_size=4, checkpoint_every=0)
    import torch._dynamo  # noqa: F401  (imported once before fork, as test_train_ddp does)

    ranks = train_spawned_cpu(tr, va, cfg, world_size=2, start_method="fork")
    a, b = (r["state"] for r in ranks)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.isfinite(v).all() for v in a.values() if v.is_floating_point())


@pytest.mark.slow
def test_torchrun_two_processes_from_the_data_set(bright):
    """``torchrun --nproc_per_node 2 main.py train --dataset ... --init scratch`` (slow:
    fresh processes): the command README documents for several machines, on one."""
    base, ds = bright
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    out = base / "ddp"
    cmd = [torchrun, "--nproc_per_node", "2", "main.py", "train", "--dataset", str(ds),
           "--init", "scratch", "--folds", "3", "--out", str(out), "--steps", "2",
           "--batch", "4", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("held-out MAPE") == 1  # rank 0 only
    assert len(list(out.glob("specific_fold*.safetensors"))) == 3


def test_cli_prepare_only_reports_the_review_as_json_lines(tmp_path, capsys):
    csv = write_lab_folder(tmp_path / "lab", 3, seed=5, width=900)
    out = tmp_path / "run"
    args = ["--mosaics", str(tmp_path / "lab"), "--measured", str(csv), "--out", str(out),
            "--prepare-only", "--progress-jsonl"]  # fmt: skip
    assert _train(*args) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["review", "done"]
    assert len(events[0]["rows"]) == 3 and events[1]["dataset"] == str(out / "dataset.h5")
    kept = sum(r["tiles_kept"] for r in events[0]["rows"] if r["status"] == "ok")
    assert len(load_dataset(out / "dataset.h5", "specific")) == kept
    # a broken CSV: exit 1, an error event naming the CSV line
    csv.write_text(csv.read_text() + "E5-00,Ah/kg,171,abc,,,\n")
    assert _train(*args) == 1
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert event["event"] == "error" and "measured.csv: line 5:" in event["message"]
