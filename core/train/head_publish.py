"""Publishing head-refitted models: held-out metrics per family, calibrated OOD, cards.

Used by ``scripts/retrain_heads.py publish``. The data set is the appearance-diverse one
(:func:`core.train.synthetic.dataset.plan_looks`): its ``train`` electrodes (every
family) fit the heads — fold ``i``'s head stops early on the ``i``-th of ``k`` electrode
groups — and the out-of-distribution statistics; its ``test`` electrodes are never used
for either and give the held-out figures and the OOD alarm rate per family.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.models.store import save_model, save_tree
from ratescope.core.predict.ensemble import load_ensemble, ood_path
from ratescope.core.predict.normalise import phase_stats
from ratescope.core.predict.ood import fit_ood_images, image_scores
from ratescope.core.train.head import HeadConfig, fit_head, head_predict
from ratescope.core.train.loop import TrainConfig
from ratescope.core.train.metrics import family_scores
from ratescope.core.train.synthetic.card import PAPER, heldout_metrics, metrics_row
from ratescope.core.train.synthetic.dataset import LOOKS_CACHE, electrode_labels, read_cache


def _folds(specs: dict, ids: np.ndarray, k: int, seed: int = 0) -> dict[int, int]:
    """Electrode id -> fold, balanced within each family."""
    rng = np.random.default_rng(seed)
    out: dict[int, int] = {}
    for fam in sorted({specs[int(i)].look for i in ids}):
        mine = rng.permutation([int(i) for i in ids if specs[int(i)].look == fam])
        out.update({int(e): n % k for n, e in enumerate(mine)})
    return out


def publish_heads(
    feats: dict,
    groups: np.ndarray,
    specs: dict,
    base: str | Path,
    out: str | Path,
    norm: str,
    steps: int,
    lofo: dict | None,
    command: str = "",
    cache: str | Path = LOOKS_CACHE,
    status: str = "",
    notes: str = "",
) -> dict:
    """Refit every fold model's head, evaluate, calibrate the OOD check, write everything.

    Parameters
    ----------
    feats : dict of unit -> ndarray (k, N, 96)
        Pooled features of every cached tile under ``norm``, one row per fold model.
    groups : ndarray (N,)
        Electrode id per tile; ``specs`` the electrodes by id.
    base : path
        The ensemble whose convolutions are kept (normally ``resources/models``).
    out : path
        Destination folder (models, OOD files, ``MODEL_CARD_ratecnn.md``).
    lofo : dict, optional
        Leave-one-family-out figures (``scripts/retrain_heads.py lofo``) for the card.
    status : str, optional
        What is interim about these models, in words (every model's card ``status``).
    notes : str, optional
        Markdown added to the card's "How these models were made".
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tiles, g2, _, _ = read_cache(cache)
    assert np.array_equal(g2, groups)
    stats = np.array([s.as_row() for s in phase_stats(tiles)])
    del tiles
    split = np.array([specs[int(g)].split for g in groups])
    fam = np.array([specs[int(g)].look for g in groups])
    train, test = split == "train", split == "test"
    train_ids = np.unique(groups[train])
    ens = load_ensemble(base)
    summary: dict = {}
    for unit in UNITS:
        models, cards = ens.models[unit], ens.cards[unit]
        k = len(models)
        fold_of = _folds(specs, train_ids, k)
        tile_fold = np.array([fold_of.get(int(g), -1) for g in groups])
        noisy = electrode_labels(specs, unit, noisy=True)
        clean = electrode_labels(specs, unit, noisy=False)
        y = np.stack([noisy[int(g)] for g in groups])
        y_clean = np.stack([clean[int(g)] for g in groups])
        rows = np.flatnonzero(train)
        new_models, logs, test_pred = [], [], []
        for i, model in enumerate(models):
            f = feats[unit][i]
            new, log = fit_head(
                model,
                f[rows],
                y[rows],
                groups[rows],
                tile_fold[rows] == i,
                norm,
                HeadConfig(steps=steps, seed=i),
            )
            new_models.append(new)
            logs.append(log)
            test_pred.append(head_predict(new, f[test]))
        test_pred = np.stack(test_pred)
        porosity = {i: s.porosity for i, s in specs.items()}
        metrics = heldout_metrics(test_pred, y_clean[test], groups[test], porosity)
        per_family = {}
        for fm in dict.fromkeys(fam[test]):
            sel = fam[test] == fm
            per_family[fm] = family_scores({unit: test_pred.mean(0)[sel]}, groups[test][sel], specs)
        ood, ood_summary = fit_ood_images(
            feats[unit][:, train], groups[train], y[train], stats[train]
        )
        alarms = {}
        for fm in dict.fromkeys(fam[test]):
            sel = test & (fam == fm)
            flagged = image_scores(ood, feats[unit][:, sel], stats[sel], groups[sel])
            alarms[fm] = {"electrodes": len(flagged), "flagged": int(sum(flagged.values()))}
        ood_summary["heldout_alarms"] = alarms
        save_tree(ood_path(out, unit), ood.to_tree())
        new_cards = []
        for i, (model, card) in enumerate(zip(new_models, cards, strict=True)):
            c = copy.deepcopy(card)
            c.update(
                heldout=metrics,
                heldout_per_family=per_family,
                ood=ood_summary,
                published=time.strftime("%Y-%m-%d"),
                lofo=lofo or {},
                input_convention=(
                    f"core.model_input.to_model_image, then the '{norm}' "
                    "input normalisation (core.predict.normalise), then / 255"
                ),
                head_refit={
                    "data": "appearance-diverse synthetic set (core.synth.looks, "
                    "scripts/retrain_heads.py)",
                    "families": sorted(set(fam)),
                    "train_electrodes": int(len(train_ids)),
                    "train_tiles": int(train.sum()),
                    "log": logs[i],
                    "convolutions_from": _conv_date(card),
                    "convolutions": _conv_origin(card),
                    "command": command,
                },
            )
            c["date"] = time.strftime("%Y-%m-%d")
            if status:
                c["status"] = status
            fold = int(card.get("data", {}).get("fold", i))
            save_model(out / f"{unit}_fold{fold}.safetensors", model, c)
            new_cards.append(c)
        summary[unit] = {
            "metrics": metrics,
            "per_family": per_family,
            "ood": ood_summary,
            "cards": new_cards,
        }
    with atomic_path(out / "MODEL_CARD_ratecnn.md") as tmp:
        tmp.write_text(markdown(summary, norm, lofo, command, notes))
    return summary


LIMITS = [
    "## Known limits",
    "",
    "- The phase front end takes the bright phase for active material, as reflected light "
    "shows NMC; a contrast-inverted tile is read as an electrode whose particles are its "
    "pores (inverted mosaics are refused earlier: the alignment needs the bright foil).",
    "- Texture inside the particles is invisible to the network after the front end; a "
    "section whose particle outlines are an electrode's is read as one, whatever fills them.",
    "- Above porosity 0.4 the DFN capacity at 5C per mass saturates (within 0.5 %), closer "
    "than the models' error: electrodes there are not ordered reliably at 5C.",
    "- Pixel sizes finer than 0.10 µm were not simulated; coarser ones (0.16-0.25 µm) were, "
    "resampled to the model's 0.123 µm.",
    "",
]


def _conv_date(card: dict) -> str:
    """When the model's convolutions were trained (kept through earlier head refits)."""
    return card.get("head_refit", {}).get("convolutions_from") or card.get("date", "")


def _conv_origin(card: dict) -> str:
    """How the model's convolutions were trained, in words (kept through head refits)."""
    if "convolutions" in card.get("head_refit", {}):
        return card["head_refit"]["convolutions"]
    t, d = card.get("training", {}), card.get("data", {})
    norm = t.get("architecture", {}).get("input_norm", "none")
    data = (
        f"{d.get('samples', '?')} electrodes of all appearance families, '{norm}' input"
        if norm != "none"
        else f"{d.get('samples', '?')} electrodes in the generator's own look, raw input"
    )
    start = (
        f"fine-tuned from {t['init']} at peak learning rate {t.get('lr_max', 0):g}"
        if t.get("init")
        else "from scratch"
    )
    return (
        f"{data}, {start}, {t.get('steps_done', '?')} of {TrainConfig.max_steps} steps at batch "
        f"{t.get('batch_size', '?')}, {t.get('precision', 'fp32')}, {t.get('hardware', '?')} "
        f"({_conv_date(card)})"
    )


def markdown(summary: dict, norm: str, lofo: dict | None, command: str, notes: str = "") -> str:
    """The human-readable model card of the head-refitted ensemble."""
    rates = " | ".join(f"{c:g}C" for c in C_RATES)
    c0 = next(iter(summary.values()))["cards"][0]
    hr = c0["head_refit"]
    out = [
        "# RateCNN embedded ensemble: model card",
        "",
        "**Trained on synthetic data only.** Tiles are synthetic MosaiX cross-sections "
        "(`core.synth.mosaic`) painted in six appearance families (`core.synth.looks`: "
        + ", ".join(f"`{f}`" for f in hr["families"])
        + "), cut by the automatic "
        "alignment (`core.align`); labels are rate-capability curves of a DFN half-cell "
        "model (PyBaMM, Xu2019 parameters, `resources/labels/dfn_rate_table.csv`, "
        "interpolated by `core.labels`) at each electrode's porosity and particle radius "
        "— the same microstructure keeps its label whatever its look. No measured "
        "electrode was used.",
        "",
        "## How these models were made",
        "",
        f"- **Input normalisation `{norm}`** (`core.predict.normalise`), applied by "
        "training, prediction and explanation alike: the tile's gray level, shading "
        "corrected, is split by Otsu into active material (bright) and the rest (pores "
        "and carbon-binder) and repainted at one canonical look with a thin binder "
        "shell. Chosen over `none` and `robust` (per-tile standardisation) by the "
        "leave-one-family-out figures (`python scripts/retrain_heads.py compare`, "
        "README).",
        "- **Monotone head** (`RateCNNConfig.head = 'monotone'`) — the one change to the "
        "paper's network: the 5C capacity and each step to the next slower rate are "
        "softplus terms, so every curve is ≥ 0 and never rises with C-rate, for any "
        "input. `python main.py train --head paper` keeps the paper's linear output.",
        "- **Convolutions** (per fold, below), kept as trained; **dense heads refitted** "
        f"on the pooled features of {hr['train_electrodes']} training electrodes "
        f"({hr['train_tiles']} tiles) of all families (`core.train.head`, MAPE loss, "
        "AdamW, early stopping on the fold's held-back electrodes). A full retraining of "
        "the convolutions on this data needs a GPU (`scripts/device_recipe.py`).",
        "",
    ]
    for unit, s in summary.items():
        for i, c in enumerate(s["cards"]):
            out.append(f"  - {unit} fold {i}: {c['head_refit']['convolutions']}")
    out.append("")
    if notes.strip():
        out += [notes.strip(), ""]
    if lofo:
        out += [
            "## Leave-one-family-out (a look the heads never saw)",
            "",
            "Heads refitted without family F, scored on all 48 cached electrodes of F. Porosity "
            "and particle radius vary together here, so the physics itself does not order "
            "these electrodes perfectly by porosity at 5C (the 'truth' column); the rank "
            "agreement of prediction and truth is the fair figure. `python main.py bench "
            "--only looks` also scores each held-out family on fresh porosity series at a "
            "fixed radius (two draws of ten electrodes), where the physics orders by porosity "
            "alone (at 5C up to its plateau above 0.42).",
            "",
            "| family | n | ρ(5C Ah/kg, porosity) | truth | ρ(5C pred, truth) | "
            "ρ(0.2C Ah/L, porosity) | truth | ρ(0.2C pred, truth) | MAPE Ah/kg % | "
            "MAPE Ah/L % |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        k5, k02 = "spearman_5C_specific", "spearman_02C_volumetric"
        for f, s in lofo.items():
            out.append(
                f"| {f} | {s['electrodes']} | {s[k5]:.3f} | "
                f"{s.get('truth_' + k5, float('nan')):.3f} | "
                f"{s.get(k5 + '_vs_truth', float('nan')):.3f} | {s[k02]:.3f} | "
                f"{s.get('truth_' + k02, float('nan')):.3f} | "
                f"{s.get(k02 + '_vs_truth', float('nan')):.3f} | {s['mape_specific']:.2f} | "
                f"{s['mape_volumetric']:.2f} |"
            )
        out += [""]
    for unit, s in summary.items():
        e, m = s["metrics"]["ensemble"], s["metrics"]
        mape_t, r2_t = PAPER[unit]
        alarms = s["ood"]["heldout_alarms"]
        out += [
            f"## {unit} ({UNITS[unit]})",
            "",
            f"- Held-out: {m['electrodes']} electrodes ({m['tiles']} tiles) of all "
            "families, never used for fitting, early stopping or calibration; per "
            "electrode (mean over tiles and models), clean labels: "
            f"MAPE {e['mape']:.2f} %, R² {e['r2']:.3f} (the paper: {mape_t} %, {r2_t}).",
            f"- Single models' held-out MAPE: {[round(v, 2) for v in m['single_model_mape']]} %.",
            f"- Out-of-distribution check: image score (median over tiles of the "
            "squared Mahalanobis distance of the pooled features / 96, averaged over "
            f"models) above {s['ood']['threshold']:.3f}, or the phase front end's "
            f"active share outside {s['ood']['phase_lo'][0]:.2f}-"
            f"{s['ood']['phase_hi'][0]:.2f}, separability below "
            f"{s['ood']['phase_lo'][1]:.2f} or texture of the bright phase above "
            f"{s['ood']['phase_hi'][2]:.2f}; threshold = 1.25 x the 99th percentile of "
            f"cross-fitted image scores of the {s['ood']['calib_electrodes']} training "
            "electrodes (each fifth scored by statistics of the other four). Alarms on held-out "
            "electrodes: "
            + ", ".join(f"{f} {a['flagged']}/{a['electrodes']}" for f, a in alarms.items())
            + ".",
            "",
            f"| set | n | MAPE % | {rates} (MAPE %) | R² | {rates} (R²) |",
            "|---|---|---|" + "---|" * 5 + "---|" + "---|" * 5,
            metrics_row("all held-out electrodes", e),
        ]
        out += [
            metrics_row(f"porosity {b['porosity'][0]:.2f}-{b['porosity'][1]:.2f}", b)
            for b in m["per_porosity"]
        ]
        out += [
            "",
            "| family | electrodes | MAPE % | R² | Spearman with porosity |",
            "|---|---|---|---|---|",
        ]
        key = "spearman_5C_specific" if unit == "specific" else "spearman_02C_volumetric"
        for f, fs in s["per_family"].items():
            out.append(
                f"| {f} | {fs['electrodes']} | {fs[f'mape_{unit}']:.2f} | "
                f"{fs[f'r2_{unit}']:.3f} | {fs[key]:.3f} |"
            )
        out.append("")
    out += LIMITS + [
        "## Provenance",
        "",
        f"- Command: `{command}`",
        f"- Date: {c0.get('date', '')}; software: {c0.get('software', '')}",
        "- Files: `<unit>_fold<i>.safetensors` (weights + the card as JSON, no pickle), "
        "`<unit>_ood.safetensors` (feature statistics, threshold, phase limits).",
        "",
    ]
    return "\n".join(out)
