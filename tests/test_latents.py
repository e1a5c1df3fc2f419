"""What the CAE's latents carry (core.volume.latents): windows of real synthetic volumes
encoded with the embedded CAE, correlations recomputed independently, the porosity
regression scored only on windows it was not fitted on, and the committed analysis file."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from scipy import stats

from ratescope.core.errors import RateScopeError
from ratescope.core.models.cae import load_model
from ratescope.core.resources import MODELS
from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5
from ratescope.core.synth.volume_sets import varied_set
from ratescope.core.volume.latents import (
    LATENT_FILE,
    analyse,
    describe_latents,
    encode_volume,
    encode_windows,
    fit_ridge,
    load_reference,
    r2_score,
    synthetic_window_data,
    weights_sha256,
)
from ratescope.core.volume.phases import Scaling
from ratescope.core.volume.reconstruct import Reconstructor
from ratescope.core.volume.tortuosity import tortuosity_factor
from ratescope.core.volume.windows import Window, covering_windows, sliding_windows

SHAPE = (48, 224, 224)


@pytest.fixture(scope="module")
def model():
    return load_model()[0]


@pytest.fixture(scope="module")
def sets(model):
    """A tiny fit family (4 volumes) and held-out family (2 volumes), disjoint seeds."""
    fit = synthetic_window_data(model, varied_set(4, SHAPE, seed=300), 24, tortuosity=False)
    held = synthetic_window_data(model, varied_set(2, SHAPE, seed=700), 24, tortuosity=False)
    return fit, held


def test_encode_windows_is_the_reconstruction_encoder(model):
    labels = make_volume(VolumeParams(shape=(30, 224, 224), seed=5)).labels
    wins = sliding_windows(labels.shape, 24, 6)
    z, mean = encode_windows(model, labels, wins)
    ref = Reconstructor(model, labels, Scaling(), batch=2).latents(wins)
    np.testing.assert_allclose(z, ref, rtol=1e-4, atol=1e-4)
    scaled = Scaling().apply(labels)
    for w, m in zip(wins, mean, strict=True):
        assert m == pytest.approx(float(scaled[w.z0 : w.z0 + 24].mean()), abs=1e-6)


def test_encode_volume_covers_and_measures_porosity(model):
    labels = make_volume(VolumeParams(shape=(30, 240, 230), radius_um=3.0, seed=6)).labels
    r = encode_volume(model, labels)
    assert r.windows == covering_windows(labels.shape, 24, 224)
    assert r.latents.shape == (len(r.windows), 10)
    w = r.windows[-1]
    assert w == Window(6, 16, 6)
    expected = np.mean(labels[6:30, 16:240, 6:230] == 0)
    assert r.porosity[-1] == pytest.approx(expected)
    grey = encode_volume(model, labels, Scaling("grayscale", lo=0, hi=2))
    assert np.all(np.isnan(grey.porosity))


def test_correlations_shape_recomputable_and_physical(sets):
    fit, held = sets
    assert len(fit) == 8 and len(held) == 4  # 2 windows (stride 24) per 48-slice volume
    assert set(fit.seeds).isdisjoint(held.seeds)
    a = analyse(fit, held)
    z = np.concatenate([fit.latents, held.latents])
    por = np.concatenate([fit.targets["porosity"], held.targets["porosity"]])
    rad = np.concatenate([fit.targets["radius_um"], held.targets["radius_um"]])
    c = a["correlations"]
    assert set(c) == {"porosity", "tortuosity", "radius_um"}
    assert len(c["porosity"]["pearson"]) == 10 and c["porosity"]["n"] == 12
    for j in (0, 4, 9):
        assert c["porosity"]["pearson"][j] == pytest.approx(np.corrcoef(z[:, j], por)[0, 1])
        rho = stats.pearsonr(stats.rankdata(z[:, j]), stats.rankdata(rad))[0]
        assert c["radius_um"]["spearman"][j] == pytest.approx(rho)
    # tortuosity was not measured here: no rows, no correlation
    assert c["tortuosity"]["n"] == 0 and np.all(np.isnan(c["tortuosity"]["pearson"]))
    assert a["labels"] == describe_latents(c)
    # the mean input falls as porosity rises (pore -1 < CBD 0 < active +1)
    mean = np.concatenate([fit.input_mean, held.input_mean])
    assert np.corrcoef(mean, por)[0, 1] < -0.9


def test_regression_scored_on_windows_it_was_not_fitted_on(sets):
    fit, held = sets
    a = analyse(fit, held)["porosity_regression"]
    m = fit_ridge(fit.latents, fit.targets["porosity"], a["alpha"])
    np.testing.assert_allclose(m.coef, a["coef"])
    y = held.targets["porosity"]
    assert a["r2_heldout"] == pytest.approx(r2_score(y, m.predict(held.latents)))
    assert a["n_fit"] == 8 and a["n_heldout"] == 4
    # the held-out targets do not reach the fit: shuffled ones change the score only
    shuffled = type(held)(
        held.latents,
        held.input_mean,
        {**held.targets, "porosity": y[::-1].copy()},
        held.volume,
        held.seeds,
    )
    b = analyse(fit, shuffled)["porosity_regression"]
    assert b["coef"] == a["coef"] and b["alpha"] == a["alpha"]
    assert b["r2_heldout"] != pytest.approx(a["r2_heldout"])
    base = a["baseline"]
    assert len(base["coef"]) == 1 and base["coef"][0] < 0  # more pore -> lower mean input


def test_tortuosity_per_window(model):
    v = make_volume(VolumeParams(shape=(24, 224, 224), seed=11))
    d = synthetic_window_data(model, [v], 24, tortuosity=True)
    tau = d.targets["tortuosity"]
    assert tau.shape == (1,) and np.isfinite(tau[0]) and tau[0] >= 1.0
    assert d.targets["radius_um"][0] == v.params.radius_um
    assert d.targets["porosity"][0] == pytest.approx(v.fractions["pore"])


def test_committed_analysis_loads_and_fits_the_embedded_model():
    ref = load_reference()
    data = ref.data
    sha = weights_sha256(load_model()[0])
    assert data["model"]["weights_sha256"] == sha, "rerun scripts/latent_analysis.py for this CAE"
    assert (MODELS / LATENT_FILE).stat().st_size < 200_000
    assert len(ref.labels) == 10 and ref.labels == describe_latents(data["correlations"])
    assert np.isfinite(ref.r2_heldout) and np.isfinite(ref.baseline_r2_heldout)
    fit, held = data["data"]["fit"], data["data"]["heldout"]
    assert set(fit["seeds"]).isdisjoint(held["seeds"])
    cae_card = json.loads((MODELS / "cae.json").read_text())
    used = {v["seed"] for part in cae_card["training_data"]["volumes"].values() for v in part}
    assert used.isdisjoint(fit["seeds"]) and used.isdisjoint(held["seeds"])
    assert len(ref.reference_points) == held["windows"] == len(ref.reference_porosity)
    assert data["porosity_regression"]["n_heldout"] == held["windows"]
    assert ref.projection.components.shape == (2, 10)
    p = ref.porosity(np.zeros((3, 10)))
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    assert "latent_analysis.py" in data["command"]


def test_broken_analysis_file_names_the_file(tmp_path):
    good = json.loads((MODELS / LATENT_FILE).read_text())
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({k: v for k, v in good.items() if k != "pca"}))
    with pytest.raises(RateScopeError, match=r"^broken\.json: not a valid latent analysis"):
        load_reference(bad)
    short = dict(good, labels=good["labels"][:9])
    bad.write_text(json.dumps(short))
    with pytest.raises(RateScopeError, match="10 latent features"):
        load_reference(bad)
    bad.write_text("{not json")
    with pytest.raises(RateScopeError, match="not a JSON file"):
        load_reference(bad)
    with pytest.raises(RateScopeError, match="does not exist"):
        load_reference(tmp_path / "missing.json")


def test_tortuosity_factor_is_the_solver_used():
    """The per-window tortuosity is the other module's factor (same mask, same value)."""
    from ratescope.core.volume.latents import window_tortuosity

    m = np.zeros((24, 224, 224), np.uint8)
    m[:, :, 100:] = 1  # pores (0) in half the plane, straight through z
    tau = window_tortuosity(m, [Window(0, 0, 0)])
    assert tau[0] == pytest.approx(tortuosity_factor(m == 0).tau) == pytest.approx(1.0)


