#!/usr/bin/env python3
"""Move the embedded RateCNNs to an input normalisation and the monotone head (CPU path).

The convolutions of each fold model stay as trained; their pooled features of the
appearance-diverse data set (``core.train.synthetic.dataset.plan_looks``, six appearance
families) are computed once, and each model's dense head is refitted on them
(``core.train.head``). Steps::

    python scripts/retrain_heads.py gen                      # render the look cache (~5 min)
    python scripts/retrain_heads.py features --norm phases   # pooled features of every model
    (--append: only of models added after those the features file already holds)
    python scripts/retrain_heads.py lofo --norm phases       # leave-one-family-out figures
    python scripts/retrain_heads.py publish --norm phases --out resources/models

The features file records each model's :func:`core.train.head.conv_fingerprint`; ``lofo``,
``publish`` and the looks bench refuse a file computed from other convolutions.

``compare`` runs features + lofo for every normalisation with the first fold model of
each unit and prints the table that chose the embedded models' normalisation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ratescope.core.constants import UNITS  # noqa: E402
from ratescope.core.train.synthetic.dataset import LOOKS_CACHE  # noqa: E402

RUN = ROOT / "runs" / "heads"


def _progress(prefix: str):
    t0 = time.time()
    last = [0.0]

    def report(frac: float, msg: str = "") -> None:
        now = time.time()
        if now - last[0] > 20 or frac >= 1:
            last[0] = now
            print(f"{prefix} {frac * 100:5.1f} % {msg} ({now - t0:.0f} s)", flush=True)

    return report


def cmd_gen(a) -> None:
    from ratescope.core.train.synthetic.dataset import generate_cache, plan_looks

    specs = plan_looks(a.train, a.test)
    generate_cache(
        a.cache, specs, workers=a.workers, mosaic_kw={"width": a.width}, progress=_progress("gen")
    )


def features_path(norm: str, first_only: bool) -> Path:
    return RUN / f"features_{norm}{'_f0' if first_only else ''}.npz"


def cmd_features(a, first_only: bool = False) -> Path:
    import torch

    from ratescope.core.predict.ensemble import load_ensemble
    from ratescope.core.train.head import conv_fingerprint, pooled_features
    from ratescope.core.train.synthetic.dataset import read_cache

    torch.set_num_threads(a.threads)
    ens = load_ensemble(a.base)
    tiles, groups, specs, _ = read_cache(a.cache)
    path = features_path(a.norm, first_only)
    out = {"groups": groups}
    for unit in UNITS:
        models = ens.models[unit][:1] if first_only else ens.models[unit]
        have = np.zeros((0, len(tiles), models[0].config.filters[-1]), np.float32)
        if a.append and path.is_file():  # the file's rows are the first models' features
            have = _checked(np.load(path), unit, models)[: len(models)]
        new = models[len(have) :]
        if new:
            have = np.concatenate(
                [have, pooled_features(new, tiles, a.norm, _progress(f"{a.norm} {unit}"))]
            )
        out[unit] = have
        out[f"fingerprint_{unit}"] = np.array([conv_fingerprint(m) for m in models])
    RUN.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    print("wrote", path)
    return path


def _checked(data, unit: str, models) -> np.ndarray:
    """The file's features of ``unit``, refused unless its first rows were computed from
    ``models``' convolutions (their :func:`conv_fingerprint`)."""
    from ratescope.core.errors import RateScopeError
    from ratescope.core.train.head import conv_fingerprint

    key = f"fingerprint_{unit}"
    stamped = [str(f) for f in data[key]] if key in data else []
    k = min(len(models), len(data[unit]))
    want = [conv_fingerprint(m) for m in models[:k]]
    if stamped[:k] != want:
        raise RateScopeError(
            f"the {unit} features were not computed from these models' convolutions "
            f"(file {stamped[:k] or 'unstamped'}, models {want}); run "
            "scripts/retrain_heads.py features again"
        )
    return data[unit]


def load_features(norm: str, first_only: bool, cache: Path, models=None):
    """Features, electrode ids and specs; with ``models`` (unit -> list of RateCNN) only if
    the file was computed from their convolutions."""
    from ratescope.core.train.synthetic.dataset import read_cache

    path = features_path(norm, first_only)
    if first_only and not path.is_file() and features_path(norm, False).is_file():
        full = np.load(features_path(norm, False))  # the first model's rows of the full set
        d = {"groups": full["groups"], **{k: full[k][:1] for k in full.files if k != "groups"}}
    else:
        d = dict(np.load(path))
    _, groups, specs, _ = read_cache(cache)
    assert np.array_equal(groups, d["groups"])
    if models is not None:
        from ratescope.core.errors import RateScopeError

        for u in UNITS:
            if len(d[u]) < len(models[u]):
                raise RateScopeError(
                    f"the file holds the {u} features of {len(d[u])} models, not of "
                    f"{len(models[u])}; run scripts/retrain_heads.py features --append",
                    path,
                )
        return {u: _checked(d, u, models[u]) for u in UNITS}, groups, specs
    return {u: d[u] for u in UNITS}, groups, specs


