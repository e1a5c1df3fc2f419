"""``main.py train --mosaics DIR --measured CSV`` / ``--dataset DS.h5`` (see cli/train.py).

Review -> data set -> k-fold training per unit -> ``OUT/card.json``, with optional JSON
lines on stdout for the GUI and a gentle stop on SIGINT/SIGTERM (checkpoint, then exit 1
with a ``cancelled`` event; ``--resume`` continues).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from ratescope.cli.common import fail
from ratescope.core.errors import Cancelled, RateScopeError

HEAD_STEPS = 600
FULL_STEPS = 5000


def _plain(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _plain(obj.item())
    return obj


class Events:
    """JSON lines on stdout (``--progress-jsonl``), one object per line, flushed."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, event: dict) -> None:
        if self.enabled:
            print(json.dumps(_plain(event)), flush=True)


class Stop:
    """SIGINT/SIGTERM set a flag; the next progress report raises Cancelled."""

    def __init__(self):
        self.requested = False
        self.previous: dict = {}

    def __enter__(self) -> Stop:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: no signal handling
            pass
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def check(self) -> None:
        if self.requested:
            raise Cancelled("stopped (SIGINT/SIGTERM)")


def review_table(review) -> str:
    """The review as aligned text lines."""
    lines = [f"{'file':32} {'electrode':16} {'status':15} {'tiles':>5} {'angle':>7}  reasons"]
    for r in review.rows:
        angle = "" if r.angle_deg is None else f"{r.angle_deg:6.2f}°"
        src = " (session)" if r.from_session else ""
        lines.append(f"{r.path.name[:32]:32} {r.name[:16]:16} {r.status:15} {r.tiles_kept:5d} "
                     f"{angle:>7}  {'; '.join(r.reasons)}{src}")  # fmt: skip
    lines += [f"CSV {m}" for m in review.unmatched_messages()]
    lines += review.problems
    lines.append(review.summary())
    return "\n".join(lines)


def _command() -> str:
    argv = sys.argv[2:] if sys.argv[1:2] == ["train"] else []
    return "python main.py train " + shlex.join(argv) if argv else ""


def run_lab(args: argparse.Namespace) -> int:
    """The lab-data training path of ``main.py train``."""
    events = Events(args.progress_jsonl)
    with Stop() as stop:
        try:
            return _run(args, events, stop)
        except Cancelled as exc:
            events({"event": "cancelled", "message": f"{exc}; continue with --resume",
                    "out": str(args.out)})  # fmt: skip
            return fail("cancelled; continue with --resume")
        except RateScopeError as exc:
            events({"event": "error", "message": str(exc)})
            return fail(exc)


def _run(args: argparse.Namespace, events: Events, stop: Stop) -> int:
    from ratescope.cli.train import _Bar

    out = Path(args.out)
    rank0 = int(os.environ.get("RANK", "0")) == 0
    bar = _Bar(rank0 and not args.progress_jsonl)

    def progress(frac: float, msg: str) -> None:
        stop.check()
        bar(frac, msg)

    text = sys.stderr if args.progress_jsonl else sys.stdout
    if args.mosaics and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RateScopeError("under torchrun, write the data set first (--prepare-only) and "
                             "train with --dataset OUT/dataset.h5")  # fmt: skip
    if args.mosaics:
        from ratescope.core.train.mosaic_set import review_mosaics, write_dataset

        if not args.measured:
            raise RateScopeError("give --measured CSV with --mosaics")
        review = review_mosaics(args.mosaics, args.measured, progress=progress)
        if rank0:
            print(review_table(review), file=text, flush=True)
        events({"event": "review", "rows": [r.to_dict() for r in review.rows],
                "unmatched": review.unmatched_messages(), "problems": review.problems,
                "summary": review.summary()})  # fmt: skip
        dataset = out / "dataset.h5"
        if rank0:
            out.mkdir(parents=True, exist_ok=True)
            write_dataset(review, dataset, progress=progress)
    else:
        dataset = Path(args.dataset)
    if args.prepare_only:
        events({"event": "done", "out": str(out), "dataset": str(dataset), "summary": {}})
        return 0
    return _train(args, dataset, out, events, progress, stop)


def _train(args, dataset: Path, out: Path, events: Events, progress, stop: Stop) -> int:
    import torch

    from ratescope.core.resources import MODELS
    from ratescope.core.train import ddp
    from ratescope.core.train.finetune import FinetuneConfig, finetune_cv, model_card
    from ratescope.core.train.mosaic_set import dataset_units, load_dataset

    init = args.init or "embedded"
    mode = args.mode or ("head" if init == "embedded" else "full")
    if init == "scratch" and mode == "head":
        raise RateScopeError("--mode head fine-tunes existing models: use --init embedded")
    units = [args.unit] if args.unit else dataset_units(dataset)
    steps = args.steps or (HEAD_STEPS if mode == "head" else FULL_STEPS)
    init_dir = Path(args.init_models) if args.init_models else Path(MODELS)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    distributed = ddp.init_from_env(device)
    rank, world_size = ddp.world()
    if distributed and mode == "head":
        raise RateScopeError("head fine-tuning runs in one process; use --mode full with torchrun")
    if args.threads or distributed:
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world_size))
    events({"event": "start", "folds": args.folds, "steps": steps, "units": units,
            "mode": mode, "init": init, "device": str(device), "dataset": str(dataset),
            "world_size": world_size})  # fmt: skip
    summaries: dict = {}
    try:
        for unit in units:
            data = load_dataset(dataset, unit)
            if mode == "head":
                cfg = FinetuneConfig(steps=steps, seed=args.seed,
                                     checkpoint_every=args.checkpoint_every)  # fmt: skip
                summaries[unit] = finetune_cv(data, out, args.folds, init_dir, cfg, args.resume,
                                              progress, events, _command())  # fmt: skip
                continue
            summaries[unit] = _full(args, data, out, device, init, init_dir, steps, progress,
                                    events)  # fmt: skip
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if rank != 0:
        return 0
    data_info = {"source": str(dataset), "electrodes": int(len(set(data.groups.tolist()))),
                 "tiles": len(data), "measured_csv": data.source}  # fmt: skip
    card = model_card(summaries, args.name or out.name, data_info)
    card["training"] = {"init": init, "mode": mode, "steps": steps, "folds": args.folds,
                        "seed": args.seed, "device": str(device),
                        "command": _command()}  # fmt: skip
    (out / "card.json").write_text(json.dumps(_plain(card), indent=2) + "\n", encoding="utf-8")
    held = {u: s.get("held_out", {}) for u, s in summaries.items()}
    events({"event": "done", "out": str(out), "summary": held})
    if not args.progress_jsonl:
        for u, h in held.items():
            emb = h.get("embedded_mape")
            versus = "" if emb is None else f" vs the embedded model {emb:.2f} %"
            n = h.get("electrodes")
            on = f" on {n} held-out electrodes" if n else " (mean over the folds' test sets)"
            print(f"{u}: held-out MAPE {h.get('mape', float('nan')):.2f} %{versus}{on}")
        print(f"models in {out}; register them with: main.py models add {out}")
    return 0


def _full(args, data, out, device, init, init_dir, steps, progress, events) -> dict:
    from ratescope.cli.train import _precision
    from ratescope.core.models.ratecnn import RateCNNConfig
    from ratescope.core.models.store import load_model
    from ratescope.core.train.cv import cross_validate
    from ratescope.core.train.finetune import embedded_fold_files
    from ratescope.core.train.loop import TrainConfig

    files = embedded_fold_files(init_dir, data.unit) if init == "embedded" else None
    arch = (load_model(files[0])[0].config if files
            else RateCNNConfig(head=args.head, input_norm=args.input_norm))  # fmt: skip
    cfg = TrainConfig(max_steps=steps, batch_size=args.batch, patience_epochs=args.patience,
                      seed=args.seed, checkpoint_every=args.checkpoint_every,
                      precision=_precision(args.precision, device),
                      photometric=args.photometric, architecture=arch)  # fmt: skip
    t0 = time.perf_counter()

    def with_eta(event: dict) -> None:
        if event.get("event") == "step":
            frac = (event["fold"] + event["step"] / max(1, event["steps"])) / args.folds
            elapsed = time.perf_counter() - t0
            event["eta_s"] = round(elapsed * (1 - frac) / frac, 1) if frac > 0 else None
        events(event)

    summary = cross_validate(data, out, k=args.folds, config=cfg, device=device,
                             resume=args.resume, command=_command(), progress=progress,
                             init=files, on_event=with_eta)  # fmt: skip
    summary["mode"] = "full"
    summary["held_out"] = {"mape": summary.get("test_mape_mean"),
                           "what": "mean test MAPE (tiles) over the folds"}  # fmt: skip
    return summary
