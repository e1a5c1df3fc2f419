"""Training one RateCNN (paper 1, §2.6): resumable, deterministic, DDP-aware.

Every random choice is derived from ``(seed, step, rank)`` — the epoch's tile order,
the augmentation and dropout — so a run resumed from a checkpoint at step ``s`` computes
exactly what the uninterrupted run computes (on the same device and thread count).
A checkpoint (one safetensors file, :func:`core.models.store.save_tree`) holds the
weights and buffers, the Lookahead and RAdam state, the early-stopping state with the
best weights, the history and the torch RNG state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.models.ratecnn import RateCNN, RateCNNConfig, tiles_to_tensor
from ratescope.core.models.store import load_tree, save_tree
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train import ddp
from ratescope.core.train.augment import photometric, shift_rotate
from ratescope.core.train.data import TileDataset, seeded
from ratescope.core.train.metrics import predict, scores
from ratescope.core.train.optim import make_optimizer, mape
from ratescope.core.train.schedule import lr_at


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (the paper's values by default)."""

    max_steps: int = 5000
    batch_size: int = 38
    lr_min: float = 1e-5
    lr_max: float = 1e-3
    warmup_frac: float = 0.1
    decay: str = "cosine"
    weight_decay: float = 1e-4
    lookahead_k: int = 6
    lookahead_alpha: float = 0.5
    patience_epochs: int = 100
    augment: bool = True
    max_shift: float = 0.1
    max_degrees: float = 5.0
    photometric: float = 0.0
    seed: int = 0
    checkpoint_every: int = 100
    eval_batch: int = 16
    precision: str = "fp32"
    architecture: RateCNNConfig = field(default_factory=RateCNNConfig)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["architecture"] = self.architecture.as_dict()
        return d


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`: the best model (eval mode, CPU) and its history."""

    model: RateCNN
    best_val_mape: float
    best_step: int
    steps: int
    epochs: int
    stopped_early: bool
    history: list[dict]
    seconds: float
    init: Path | None = None
    """The model file the run was fine-tuned from (None: from scratch)."""


def _normalisation(model: RateCNN, ds: TileDataset, chunk: int = 32) -> None:
    s = torch.zeros(3, dtype=torch.float64)
    s2 = torch.zeros(3, dtype=torch.float64)
    count = 0
    for i in range(0, len(ds), chunk):
        x = tiles_to_tensor(ds.tiles[i : i + chunk]).double()
        s += x.sum(dim=(0, 2, 3))
        s2 += (x * x).sum(dim=(0, 2, 3))
        count += x.numel() // 3
    mean = s / count
    std = (s2 / count - mean * mean).clamp_min(0).sqrt()
    labels = ds.labels.astype(np.float64)  # NaN: not measured
    lm, ls = np.nanmean(labels, 0), np.nanstd(labels, 0)
    lm = np.where(np.isfinite(lm), lm, np.nanmean(labels))  # a C-rate measured nowhere
    ls = np.where(np.isfinite(ls), ls, 1.0)
    model.set_normalisation(mean.numpy(), std.numpy(), lm, ls)


def normalised(ds: TileDataset, norm: str) -> TileDataset:
    """``ds`` with its tiles under the input normalisation ``norm`` (the model's)."""
    if norm == "none":
        return ds
    from dataclasses import replace

    from ratescope.core.model_input import prepare_tiles
    from ratescope.core.predict.normalise import normalise_tiles

    return replace(ds, tiles=normalise_tiles(prepare_tiles(ds.tiles), norm))


def train_model(
    train: TileDataset,
    val: TileDataset,
    config: TrainConfig | None = None,
    device: str = "cpu",
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    init: str | Path | None = None,
    on_step: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train one model with Lookahead(RAdam), MAPE, warm-up + decay and early stopping.

    Parameters
    ----------
    train, val : TileDataset
        Training and validation tiles (split by sample, see :func:`core.train.data.folds`).
    config : TrainConfig, optional
        Hyper-parameters; the paper's by default.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    checkpoint : path, optional
        Checkpoint file, written every ``config.checkpoint_every`` steps and when the run
        is cancelled (rank 0 only).
    resume : bool
        Continue from ``checkpoint`` if it exists.
    progress : ProgressFn, optional
        Called after every step; may raise :class:`~core.errors.Cancelled`, which saves
        the checkpoint and propagates.
    init : path, optional
        A fold model file (e.g. an embedded one) to start from: all its weights and its
        normalisation are taken (fine-tuning every layer); its architecture must be
        ``config.architecture``.
    on_step : callable, optional
        Receives ``{"step", "steps", "train_loss", "val_mape"}`` (``val_mape`` None except
        at the end of an epoch) after every step, before ``progress``.

    Returns
    -------
    TrainResult
        With the weights of the best validation epoch restored.

    Notes
    -----
    Under ``torch.distributed`` (see :mod:`core.train.ddp`) each rank takes its share of
    every global batch of ``batch_size`` and gradients are averaged by DDP.
    """
    cfg = config or TrainConfig()
    if cfg.precision not in ("fp32", "bf16"):
        raise RateScopeError(f"unknown precision {cfg.precision!r} (fp32 or bf16)")
    rank, world_size = ddp.world()
    dev = ddp.local_device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RateScopeError("CUDA was requested but no CUDA device is available")
    n = len(train)
    if n < 2 or len(val) < 1:
        raise RateScopeError(f"too few tiles: {n} for training, {len(val)} for validation")
    batch = min(cfg.batch_size, n)
    per_epoch = max(1, n // batch)
    torch.manual_seed(cfg.seed)
    model = RateCNN(cfg.architecture)
    train, val = (
        normalised(train, cfg.architecture.input_norm),
        normalised(val, cfg.architecture.input_norm),
    )
    if init is not None:
        from ratescope.core.models.store import load_model

        base = load_model(init)[0]
        if base.config.as_dict() != cfg.architecture.as_dict():
            raise RateScopeError("the starting model has another architecture", init)
        model.load_state_dict(base.state_dict())
    else:
        _normalisation(model, train)
    state = {"step": 0, "best": None, "best_val": float("inf"), "best_step": -1,
             "bad_epochs": 0, "history": [], "stopped_early": False,
             "seconds": 0.0}  # fmt: skip
    ckpt = Path(checkpoint) if checkpoint else None
    saved = load_tree(ckpt) if resume and ckpt is not None and ckpt.exists() else None
    if saved is not None:
        # a longer schedule may continue a run (later sessions reach the full 5000 steps);
        # any other change of settings would make the resumed run a different experiment
        # (settings added later take their old behaviour in older checkpoints)
        before = {"precision": "fp32", "photometric": 0.0, **saved["config"], "max_steps": 0}
        before["architecture"] = {"head": "paper", "input_norm": "none",
                                  **before["architecture"]}  # fmt: skip
        if before != {**cfg.as_dict(), "max_steps": 0}:
            raise RateScopeError("the checkpoint was made with other settings", ckpt)
        model.load_state_dict(saved["model"])
        state.update({k: saved[k] for k in state if k in saved})
    model = model.to(device=dev, memory_format=torch.channels_last)
    net = ddp.wrap(model, dev)
    opt = make_optimizer(
        model, lr=cfg.lr_min, weight_decay=cfg.weight_decay,
        k=cfg.lookahead_k, alpha=cfg.lookahead_alpha,
    )  # fmt: skip
    if saved is not None:
        opt.load_state_dict(saved["optim"])
        torch.set_rng_state(saved["rng"])

    t0 = time.perf_counter()
    seconds0 = float(state["seconds"])

    def save() -> None:
        state["seconds"] = seconds0 + time.perf_counter() - t0
        if ckpt is None or rank != 0:
            return
        tree = {
            "config": cfg.as_dict(),
            "model": model.state_dict(),
            "optim": opt.state_dict(),
            "init": str(init) if init is not None else "",
        }
        save_tree(ckpt, {**tree, "rng": torch.get_rng_state(), **state})

    losses: list[float] = []
    last_loss = float("nan")
    net.train()
    while state["step"] < cfg.max_steps and not state["stopped_early"]:
        step = state["step"]
        epoch, within = divmod(step, per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seeded(cfg.seed, epoch)))
        idx = order[within * batch : (within + 1) * batch][rank::world_size].sort().values.numpy()
        x = tiles_to_tensor(train.tiles[idx])
        if cfg.augment:
            gen = torch.Generator().manual_seed(seeded(cfg.seed, step, rank, 1))
            x = shift_rotate(x, gen, cfg.max_shift, cfg.max_degrees)
            x = photometric(x, gen, cfg.photometric)
        x = x.to(dev)
        y = torch.from_numpy(train.labels[idx]).to(dev)
        torch.manual_seed(seeded(cfg.seed, step, rank, 2))  # dropout
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.max_steps, cfg.lr_min, cfg.lr_max,
                                cfg.warmup_frac, cfg.decay)  # fmt: skip
        opt.zero_grad()
        with torch.autocast(dev.type, torch.bfloat16, enabled=cfg.precision == "bf16"):
            out = net(x)
        loss = mape(out.float(), y)
        loss.backward()
        opt.step()
        last_loss = float(loss.detach())
        losses.append(last_loss)
        state["step"] = step + 1
        if within == per_epoch - 1:
            ddp.broadcast_buffers(model)
            pred = predict(model, val.tiles, dev, cfg.eval_batch, normalised=True)
            val_mape = scores(pred, val.labels)["mape"]
            state["history"].append({"epoch": epoch, "step": step + 1, "val_mape": val_mape,
                                     "train_mape": float(np.mean(losses)),
                                     "lr": opt.param_groups[0]["lr"]})  # fmt: skip
            losses.clear()
            if val_mape < state["best_val"]:
                state.update(best_val=val_mape, best_step=step + 1, bad_epochs=0,
                             best={k: v.detach().cpu().clone()
                                   for k, v in model.state_dict().items()})  # fmt: skip
            else:
                state["bad_epochs"] += 1
                state["stopped_early"] = state["bad_epochs"] >= cfg.patience_epochs
            net.train()
        if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
            save()
        if on_step is not None:
            ended = within == per_epoch - 1
            on_step({"step": state["step"], "steps": cfg.max_steps, "train_loss": last_loss,
                     "val_mape": state["history"][-1]["val_mape"] if ended else None})  # fmt: skip
        best = state["best_val"]
        msg = f"step {state['step']}/{cfg.max_steps}  train MAPE {last_loss:.2f} %"
        if state["history"]:
            msg += f"  best val {best:.2f} %"
        try:
            report(progress, state["step"] / cfg.max_steps, msg)
        except Cancelled:
            save()
            raise
    save()
    if state["best"] is not None:
        model.load_state_dict(state["best"])
    model = model.cpu().eval()
    return TrainResult(
        model=model,
        best_val_mape=state["best_val"],
        best_step=state["best_step"],
        steps=state["step"],
        epochs=len(state["history"]),
        stopped_early=bool(state["stopped_early"]),
        history=state["history"],
        seconds=seconds0 + time.perf_counter() - t0,
        init=Path(init) if init is not None else None,
    )


def result_from_checkpoint(checkpoint: str | Path) -> tuple[TrainResult, TrainConfig]:
    """The best weights so far of a (possibly unfinished) run and the run's settings.

    Lets a long CPU run publish what it has learnt between sessions; ``steps`` says how far
    it got (``history`` and ``best_step`` say when the kept weights were the best).
    """
    saved = load_tree(Path(checkpoint))
    cfg = saved["config"]
    model = RateCNN(RateCNNConfig.from_dict(cfg["architecture"]))
    model.load_state_dict(saved["model"])  # normalisation buffers and the last weights
    if saved.get("best") is not None:
        model.load_state_dict(saved["best"])
    config = TrainConfig(**{**cfg, "architecture": RateCNNConfig.from_dict(cfg["architecture"])})
    return TrainResult(
        model=model.eval(),
        best_val_mape=float(saved["best_val"]),
        best_step=int(saved["best_step"]),
        steps=int(saved["step"]),
        epochs=len(saved["history"]),
        stopped_early=bool(saved["stopped_early"]),
        history=list(saved["history"]),
        seconds=float(saved.get("seconds", float("nan"))),
        init=Path(saved["init"]) if saved.get("init") else None,
    ), config