def _labels(specs, groups, unit: str, noisy: bool) -> np.ndarray:
    from ratescope.core.train.synthetic.dataset import electrode_labels

    lab = electrode_labels(specs, unit, noisy)
    return np.stack([lab[int(g)] for g in groups])


def _models(base: Path, first_only: bool):
    from ratescope.core.predict.ensemble import load_ensemble

    ens = load_ensemble(base)
    return {u: ens.models[u][:1] if first_only else ens.models[u] for u in UNITS}


def lofo(norm: str, cache: Path, base: Path, first_only: bool, steps: int) -> dict:
    """Leave-one-family-out: heads fitted without family F, scored on all of F."""
    from ratescope.core.train.head import HeadConfig, fit_head, head_predict
    from ratescope.core.train.metrics import family_scores

    models = _models(base, first_only)
    feats, groups, specs = load_features(norm, first_only, cache, models)
    fam = np.array([specs[int(g)].look for g in groups])
    families = sorted(set(fam), key=lambda f: list(dict.fromkeys(fam)).index(f))
    split = np.array([specs[int(g)].split for g in groups])
    out = {}
    for held in families:
        train_rows = fam != held
        val = train_rows & (split == "test")  # other families' test electrodes stop early
        preds = {}
        for unit in UNITS:
            y = _labels(specs, groups, unit, noisy=True)
            per_model = []
            for k, model in enumerate(models[unit]):
                rows = np.flatnonzero(train_rows)
                new, _ = fit_head(
                    model,
                    feats[unit][k][rows],
                    y[rows],
                    groups[rows],
                    val[rows],
                    norm,
                    HeadConfig(steps=steps, seed=k),
                )
                per_model.append(head_predict(new, feats[unit][k][fam == held]))
            preds[unit] = np.mean(per_model, axis=0)
        out[held] = family_scores(preds, groups[fam == held], specs)
        print(norm, held, json.dumps(out[held]), flush=True)
    return out


def cmd_lofo(a) -> None:
    res = lofo(a.norm, a.cache, a.base, a.first_only, a.steps)
    RUN.mkdir(parents=True, exist_ok=True)
    path = RUN / f"lofo_{a.norm}{'_f0' if a.first_only else ''}.json"
    path.write_text(json.dumps(res, indent=1))
    print("wrote", path)


def cmd_compare(a) -> None:
    path = RUN / "compare.json"
    rows = json.loads(path.read_text()) if path.is_file() else {}
    for norm in a.norms.split(","):
        a.norm = norm
        if not (features_path(norm, True).is_file() or features_path(norm, False).is_file()):
            cmd_features(a, first_only=True)
        rows[norm] = lofo(norm, a.cache, a.base, True, a.steps)
        RUN.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1))
    print(f"{'norm':8s} {'family':16s} {'rho5C_kg':>9s} {'rho02C_L':>9s} {'MAPE_kg':>8s}")
    for norm, fams in rows.items():
        for f, s in fams.items():
            print(
                f"{norm:8s} {f:16s} {s['spearman_5C_specific']:9.3f} "
                f"{s['spearman_02C_volumetric']:9.3f} {s['mape_specific']:8.2f}"
            )


def cmd_publish(a) -> None:
    from ratescope.core.train.head_publish import publish_heads

    feats, groups, specs = load_features(a.norm, False, a.cache, _models(a.base, False))
    lofo_path = RUN / f"lofo_{a.norm}.json"
    lofo_res = json.loads(lofo_path.read_text()) if lofo_path.is_file() else None
    publish_heads(
        feats,
        groups,
        specs,
        a.base,
        a.out,
        a.norm,
        a.steps,
        lofo_res,
        command=" ".join(["python", "scripts/retrain_heads.py", *sys.argv[1:]]),
        status=a.status,
        notes=a.notes.read_text() if a.notes else "",
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["gen", "features", "lofo", "compare", "publish"])
    p.add_argument("--cache", type=Path, default=LOOKS_CACHE)
    p.add_argument(
        "--base",
        type=Path,
        default=ROOT / "resources" / "models",
        help="the models whose convolutions are kept",
    )
    p.add_argument("--norm", default="phases")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--first-only", action="store_true")
    p.add_argument(
        "--append",
        action="store_true",
        help="features: keep the file's rows (the first models, unchanged) and add the "
        "features of the models after them",
    )
    p.add_argument("--norms", default="none,robust,phases", help="compare: which ones")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--train", type=int, default=36)
    p.add_argument("--test", type=int, default=12)
    p.add_argument("--width", type=int, default=4000)
    p.add_argument("--out", type=Path, default=RUN / "published")
    p.add_argument("--status", default="", help="publish: what is interim, for every card")
    p.add_argument("--notes", type=Path, help="publish: markdown for the card's 'how made'")
    a = p.parse_args(argv)
    {
        "gen": cmd_gen,
        "features": cmd_features,
        "lofo": cmd_lofo,
        "compare": cmd_compare,
        "publish": cmd_publish,
    }[a.command](a)


if __name__ == "__main__":
    main()
