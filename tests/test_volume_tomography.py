"""A segmented-tomography-style volume, 251 x 301 x 301 uint8 labels (0 pore, 1 active,
2 carbon-binder; sizes not multiples of the 24 x 224 x 224 window), written as a
multi-page TIFF by tifffile and as HDF5 by h5py: it opens, its phase fractions equal
numpy's bincount, and ``python main.py volume FILE --reconstruct out.h5`` reconstructs it
with the embedded CAE without error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from scipy import ndimage

from ratescope.core.volume.io import guess_kind, open_volume
from ratescope.core.volume.phases import PhaseMap, phase_fractions
from ratescope.core.volume.subvolume import parse_slices, sub_volume

SHAPE = (251, 301, 301)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tomo() -> np.ndarray:
    """Labels thresholded from a smooth random field (2-voxel grain): active where the
    field is high, carbon-binder as the shell between active and pore (about 48/12/40 %)."""
    rng = np.random.default_rng(5)
    field = ndimage.gaussian_filter(rng.standard_normal((126, 151, 151), np.float32), 1.5)
    lo, hi = np.quantile(field, [0.40, 0.52])
    small = np.where(field > hi, 1, np.where(field > lo, 2, 0)).astype(np.uint8)
    return small.repeat(2, 0).repeat(2, 1).repeat(2, 2)[: SHAPE[0], : SHAPE[1], : SHAPE[2]]


@pytest.fixture(scope="module")
def files(tomo, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tomo")
    tif, h5 = d / "tomo.tif", d / "tomo.h5"
    tifffile.imwrite(tif, tomo, compression="zlib", photometric="minisblack")  # 251 pages
    with h5py.File(h5, "w") as f:
        ds = f.create_dataset("exchange/data", data=tomo, chunks=(16, 301, 301), compression=4)
        ds.attrs["element_size_um"] = [0.398, 0.398, 0.398]
    return {"tiff": tif, "hdf5": h5}


@pytest.mark.parametrize("fmt", ["tiff", "hdf5"])
def test_tomography_opens_with_bincount_fractions(tomo, files, fmt):
    counts = np.bincount(tomo.reshape(-1), minlength=3) / tomo.size
    assert 0.05 < counts.min() and counts.max() < 0.6  # three real phases
    with open_volume(files[fmt]) as src:
        assert src.shape == SHAPE and src.dtype == np.uint8 and guess_kind(src) == "labels"
        if fmt == "tiff":
            assert len(tifffile.TiffFile(files[fmt]).pages) == SHAPE[0]
        fr = phase_fractions(src, PhaseMap(), chunk=40)
        assert fr["pore"] == pytest.approx(counts[0], abs=1e-12)
        assert fr["active"] == pytest.approx(counts[1], abs=1e-12)
        assert fr["carbon_binder"] == pytest.approx(counts[2], abs=1e-12)
        assert fr["other"] == 0
        assert np.array_equal(src.slice(250), tomo[250])


def _cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "main.py"), "volume", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_cli_reports_hdf5_tomography(tomo, files, tmp_path, capsys):
    from ratescope.cli import main  # in-process: the same code path as ``python main.py volume``

    assert main(["volume", str(files["hdf5"]), "--json", str(tmp_path / "o.json")]) == 0
    out = capsys.readouterr().out
    assert "(251, 301, 301)" in out and "0.398 x 0.398 x 0.398" in out
    info = json.loads((tmp_path / "o.json").read_text())
    assert info["dataset"] == "exchange/data" and info["kind"] == "labels"
    counts = np.bincount(tomo.reshape(-1), minlength=3) / tomo.size
    assert info["phase_fractions"]["carbon_binder"] == pytest.approx(counts[2], abs=1e-12)
    assert main(["volume", str(files["hdf5"]), "--reconstruct", "x.h5", "--slices", "9:3"]) == 1
    assert "--slices" in capsys.readouterr().err


def _check_reconstruction(tomo, out: Path, info: dict, z0: int, n_windows: int) -> None:
    z1 = SHAPE[0]
    assert info["slices"] == [z0, z1] and len(info["windows"]) == n_windows
    # z blocks of 24 from z0, the last moved back to end at slice 251 (it overlaps);
    # in-plane tiles at 0 and 77 (301 = 224 + 77)
    starts = {*range(z0, z1 - 24 + 1, 24), z1 - 24}
    assert {w["z0"] for w in info["windows"]} == starts
    assert {(w["y0"], w["x0"]) for w in info["windows"]} == {(0, 0), (0, 77), (77, 0), (77, 77)}
    assert all(len(w["latents"]) == 10 and np.isfinite(w["latents"]).all() for w in info["windows"])
    assert 0 <= info["voxel_ttest"]["pvalue"] <= 1
    with h5py.File(out, "r") as f:
        rec = f["reconstruction"][...]
        assert rec.shape == (z1 - z0, *SHAPE[1:]) and np.isfinite(rec).all()
        assert f["latents"].shape == (n_windows, 10) and list(f.attrs["slices"]) == [z0, z1]
    # the reported MSE is that of the written reconstruction against the scaled labels
    x = PhaseMap().lut()[tomo[z0:]].astype(np.float64)
    assert info["mse"] == pytest.approx(float(np.mean((x - rec) ** 2)), rel=1e-4)
    assert info["voxel_ttest"]["mean_a"] == pytest.approx(float(x.mean()), abs=1e-6)


def test_cli_reconstructs_the_last_slices_of_tiff_tomography(tomo, files, tmp_path):
    out, js = tmp_path / "rec.h5", tmp_path / "o.json"
    r = _cli(str(files["tiff"]), "--reconstruct", str(out), "--slices", "211:", "--json", str(js))
    assert r.returncode == 0, r.stderr
    assert "reconstructed 8 windows (slices 211-250)" in r.stdout and "t-test p =" in r.stdout
    info = json.loads(js.read_text())
    _check_reconstruction(tomo, out, info["reconstruction"], 211, 8)
    # no voxel size in this TIFF: the metrics in µm are skipped with the reason, not an error
    assert "voxel size is unknown" in info["metrics_skipped"] and "tortuosity" not in info


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tiff", "hdf5"])
def test_cli_reconstructs_whole_tomography(tomo, files, tmp_path, fmt):
    out, js = tmp_path / "rec.h5", tmp_path / "o.json"
    r = _cli(str(files[fmt]), "--reconstruct", str(out), "--json", str(js))
    assert r.returncode == 0, r.stderr
    assert "reconstructed 44 windows (slices 0-250)" in r.stdout
    _check_reconstruction(tomo, out, json.loads(js.read_text())["reconstruction"], 0, 44)


def test_slice_ranges():
    assert parse_slices("211:", 251) == (211, 251) and parse_slices("-40:", 251) == (211, 251)
    assert parse_slices(":24", 251) == (0, 24)
    for bad in ("5", "30:10", "a:b"):
        with pytest.raises(ValueError):
            parse_slices(bad, 251)


@pytest.mark.parametrize("fmt", ["tiff", "hdf5"])
def test_sub_volume_reads_lazily_with_offset(tomo, files, fmt):
    with open_volume(files[fmt]) as src:
        part = sub_volume(src, 200, 251)
        assert part.shape == (51, 301, 301)
        assert np.array_equal(part.read_box(40, 60, 290, 310, 0, 5), tomo[240:251, 290:, :5])
        assert np.array_equal(part.slice(0), tomo[200])
        with pytest.raises(IndexError):
            part.slice(51)
