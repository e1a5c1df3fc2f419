"""DistributedDataParallel: two CPU processes (gloo) finish with identical weights."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ratescope.core.train.data import TileDataset, folds
from ratescope.core.train.ddp import train_spawned_cpu
from ratescope.core.train.loop import TrainConfig, train_model

ROOT = Path(__file__).resolve().parent.parent


def _task():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 4)
    b = rng.uniform(0.2, 0.8, 12)[groups]
    tiles = (np.clip(b[:, None, None] + rng.normal(0, 0.1, (48, 16, 48)), 0, 1) * 255).astype(
        np.uint8
    )
    labels = np.stack([100 + 80 * b * (1 - 0.1 * i) for i in range(5)], 1)
    ds = TileDataset(tiles, labels, groups)
    f = folds(groups, 4, 0)[0]
    return ds.subset(f.train), ds.subset(f.val)


def test_two_process_ddp_run_keeps_weights_in_sync(tmp_path):
    tr, va = _task()
    cfg = TrainConfig(max_steps=8, batch_size=8, lr_max=3e-2, lookahead_k=3, checkpoint_every=4)
    ckpt = tmp_path / "ddp.ckpt.safetensors"
    import torch._dynamo  # noqa: F401  (the optimiser's first step imports it: do it once, pre-fork)

    ranks = train_spawned_cpu(tr, va, cfg, world_size=2, checkpoint=ckpt, start_method="fork")
    assert [r["steps"] for r in ranks] == [8, 8]
    a, b = (r["state"] for r in ranks)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # weights and BN buffers identical on both ranks
    assert ranks[0]["best_val_mape"] == ranks[1]["best_val_mape"] < float("inf")
    assert ckpt.exists()  # rank 0 wrote the checkpoint
    torch.set_num_threads(1)
    init = TrainConfig(max_steps=0, batch_size=8)
    untrained = train_model(tr, va, init).model.state_dict()
    assert any(not torch.equal(untrained[k], a[k]) for k in a)  # it did train


@pytest.mark.slow
def test_torchrun_cli_two_processes(tmp_path):
    """``torchrun --nproc_per_node 2 main.py train`` end to end (slow: fresh processes)."""
    from PIL import Image

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    rng = np.random.default_rng(0)
    (tmp_path / "t").mkdir()
    rows = ["sample,0.2C,1C,2C,3C,5C"]
    for g in range(6):
        Image.fromarray(rng.integers(0, 255, (224, 672), dtype=np.uint8)).save(
            tmp_path / "t" / f"E{g}.png"
        )
        rows.append(f"E{g}," + ",".join(str(150 - 10 * i - g) for i in range(5)))
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    cmd = [
        torchrun,
        "--nproc_per_node",
        "2",
        "main.py",
        "train",
        "--tiles",
        str(tmp_path / "t"),
        "--labels",
        str(tmp_path / "c.csv"),
        "--unit",
        "specific",
        "--folds",
        "3",
        "--out",
        str(tmp_path / "m"),
        "--steps",
        "2",
        "--batch",
        "4",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("mean test MAPE") == 1  # only rank 0 reports
    assert len(list((tmp_path / "m").glob("specific_fold*.safetensors"))) == 3
