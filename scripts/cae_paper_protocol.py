"""The paper's CAE protocol beside ours: a random 85/15 split of one set of stride-1 windows.

    python scripts/cae_paper_protocol.py run --out runs/cae_paper [--minutes 20]
    python scripts/cae_paper_protocol.py attach runs/cae_paper/card.json

``run`` trains the paper's CAE as the paper did (Adam 1e-4, batch 2, MSE, stride 1, l = 24,
no augmentation, validation = a random 15 % of the same volumes' windows) on two synthetic
volumes, and evaluates it also on held-out volumes never trained on. Neighbouring stride-1
windows share 23 of 24 slices, so the paper's validation windows lie between training
windows: the comparison shows how much of its low validation MSE is memorised volume.
``attach`` writes that run's figures into the embedded CAE's card (``paper_protocol``), which
keeps its own by-volume weights.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROTOCOL = [
    "--synthetic", "2", "--heldout", "3", "--split", "window", "--depth", "64",
    "--synthetic-plane", "224", "--stride", "1", "--no-augment", "--lr", "1e-4",
    "--precision", "fp32", "--epochs", "3500",
]  # fmt: skip


def run(out: Path, minutes: float, threads: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "main.py"), "train-cae", *PROTOCOL,
           "--minutes", str(minutes), "--threads", str(threads),
           "--checkpoint", str(out / "ckpt.safetensors"),
           "--out", str(out / "cae.safetensors"), "--json", str(out / "card.json")]  # fmt: skip
    return subprocess.call(cmd, cwd=ROOT)


def summary(card: dict) -> dict:
    """The figures of a paper-protocol run that go into the embedded card."""
    from ratescope.cli.train_cae import card_steps

    m = card["metrics"]
    ho = m.get("heldout", {})
    keep = ("mse", "mse_std", "windows", "predict_mean_mse", "pca_mse", "window_means_ttest")
    return {
        "what": "the paper's protocol on synthetic volumes: stride-1 windows of 2 volumes "
        "split 85/15 at random (validation windows overlap training windows by up to 23 of "
        "24 slices), no augmentation; held-out = 3 other volumes (stride-l windows)",
        "split": card["split"],
        "epochs_run": card["epochs_run"],
        "best_epoch": card["best_epoch"],
        "steps": card_steps(card),
        "train_seconds": round(sum(h["seconds"] for h in card["history"])),
        "hardware": card["hardware"],
        "train_mse": m["train_mse"],
        "val_mse": m["val_mse"],
        "fit_ttest": m["fit_ttest"],
        "reconstruction_ttest": m["reconstruction_ttest"],
        "heldout": {k: ho[k] for k in keep if k in ho},
        "volumes": {
            k: [v["seed"] for v in vols] for k, vols in card["training_data"]["volumes"].items()
        },  # fmt: skip
        "command": "python scripts/cae_paper_protocol.py run --out DIR --minutes M",
        "command_run": card["command"],
    }


def attach(card_json: Path, target: Path) -> None:
    from ratescope.core.models.cae import load_model, save_model

    model, card = load_model(target)
    card["paper_protocol"] = summary(json.loads(card_json.read_text()))
    card.pop("config", None), card.pop("parameters", None)  # save_model rewrites them
    save_model(model, target, card)


def main() -> int:
    from ratescope.core.resources import MODELS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--minutes", type=float, default=20.0)
    r.add_argument("--threads", type=int, default=1)
    a = sub.add_parser("attach")
    a.add_argument("card", type=Path)
    a.add_argument("--to", type=Path, default=MODELS / "cae.safetensors")
    args = p.parse_args()
    if args.cmd == "run":
        return run(args.out, args.minutes, args.threads)
    attach(args.card, args.to)
    print(json.dumps(summary(json.loads(args.card.read_text())), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
