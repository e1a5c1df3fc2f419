"""``python main.py train-cae``: train the paper's 3D CAE (resumable) and write weights + card.

Without ``--volumes`` it trains on seeded synthetic three-phase volumes with randomly drawn
geometry (core.synth.volume_sets), split **by volume**: training volumes, validation
volumes (model selection) and held-out volumes (never used while training), from disjoint
seed ranges; ``--split window`` instead splits the training volumes' windows 85/15 at random
(the paper's protocol, whose validation windows overlap training windows) and keeps the
held-out volumes. With ``--volumes`` the windows are split 85/15 at random (the paper's), or by
volume when ``--val-volumes`` is given. Rerunning the same command resumes from
``--checkpoint``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from ratescope.cli.common import fail, save_json

HELP = "train the 3D convolutional autoencoder (paper 2) on label volumes"

PAPER = {
    "train_mse": 0.068,
    "val_mse": 0.071,
    "fit_p": 0.095,
    "reconstruction_p": 0.473,
    "note": "Faraji Niri et al. 2022, Table 6/7 (stride 1, l = 24, real NMC532 "
    "tomography, 3500 epochs, unknown input scaling)",
}
SEEDS = {"train": 100, "val": 500, "heldout": 900}
"""First seed of each synthetic family (disjoint ranges)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--volumes", nargs="*", help="label volumes (TIFF/HDF5/folder); default: synthetic"
    )
    p.add_argument("--val-volumes", nargs="*", help="validation volumes (split by volume)")
    p.add_argument("--dataset", help="HDF5 dataset name (when a file holds several)")
    p.add_argument("--synthetic", type=int, default=24, help="synthetic training volumes")
    p.add_argument("--val-synthetic", type=int, default=4, help="synthetic validation volumes")
    p.add_argument("--heldout", type=int, default=4, help="held-out synthetic volumes")
    p.add_argument(
        "--split",
        choices=("volume", "window"),
        default="volume",
        help="synthetic: validate on other volumes, or on a random 15 %% of the training "
        "volumes' windows (the paper's)",
    )
    p.add_argument("--depth", type=int, default=48, help="slices per synthetic volume")
    p.add_argument("--synthetic-plane", type=int, default=256, help="in-plane size (>= 224)")
    p.add_argument("--window", type=int, default=24)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3500)
    p.add_argument("--epoch-windows", type=int, help="training windows per epoch (subset)")
    p.add_argument("--eval-windows", type=int, default=200, help="training windows evaluated")
    p.add_argument("--minutes", type=float, help="stop after this much training time")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--checkpoint",
        default="cae_checkpoint.safetensors",
        help="resumed from if present, rewritten every epoch",
    )
    p.add_argument("--init", help="start from these CAE weights (when no checkpoint exists)")
    p.add_argument("--out", default="resources/models/cae.safetensors")
    p.add_argument("--json", help="also write the model card here")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return False


def _threads() -> str:
    from ratescope.core.train.cv import thread_count

    return thread_count()


