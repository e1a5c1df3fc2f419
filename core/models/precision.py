"""Inference precision: float32 by default, bfloat16 autocast on request.

On CPUs with AVX512-BF16 / AMX oneDNN runs the RateCNN's convolutions 2-4x faster under
``torch.autocast("cpu", torch.bfloat16)``, but the answer moves: with the embedded models
of 2026-12-02 the sample's predicted curve differed from float32 by up to 3.5 % (one
tile by 5 %), as much as the models' own held-out error, and the model cards' metrics are
float32 figures. So predictions and guided backpropagation run in float32 unless
``RATESCOPE_PRECISION`` = ``bf16`` (always) or ``auto`` (where the CPU has native
bfloat16) asks for the fast path; ``fp32`` is the default.
"""

from __future__ import annotations

import contextlib
import os

import torch

ENV = "RATESCOPE_PRECISION"


def cpu_has_bf16() -> bool:
    """True when this CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX)."""
    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def cpu_has_amx() -> bool:
    """True when this CPU has AMX tiles (where bfloat16 training steps are much faster)."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def emulated_bf16_warning(precision: str, device: torch.device | str = "cpu") -> str:
    """A warning for bfloat16 training on a CPU that must emulate it, else ``""``.

    Without AVX512-BF16 or AMX, oneDNN emulates bfloat16: a batch-38 RateCNN training
    step took 250 s instead of 35 s in float32 (one thread, AVX2 AMD EPYC, 2026-12-03).
    """
    if precision != "bf16" or torch.device(device).type != "cpu" or cpu_has_bf16():
        return ""
    return ("warning: bfloat16 was asked for, but this CPU has no native bfloat16 "
            "(AVX512-BF16 or AMX); emulated, a training step can be 7x slower than in "
            "float32 (--precision fp32)")  # fmt: skip


def inference_precision(device: torch.device | str = "cpu") -> str:
    """``"bf16"`` or ``"fp32"``: what :func:`inference_autocast` uses on ``device``."""
    wanted = os.environ.get(ENV, "fp32").strip().lower()
    if wanted in ("fp32", "bf16"):
        return wanted
    return "bf16" if torch.device(device).type == "cpu" and cpu_has_bf16() else "fp32"


def inference_autocast(device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """Autocast context for prediction forwards on ``device`` (a no-op in float32)."""
    dev = torch.device(device)
    if inference_precision(dev) != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(dev.type, torch.bfloat16)
