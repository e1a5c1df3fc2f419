"""Voxel size from real files' metadata: OME-TIFF PhysicalSize*, ImageJ hyperstack
resolution + spacing, HDF5 attributes (written by tifffile and h5py)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile

from ratescope.core.volume.io import open_volume
from ratescope.core.volume.voxel_size import ome_voxel, to_um

VOL = np.random.default_rng(0).integers(0, 3, (6, 40, 50), dtype=np.uint8)


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_ome_tiff_physical_sizes_with_units(tmp_path, compression):
    path = tmp_path / "v.ome.tif"
    meta = {
        "axes": "ZYX",
        "PhysicalSizeX": 0.4,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": 450,
        "PhysicalSizeYUnit": "nm",
        "PhysicalSizeZ": 0.7,
        "PhysicalSizeZUnit": "µm",
    }
    tifffile.imwrite(path, VOL, ome=True, metadata=meta, compression=compression)
    with open_volume(path) as src:
        assert src.shape == VOL.shape and np.array_equal(src.read(0, 6), VOL)
        assert src.voxel_size_um == pytest.approx((0.7, 0.45, 0.4))


def test_ome_tiff_without_z_or_sizes(tmp_path):
    tifffile.imwrite(
        tmp_path / "xy.ome.tif", VOL, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.5}
    )
    assert open_volume(tmp_path / "xy.ome.tif").voxel_size_um == pytest.approx((0.5,) * 3)
    tifffile.imwrite(tmp_path / "none.ome.tif", VOL, ome=True, metadata={"axes": "ZYX"})
    assert open_volume(tmp_path / "none.ome.tif").voxel_size_um is None


@pytest.mark.parametrize(
    ("unit", "xres", "yres", "spacing", "expected"),
    [
        ("um", 1 / 0.3, 1 / 0.35, 0.5, (0.5, 0.35, 0.3)),
        ("micron", 1 / 0.398, 1 / 0.398, 0.398, (0.398,) * 3),
        ("nm", 1 / 300, 1 / 300, 800.0, (0.8, 0.3, 0.3)),
        ("\\u00B5m", 1 / 0.25, 1 / 0.25, None, (0.25,) * 3),  # no spacing: cubic voxels
        ("pixel", 1.0, 1.0, 1.0, None),  # ImageJ's uncalibrated default
    ],
)
def test_imagej_hyperstack_resolution_and_spacing(tmp_path, unit, xres, yres, spacing, expected):
    meta = {"unit": unit, "axes": "ZYX"}
    if spacing is not None:
        meta["spacing"] = spacing
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, VOL, imagej=True, resolution=(xres, yres), metadata=meta)
    with open_volume(path) as src:
        assert src.shape == VOL.shape
        if expected is None:
            assert src.voxel_size_um is None
        else:
            assert src.voxel_size_um == pytest.approx(expected)


@pytest.mark.parametrize(
    ("where", "attrs", "expected"),
    [
        ("dataset", {"element_size_um": [0.5, 0.4, 0.4]}, (0.5, 0.4, 0.4)),
        ("group", {"element_size_um": [0.6, 0.3, 0.3]}, (0.6, 0.3, 0.3)),
        ("file", {"voxel_size_um": 0.398}, (0.398,) * 3),
        ("dataset", {"voxel_size": [700, 350, 350], "units": b"nm"}, (0.7, 0.35, 0.35)),
        ("dataset", {"spacing": 0.002, "unit": "mm"}, (2.0, 2.0, 2.0)),
        ("dataset", {"element_size_um": [72.0, 1e6, 1e6]}, None),  # implausible: missing
        ("dataset", {}, None),
    ],
)
def test_hdf5_voxel_attributes(tmp_path, where, attrs, expected):
    path = tmp_path / "v.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("scan/labels", data=VOL, compression="gzip")
        target = {"dataset": ds, "group": f["scan"], "file": f}[where]
        for k, v in attrs.items():
            target.attrs[k] = v
    with open_volume(path) as src:
        assert src.dataset == "scan/labels"
        if expected is None:
            assert src.voxel_size_um is None
        else:
            assert src.voxel_size_um == pytest.approx(expected)


def test_unit_conversion_and_bad_ome():
    assert to_um(398, "nm") == pytest.approx(0.398)
    assert to_um(0.4, "\u03bcm") == pytest.approx(0.4)  # Greek mu
    assert to_um(1, "parsec") is None and to_um("x", "um") is None
    assert ome_voxel("<not xml") is None and ome_voxel(None) is None
