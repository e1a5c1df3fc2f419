"""Volumes written by real writers (tifffile, h5py, imageio) open lazily with the right
shape, voxel size and phase fractions; bad inputs raise RateScopeError naming the file."""

from __future__ import annotations

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from ratescope.core.errors import RateScopeError
from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5, write_tiff
from ratescope.core.volume.io import (
    MultipleDatasets,
    guess_kind,
    hdf5_datasets,
    open_volume,
    scaling_for,
)
from ratescope.core.volume.phases import PhaseMap, phase_fractions

SHAPE = (251, 301, 301)


@pytest.fixture(scope="module")
def slab_labels() -> tuple[np.ndarray, dict]:
    """uint8 labels 251 x 301 x 301 with fractions known by construction.

    Slices z < 200: x < 150 active (1), 150 <= x < 190 carbon-binder (2), the rest pore (0);
    slices z >= 200 are all pore.
    """
    a = np.zeros(SHAPE, np.uint8)
    a[:200, :, :150] = 1
    a[:200, :, 150:190] = 2
    n = np.prod(SHAPE)
    active = 200 * 301 * 150 / n
    cbd = 200 * 301 * 40 / n
    return a, {"active": active, "carbon_binder": cbd, "pore": 1 - active - cbd}


@pytest.mark.parametrize("writer", ["tiff_raw", "tiff_zlib", "hdf5"])
def test_real_segmented_volume_opens_with_known_fractions(tmp_path, slab_labels, writer):
    labels, truth = slab_labels
    if writer == "hdf5":
        path = tmp_path / "seg.h5"
        with h5py.File(path, "w") as f:
            ds = f.create_dataset(
                "exchange/data", data=labels, chunks=(8, 301, 301), compression="gzip"
            )
            ds.attrs["element_size_um"] = [0.398, 0.398, 0.398]
    else:
        path = tmp_path / "seg.tif"
        tifffile.imwrite(
            path,
            labels,
            imagej=True,
            resolution=(1 / 0.398, 1 / 0.398),
            metadata={"spacing": 0.398, "unit": "um", "axes": "ZYX"},
            compression="zlib" if writer == "tiff_zlib" else None,
        )
    with open_volume(path) as src:
        assert src.shape == SHAPE and src.dtype == np.uint8
        assert src.voxel_size_um == pytest.approx((0.398, 0.398, 0.398))
        assert guess_kind(src) == "labels"
        fr = phase_fractions(src, chunk=50)
        for k, v in truth.items():
            assert fr[k] == pytest.approx(v, abs=1e-12)
        assert fr["other"] == 0
        assert np.array_equal(
            src.read_box(190, 210, 290, 400, 140, 200), labels[190:210, 290:, 140:200]
        )
        assert np.array_equal(src.slice(250), labels[250])


def _reconstruct_check(path, labels, z0=None):
    import torch

    from ratescope.core.models.cae import CAE3D
    from ratescope.core.volume.reconstruct import Reconstructor, reconstruct_volume

    torch.manual_seed(0)
    with open_volume(path) as src:
        rec = Reconstructor(CAE3D().eval(), src)
        if z0 is None:
            return reconstruct_volume(rec)
        blk = rec.block(z0)
    assert blk.reconstruction.shape == (24, 301, 301) and np.isfinite(blk.reconstruction).all()
    assert blk.latents.shape == (4, 10) and len(blk.mse) == 4
    assert np.array_equal(blk.original, rec.scaling.apply(labels[z0 : z0 + 24]))
    assert 0 <= blk.voxel_test().pvalue <= 1
    return blk


def test_real_segmented_volume_reconstructs_its_last_block(tmp_path, slab_labels):
    labels, _ = slab_labels
    path = tmp_path / "seg.tif"
    tifffile.imwrite(path, labels, compression="zlib")
    blk = _reconstruct_check(path, labels, z0=227)  # the last, overlapping block
    assert blk.z0 == 227 and blk.z1 == 251


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".tif", ".h5"])
def test_real_segmented_volume_reconstructs_entirely(tmp_path, slab_labels, suffix):
    labels, _ = slab_labels
    path = tmp_path / f"seg{suffix}"
    if suffix == ".h5":
        with h5py.File(path, "w") as f:
            f.create_dataset("labels", data=labels, compression="gzip")
    else:
        tifffile.imwrite(path, labels)
    r = _reconstruct_check(path, labels)
    assert len(r.windows) == 11 * 4 and np.isfinite(r.mse) and r.latents.shape == (44, 10)


def test_phase_mapping_is_configurable(slab_labels):
    labels, truth = slab_labels
    swapped = PhaseMap(codes={"pore": 0, "active": 2, "carbon_binder": 1})
    fr = phase_fractions(labels[:50], swapped)
    assert fr["active"] == pytest.approx(40 / 301)
    assert fr["carbon_binder"] == pytest.approx(150 / 301)
    lut = swapped.lut()
    assert lut[2] == 1.0 and lut[1] == 0.0 and lut[0] == -1.0


