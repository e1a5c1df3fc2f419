"""3D workspace speed: one CAE window reconstruction, a cached slice step, opening a volume."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ratescope.core.bench import Row, median_time


def _training_step_rows(x, note: str) -> list[Row]:
    """One Adam step (batch 2, MSE in float32) of a fresh CAE, fp32 and bf16 autocast."""
    import torch

    from ratescope.core.models.cae import CAE3D
    from ratescope.core.models.precision import cpu_has_bf16

    model = CAE3D()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    xb = x.expand(2, -1, -1, -1, -1).contiguous()
    rows = []
    for precision in ("fp32", "bf16") if cpu_has_bf16() else ("fp32",):

        def step(precision=precision) -> None:
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
                y = model(xb)
            torch.nn.functional.mse_loss(y.float(), xb).backward()
            opt.step()

        t = median_time(step, repeats=5, warmup=1)
        name = f"CAE training step, batch 2 ({precision})"
        rows.append(Row("volume", name, t, "s", "", note.replace("fp32", precision)))
    return rows


def run() -> list[Row]:
    import os

    import torch

    from ratescope.core.models.cae import CAE3D, load_model
    from ratescope.core.resources import MODELS
    from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5
    from ratescope.core.volume.io import open_volume
    from ratescope.core.volume.phases import phase_fractions
    from ratescope.core.volume.recon_cache import ReconstructionCache
    from ratescope.core.volume.reconstruct import Reconstructor

    note = f"{torch.get_num_threads()} threads, fp32, load avg {os.getloadavg()[0]:.1f}"
    if (MODELS / "cae.safetensors").is_file():
        model, _ = load_model()
    else:
        model, note = CAE3D().eval(), note + ", untrained weights"
    vol = make_volume(VolumeParams(shape=(48, 224, 224), seed=3)).labels
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        write_hdf5(path, vol)
        t_open = median_time(lambda: open_volume(path).close(), repeats=5)
        rows.append(Row("volume", "open 48x224x224 HDF5 labels", t_open * 1e3, "ms"))
        with open_volume(path) as src:
            t_frac = median_time(lambda: phase_fractions(src), repeats=3)
            rows.append(
                Row("volume", "phase fractions 48x224x224 (chunk-wise)", t_frac * 1e3, "ms")
            )
            rec = Reconstructor(model, src, batch=1)
            x = torch.from_numpy(rec.scaling.apply(src.read(0, 24))[None, None])
            with torch.inference_mode():
                t_fwd = median_time(lambda: model(x), repeats=7, warmup=2)
            rows.append(
                Row("volume", "CAE forward one 24x224x224 window", t_fwd, "s", "<= 0.1 s", note)
            )
            rows.extend(_training_step_rows(x, note))
            t_blk = median_time(lambda: rec.block(0), repeats=5, warmup=1)
            rows.append(
                Row(
                    "volume",
                    "reconstruct one window from file (read+scale+CAE)",
                    t_blk,
                    "s",
                    "<= 0.1 s",
                    note,
                )
            )
            cache = ReconstructionCache(rec)
            cache.ensure(0)
            k = [0]

            def step() -> None:
                k[0] = (k[0] + 1) % 24
                orig, recon = cache.slice(k[0])
                _ = recon - orig  # the difference view

            t_step = median_time(step, repeats=50, warmup=3)
            rows.append(
                Row(
                    "volume",
                    "next slice of a cached reconstruction (+ difference)",
                    t_step * 1e3,
                    "ms",
                    "<= 16 ms",
                )
            )
    rows.extend(tortuosity_rows())
    return rows


TORTUOSITY_SHAPE = (251, 301, 301)
"""A labelled volume of issue 22's size (about 23 M voxels)."""


def tortuosity_rows(shape=TORTUOSITY_SHAPE, repeats: int = 3) -> list[Row]:
    """Tortuosity factor of the pores of a synthetic labelled volume: median time of
    ``repeats`` solves, and the peak memory of one solve in a fresh process (VmHWM after
    the solve minus VmHWM with the labels loaded)."""
    import json
    import subprocess
    import sys
    import time

    import numpy as np

    from ratescope.core.synth.volume import VolumeParams, make_volume
    from ratescope.core.volume.tortuosity import tortuosity_factor

    t0 = time.perf_counter()
    labels = make_volume(VolumeParams(shape=shape, compression=0.2, seed=5)).labels
    t_make = time.perf_counter() - t0
    pore = labels == 0
    size = "x".join(map(str, shape))
    results = []
    t = median_time(lambda: results.append(tortuosity_factor(pore)), repeats=repeats, warmup=0)
    r = results[-1]
    note = (
        f"median of {repeats}; tau {r.tau:.3f}, porosity {r.porosity:.3f}, "
        f"{r.unknowns / 1e6:.1f} M unknowns, {r.iterations} CG iterations, "
        f"converged {r.converged}; volume generated in {t_make:.0f} s"
    )
    rows = [Row("volume", f"tortuosity factor, pores of {size} labels", t, "s", "", note)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pore.npy"
        np.save(path, pore, allow_pickle=False)
        code = (
            "import json, numpy as np\n"
            "from ratescope.core.volume.tortuosity import tortuosity_factor\n"
            "def hwm():\n"
            "    s = open('/proc/self/status').read().splitlines()\n"
            "    return next(int(x.split()[1]) for x in s if x.startswith('VmHWM'))\n"
            f"m = np.load({str(path)!r}, allow_pickle=False)\n"
            "base = hwm()\n"
            "r = tortuosity_factor(m)\n"
            "print('PEAK', json.dumps([base, hwm(), r.tau]))\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK ")]
    if lines:
        base, peak, tau = json.loads(lines[-1][5:])
        value, note = (peak - base) / 1024, f"fresh process; peak RSS {peak / 1024:.0f} MB"
    else:
        value, note = float("nan"), f"child failed: {done.stderr[-200:]}"
    rows.append(
        Row("volume", f"tortuosity peak memory, {size} labels", value, "MB", "few GB", note)
    )
    return rows
