"""DistributedDataParallel helpers: ``torchrun`` start-up, a spawner, buffer sync.

Batch norm under DDP: on CUDA the model's BatchNorm layers become ``SyncBatchNorm``
(statistics over the global batch). ``SyncBatchNorm`` has no CPU kernel, so on CPU
(gloo) each rank normalises with the statistics of its own share of the batch (batch 38
on two ranks: 19 each) and the running statistics are broadcast from rank 0 before every
forward (DDP's ``broadcast_buffers``) and before every evaluation
(:func:`broadcast_buffers`), so all ranks hold identical weights and buffers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on rank 0 (or when not distributed): the rank that writes files."""
    return world()[0] == 0


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group described by ``torchrun``'s environment, if any.

    Returns True when running distributed (``WORLD_SIZE`` > 1). Uses gloo on CPU and
    NCCL on CUDA (each rank then uses GPU ``LOCAL_RANK``).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    if str(device).startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def local_device(device: str) -> torch.device:
    """The device of this rank (``cuda:LOCAL_RANK`` for CUDA)."""
    if str(device).startswith("cuda") and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(device)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """Wrap ``model`` in DDP when distributed (SyncBatchNorm on CUDA), else return it."""
    if world()[1] == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)


def broadcast_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BN running statistics) to all ranks; no-op if not distributed."""
    if world()[1] == 1:
        return
    for b in model.buffers():
        dist.broadcast(b, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, world_size: int, port: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def spawn_cpu(
    fn: Callable[..., Any], world_size: int, *args: Any, start_method: str = "spawn"
) -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` CPU processes joined by gloo.

    ``fn`` must be importable (a module-level function). ``start_method="fork"`` starts
    much faster (no fresh ``import torch``) and is safe when the children run
    single-threaded, as :func:`train_spawned_cpu` does. Raises if any rank fails.
    """
    mp.start_processes(
        _entry, args=(world_size, _free_port(), fn, args), nprocs=world_size,
        join=True, start_method=start_method,
    )  # fmt: skip


def _train_rank(rank: int, train: Any, val: Any, config: Any, checkpoint: Any, out: str) -> None:
    from ratescope.core.models.store import save_tree
    from ratescope.core.train.loop import train_model

    torch.set_num_threads(1)
    res = train_model(train, val, config, "cpu", checkpoint=checkpoint if rank == 0 else None)
    save_tree(
        f"{out}/rank{rank}.safetensors",
        {"state": res.model.state_dict(), "best_val_mape": res.best_val_mape, "steps": res.steps},
    )


def train_spawned_cpu(
    train: Any,
    val: Any,
    config: Any = None,
    world_size: int = 2,
    checkpoint: Any = None,
    start_method: str = "spawn",
) -> list[dict]:
    """Train one model with DDP over ``world_size`` local CPU processes (gloo).

    The same as ``torchrun --nproc_per_node N main.py train ...`` but from Python. Each
    process uses one thread. Returns, per rank, ``{"state": state_dict, "best_val_mape",
    "steps"}``; all ranks end with the same weights. ``start_method`` as in
    :func:`spawn_cpu`.
    """
    import tempfile

    from ratescope.core.models.store import load_tree

    with tempfile.TemporaryDirectory() as tmp:
        spawn_cpu(
            _train_rank, world_size, train, val, config, checkpoint, tmp, start_method=start_method
        )
        return [load_tree(f"{tmp}/rank{r}.safetensors") for r in range(world_size)]
