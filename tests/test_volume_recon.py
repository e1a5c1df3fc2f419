"""Windows, block reconstruction + slice cache, the paper's statistics against scipy, CLI."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from scipy import stats

from ratescope.core.errors import Cancelled
from ratescope.core.models.cae import CAE3D, save_model
from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5
from ratescope.core.volume.io import open_volume
from ratescope.core.volume.recon_cache import ReconstructionCache
from ratescope.core.volume.reconstruct import Reconstructor, reconstruct_volume
from ratescope.core.volume.stats import (
    Moments,
    moments_ttest,
    mse_ttest,
    reconstruction_ttest,
    window_means_ttest,
)
from ratescope.core.volume.windows import (
    Window,
    cover_starts,
    pad_to,
    sliding_starts,
    sliding_windows,
)


@pytest.fixture(scope="module")
def model() -> CAE3D:
    torch.manual_seed(0)
    return CAE3D().eval()


def test_window_layouts():
    assert len(sliding_starts(72, 24, 1)) == 49 and sliding_starts(72, 24, 24) == [0, 24, 48]
    assert sliding_starts(20, 24, 1) == []
    assert cover_starts(251, 24)[-1] == 227 and len(cover_starts(251, 24)) == 11
    assert cover_starts(301, 224) == [0, 77]
    assert len(sliding_windows((30, 301, 224), 24, 1)) == 7 * 2
    a = np.arange(6).reshape(1, 2, 3)
    p = pad_to(a, (3, 5, 3))
    assert p.shape == (3, 5, 3) and np.array_equal(p[:1, :2], a)
    assert np.array_equal(p[1], p[0]) and np.array_equal(p[2], p[0])  # repeated mirror in z
    assert np.array_equal(p[0, 2], a[0, 1]) and np.array_equal(p[0, 3], a[0, 0])  # symmetric


def test_moments_and_ttests_match_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 0.2, 5000), rng.normal(0.31, 0.25, 7000)
    m = Moments()
    for chunk in np.array_split(a, 7):
        m.add(chunk)
    assert m.n == a.size and m.mean == pytest.approx(a.mean())
    assert m.std == pytest.approx(a.std(ddof=1))
    t = reconstruction_ttest(a, b)
    ref = stats.ttest_ind(a, b)  # from the raw voxels, not from moments
    assert t.statistic == pytest.approx(ref.statistic) and t.pvalue == pytest.approx(ref.pvalue)
    # pooled two-sample t computed by hand
    dof = a.size + b.size - 2
    sp = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / dof)
    t_hand = (a.mean() - b.mean()) / (sp * np.sqrt(1 / a.size + 1 / b.size))
    assert t.statistic == pytest.approx(t_hand)
    assert t.pvalue == pytest.approx(2 * stats.t.sf(abs(t_hand), a.size + b.size - 2))
    tr, va = rng.normal(0.068, 0.005, 1159), rng.normal(0.071, 0.011, 290)
    f = mse_ttest(tr, va)
    assert f.pvalue == pytest.approx(stats.ttest_ind(tr, va).pvalue) and f.n_a == 1159
    assert f.different == (f.pvalue < 0.05)
    o, r = rng.normal(0.5, 0.1, 20), rng.normal(0.5, 0.1, 20)
    assert window_means_ttest(o, r).pvalue == pytest.approx(stats.ttest_rel(o, r).pvalue)
    m2 = Moments()
    m2.add(b)
    assert moments_ttest(m, m2).pvalue == pytest.approx(ref.pvalue)


def test_reconstruct_volume_of_odd_size_writes_hdf5_and_matches_cache(tmp_path, model):
    vol = make_volume(VolumeParams(shape=(26, 230, 224), radius_um=2.0, seed=5)).labels
    write_hdf5(tmp_path / "v.h5", vol)
    src = open_volume(tmp_path / "v.h5")
    rec = Reconstructor(model, src)
    assert rec.starts == [0, 2] and rec.tiles == [(0, 0), (6, 0)]
    assert rec.block_start(1) == 0 and rec.block_start(23) == 0 and rec.block_start(24) == 2
    seen = []
    r = reconstruct_volume(rec, tmp_path / "rec.h5", progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and len(r.windows) == 4 and r.latents.shape == (4, 10)
    with h5py.File(tmp_path / "rec.h5") as f:
        out = f["reconstruction"][:]
        assert out.shape == vol.shape and np.isfinite(out).all()
        assert f["latents"].shape == (4, 10) and f["windows"][-1].tolist() == [2, 6, 0]
    x = rec.scaling.apply(vol).astype(np.float64)
    assert r.mse == pytest.approx(np.mean((x - out) ** 2), rel=1e-5)
    assert r.voxel_test.pvalue == pytest.approx(
        stats.ttest_ind(x.ravel(), out.ravel()).pvalue, rel=1e-6, abs=1e-300
    )
    cache = ReconstructionCache(rec, max_blocks=1)
    assert cache.slice(25) is None
    cache.ensure(25)
    o, rr = cache.slice(25)
    assert np.array_equal(rr, out[25]) and np.array_equal(o, x[25].astype(np.float32))
    cache.ensure(0)  # evicts the other block (max_blocks=1)
    assert cache.slice(25) is None and np.array_equal(cache.slice(3)[1], out[3])
    # a latent is the encoder output of the (unpadded) tile
    with torch.inference_mode():
        z = model.encode(torch.from_numpy(x[None, None, :24, :224, :224].astype(np.float32)))
    np.testing.assert_allclose(r.latents[0], z[0].numpy(), rtol=1e-4, atol=1e-5)
    lat = rec.latents([Window(0, 0, 0), Window(2, 6, 0)])
    np.testing.assert_allclose(lat, r.latents[[0, 3]], rtol=1e-4, atol=1e-5)


def test_volume_smaller_than_a_window_is_padded(model):
    vol = np.random.default_rng(2).integers(0, 3, (10, 100, 150), dtype=np.uint8)
    rec = Reconstructor(model, vol)
    blk = rec.block(0)
    assert blk.reconstruction.shape == (10, 100, 150) and blk.latents.shape == (1, 10)


def test_cancel_leaves_no_output(tmp_path, model):
    vol = np.zeros((30, 224, 224), np.uint8)

    def cancel(frac, msg):
        if frac > 0.3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        reconstruct_volume(Reconstructor(model, vol), tmp_path / "out.h5", cancel)
    assert list(tmp_path.iterdir()) == []


def test_cli_volume_reports_and_reconstructs(tmp_path, model, capsys):
    from ratescope.cli import main

    vol = make_volume(VolumeParams(shape=(24, 224, 224), radius_um=2.5, seed=9))
    write_hdf5(tmp_path / "v.h5", vol.labels)
    save_model(model, tmp_path / "m.safetensors", {"name": "untrained test model"})
    rc = main(
        [
            "volume",
            str(tmp_path / "v.h5"),
            "--model",
            str(tmp_path / "m.safetensors"),
            "--reconstruct",
            str(tmp_path / "r.h5"),
            "--json",
            str(tmp_path / "o.json"),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "0.398 x 0.398 x 0.398" in out and "t-test p =" in out
    info = json.loads((tmp_path / "o.json").read_text())
    assert info["phase_fractions"]["active"] == pytest.approx(vol.fractions["active"])
    assert len(info["reconstruction"]["windows"][0]["latents"]) == 10
    assert (tmp_path / "r.h5").is_file()
    with h5py.File(tmp_path / "multi.h5", "w") as f:
        f["a"] = np.zeros((2, 3, 4), np.uint8)
        f["b"] = np.zeros((2, 3, 4), np.uint8)
    assert main(["volume", str(tmp_path / "multi.h5")]) == 1
    assert "--dataset" in capsys.readouterr().err
