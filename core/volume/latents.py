"""What the CAE's 10 latent features carry: correlations, a porosity read-out, a 2-D map.

The analysis runs on SYNTHETIC volumes (:func:`core.synth.volume_sets.varied_set`) whose
windows (``l x 224 x 224``, :mod:`core.volume.windows`) are encoded with the CAE
(:meth:`core.models.cae.CAE3D.encode`, the same scaling as the reconstruction). Per window:

* **porosity**: the pore fraction of the window's voxels (measured from the labels);
* **tortuosity**: the pore network's tortuosity factor through the window along z
  (:func:`core.volume.tortuosity.tortuosity_factor`; ``nan`` where the pores do not
  connect the two faces);
* **particle radius**: the volume's median particle radius, µm (a generator parameter,
  the same for every window of a volume);
* **mean input**: the mean CAE input value of the window (pore -1, CBD 0, active +1).

:func:`analyse` relates them: Pearson and Spearman correlations of each latent with each
target, a ridge regression of porosity from the 10 latents fitted on one family of
volumes and scored (R²) on *other* volumes, beside the baseline of porosity regressed from
the window's mean input, and a PCA basis for a 2-D picture of latent space.
:func:`load_reference` reads the result the script ``scripts/latent_analysis.py`` wrote
(``resources/models/cae_latents.json``) for the GUI and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ratescope.core.progress import ProgressFn, report

TARGETS = {
    "porosity": "porosity (pore fraction of the window)",
    "tortuosity": "pore tortuosity factor through the window (z)",
    "radius_um": "median particle radius of the volume, µm",
}
"""What each latent is compared with (key -> words)."""
SHORT = {"porosity": "porosity", "tortuosity": "tortuosity", "radius_um": "particle size"}
"""Short names for the plain-words labels."""
STRONG = 0.5
"""|r| from which a latent is said to track a quantity."""
LATENT_FILE = "cae_latents.json"
"""File name of the analysis beside the CAE weights (``resources/models``)."""


# --------------------------------------------------------------------------- windows
@dataclass
class WindowData:
    """Latents and measured quantities of a set of windows.

    Attributes
    ----------
    latents : numpy.ndarray
        float64 ``[n, latent]``.
    input_mean : numpy.ndarray
        ``[n]`` mean CAE input value of each window.
    targets : dict of str to numpy.ndarray
        ``[n]`` per key of :data:`TARGETS` (``nan`` where not measurable).
    volume : numpy.ndarray
        int ``[n]``: index of the volume each window comes from.
    seeds : list of int
        Generator seed of each volume.
    """

    latents: np.ndarray
    input_mean: np.ndarray
    targets: dict = field(default_factory=dict)
    volume: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    seeds: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.latents)


def encode_windows(
    model,
    source,
    windows: list,
    scaling=None,
    batch: int = 4,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Latent features and mean input of mini-volumes of a volume.

    Parameters
    ----------
    model : core.models.cae.CAE3D
        In eval mode; ``model.window`` slices per window.
    source : VolumeSource or numpy.ndarray
        The volume ``[z, y, x]``.
    windows : list of core.volume.windows.Window
        Corners of ``l x 224 x 224`` windows (mirror-padded at the volume's end).
    scaling : core.volume.phases.Scaling, optional
        Raw values -> CAE input; default: label volume with the default phase codes.
    batch : int
        Windows per forward pass.
    progress : ProgressFn, optional
        Called per batch; may raise :class:`core.errors.Cancelled`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        float64 latents ``[n, latent]`` and mean input ``[n]`` (over the window's voxels,
        padding included, as the encoder sees them).
    """
    import torch

    from ratescope.core.volume.phases import Scaling
    from ratescope.core.volume.windows import read_window

    scaling = scaling or Scaling()
    lat, means = [], []
    with torch.inference_mode():
        for b in range(0, len(windows), batch):
            report(progress, b / max(len(windows), 1), f"encoding window {b + 1} of {len(windows)}")
            x = np.stack(
                [
                    scaling.apply(read_window(source, w, model.window, 224))
                    for w in windows[b : b + batch]
                ]
            )
            means.extend(float(v) for v in x.reshape(len(x), -1).mean(axis=1, dtype=np.float64))
            z = model.encode(torch.from_numpy(x[:, None]).to(next(model.parameters()).device))
            lat.append(z.double().cpu().numpy())
    report(progress, 1.0, "latents done")
    n_lat = getattr(model, "latent", 10)
    return (np.concatenate(lat) if lat else np.zeros((0, n_lat))), np.asarray(means, float)


