"""Does the embedded ensemble carry over across appearance? (``main.py bench --only looks``)

Rows:

- per appearance family (:mod:`core.synth.looks`), on freshly generated electrodes never
  seen in training (seeds of their own): Spearman(5C Ah/kg, porosity) (physics: >= 0.9),
  Spearman(0.2C Ah/L, porosity) (<= -0.9), MAPE, and the out-of-distribution alarm rate
  (<= 5 %: these electrodes are in distribution);
- leave-one-family-out: the heads refitted without family F and scored on F's cached
  electrodes (``scripts/retrain_heads.py``; needs its feature cache, else not measured);
- physically impossible curves (negative, or rising with C-rate) over every prediction
  of this suite, foreign images included (target 0);
- a non-electrode image (a photograph) and another renderer's sections: refused or
  flagged.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from core.bench import Row

SEED = 3_000_000
PER_FAMILY = 10
PORS = (0.2, 0.5)


def _physical(up) -> bool:
    c = np.asarray(up.per_tile)
    m = np.asarray(up.mean)
    ok_tiles = (c >= 0).all() and (np.diff(c, axis=1) <= 1e-6 * np.abs(c[:, :-1])).all()
    return bool(ok_tiles and (m >= 0).all() and (np.diff(m) <= 1e-6 * np.abs(m[:-1])).all())


def _fresh(ens, family: str, i: int, porosity: float):
    from core.predict import predict_image
    from core.synth.looks import restyle
    from core.synth.mosaic import generate_mosaic

    seed = SEED + 1000 * i + len(family)
    m = generate_mosaic(seed, porosity=porosity, particle_radius_um=5.0, width=3000)
    img = m.image if family == "zeiss_bf" else restyle(m.phase, family, seed)[0]
    return predict_image(img, ens)[0]


def run() -> list[Row]:
    from core.errors import RateScopeError
    from core.predict import load_ensemble, predict_image
    from core.resources import MODELS
    from core.synth.looks import FAMILIES
    from core.train.metrics import spearman

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    rows: list[Row] = []
    try:
        ens = load_ensemble(MODELS)
        impossible, total = 0, 0
        alarms_all = 0
        por = np.linspace(*PORS, PER_FAMILY)
        for family in FAMILIES:
            preds = [_fresh(ens, family, i, float(p)) for i, p in enumerate(por)]
            kg = np.array([p.units["specific"].mean for p in preds])
            vol = np.array([p.units["volumetric"].mean for p in preds])
            alarms = sum(p.ood for p in preds)
            alarms_all += alarms
            for p in preds:
                for up in p.units.values():
                    total += 1
                    impossible += not _physical(up)
            note = f"{PER_FAMILY} fresh electrodes, porosity {PORS[0]}-{PORS[1]}"
            rows += [
                Row(
                    "looks",
                    f"{family}: Spearman(5C Ah/kg, porosity)",
                    spearman(kg[:, -1], por),
                    "",
                    ">= 0.9",
                    note,
                ),
                Row(
                    "looks",
                    f"{family}: Spearman(0.2C Ah/L, porosity)",
                    spearman(vol[:, 0], por),
                    "",
                    "<= -0.9",
                    note,
                ),
                Row(
                    "looks",
                    f"{family}: OOD alarms",
                    100.0 * alarms / len(preds),
                    "%",
                    "<= 5 %",
                    note,
                ),
            ]
        rows.append(
            Row(
                "looks",
                "OOD alarms, all families",
                100 * alarms_all / (len(FAMILIES) * PER_FAMILY),
                "%",
                "<= 5 %",
                f"{len(FAMILIES) * PER_FAMILY} electrodes",
            )
        )
        # foreign inputs: another renderer, noise, a photograph
        from skimage import data as skdata

        flagged_or_refused = []
        foreign = {
            "photograph (skimage astronaut)": skdata.astronaut(),
            "photograph (skimage camera)": skdata.camera(),
        }
        for img in foreign.values():
            try:
                p = predict_image(img, ens)[0]
            except RateScopeError:
                flagged_or_refused.append(True)
                continue
            flagged_or_refused.append(bool(p.ood))
            total += len(p.units)
            impossible += sum(not _physical(u) for u in p.units.values())
        rows.append(
            Row(
                "looks",
                "non-electrode photographs refused or flagged",
                sum(flagged_or_refused),
                f"of {len(foreign)}",
                "all",
            )
        )
        rows.append(
            Row(
                "looks",
                "physically impossible curves",
                impossible,
                f"of {total}",
                "0",
                "negative or rising with C-rate, every prediction above",
            )
        )
        rows += _lofo_rows()
    finally:
        torch.set_num_threads(threads)
    return rows


def _lofo_rows() -> list[Row]:
    """Leave-one-family-out from the feature cache of ``scripts/retrain_heads.py``."""
    import importlib.util

    from core.resources import RESOURCES

    root = RESOURCES.parent
    script = root / "scripts" / "retrain_heads.py"
    spec = importlib.util.spec_from_file_location("retrain_heads", script)
    if spec is None or not script.is_file():
        return [Row("looks", "leave-one-family-out", float("nan"), "", "", "no script")]
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not mod.features_path("phases", False).is_file():
        return [
            Row(
                "looks",
                "leave-one-family-out",
                float("nan"),
                "",
                ">= 0.9 / <= -0.9",
                "not measured: run scripts/retrain_heads.py gen and features first",
            )
        ]
    res = mod.lofo("phases", mod.LOOKS_CACHE, RESOURCES / "models", False, 2000)
    rows = []
    for fam, s in res.items():
        note = f"{s['electrodes']} electrodes, heads fitted without {fam}"
        rows += [
            Row(
                "looks",
                f"LOFO {fam}: Spearman(5C Ah/kg, porosity)",
                s["spearman_5C_specific"],
                "",
                ">= 0.9",
                note,
            ),
            Row(
                "looks",
                f"LOFO {fam}: Spearman(0.2C Ah/L, porosity)",
                s["spearman_02C_volumetric"],
                "",
                "<= -0.9",
                note,
            ),
            Row(
                "looks",
                f"LOFO {fam}: MAPE Ah/kg / Ah/L",
                s["mape_specific"],
                "%",
                "",
                f"Ah/L {s['mape_volumetric']:.2f} %; {note}",
            ),
        ]
    return rows
