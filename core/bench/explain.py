"""Speed of the explanation maps on one 224 x 672 tile.

Rows, all measured in the same run with 2 threads and a channels_last model: exact fast
occlusion (all 3072 windows x 5 outputs), the naive method (one forward per occluded
image, batches of 16) timed on 64 windows and extrapolated to 3072, their ratio,
Grad-RAM and guided backpropagation (all 5 outputs each; guided in the default precision
and with its float32 reference backward), and one plain forward pass for scale. The
model is the first embedded ``specific`` fold when one exists, else a RateCNN with
re-initialised weights and a random output layer (speed does not depend on the
weights); the tile is a seeded random texture.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from ratescope.core.bench import Row, median_time
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH

NAIVE_WINDOWS = 64


def _model():
    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.models.store import load_model
    from ratescope.core.resources import MODELS
    from ratescope.core.train.cv import fold_path

    path = fold_path(MODELS, "specific", 0)
    if path.is_file():
        return load_model(path)[0], f"embedded {path.name}"
    torch.manual_seed(0)
    model = RateCNN()
    torch.nn.init.normal_(model.output.weight, std=0.1)
    return model.eval().to(memory_format=torch.channels_last), "random weights"


def run() -> list[Row]:
    from ratescope.core.explain import (
        gradram_map,
        guided_backprop_map,
        occlusion_map,
        occlusion_naive,
    )
    from ratescope.core.models.precision import inference_precision

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model, which = _model()
        tile = np.random.default_rng(0).random((TILE_HEIGHT, TILE_WIDTH, 3)) * 255
        tile = tile.astype(np.uint8)
        x = torch.from_numpy(tile).permute(2, 0, 1)[None].float().div(255)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            t_fwd = median_time(lambda: model(x), repeats=5, warmup=1)
        t_occ = median_time(lambda: occlusion_map(model, tile), repeats=3, warmup=1)
        windows = np.random.default_rng(1).choice(3072, NAIVE_WINDOWS, replace=False)
        t0 = time.perf_counter()
        occlusion_naive(model, tile, windows=windows)
        t_naive = (time.perf_counter() - t0) * 3072 / NAIVE_WINDOWS
        t_gr = median_time(lambda: gradram_map(model, tile), repeats=5, warmup=1)
        t_gb = median_time(lambda: guided_backprop_map(model, tile), repeats=3, warmup=1)
        t_gb32 = median_time(
            lambda: guided_backprop_map(model, tile, precision="fp32"), repeats=3, warmup=1
        )
    finally:
        torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    note = (
        f"2 threads, channels_last, fp32 forward, {which}; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    return [
        Row("explain", "occlusion fast, 3072 windows x 5 outputs", t_occ, "s", "<= 2 s",
            f"exact incremental; {t_occ / t_fwd:.1f} forward passes' time; " + note),
        Row("explain", "occlusion naive, 3072 windows (extrapolated)", t_naive, "s",
            "~540 s", f"one forward per occluded tile, batch 16; timed on {NAIVE_WINDOWS} "
            f"windows x 3072/{NAIVE_WINDOWS}; " + note),
        Row("explain", "occlusion speed-up fast vs naive", t_naive / t_occ, "x", "",
            "same run"),
        Row("explain", "Grad-RAM, 5 outputs", t_gr, "s", "<= 0.3 s",
            "one forward + 5 backward passes to the last conv; " + note),
        Row("explain", "guided backprop, 5 outputs", t_gb, "s", "<= 0.6 s",
            "one forward + one hand-written backward pass, 5 outputs as a batch, backward in "
            f"{inference_precision()} (the default here); " + note),
        Row("explain", "guided backprop, 5 outputs, fp32 backward", t_gb32, "s", "",
            "the float32 reference path; " + note),
        Row("explain", "RateCNN forward 1x3x224x672 (for scale)", t_fwd * 1e3, "ms", "",
            note),
    ]  # fmt: skip
