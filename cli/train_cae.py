"""``python main.py train-cae``: train the paper's 3D CAE (resumable) and write weights + card.

Without ``--volumes`` it trains on seeded synthetic three-phase volumes (core.synth.volume)
and evaluates on held-out synthetic volumes made with other seeds.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from cli.common import fail, write_json

HELP = "train the 3D convolutional autoencoder (paper 2) on label volumes"

PAPER = {
    "train_mse": 0.068,
    "val_mse": 0.071,
    "fit_p": 0.095,
    "reconstruction_p": 0.473,
    "note": "Faraji Niri et al. 2022, Table 6/7 (stride 1, l = 24, real NMC532 "
    "tomography, 3500 epochs, unknown input scaling)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--volumes", nargs="*", help="label volumes (TIFF/HDF5/folder); default: synthetic"
    )
    p.add_argument("--dataset", help="HDF5 dataset name (when a file holds several)")
    p.add_argument("--synthetic", type=int, default=6, help="number of synthetic volumes")
    p.add_argument("--depth", type=int, default=72, help="slices per synthetic volume")
    p.add_argument("--heldout", type=int, default=2, help="held-out synthetic volumes")
    p.add_argument("--window", type=int, default=24)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--epochs", type=int, default=3500)
    p.add_argument("--minutes", type=float, help="stop after this much training time")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    p.add_argument(
        "--checkpoint",
        default="cae_checkpoint.safetensors",
        help="resumed from if present, rewritten every epoch",
    )
    p.add_argument("--out", default="resources/models/cae.safetensors")
    p.add_argument("--json", help="also write the model card here")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return False


def _progress(every: float = 30.0):
    last = [0.0]

    def fn(frac: float, msg: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every or frac >= 1.0:
            last[0] = now
            print(f"[{frac:6.1%}] {msg}", flush=True)

    return fn


def run(args: argparse.Namespace) -> int:
    import torch

    from core.errors import RateScopeError
    from core.models.cae import parameter_counts, save_model
    from core.models.cae_train import TrainConfig, WindowSet, train_cae, window_mse
    from core.synth import volume as synth
    from core.volume.phases import Scaling
    from core.volume.stats import mse_ttest, reconstruction_ttest

    if args.volumes:
        from core.volume.io import open_volume, scaling_for

        try:
            sources = [open_volume(v, dataset=args.dataset) for v in args.volumes]
        except RateScopeError as e:
            return fail(e)
        vols, scalings = sources, [scaling_for(s) for s in sources]
        data_desc = {"kind": "user volumes", "files": [str(v) for v in args.volumes]}
        heldout = []
    else:
        made = synth.training_set(args.synthetic, (args.depth, 224, 224), seed=100)
        vols, scalings = [m.labels for m in made], [Scaling()] * len(made)
        data_desc = {
            "kind": "SYNTHETIC three-phase packed polydisperse spheres "
            "(core.synth.volume.training_set)",
            "volumes": [m.metadata() for m in made],
        }
        heldout = synth.training_set(args.heldout, (args.depth, 224, 224), seed=900)
    data = WindowSet(vols, scalings, args.window, args.stride)
    cfg = TrainConfig(
        window=args.window,
        stride=args.stride,
        batch=args.batch,
        lr=args.lr,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        max_minutes=args.minutes,
    )
    print(
        f"{len(data)} mini-volumes of {args.window} x 224 x 224 (stride {args.stride}), "
        f"device {args.device}, {torch.get_num_threads()} threads",
        flush=True,
    )
    result = train_cae(data, cfg, checkpoint=args.checkpoint, progress=_progress())
    counts = parameter_counts(result.model)
    print(f"encoder {counts['encoder']:,} parameters, decoder {counts['decoder']:,}")
    card = {
        "name": "RateScope 3D CAE (Faraji Niri et al. 2022 architecture)",
        "date": time.strftime("%Y-%m-%d"),
        "training_data": data_desc,
        "input_scaling": "labels -> pore -1, carbon-binder 0, active +1 "
        "(core.volume.phases); MSE in these units",
        "split": {
            "train_windows": result.n_train,
            "val_windows": result.n_val,
            "method": "random 85/15 over all windows (the paper's)",
            "seed": args.seed,
        },
        "hyperparameters": {
            "optimizer": "Adam",
            "lr": args.lr,
            "batch": args.batch,
            "loss": "MSE",
            "window": args.window,
            "stride": args.stride,
        },
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "history": result.history,
        "hardware": f"{args.device}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads",
        "metrics": {
            "train_mse": float(result.train_mse.mean()),
            "val_mse": float(result.val_mse.mean()),
            "fit_ttest": result.fit_test.as_dict() if result.fit_test else None,
            "reconstruction_ttest": result.recon_test.as_dict() if result.recon_test else None,
        },
        "paper": PAPER,
        "command": "python main.py " + " ".join(sys.argv[1:]),
    }
    if heldout:
        hd = WindowSet(
            [m.labels for m in heldout], [Scaling()] * len(heldout), args.window, args.stride
        )
        ho = window_mse(result.model, hd, range(len(hd)), args.batch, args.device)
        x = hd.batch([len(hd) // 2]).to(args.device)
        with torch.inference_mode():
            y = result.model(x)
        card["metrics"]["heldout"] = {
            "volumes": [m.metadata() for m in heldout],
            "windows": len(hd),
            "mse": float(ho.mean()),
            "mse_std": float(ho.std(ddof=1)),
            "train_vs_heldout_ttest": mse_ttest(result.train_mse, ho).as_dict(),
            "reconstruction_ttest": reconstruction_ttest(
                x.cpu().numpy(), y.cpu().numpy()
            ).as_dict(),
        }
    save_model(result.model, args.out, card)
    m = card["metrics"]
    print(
        f"train MSE {m['train_mse']:.4f}  val MSE {m['val_mse']:.4f}  "
        f"fit p = {m['fit_ttest']['pvalue'] if m['fit_ttest'] else float('nan'):.3g}  "
        f"(paper: 0.068 / 0.071 / p = 0.095)"
    )
    if "heldout" in m:
        print(
            f"held-out MSE {m['heldout']['mse']:.4f}, reconstruction p = "
            f"{m['heldout']['reconstruction_ttest']['pvalue']:.3g} (paper 0.473)"
        )
    print(f"written {args.out} (+ .json)")
    if args.json:
        write_json(card, args.json)
    return 0
