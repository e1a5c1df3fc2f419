"""Held-out electrodes of the six-family cache: the embedded models vs a training run's
best weights (checkpoints), per unit and family::

    python scripts/compare_heldout.py [--run runs/device] [--cache data_cache/synthetic_looks_v1.h5]

Prints and writes ``RUN/compare_heldout.json``: MAPE per unit, per C-rate and family,
Spearman of 5C and 0.2C capacity with porosity per family (electrode means over tiles and
models).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratescope.core.model_input import prepare_tiles  # noqa: E402
from ratescope.core.models.store import load_model  # noqa: E402
from ratescope.core.predict.normalise import normalise_tiles  # noqa: E402
from ratescope.core.resources import MODELS  # noqa: E402
from ratescope.core.train.loop import result_from_checkpoint  # noqa: E402
from ratescope.core.train.metrics import electrode_means, predict, spearman  # noqa: E402
from ratescope.core.train.synthetic.dataset import electrode_labels, read_cache  # noqa: E402


def fold_models(name: str, unit: str, run: Path):
    for f in range(5):
        if name == "embedded":
            path = MODELS / f"{unit}_fold{f}.safetensors"
            if path.exists():
                yield load_model(path)[0]
        else:
            path = run / "checkpoints" / f"{unit}_fold{f}.ckpt.safetensors"
            if path.exists():
                yield result_from_checkpoint(path)[0].model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", default="runs/device")
    p.add_argument("--cache", default="data_cache/synthetic_looks_v1.h5")
    a = p.parse_args()
    torch.set_num_threads(1)
    tiles, groups, specs, _ = read_cache(a.cache, "test")
    t0 = time.time()
    x = normalise_tiles(prepare_tiles(tiles), "phases")  # both model sets' front end
    print(f"normalised {len(x)} tiles in {time.time() - t0:.0f} s", flush=True)
    out = {}
    for unit in ("specific", "volumetric"):
        labels = electrode_labels(specs, unit, False)
        for name in ("embedded", "run"):
            preds = [predict(m, x, "cpu", 32, normalised=True)
                     for m in fold_models(name, unit, Path(a.run))]  # fmt: skip
            ids, mean = electrode_means(np.mean(preds, 0), groups)
            y = np.stack([labels[int(g)] for g in ids])
            ape = 100 * np.abs(mean - y) / y
            looks = np.array([specs[int(g)].look for g in ids])
            por = np.array([specs[int(g)].porosity for g in ids])
            families = {
                f: {"mape": float(ape[looks == f].mean()),
                    "rho_5C": float(spearman(mean[looks == f, 4], por[looks == f])),
                    "rho_02C": float(spearman(mean[looks == f, 0], por[looks == f]))}
                for f in sorted(set(looks))
            }  # fmt: skip
            out[f"{unit}_{name}"] = {"models": len(preds), "mape": float(ape.mean()),
                                     "mape_per_rate": ape.mean(0).round(2).tolist(),
                                     "families": families}  # fmt: skip
            print(unit, name, json.dumps(out[f"{unit}_{name}"]), flush=True)
    (Path(a.run) / "compare_heldout.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