def card_steps(card: dict) -> int | None:
    """Adam steps a card's training took (its own and those of the weights it started from)."""
    hp, hist = card.get("hyperparameters", {}), card.get("history")
    if not hist or "batch" not in hp:
        return None
    n = card["split"]["train_windows"]
    per_epoch = -(-min(hp.get("epoch_windows") or n, n) // hp["batch"])
    before = (card.get("initialised_from") or {}).get("steps") or 0
    return before + per_epoch * len(hist)


def _progress(every: float = 30.0):
    last = [0.0]

    def fn(frac: float, msg: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every or frac >= 1.0:
            last[0] = now
            print(f"[{frac:6.1%}] {msg}", flush=True)

    return fn


def _precision(args) -> str:
    """``auto``: bfloat16 autocast on AMX CPUs for l = 24 (the verified case: 1.8x faster
    steps on a Sapphire Rapids); float32 otherwise (on an AMD EPYC with AVX512-BF16 but no
    AMX a bf16 step took 0.34 s against 0.21 s in float32; torch 2.x's oneDNN crashed in the
    bf16 backward of the l = 4 network)."""
    from ratescope.core.models.precision import cpu_has_amx, emulated_bf16_warning

    if args.precision != "auto":
        if note := emulated_bf16_warning(args.precision, args.device):
            print(note, file=sys.stderr)
        return args.precision
    fast = args.device == "cpu" and cpu_has_amx() and args.window == 24
    return "bf16" if fast else "fp32"


def _user_sets(args):
    from ratescope.core.models.cae_data import WindowSet
    from ratescope.core.volume.io import open_volume, scaling_for

    def load(paths, stride):
        sources = [open_volume(v, dataset=args.dataset) for v in paths]
        return WindowSet(sources, [scaling_for(s) for s in sources], args.window, stride)

    train = load(args.volumes, args.stride)
    val = load(args.val_volumes, args.window) if args.val_volumes else None
    desc = {"kind": "user volumes", "files": [str(v) for v in args.volumes]}
    if args.val_volumes:
        desc["validation_files"] = [str(v) for v in args.val_volumes]
    return train, val, None, desc


def _synthetic_sets(args):
    from ratescope.core.models.cae_data import WindowSet
    from ratescope.core.synth.volume_sets import RANGES, varied_set
    from ratescope.core.volume.phases import Scaling

    shape = (args.depth, args.synthetic_plane, args.synthetic_plane)
    made = {}
    counts = {"train": args.synthetic, "val": args.val_synthetic if args.split == "volume" else 0}
    for name, n in counts.items():
        made[name] = varied_set(n, shape, SEEDS[name], progress=_progress())
    made["heldout"] = varied_set(args.heldout, shape, SEEDS["heldout"]) if args.heldout else []

    def windows(vols, stride):
        if not vols:
            return None
        return WindowSet([m.labels for m in vols], [Scaling()] * len(vols), args.window, stride)

    desc = {
        "kind": "SYNTHETIC three-phase packed polydisperse spheres "
        "(core.synth.volume_sets.varied_set)",
        "parameter_ranges": RANGES,
        "volumes": {k: [m.metadata() for m in v] for k, v in made.items()},
    }
    # validation and held-out windows at stride l: independent (non-overlapping) windows
    return (
        windows(made["train"], args.stride),
        windows(made["val"], args.window),
        windows(made["heldout"], args.window),
        desc,
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from ratescope.core.errors import RateScopeError
    from ratescope.core.models.cae import parameter_counts, save_model
    from ratescope.core.models.cae_card import heldout_metrics, summary_lines, train_metrics
    from ratescope.core.models.cae_train import TrainConfig, train_cae

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data, val, heldout, data_desc = _user_sets(args) if args.volumes else _synthetic_sets(args)
    except RateScopeError as e:
        return fail(e)
    cfg = TrainConfig(
        window=args.window,
        stride=args.stride,
        batch=args.batch,
        lr=args.lr,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        max_minutes=args.minutes,
        precision=_precision(args),
        augment=args.augment,
        epoch_windows=args.epoch_windows,
        eval_windows=args.eval_windows,
    )
    print(
        f"{len(data)} training mini-volumes of {args.window} x 224 x 224 (stride "
        f"{args.stride}), {len(val) if val else 'random 15 %'} validation, device "
        f"{args.device}, {cfg.precision}, {_threads()}",
        flush=True,
    )
    init = None
    if args.init:
        from ratescope.core.models.cae import load_model

        try:
            init_model, init_card = load_model(args.init)
        except RateScopeError as e:
            return fail(e)
        if init_model.window != args.window:
            return fail(RateScopeError(f"the weights are for l = {init_model.window}", args.init))
        init = init_model.state_dict()
    result = train_cae(data, cfg, args.checkpoint, _progress(), val_data=val, init=init)
    started_from = {}
    if init is not None:
        info = {"file": args.init, "date": init_card.get("date"), "steps": card_steps(init_card)}
        started_from["initialised_from"] = info
    counts = parameter_counts(result.model)
    print(f"encoder {counts['encoder']:,} parameters, decoder {counts['decoder']:,}")
    split = (
        "by volume: training windows (stride "
        f"{args.stride}) and validation windows (stride {args.window}) from different volumes"
        if val is not None
        else "random 85/15 over all windows (the paper's)"
    )
    card = {
        "name": "RateScope 3D CAE (Faraji Niri et al. 2022 architecture)",
        "date": time.strftime("%Y-%m-%d"),
        "training_data": data_desc,
        "input_scaling": "labels -> pore -1, carbon-binder 0, active +1 "
        "(core.volume.phases); MSE in these units",
        "split": {
            "train_windows": result.n_train,
            "val_windows": result.n_val,
            "method": split,
            "seed": args.seed,
        },
        "hyperparameters": {
            "optimizer": "Adam",
            "lr": args.lr,
            "batch": args.batch,
            "loss": "MSE (float32)",
            "window": args.window,
            "stride": args.stride,
            "precision": cfg.precision,
            "augment": cfg.augment,
            "epoch_windows": cfg.epoch_windows,
        },
        **started_from,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "hardware": f"{args.device}, {platform.processor() or platform.machine()}, {_threads()}",
        "metrics": train_metrics(result),
        "paper": PAPER,
        "command": "python main.py train-cae " + " ".join(sys.argv[2:]),
    }
    if heldout is not None:
        card["metrics"]["heldout"] = heldout_metrics(
            result, heldout, args.batch, args.device, train=data
        )
    save_model(result.model, args.out, card)
    for line in summary_lines(card["metrics"]):
        print(line)
    print(f"written {args.out} (+ .json)")
    return save_json(card, args.json) if args.json else 0
