"""``python main.py train``: k-fold training of the rate-capability CNN on a lab's data.

From a folder of mosaics and a CSV of measured capacities (review -> data set -> training;
:mod:`core.train.mosaic_set`, :mod:`core.train.measured`)::

    python main.py train --mosaics DIR --measured CSV [--init embedded|scratch] \\
        [--mode head|full] [--folds K] --out DIR [--steps N] [--resume] [--device auto]

``--init embedded`` (default) fine-tunes the embedded ensemble: ``--mode head`` (default)
refits the dense heads on frozen convolutional features (seconds to minutes on a CPU,
:mod:`core.train.finetune`); ``--mode full`` trains every layer from the embedded weights.
``--init scratch`` trains new networks (full). The review table is printed, the data set
written to ``OUT/dataset.h5``; ``--dataset DS.h5`` trains from such a file again.
``--progress-jsonl`` prints one JSON object per line on stdout (``start``, ``review``,
``step``, ``fold``, ``done``, ``cancelled``, ``error``) for the GUI. SIGINT/SIGTERM stop
at the next step with a checkpoint; ``--resume`` continues and ends with the result of an
uninterrupted run (same seed, device and threads). ``OUT/card.json`` holds the held-out
MAPE of the new model and of the embedded one on the same electrodes; register the
folder with ``main.py models add OUT --name NAME``.

From tile folders (cropped active-layer images)::

    python main.py train --tiles DIR --labels CSV --unit specific --folds 5 \\
        --out resources/models/mylab [--steps N] [--resume] [--device cpu|cuda]

Several processes (DistributedDataParallel; gloo on CPU, NCCL on CUDA)::

    torchrun --nproc_per_node 2 main.py train --tiles DIR --labels CSV ...

Several machines (full training; write the data set once, copy it to every machine)::

    python main.py train --mosaics DIR --measured CSV --out run --prepare-only
    # on each of N machines (node rank 0..N-1), same command, same address of node 0:
    torchrun --nnodes N --nproc_per_node 1 --node_rank R --master_addr HOST0 \\
        --master_port 29500 main.py train --dataset run/dataset.h5 --init scratch \\
        --folds 5 --out run --device cuda

Rank 0 writes the models (on its machine); ``--mode head`` runs in one process only.

``--synthetic`` trains on the project's synthetic electrodes instead of ``--tiles`` and
``--labels``: it calls ``build_training_set(unit, progress)`` of the module named by
:data:`SYNTHETIC_BUILDER` (returning a :class:`core.train.data.TileDataset`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import time

from ratescope.cli.common import fail
from ratescope.core.errors import Cancelled, RateScopeError

INPUT_NORMS = ["phases", "robust", "none"]

HELP = "train the rate-capability CNN (k-fold ensemble) on tiles and measured capacities"

SYNTHETIC_BUILDER = "ratescope.core.train.synthetic"
"""Module providing ``build_training_set(unit, progress) -> TileDataset`` for --synthetic."""


def _precision(wanted: str, device: str) -> str:
    from ratescope.core.models.precision import cpu_has_bf16, emulated_bf16_warning

    if wanted != "auto":
        if note := emulated_bf16_warning(wanted, device):
            print(note, file=sys.stderr)
        return wanted

    return "bf16" if str(device) == "cpu" and cpu_has_bf16() else "fp32"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("data")
    src.add_argument("--tiles", help="folder of tile images (one sub-folder or prefix per sample)")
    src.add_argument("--labels", help="CSV of measured capacities: sample,unit,0.2C,1C,2C,3C,5C")
    src.add_argument("--synthetic", action="store_true", help="use the synthetic data set")
    src.add_argument("--mosaics", help="folder of mosaics (CZI, ZVI, TIFF, PNG, JPEG)")
    src.add_argument("--measured", help="CSV of measured capacities (with --mosaics)")
    src.add_argument("--dataset", help="a data set file written by --mosaics (dataset.h5)")
    p.add_argument(
        "--unit",
        choices=["specific", "volumetric"],
        help="unit to train (required with --tiles/--synthetic; default: every unit measured)",
    )
    p.add_argument(
        "--init",
        choices=["embedded", "scratch"],
        help="start from the embedded ensemble (default for --mosaics/--dataset) or new weights",
    )
    p.add_argument(
        "--mode",
        choices=["head", "full"],
        help="head: refit the dense heads on frozen features (default with --init embedded); "
        "full: train every layer",
    )
    p.add_argument("--init-models", help="models folder to start from (default: embedded)")
    p.add_argument("--name", help="model name for OUT/card.json (default: the folder name)")
    p.add_argument("--progress-jsonl", action="store_true", help="JSON lines on stdout")
    p.add_argument(
        "--prepare-only", action="store_true", help="review and write OUT/dataset.h5, no training"
    )
    p.add_argument("--folds", type=int, default=5, help="k of k-fold cross-validation")
    p.add_argument("--out", required=True, help="output folder for the fold models")
    p.add_argument(
        "--steps",
        type=int,
        help="maximum training steps per fold (default 5000; head fine-tuning 600)",
    )
    p.add_argument("--batch", type=int, default=38, help="batch size")
    p.add_argument("--patience", type=int, default=100, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="bf16 autocast of the forward pass (auto: on CPUs with AMX/AVX512-BF16)",
    )
    p.add_argument(
        "--photometric",
        type=float,
        default=0.0,
        metavar="S",
        help="random contrast/brightness/gamma/gray of strength S, e.g. 0.3, for images "
        "from other microscopes (default 0: the paper's recipe)",
    )
    p.add_argument(
        "--head",
        choices=["monotone", "paper"],
        default="monotone",
        help="output head: monotone (capacity >= 0, never rising with C-rate; default) or "
        "the paper's linear output (for comparison)",
    )
    p.add_argument(
        "--input-norm",
        choices=INPUT_NORMS,  # core.predict.normalise.NORMALISATIONS (that imports torch)
        default=INPUT_NORMS[0],
        help="tile normalisation before the network (default phases: segment particles vs "
        "the rest and repaint them at one look; robust: per-tile standardisation; none: the "
        "paper's raw input)",
    )


class _Bar:
    """A one-line text progress bar on stderr (rank 0 only)."""

    def __init__(self, enabled: bool):
        self.enabled, self.t0, self.last = enabled, time.perf_counter(), 0.0

    def __call__(self, frac: float, msg: str) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.5 and frac < 1.0):
            return
        self.last = now
        n = int(30 * frac)
        eta = (now - self.t0) * (1 - frac) / frac if frac > 0 else 0.0
        sys.stderr.write(f"\r[{'#' * n}{'.' * (30 - n)}] {frac:6.1%} eta {eta / 60:5.1f} min {msg}")
        sys.stderr.write("\033[K")
        sys.stderr.flush()
        if frac >= 1.0:
            sys.stderr.write("\n")


def _dataset(args: argparse.Namespace, bar: _Bar):
    if args.synthetic:
        try:
            builder = importlib.import_module(SYNTHETIC_BUILDER)
        except ImportError as exc:
            raise RateScopeError(
                f"the synthetic training set builder ({SYNTHETIC_BUILDER}) is not available"
            ) from exc
        return builder.build_training_set(args.unit, progress=bar)
    if not args.tiles or not args.labels:
        raise RateScopeError("give --tiles DIR and --labels CSV (or --synthetic)")
    from ratescope.core.train.labdata import load_lab_dataset

    return load_lab_dataset(args.tiles, args.labels, args.unit, progress=bar)


def run(args: argparse.Namespace) -> int:
    if args.mosaics or args.dataset:
        from ratescope.cli._train_lab import run_lab

        return run_lab(args)
    if not args.unit:
        return fail("give --unit with --tiles/--synthetic")
    if args.steps is None:
        args.steps = 5000
    import torch

    from ratescope.core.models.ratecnn import RateCNNConfig
    from ratescope.core.train import ddp
    from ratescope.core.train.cv import cross_validate
    from ratescope.core.train.loop import TrainConfig

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    distributed = ddp.init_from_env(device)
    rank, world_size = ddp.world()
    if args.threads or distributed:
        torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world_size))
    bar = _Bar(rank == 0)
    try:
        data = _dataset(args, bar)
        cfg = TrainConfig(
            max_steps=args.steps,
            batch_size=args.batch,
            patience_epochs=args.patience,
            seed=args.seed,
            checkpoint_every=args.checkpoint_every,
            precision=_precision(args.precision, device),
            photometric=args.photometric,
            architecture=RateCNNConfig(head=args.head, input_norm=args.input_norm),
        )
        argv = sys.argv[2:] if sys.argv[1:2] == ["train"] else []
        command = "python main.py train " + shlex.join(argv) if argv else ""
        summary = cross_validate(
            data, args.out, k=args.folds, config=cfg, device=device, resume=args.resume,
            command=command, progress=bar,
        )  # fmt: skip
    except Cancelled:
        return fail("cancelled; continue with --resume")
    except RateScopeError as exc:
        return fail(exc)
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if rank == 0:
        print(f"{len(data)} tiles from {len(set(data.groups.tolist()))} samples, unit {args.unit}")
        for f in summary["folds"]:
            t = f["test"]
            print(f"fold {f['fold']}: test MAPE {t['mape']:.2f} %  R² {t['r2']:.3f}")
        print(f"mean test MAPE {summary['test_mape_mean']:.2f} %, models in {args.out}")
    return 0
