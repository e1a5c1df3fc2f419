"""Driver: synthetic cache -> both units x 5 folds -> held-out evaluation.

Reproduces the embedded RateCNN ensemble (see resources/models/MODEL_CARD_ratecnn.md)::

    python scripts/train_embedded.py --out OUT [--steps N] [--train N] [--test N] [--device cuda]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


STOP = {"asked": False}
"""Set by SIGTERM during ``train``: the run saves its checkpoint at the next step and ends."""


def bar(tag, every_s: float = 20.0):
    last = [0.0]

    def cb(frac, msg):
        if STOP["asked"]:
            from ratescope.core.errors import Cancelled

            raise Cancelled()
        now = time.time()
        if now - last[0] > every_s or frac >= 1:
            last[0] = now
            print(f"[{time.strftime('%H:%M:%S')}] {tag} {frac:6.1%} {msg}", flush=True)

    return cb


def main():
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=["all", "gen", "train", "eval", "publish"])
    p.add_argument("--run", help="publish: the (possibly unfinished) training run's --out folder")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", default="data_cache/synthetic_looks_v1.h5")
    p.add_argument(
        "--data",
        choices=["looks", "classic"],
        default="looks",
        help="gen: six appearance families (plan_looks; --train/--test split "
        "evenly over them) or the generator's own look only (plan_electrodes)",
    )
    p.add_argument("--head", choices=["monotone", "paper"], default="monotone")
    p.add_argument("--input-norm", choices=["phases", "robust", "none"], default="phases")
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=38)
    p.add_argument("--train", type=int, default=180)
    p.add_argument("--test", type=int, default=40)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--device", default="cuda")
    p.add_argument("--unit", default="specific")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--folds", default="", help="comma-separated folds to train (default all)")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument(
        "--init",
        default="",
        help="train: fine-tune from this models folder's "
        "fold files (fold i from file i mod their number)",
    )
    p.add_argument("--lr-max", type=float, default=1e-3, help="train: peak learning rate")
    p.add_argument("--photometric", type=float, default=0.0, help="train: jitter strength")
    p.add_argument("--status", default="", help="publish: how the run was made, for the card")
    p.add_argument("--log-every-s", type=float, default=20.0, help="train: progress lines")
    p.add_argument("--dest", default="", help="publish: where the models go (resources/models)")
    a = p.parse_args()
    a.only = [int(f) for f in a.folds.split(",")] if a.folds else None
    if a.phase in ("all", "train"):
        from ratescope.core.allocator import reexec_with_tcmalloc

        reexec_with_tcmalloc(sys.argv)
    from ratescope.core.synth.looks import FAMILIES
    from ratescope.core.train.synthetic import generate_cache, plan_electrodes
    from ratescope.core.train.synthetic.dataset import plan_looks
    from ratescope.core.train.synthetic.embedded import evaluate_embedded, train_embedded

    cache = Path(a.cache)
    if a.phase in ("all", "gen") and not cache.exists():
        t0 = time.time()
        nf = len(FAMILIES)
        plan = (plan_looks(max(a.train // nf, 2), max(a.test // nf, 1)) if a.data == "looks"
                else plan_electrodes(a.train, a.test))  # fmt: skip
        generate_cache(cache, plan, a.workers, bar("gen"))
        print(f"generation {time.time() - t0:.0f} s", flush=True)
    if a.phase == "all":
        procs = []
        for unit in ("specific", "volumetric"):
            cmd = [
                sys.executable,
                __file__,
                "train",
                "--unit",
                unit,
                "--out",
                a.out,
                "--cache",
                a.cache,
                "--steps",
                str(a.steps),
                "--device",
                a.device,
                "--precision",
                a.precision,
                "--head",
                a.head,
                "--input-norm",
                a.input_norm,
            ]
            log = open(Path(a.out).parent / f"train_{unit}.log", "w")
            env = dict(os.environ, OMP_NUM_THREADS="4")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))
        codes = [q.wait() for q in procs]
        print("train exit codes", codes, flush=True)
        if any(codes):
            sys.exit(1)
    if a.phase == "train":
        import signal

        import torch

        from ratescope.core.errors import Cancelled
        from ratescope.core.models.precision import emulated_bf16_warning

        # a stop (scripts/device_recipe.py at its deadline or to restart under a shorter
        # schedule) keeps the steps since the last periodic checkpoint
        signal.signal(signal.SIGTERM, lambda *_: STOP.update(asked=True))

        torch.set_num_threads(a.threads)
        if note := emulated_bf16_warning(a.precision, a.device):
            print(note, file=sys.stderr, flush=True)
        cmd = (
            f"python scripts/train_embedded.py train --unit {a.unit} --steps {a.steps}"
            f" --batch {a.batch} --train {a.train} --test {a.test}"
            f" --precision {a.precision} --device {a.device} --out DIR"
            + (f" --photometric {a.photometric}" if a.photometric else "")
            + f" --head {a.head} --input-norm {a.input_norm}"
            + (f" --init {a.init} --lr-max {a.lr_max}" if a.init else "")
        )
        init = None
        if a.init:
            from ratescope.core.train.finetune import embedded_fold_files

            init = embedded_fold_files(Path(a.init), a.unit)
        try:
            s = train_embedded(
                a.unit,
                a.out,
                steps=a.steps,
                batch=a.batch,
                device=a.device,
                cache=cache,
                command=cmd,
                precision=a.precision,
                photometric=a.photometric,
                only=a.only,
                progress=bar(a.unit, a.log_every_s),
                head=a.head,
                input_norm=a.input_norm,
                init=init,
                lr_max=a.lr_max,
            )
        except Cancelled:
            print("stopped: checkpoint saved", flush=True)
            sys.exit(0)
        print(json.dumps({k: v for k, v in s.items() if k != "folds"}), flush=True)
    if a.phase in ("all", "eval"):
        evaluate_embedded(
            a.out, Path(a.out) / "eval.npz", device=a.device, cache=cache, progress=bar("eval")
        )
        print("eval done", flush=True)

    if a.phase == "publish":
        publish(a, cache)


def publish(a, cache: Path) -> None:
    """Best weights so far of run ``a.run`` -> ``a.out`` -> held-out eval -> resources/models."""
    from ratescope.core.resources import MODELS
    from ratescope.core.train.synthetic.card import publish_embedded
    from ratescope.core.train.synthetic.embedded import evaluate_embedded, snapshot_embedded

    folds = f" --folds {a.folds}" if a.folds else ""
    cmd = (
        f"python scripts/train_embedded.py gen --train {a.train} --test {a.test} --out {a.run};"
        f" python scripts/train_embedded.py train --unit UNIT --steps {a.steps}"
        f" --batch {a.batch} --precision {a.precision} --device {a.device}{folds}"
        f" --threads {a.threads} --out {a.run};"
        f" python scripts/train_embedded.py publish --run {a.run} --out {a.out}"
    )
    for unit in ("specific", "volumetric"):
        done = snapshot_embedded(unit, a.run, a.out, cache=cache, command=cmd, only=a.only,
                                 device=a.device)  # fmt: skip
        print(unit, "folds", done)
    ev = evaluate_embedded(a.out, Path(a.out) / "eval.npz", device=a.device, cache=cache,
                           max_pool_tiles=250)  # fmt: skip
    summary = publish_embedded(a.out, ev, a.dest or MODELS, cache=cache, command=cmd,
                               status=a.status)  # fmt: skip
    print(json.dumps({u: v["metrics"]["ensemble"] for u, v in summary.items()}, indent=1))


if __name__ == "__main__":
    main()