def test_synthetic_volume_writers_round_trip(tmp_path):
    v = make_volume(VolumeParams(shape=(20, 64, 80), radius_um=2.0, seed=4))
    write_tiff(tmp_path / "v.tif", v.labels)
    write_hdf5(tmp_path / "v.h5", v.labels, metadata=v.metadata())
    for p in ("v.tif", "v.h5"):
        with open_volume(tmp_path / p) as src:
            assert np.array_equal(src.read(0, 20), v.labels)
            assert src.voxel_size_um == pytest.approx((0.398,) * 3)
            fr = phase_fractions(src)
            assert fr["active"] == pytest.approx(v.fractions["active"])


def test_tiff_resolution_in_centimetres_and_missing(tmp_path):
    a = np.zeros((3, 10, 10), np.uint8)
    tifffile.imwrite(
        tmp_path / "cm.tif",
        a,
        resolution=(1e4 / 0.5, 1e4 / 0.5),
        resolutionunit="CENTIMETER",
        photometric="minisblack",
    )
    tifffile.imwrite(tmp_path / "none.tif", a, photometric="minisblack")
    assert open_volume(tmp_path / "cm.tif").voxel_size_um == pytest.approx((0.5, 0.5, 0.5))
    assert open_volume(tmp_path / "none.tif").voxel_size_um is None


def test_folder_of_slices_natural_order(tmp_path):
    rng = np.random.default_rng(0)
    vol = rng.integers(0, 3, (12, 30, 40), dtype=np.uint8)
    for k in range(12):  # slice_2 must come before slice_10
        iio.imwrite(tmp_path / f"slice_{k}.png", vol[k])
    (tmp_path / "notes.txt").write_text("not an image")
    with open_volume(tmp_path) as src:
        assert src.format == "folder" and src.shape == (12, 30, 40)
        assert src.voxel_size_um is None
        assert np.array_equal(src.read(0, 12), vol)
        assert np.array_equal(src.read_box(9, 12, 5, 10, 0, 7), vol[9:12, 5:10, :7])


def test_folder_with_a_slice_of_another_size_names_that_slice(tmp_path):
    for k in range(3):
        tifffile.imwrite(
            tmp_path / f"s{k}.tif", np.zeros((20, 20) if k < 2 else (21, 20), np.uint8)
        )
    src = open_volume(tmp_path)
    with pytest.raises(RateScopeError, match="s2.tif"):
        src.read(0, 3)


def test_hdf5_with_several_datasets_requires_a_choice(tmp_path):
    path = tmp_path / "multi.h5"
    with h5py.File(path, "w") as f:
        f["raw/grey"] = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6) * 100
        f["seg/labels"] = np.ones((4, 5, 6), np.uint8)
        f["profile"] = np.zeros(10)
    assert [n for n, _, _ in hdf5_datasets(path)] == ["raw/grey", "seg/labels"]
    with pytest.raises(MultipleDatasets) as e:
        open_volume(path)
    assert e.value.names == ["raw/grey", "seg/labels"] and "multi.h5" in str(e.value)
    with open_volume(path, dataset="seg/labels") as src:
        assert src.shape == (4, 5, 6) and guess_kind(src) == "labels"
    with open_volume(path, dataset="raw/grey") as src:
        assert guess_kind(src) == "grayscale"
        sc = scaling_for(src)
        assert (sc.lo, sc.hi) == (0.0, 119 * 100.0)
        x = sc.apply(src.read(0, 4))
        assert x.min() == -1.0 and x.max() == 1.0
    with pytest.raises(RateScopeError, match="multi.h5.*'nope'"):
        open_volume(path, dataset="nope")


def _garbage(p):
    p.write_bytes(b"this is not a volume at all" * 10)
    return p


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d / "missing.tif",
        lambda d: (d / "empty.h5").write_bytes(b"") or d / "empty.h5",
        lambda d: _garbage(d / "garbage.tif"),
        lambda d: _garbage(d / "garbage.h5"),
        lambda d: _garbage(d / "volume.xyz"),
    ],
)
def test_bad_files_raise_rate_scope_error_naming_the_file(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(RateScopeError) as e:
        open_volume(path)
    assert path.name in str(e.value)


def test_hdf5_without_a_3d_dataset_and_empty_folder(tmp_path):
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["image"] = np.zeros((5, 5))
    with pytest.raises(RateScopeError, match="flat.h5: the file holds no 3D dataset"):
        open_volume(tmp_path / "flat.h5")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(RateScopeError, match="empty_dir"):
        open_volume(tmp_path / "empty_dir")


def test_synthetic_volumes_are_seeded_and_calendering_densifies():
    p = VolumeParams(shape=(32, 96, 96), radius_um=2.5, seed=11)
    a, b = make_volume(p), make_volume(p)
    assert np.array_equal(a.labels, b.labels)
    counts = np.bincount(a.labels.ravel(), minlength=3) / a.labels.size
    assert a.fractions["pore"] == pytest.approx(counts[0])
    assert a.fractions["carbon_binder"] == pytest.approx(0.12, abs=1e-4)
    cal = make_volume(VolumeParams(shape=(32, 96, 96), radius_um=2.5, seed=11, compression=0.3))
    assert cal.fractions["pore"] < a.fractions["pore"] - 0.05
    assert set(np.unique(a.labels)) == {0, 1, 2}