def test_cli_volume_json_has_porosity_from_latents(tmp_path, capsys):
    from ratescope.cli import main
    from ratescope.cli import volume as volume_cli

    v = make_volume(VolumeParams(shape=(24, 224, 224), radius_um=3.0, seed=12))
    write_hdf5(tmp_path / "v.h5", v.labels)
    parser = argparse.ArgumentParser()
    volume_cli.add_arguments(parser)
    fast = ["--no-metrics"] if "--no-metrics" in parser.format_help() else []
    out_json = tmp_path / "o.json"
    argv = ["volume", str(tmp_path / "v.h5"), "--reconstruct", str(tmp_path / "r.h5"), *fast]
    assert main([*argv, "--json", str(out_json)]) == 0
    assert "porosity from the latents: mean" in capsys.readouterr().out
    rec = json.loads(out_json.read_text())["reconstruction"]
    ref = load_reference()
    lat = np.array([w["latents"] for w in rec["windows"]])
    por = np.array([w["porosity_from_latents"] for w in rec["windows"]])
    np.testing.assert_allclose(por, ref.porosity(lat), atol=1e-6)
    assert rec["porosity_from_latents"]["mean"] == pytest.approx(por.mean())
    assert rec["porosity_from_latents"]["r2_heldout"] == ref.r2_heldout