@dataclass
class VolumeLatents:
    """The latents of every covering window of a volume (the reconstruction's windows).

    Attributes
    ----------
    windows : list of core.volume.windows.Window
        Block start and in-plane corner of each window.
    latents : numpy.ndarray
        float64 ``[n, latent]``.
    input_mean : numpy.ndarray
        ``[n]`` mean CAE input.
    porosity : numpy.ndarray
        ``[n]`` measured pore fraction for a label volume (``nan`` for grayscale).
    """

    windows: list
    latents: np.ndarray
    input_mean: np.ndarray
    porosity: np.ndarray


def encode_volume(
    model, source, scaling=None, batch: int = 4, progress: ProgressFn | None = None
) -> VolumeLatents:
    """Encode the windows that cover a volume (:func:`core.volume.windows.covering_windows`).

    For a label volume (``scaling.kind == "labels"``) the pore fraction of each window is
    measured from the same voxels the encoder sees (mirror padding included where the
    volume is smaller than a window). ``progress`` may raise :class:`core.errors.Cancelled`.
    """
    from ratescope.core.volume.phases import Scaling
    from ratescope.core.volume.windows import covering_windows, read_window

    scaling = scaling or Scaling()
    wins = covering_windows(tuple(source.shape), model.window, 224)
    lat, mean = encode_windows(model, source, wins, scaling, batch, progress)
    por = np.full(len(wins), np.nan)
    if scaling.kind == "labels" and "pore" in scaling.phases.codes:
        code = int(scaling.phases.codes["pore"])
        por = np.array(
            [float(np.mean(read_window(source, w, model.window, 224) == code)) for w in wins]
        )
    return VolumeLatents(wins, lat, mean, por)


def weights_sha256(model) -> str:
    """SHA-256 of a model's weights (state dict, sorted by name; independent of the card).

    The analysis file records it, so that a reader can tell whether it describes the CAE
    that is loaded (a card edit does not change it; retraining does).
    """
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def window_porosity(labels: np.ndarray, windows: list, length: int = 24, pore: int = 0):
    """Pore fraction of each ``length x 224 x 224`` window of a label volume (no padding)."""
    return np.array(
        [float(np.mean(labels[w.z0 : w.z0 + length, w.y0 : w.y0 + 224, w.x0 : w.x0 + 224] == pore))
         for w in windows]
    )  # fmt: skip


def window_tortuosity(
    labels: np.ndarray,
    windows: list,
    length: int = 24,
    pore: int = 0,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Tortuosity factor of each window's pores through z (``nan``: pores do not percolate).

    Uses :func:`core.volume.tortuosity.tortuosity_factor` on the pore mask of the window.
    """
    from ratescope.core.volume.tortuosity import tortuosity_factor

    out = []
    for i, w in enumerate(windows):
        report(progress, i / max(len(windows), 1), f"tortuosity of window {i + 1}")
        mask = labels[w.z0 : w.z0 + length, w.y0 : w.y0 + 224, w.x0 : w.x0 + 224] == pore
        tau = float(tortuosity_factor(mask, axis=0).tau)
        out.append(tau if np.isfinite(tau) and tau > 0 else np.nan)
    report(progress, 1.0, "tortuosity done")
    return np.asarray(out, float)


def synthetic_window_data(
    model,
    volumes: list,
    stride: int = 12,
    tortuosity: bool = True,
    progress: ProgressFn | None = None,
) -> WindowData:
    """Encode the sliding windows (z stride ``stride``) of synthetic volumes and measure them.

    Parameters
    ----------
    model : core.models.cae.CAE3D
    volumes : list of core.synth.volume.SynthVolume
        Label volumes with their generator parameters.
    stride : int
        z step between windows (windows of one volume overlap when ``stride < l``).
    tortuosity : bool
        Measure the tortuosity factor (the slowest part); ``nan`` when False.
    progress : ProgressFn, optional
        May raise :class:`core.errors.Cancelled`.
    """
    from ratescope.core.volume.windows import sliding_windows

    length = model.window
    lat, mean, por, tau, rad, vol = [], [], [], [], [], []
    for i, v in enumerate(volumes):

        def sub(f: float, m: str, i: int = i) -> None:
            report(progress, (i + f) / len(volumes), f"volume {i + 1} of {len(volumes)}: {m}")

        wins = sliding_windows(v.labels.shape, length, stride)
        z, m = encode_windows(model, v.labels, wins, progress=sub if progress else None)
        lat.append(z)
        mean.append(m)
        por.append(window_porosity(v.labels, wins, length))
        tau.append(
            window_tortuosity(v.labels, wins, length) if tortuosity else np.full(len(wins), np.nan)
        )
        rad.append(np.full(len(wins), float(v.params.radius_um)))
        vol.append(np.full(len(wins), i))
    report(progress, 1.0, "windows measured")
    return WindowData(
        latents=np.concatenate(lat),
        input_mean=np.concatenate(mean),
        targets={
            "porosity": np.concatenate(por),
            "tortuosity": np.concatenate(tau),
            "radius_um": np.concatenate(rad),
        },
        volume=np.concatenate(vol).astype(int),
        seeds=[int(v.params.seed) for v in volumes],
    )


# ----------------------------------------------------------------------- statistics
def correlations(latents: np.ndarray, target: np.ndarray) -> dict:
    """Pearson and Spearman correlation of each latent with ``target`` (finite rows only).

    Returns
    -------
    dict
        ``pearson``, ``spearman``, ``pearson_p``, ``spearman_p``: lists of ``latent``
        floats (``nan`` for a constant latent), and ``n`` (rows used).

    Examples
    --------
    >>> z = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0], [4.0, 0.0]])
    >>> c = correlations(z, np.array([10.0, 20.0, 30.0, 40.0]))
    >>> [round(v, 3) for v in c["pearson"]], c["spearman"][0], c["n"]
    ([1.0, -0.8], 1.0, 4)
    """
    from scipy import stats

    z, t = np.asarray(latents, float), np.asarray(target, float)
    ok = np.isfinite(t) & np.all(np.isfinite(z), axis=1)
    z, t = z[ok], t[ok]
    out: dict = {
        "pearson": [],
        "spearman": [],
        "pearson_p": [],
        "spearman_p": [],
        "n": int(ok.sum()),
    }
    for j in range(z.shape[1]):
        if len(t) < 3 or np.ptp(z[:, j]) == 0 or np.ptp(t) == 0:
            for k in ("pearson", "spearman", "pearson_p", "spearman_p"):
                out[k].append(float("nan"))
            continue
        r, p = stats.pearsonr(z[:, j], t)
        rho, q = stats.spearmanr(z[:, j], t)
        out["pearson"].append(float(r))
        out["pearson_p"].append(float(p))
        out["spearman"].append(float(rho))
        out["spearman_p"].append(float(q))
    return out


def describe_latents(corr: dict, names: list[str] | None = None, strong: float = STRONG):
    """A plain-words label per latent: the quantities it correlates with (Pearson).

    Every quantity with ``|r| >= strong`` is named, strongest first (porosity, tortuosity
    and particle size are correlated with each other in the synthetic family, so a latent
    often tracks several); otherwise the latent is called weak.

    Parameters
    ----------
    corr : dict
        ``{target: correlations(...)}`` for keys of :data:`TARGETS`.
    names : list of str, optional
        Latent names (default ``z1 .. zN``).
    strong : float
        Below this |r| a link is not named.

    Examples
    --------
    >>> c = {"porosity": {"pearson": [-0.91, 0.1]}, "radius_um": {"pearson": [0.62, 0.3]}}
    >>> describe_latents(c)
    ['z1 ≈ porosity (r = −0.91), particle size (r = 0.62)', 'z2: no strong link (max |r| = 0.30)']
    """
    n = len(next(iter(corr.values()))["pearson"])
    names = names or [f"z{i + 1}" for i in range(n)]
    out = []
    for j, name in enumerate(names):
        rs = {k: c["pearson"][j] for k, c in corr.items() if np.isfinite(c["pearson"][j])}
        if not rs:
            out.append(f"{name}: constant (carries nothing)")
            continue
        order = sorted(rs, key=lambda k: -abs(rs[k]))
        named = [f"{SHORT.get(k, k)} (r = {rs[k]:.2f})" for k in order if abs(rs[k]) >= strong]
        if named:
            out.append(f"{name} ≈ " + ", ".join(named).replace("-", "−"))
        else:
            out.append(f"{name}: no strong link (max |r| = {abs(rs[order[0]]):.2f})")
    return out


def r2_score(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (can be negative).

    Examples
    --------
    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    y, y_hat = np.asarray(y, float), np.asarray(y_hat, float)
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - y_hat) ** 2)) / ss if ss > 0 else float("nan")


@dataclass
class Ridge:
    """A ridge regression on standardised features: ``y = ((x - mean) / scale) @ coef + b``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    alpha: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for rows ``x`` ``[n, features]`` (or one row ``[features]``)."""
        x = np.asarray(x, float)
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def as_dict(self) -> dict:
        return {
            "alpha": float(self.alpha),
            "feature_mean": [float(v) for v in self.mean],
            "feature_scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Ridge:
        return cls(
            np.asarray(d["feature_mean"], float),
            np.asarray(d["feature_scale"], float),
            np.asarray(d["coef"], float),
            float(d["intercept"]),
            float(d["alpha"]),
        )


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> Ridge:
    """Ridge regression (closed form) of ``y`` on standardised columns of ``x``.

    Constant columns get scale 1 (and so coefficient 0).

    Examples
    --------
    >>> x = np.arange(10.0)[:, None]
    >>> m = fit_ridge(x, 2 * x[:, 0] + 1, alpha=0.0)
    >>> round(float(m.predict(np.array([20.0]))), 6)
    41.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim == 1:
        x = x[:, None]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    xs = (x - mean) / scale
    b = float(y.mean())
    a = xs.T @ xs + alpha * np.eye(xs.shape[1])
    coef = np.linalg.lstsq(a, xs.T @ (y - b), rcond=None)[0]
    return Ridge(mean, scale, coef, b, float(alpha))


def choose_alpha(x: np.ndarray, y: np.ndarray, groups: np.ndarray, alphas=None) -> float:
    """Ridge penalty with the lowest leave-one-group-out squared error (groups: volumes)."""
    alphas = np.logspace(-3, 3, 13) if alphas is None else alphas
    groups = np.asarray(groups)
    best, best_err = float(alphas[0]), np.inf
    for a in alphas:
        err = 0.0
        for g in np.unique(groups):
            test = groups == g
            m = fit_ridge(x[~test], y[~test], a)
            err += float(np.sum((m.predict(x[test]) - y[test]) ** 2))
        if err < best_err:
            best, best_err = float(a), err
    return best


@dataclass
class Projection:
    """A PCA basis: ``p = (z - mean) @ components.T``."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def project(self, z: np.ndarray) -> np.ndarray:
        """``[n, k]`` coordinates of latents ``[n, latent]``."""
        return (np.asarray(z, float) - self.mean) @ self.components.T


def fit_pca(z: np.ndarray, k: int = 2) -> Projection:
    """The first ``k`` principal axes of latents ``z`` (signs fixed: largest loading > 0).

    Examples
    --------
    >>> z = np.array([[0.0, 0.0], [2.0, 0.1], [4.0, 0.1], [6.0, 0.0]])
    >>> p = fit_pca(z, 1)
    >>> np.round(np.abs(p.components), 2).tolist(), round(float(p.explained[0]), 3)
    ([[1.0, 0.0]], 1.0)
    """
    z = np.asarray(z, float)
    mean = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    comps = vt[:k].copy()
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    var = s**2
    return Projection(mean, comps, var[:k] / max(float(var.sum()), 1e-300))


# ------------------------------------------------------------------------- analysis
def analyse(fit: WindowData, heldout: WindowData, alphas=None) -> dict:
    """Correlations, the held-out porosity regression and a PCA basis, as JSON-able data.

    Parameters
    ----------
    fit : WindowData
        Windows the regression and the PCA are fitted on (and the penalty chosen on, by
        leave-one-volume-out).
    heldout : WindowData
        Windows of other volumes: only scored.
    alphas : sequence of float, optional
        Ridge penalties tried.

    Returns
    -------
    dict
        ``correlations`` (on fit + held-out windows), ``labels``, ``between_targets``
        (Pearson r of the targets with each other), ``porosity_regression``
        (latents -> porosity: coefficients, R² and RMSE on fit and held-out windows;
        ``baseline``: mean input -> porosity, the same figures), ``pca`` and ``reference``
        (the held-out windows' 2-D coordinates and porosity).
    """
    z_all = np.concatenate([fit.latents, heldout.latents])
    corr = {
        k: correlations(z_all, np.concatenate([fit.targets[k], heldout.targets[k]]))
        for k in TARGETS
        if k in fit.targets
    }
    between = {}
    keys = [k for k in TARGETS if k in fit.targets]
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            ta = np.concatenate([fit.targets[a], heldout.targets[a]])
            tb = np.concatenate([fit.targets[b], heldout.targets[b]])
            between[f"{a} vs {b}"] = correlations(ta[:, None], tb)["pearson"][0]
    y_fit, y_ho = fit.targets["porosity"], heldout.targets["porosity"]

    def scored(x_fit, x_ho, groups) -> tuple[Ridge, dict]:
        alpha = choose_alpha(x_fit, y_fit, groups, alphas)
        m = fit_ridge(x_fit, y_fit, alpha)
        p_fit, p_ho = m.predict(x_fit), m.predict(x_ho)
        return m, {
            **m.as_dict(),
            "r2_fit": r2_score(y_fit, p_fit),
            "r2_heldout": r2_score(y_ho, p_ho),
            "rmse_heldout": float(np.sqrt(np.mean((p_ho - y_ho) ** 2))),
        }

    _, lat = scored(fit.latents, heldout.latents, fit.volume)
    _, base = scored(fit.input_mean[:, None], heldout.input_mean[:, None], fit.volume)
    pca = fit_pca(fit.latents, 2)
    pts = pca.project(heldout.latents)
    return {
        "correlations": corr,
        "labels": describe_latents(corr),
        "between_targets": between,
        "porosity_regression": {
            "features": "the 10 latent features (standardised)",
            **lat,
            "baseline": {"features": "the window's mean CAE input value", **base},
            "n_fit": len(fit),
            "n_heldout": len(heldout),
        },
        "pca": {
            "mean": [float(v) for v in pca.mean],
            "components": [[float(v) for v in c] for c in pca.components],
            "explained_variance_ratio": [float(v) for v in pca.explained],
            "fitted_on": "fit windows",
        },
        "reference": {
            "what": "held-out synthetic windows",
            "points": [[round(float(a), 4), round(float(b), 4)] for a, b in pts],
            "porosity": [round(float(v), 5) for v in y_ho],
            "volume_seed": [int(heldout.seeds[i]) for i in heldout.volume],
        },
    }


# ------------------------------------------------------------------------ reference
@dataclass
class LatentReference:
    """The stored analysis (``resources/models/cae_latents.json``), ready to apply.

    Attributes
    ----------
    data : dict
        The whole JSON document.
    regression : Ridge
        Latents -> porosity.
    projection : Projection
        Latents -> 2-D.
    reference_points : numpy.ndarray
        ``[n, 2]`` held-out windows in the 2-D projection.
    reference_porosity : numpy.ndarray
        ``[n]``.
    """

    data: dict
    regression: Ridge
    projection: Projection
    reference_points: np.ndarray
    reference_porosity: np.ndarray

    @property
    def labels(self) -> list[str]:
        return list(self.data["labels"])

    @property
    def r2_heldout(self) -> float:
        return float(self.data["porosity_regression"]["r2_heldout"])

    @property
    def baseline_r2_heldout(self) -> float:
        return float(self.data["porosity_regression"]["baseline"]["r2_heldout"])

    def pearson(self) -> dict[str, np.ndarray]:
        """``{target: [latent] Pearson r}``."""
        return {k: np.asarray(c["pearson"], float) for k, c in self.data["correlations"].items()}

    def porosity(self, latents: np.ndarray) -> np.ndarray:
        """Porosity regressed from latents ``[n, latent]`` (or one row), clipped to [0, 1]."""
        return np.clip(self.regression.predict(latents), 0.0, 1.0)


def _nan_list(values) -> list:
    return [float("nan") if v is None else float(v) for v in values]


def load_reference(path: str | Path | None = None, latent: int = 10) -> LatentReference:
    """Read and check the latent analysis (default: the embedded ``cae_latents.json``).

    Raises
    ------
    core.errors.RateScopeError
        The file is missing, is not JSON, or lacks a part or has parts of the wrong size.
    """
    import json

    from ratescope.core.errors import RateScopeError

    if path is None:
        from ratescope.core.resources import MODELS

        path = MODELS / LATENT_FILE
    path = Path(path)
    if not path.is_file():
        raise RateScopeError("the latent analysis file does not exist", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RateScopeError(f"not a JSON file ({exc})", path) from exc
    try:
        reg = data["porosity_regression"]
        ridge = Ridge.from_dict(reg)
        float(reg["r2_heldout"]), float(reg["baseline"]["r2_heldout"])
        pca = data["pca"]
        proj = Projection(
            np.asarray(pca["mean"], float),
            np.asarray(pca["components"], float),
            np.asarray(pca["explained_variance_ratio"], float),
        )
        pts = np.asarray(data["reference"]["points"], float).reshape(-1, 2)
        por = np.asarray(data["reference"]["porosity"], float)
        for c in data["correlations"].values():
            c["pearson"], c["spearman"] = _nan_list(c["pearson"]), _nan_list(c["spearman"])
            if len(c["pearson"]) != latent or len(c["spearman"]) != latent:
                raise ValueError("a correlation list has the wrong length")
        sizes = (len(ridge.coef), len(ridge.mean), len(proj.mean), proj.components.shape[-1])
        if any(s != latent for s in sizes) or len(data["labels"]) != latent:
            raise ValueError(f"expected {latent} latent features")
        if len(pts) != len(por) or proj.components.shape[0] != 2:
            raise ValueError("reference points and porosity disagree")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RateScopeError(f"not a valid latent analysis ({exc})", path) from exc
    return LatentReference(data, ridge, proj, pts, por)
