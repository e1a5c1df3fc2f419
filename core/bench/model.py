"""Speed of the rate-capability CNN: one tile forward, GFLOP/s vs matmul, a training step.

The targeted forward row is the prediction path (:mod:`core.models.precision`: bfloat16
autocast on CPUs with AMX/AVX512-BF16, float32 elsewhere); float32 is measured beside it.

All figures are measured twice in the same run: in this process and in a child process
with the other memory allocator (``LD_PRELOAD=libtcmalloc_minimal.so.4`` toggled), since
glibc's allocator re-faults every large tensor's pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ratescope.core.allocator import CANDIDATES, find_tcmalloc
from ratescope.core.bench import Row, median_time
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH

TCMALLOC = find_tcmalloc() or CANDIDATES[0]
ROOT = Path(__file__).resolve().parents[2]


def _forward_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return int(counter.get_total_flops())


def measure(train_repeats: int = 2) -> dict:
    """Time the forward, a float32 matmul and a batch-38 training step in this process."""
    from ratescope.core.models.precision import (
        cpu_has_bf16,
        inference_autocast,
        inference_precision,
    )
    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.train.optim import make_optimizer, mape

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        torch.manual_seed(0)
        model = RateCNN().eval().to(memory_format=torch.channels_last)
        x = torch.rand(1, 3, TILE_HEIGHT, TILE_WIDTH).contiguous(memory_format=torch.channels_last)
        flops = _forward_flops(model, x)
        with torch.inference_mode():
            t_fwd = median_time(lambda: model(x), repeats=15, warmup=3)
            with inference_autocast("cpu"):
                t_app = median_time(lambda: model(x), repeats=15, warmup=3)
        n = 2048
        a, b = torch.rand(n, n), torch.rand(n, n)
        t_mm = median_time(lambda: a @ b, repeats=7, warmup=2)

        model.train()
        opt = make_optimizer(model, lr=1e-4)
        xb = torch.rand(38, 3, TILE_HEIGHT, TILE_WIDTH).contiguous(
            memory_format=torch.channels_last
        )
        yb = torch.rand(38, 5) + 1.0

        def step(bf16: bool = False) -> None:
            opt.zero_grad()
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                out = model(xb)
            mape(out.float(), yb).backward()
            opt.step()

        t_step = median_time(step, repeats=train_repeats, warmup=1)
        t_step_bf16 = None  # emulated without AVX512-BF16/AMX: minutes a step, not measured
        if cpu_has_bf16():
            t_step_bf16 = median_time(lambda: step(True), repeats=train_repeats, warmup=1)
    finally:
        torch.set_num_threads(threads)
    return {
        "forward_s": t_fwd,
        "forward_app_s": t_app,
        "app_precision": inference_precision("cpu"),
        "train_step_bf16_s": t_step_bf16,
        "forward_gflop": flops / 1e9,
        "matmul_gflops": 2 * n**3 / t_mm / 1e9,
        "train_step_s": t_step,
        "threads": os.cpu_count() or 1,
        "tcmalloc": TCMALLOC in os.environ.get("LD_PRELOAD", ""),
    }


def _rows(m: dict) -> list[Row]:
    tag = "tcmalloc" if m["tcmalloc"] else "glibc malloc"
    note = f"{m['threads']} threads, channels_last, fp32, {tag}"
    app = m["app_precision"]
    rows = [
        Row("model", f"RateCNN forward 1x3x224x672, as predicted ({app}, {tag})",
            m["forward_app_s"] * 1e3, "ms", "<= 60 ms",
            note.replace("fp32", f"{app} autocast (core.models.precision)")),
        Row("model", f"RateCNN forward 1x3x224x672, float32 ({tag})", m["forward_s"] * 1e3,
            "ms", "", note),
        Row("model", f"RateCNN forward achieved ({tag})", m["forward_gflop"] / m["forward_s"],
            "GFLOP/s", "", f"{m['forward_gflop']:.2f} GFLOP per tile (FlopCounterMode)"),
        Row("model", f"float32 matmul 2048^3 ({tag})", m["matmul_gflops"], "GFLOP/s", "",
            "same run, for comparison"),
        Row("model", f"training step, batch 38 ({tag})", m["train_step_s"], "s", "",
            f"Lookahead(RAdam)+MAPE, {38 / m['train_step_s']:.1f} images/s; " + note),
    ]  # fmt: skip
    if m["train_step_bf16_s"] is not None:  # None: this CPU would emulate bfloat16
        rows.append(Row("model", f"training step, batch 38, bf16 autocast ({tag})",
                        m["train_step_bf16_s"], "s", "",
                        f"TrainConfig(precision='bf16'), {38 / m['train_step_bf16_s']:.1f} "
                        "images/s"))  # fmt: skip
    return rows


def run() -> list[Row]:
    """Rows for both allocators: this process, and a child with tcmalloc toggled."""
    rows = _rows(measure())
    env = dict(os.environ)
    if TCMALLOC in env.get("LD_PRELOAD", ""):
        env["LD_PRELOAD"] = ":".join(p for p in env["LD_PRELOAD"].split(":") if p != TCMALLOC)
    elif Path(TCMALLOC).exists():
        env["LD_PRELOAD"] = ":".join(filter(None, [TCMALLOC, env.get("LD_PRELOAD", "")]))
    else:
        return rows
    code = (
        "import json; from ratescope.core.bench.model import measure; print(json.dumps(measure()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode == 0:
        rows += _rows(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows
