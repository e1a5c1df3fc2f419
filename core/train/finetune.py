"""Fine-tuning the embedded ensemble on a lab's electrodes (head refit, k-fold by electrode).

The convolutions of the embedded fold models stay as they are; each model's dense head
(22 k parameters) is trained on the pooled features of the lab's tiles
(:func:`core.train.head.pooled_features`, computed once per run and cached in
``out/features_<unit>.safetensors``). Fold ``i`` of the lab's k-fold split (whole
electrodes, :func:`core.train.data.folds`) starts from embedded model ``i mod n``, trains
on the fold's training electrodes, stops early on its validation electrodes and is
scored on its test electrodes — together with the embedded ensemble on the same
electrodes, so the card says what fine-tuning bought.

Every random choice derives from ``(seed, fold, step)`` and the state (weights, AdamW
moments, early-stopping state) is checkpointed every ``checkpoint_every`` steps and on
cancel (``out/checkpoints/<unit>_fold<i>.head.safetensors``), so a resumed run ends with
exactly the weights and metrics of an uninterrupted one. NaN labels (C-rates not
measured) are left out of the loss and the scores. No Qt.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ratescope.core import __version__
from ratescope.core.atomic import atomic_path
from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.models.ratecnn import RateCNN
from ratescope.core.models.store import load_model, load_tree, save_model, save_tree
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train.data import TileDataset, folds, seeded
from ratescope.core.train.metrics import electrode_mape, electrode_means, scores
from ratescope.core.train.optim import mape
from ratescope.core.train.schedule import lr_at

EventFn = Callable[[dict], None]


@dataclass(frozen=True)
class FinetuneConfig:
    """Optimisation of a head fine-tuning run (MAPE loss, AdamW, warm-up + cosine)."""

    steps: int = 600
    batch: int = 64
    lr_max: float = 2e-3
    lr_min: float = 1e-5
    warmup_frac: float = 0.1
    weight_decay: float = 1e-4
    eval_every: int = 20
    patience: int = 10
    seed: int = 0
    checkpoint_every: int = 50

    def as_dict(self) -> dict:
        return asdict(self)


def embedded_fold_files(models_dir: str | Path, unit: str) -> list[Path]:
    """The fold model files of ``unit`` in ``models_dir``, in fold order."""
    files = sorted(Path(models_dir).glob(f"{unit}_fold*.safetensors"),
                   key=lambda p: int(p.stem.rsplit("fold", 1)[1]))  # fmt: skip
    if not files:
        raise RateScopeError(f"no {unit} fold model to start from", models_dir)
    return files


def features_for(models: list[RateCNN], data: TileDataset, out: Path,
                 progress: ProgressFn | None = None,
                 models_key: str = "") -> np.ndarray:  # fmt: skip
    """Pooled features (n_models, N, 96) of ``data``'s tiles, cached in ``out`` (reused
    when the tiles and ``models_key``, naming the models, are the same)."""
    from ratescope.core.train.head import pooled_features

    cache = out / f"features_{data.unit}.safetensors"
    key = (f"{len(data)}:{data.tiles.shape}:{float(data.tiles[:, ::16, ::16].mean()):.6f}:"
           f"{models_key}")  # fmt: skip
    if cache.is_file():
        try:
            tree = load_tree(cache)
            if tree.get("key") == key:
                return tree["features"].numpy()
        except RateScopeError:
            pass
    from ratescope.core.model_input import prepare_tiles

    norm = models[0].config.input_norm
    feats = pooled_features(models, prepare_tiles(data.tiles), norm, progress)
    out.mkdir(parents=True, exist_ok=True)
    save_tree(cache, {"key": key, "features": torch.from_numpy(feats)})
    return feats


def _head_params(model: RateCNN) -> list[torch.nn.Parameter]:
    return list(model.regressor.parameters()) + list(model.output.parameters())


def fit_head_resumable(
    base: RateCNN,
    feats: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    cfg: FinetuneConfig,
    fold: int = 0,
    checkpoint: Path | None = None,
    resume: bool = False,
    on_step: Callable[[int, float, float | None], None] | None = None,
) -> tuple[RateCNN, dict]:
    """Fine-tune a copy of ``base``'s head on ``feats[train]``; early stopping on ``val``.

    The starting head is scored on ``val`` first: fine-tuning keeps it unless a later
    evaluation beats it.

    ``on_step(step, train_loss, val_mape or None)`` is called after every step and may
    raise :class:`~core.errors.Cancelled` (the state is then checkpointed and the error
    propagates). Returns the model with the best validation weights and a log.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 22 k-parameter MLP: threads only add synchronisation
    try:
        return _fit(base, feats, labels, groups, train, val, cfg, fold, checkpoint, resume, on_step)
    finally:
        torch.set_num_threads(threads)


def _fit(base, feats, labels, groups, train, val, cfg, fold, checkpoint, resume, on_step):
    model = copy.deepcopy(base).eval()
    y = np.asarray(labels, np.float32)
    ftr, ytr = torch.from_numpy(feats[train]), torch.from_numpy(y[train])
    fva = torch.from_numpy(feats[val])
    params = _head_params(model)
    opt = torch.optim.AdamW(params, lr=cfg.lr_min, weight_decay=cfg.weight_decay)
    st = {"step": 0, "best": float("inf"), "best_step": 0, "bad": 0, "stopped": False,
          "history": [], "best_state": None}  # fmt: skip
    if resume and checkpoint is not None and checkpoint.is_file():
        saved = load_tree(checkpoint)
        if saved.get("config") != cfg.as_dict():
            raise RateScopeError("the checkpoint was made with other settings", checkpoint)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optim"])
        st.update({k: saved[k] for k in st})

    def save() -> None:
        if checkpoint is not None:
            save_tree(checkpoint, {"config": cfg.as_dict(), "model": model.state_dict(),
                                   "optim": opt.state_dict(), **st})  # fmt: skip

    if st["step"] == 0 and len(fva):  # the starting head is a candidate too
        with torch.no_grad():
            st["best"] = electrode_mape(model.head(fva).numpy(), y[val], groups[val])
        st["best_state"] = {k: v.clone() for k, v in model.state_dict().items()}
        st["history"].append({"step": 0, "train_mape": None, "val_mape": st["best"]})
    while st["step"] < cfg.steps and not st["stopped"]:
        step = st["step"]
        rng = np.random.default_rng([cfg.seed, fold, step])
        idx = torch.from_numpy(rng.integers(0, len(ftr), min(cfg.batch, len(ftr))))
        torch.manual_seed(seeded(cfg.seed, fold, step))  # dropout
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.steps, cfg.lr_min, cfg.lr_max, cfg.warmup_frac, "cosine")
        model.regressor.train()
        loss = mape(model.head(ftr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        st["step"] = step + 1
        val_mape = None
        if st["step"] % cfg.eval_every == 0 or st["step"] == cfg.steps:
            model.eval()
            with torch.no_grad():
                pv = model.head(fva).numpy()
            val_mape = electrode_mape(pv, y[val], groups[val])
            st["history"].append({"step": st["step"], "train_mape": float(loss.detach()),
                                  "val_mape": val_mape})  # fmt: skip
            if val_mape < st["best"] - 1e-4:
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
                st.update(best=val_mape, best_step=st["step"], bad=0, best_state=best_state)
            else:
                st["bad"] += 1
                st["stopped"] = st["bad"] >= cfg.patience
        if cfg.checkpoint_every and st["step"] % cfg.checkpoint_every == 0:
            save()
        if on_step is not None:
            try:
                on_step(st["step"], float(loss.detach()), val_mape)
            except Cancelled:
                save()
                raise
    save()
    if st["best_state"] is not None:
        model.load_state_dict(st["best_state"])
    model.eval()
    log = {"steps": st["step"], "best_step": st["best_step"], "best_val_mape": st["best"],
           "stopped_early": bool(st["stopped"]), "history": st["history"]}  # fmt: skip
    return model, log


@torch.inference_mode()
def head_predict(model: RateCNN, feats: np.ndarray) -> np.ndarray:
    """Capacities (N, 5) from pooled features (N, 96), on one thread: the same numbers
    whatever the thread count (a resumed run may run with another)."""
    model.eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return model.head(torch.from_numpy(np.asarray(feats, np.float32))).numpy()
    finally:
        torch.set_num_threads(threads)


def finetune_cv(
    data: TileDataset,
    out: str | Path,
    k: int = 5,
    init_dir: str | Path | None = None,
    config: FinetuneConfig | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    on_event: EventFn | None = None,
    command: str = "",
) -> dict:
    """Fine-tune the heads of the models in ``init_dir`` (default: embedded) on ``data``.

    Parameters
    ----------
    data : TileDataset
        The lab's tiles with labels (NaN = not measured) and electrode groups.
    out : path
        Output folder: ``<unit>_fold<i>.safetensors`` (cards inside), ``<unit>_cv.json``.
    k : int
        Folds (whole electrodes held out).
    init_dir : path, optional
        Models to start from (``resources/models`` by default).
    config : FinetuneConfig, optional
    resume : bool
        Keep finished folds; continue the others from their checkpoints.
    progress : ProgressFn, optional
        Overall progress; may raise :class:`~core.errors.Cancelled`.
    on_event : callable, optional
        Receives ``{"event": "step" | "fold", ...}`` dicts (see ``main.py train
        --progress-jsonl``).
    command : str
        The command line, for the cards.

    Returns
    -------
    dict
        Summary (also ``<unit>_cv.json``): per-fold metrics and ``held_out``: the
        out-of-fold MAPE by electrode of the fine-tuned ensemble (``mape``) and of the
        starting ensemble on the same electrodes (``embedded_mape``).
    """
    from ratescope.core.resources import MODELS

    cfg = config or FinetuneConfig()
    out = Path(out)
    init_dir = Path(init_dir) if init_dir is not None else Path(MODELS)
    files = embedded_fold_files(init_dir, data.unit)
    bases = [load_model(p)[0].cpu().float().eval() for p in files]
    t0 = time.perf_counter()

    def feat_progress(frac: float, msg: str) -> None:
        report(progress, 0.1 * frac, msg)

    models_key = ",".join(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in files)
    feats = features_for(bases, data, out, feat_progress, models_key)
    labels, groups = data.labels, data.groups
    emb_tile = np.mean([head_predict(b, feats[m]) for m, b in enumerate(bases)], axis=0)
    splits = folds(groups, k, cfg.seed)
    oof = np.full_like(labels, np.nan, dtype=np.float64)
    summary: dict = {"unit": data.unit, "k": k, "mode": "head", "init": str(init_dir),
                     "folds": []}  # fmt: skip
    for i, split in enumerate(splits):
        target = out / f"{data.unit}_fold{i}.safetensors"
        m = i % len(bases)
        test = split.test
        if resume and target.is_file():
            model, card = load_model(target)
            model = model.cpu().float()
            metrics = card["metrics"]
        else:
            ckpt = out / "checkpoints" / f"{data.unit}_fold{i}.head.safetensors"
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            t_fold = time.perf_counter()

            def on_step(step: float, loss: float, val: float | None, i: int = i,
                        t_fold: float = t_fold) -> None:  # fmt: skip
                done = (i + step / cfg.steps) / k
                el = time.perf_counter() - t_fold
                eta = el / step * (cfg.steps - step) + (k - i - 1) * el / step * cfg.steps
                if on_event is not None:
                    on_event({"event": "step", "unit": data.unit, "fold": i, "step": int(step),
                              "steps": cfg.steps, "train_loss": round(loss, 4),
                              "val_mape": None if val is None else round(val, 4),
                              "eta_s": round(eta, 1)})  # fmt: skip
                report(progress, 0.1 + 0.9 * done, f"fold {i + 1}/{k}: step {int(step)}")

            model, log = fit_head_resumable(bases[m], feats[m], labels, groups, split.train,
                                            split.val, cfg, i, ckpt, resume, on_step)  # fmt: skip
            metrics = _fold_metrics(model, feats[m], emb_tile, labels, groups, split, i)
            metrics["log"] = {k2: v for k2, v in log.items() if k2 != "history"}
            card = _card(data, i, k, split, cfg, log, metrics, files[m], command)
            save_model(target, model, card)
        oof[test] = head_predict(model, feats[m][test])
        summary["folds"].append(metrics)
        if on_event is not None:
            on_event({"event": "fold", "unit": data.unit, "fold": i, "metrics": metrics})
    has = ~np.isnan(oof).all(axis=1)
    summary["held_out"] = {
        "mape": electrode_mape(oof[has], labels[has], groups[has]),
        "embedded_mape": electrode_mape(emb_tile[has], labels[has], groups[has]),
        "electrodes": int(len(np.unique(groups[has]))),
        "what": "out-of-fold: each electrode predicted by the fold model that never saw it; "
        "embedded = the starting ensemble on the same electrodes",
    }
    summary["test_mape_mean"] = float(np.mean([f["test"]["mape"] for f in summary["folds"]]))
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    with atomic_path(out / f"{data.unit}_cv.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    report(progress, 1.0, f"done: held-out MAPE {summary['held_out']['mape']:.2f} %")
    return summary


def _fold_metrics(model, feats, emb_tile, labels, groups, split, i) -> dict:
    def by_electrode(pred, idx):
        _, p = electrode_means(pred[idx], groups[idx])
        _, t = electrode_means(labels[idx], groups[idx])
        return scores(p, t)

    pred = head_predict(model, feats)
    out = {"fold": i}
    for name in ("train", "val", "test"):
        out[name] = by_electrode(pred, getattr(split, name))
    out["embedded_test"] = by_electrode(emb_tile, split.test)
    out["scored_by"] = "electrode mean curves"
    return out


def _card(data, i, k, split, cfg, log, metrics, base_file, command) -> dict:
    names = lambda idx: sorted(map(str, np.unique(data.groups[idx])))  # noqa: E731
    return {
        "model": "RateCNN (Deeg et al., Batteries 2024), head fine-tuned on lab data",
        "unit": data.unit,
        "unit_symbol": UNITS[data.unit],
        "c_rates": list(C_RATES),
        "data": {
            "source": data.source,
            "tiles": len(data),
            "samples": int(len(np.unique(data.groups))),
            "split": "group-wise (by electrode)",
            "fold": i,
            "k": k,
            "train_samples": names(split.train),
            "val_samples": names(split.val),
            "test_samples": names(split.test),
            "missing_labels": int(np.isnan(data.labels).sum()),
        },  # fmt: skip
        "training": {
            "mode": "head fine-tuning (convolutions frozen)",
            "init": f"{base_file.parent.name}/{base_file.name}",
            **cfg.as_dict(),
            **{k2: v for k2, v in log.items()},
        },  # fmt: skip
        "metrics": metrics,
        "command": command,
        "software": {"ratescope": __version__, "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }


def model_card(summaries: dict[str, dict], name: str, data_info: dict) -> dict:
    """The ``card.json`` of a trained models folder (:mod:`core.models.registry`)."""
    units = {}
    for unit, s in summaries.items():
        held = s.get("held_out", {"mape": s.get("test_mape_mean")})
        units[unit] = {"data": data_info, "split": f"{s['k']}-fold by electrode",
                       "folds": s["k"], "mode": s.get("mode", "full"),
                       "held_out": held}  # fmt: skip
    return {"name": name, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "units": units,
            "software": {"ratescope": __version__}}  # fmt: skip


__all__ = ["FinetuneConfig", "finetune_cv", "fit_head_resumable", "model_card"]
