"""Microstructure metrics of label volumes: tortuosity, particle sizes, surface, connectivity,
rate curves, and ``python main.py volume --json`` on real files."""

import argparse
import json

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import spsolve

from ratescope.cli import volume as volume_cli
from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.labels import label_curve, load_label_table
from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5, write_tiff
from ratescope.core.volume.metrics import (
    TABLE_BRUGGEMAN,
    microstructure_metrics,
    particle_sizes,
    phase_surface_area,
    physics_curves,
    pore_connectivity,
)
from ratescope.core.volume.tortuosity import tortuosity_factor


def test_straight_channels_have_tortuosity_one():
    m = np.zeros((20, 12, 12), bool)
    m[:, 2:4, 2:4] = m[:, 7:10, 6:11] = True
    r = tortuosity_factor(m)
    assert r.percolating and r.converged
    assert r.tau == pytest.approx(1.0, abs=1e-6)
    assert r.porosity == pytest.approx(m.mean())
    along_x = np.zeros((10, 10, 30), bool)
    along_x[3:6, 4:6, :] = True
    assert tortuosity_factor(along_x, axis=2).tau == pytest.approx(1.0, abs=1e-6)


def test_layers_parallel_to_flow_have_tortuosity_one_and_dead_ends_raise_it():
    m = np.zeros((16, 15, 10), bool)
    m[:, ::3, :] = True  # sheets parallel to the flow
    assert tortuosity_factor(m).tau == pytest.approx(1.0, abs=1e-6)
    # a side branch beside sheet 0, open to the inlet face only: more pores, little flux
    pockets = m.copy()
    pockets[:5, 1, :] = True
    r = tortuosity_factor(pockets)
    assert r.tau > 1.0 and r.porosity > m.mean()


def test_staircase_path_has_the_analytic_tortuosity():
    """A 1-voxel path is a resistor chain: tau = (path length / thickness)^2."""
    nz = 10
    m = np.zeros((nz, 3, nz), bool)
    m[0, 1, 0] = m[nz - 1, 1, nz - 2] = True  # one voxel on each face
    for z in range(1, nz - 1):
        m[z, 1, z - 1 : z + 1] = True  # a step sideways in every inner layer
    path = int(m.sum())
    r = tortuosity_factor(m)
    assert path == 2 * nz - 2
    assert r.tau == pytest.approx((path / nz) ** 2, rel=1e-6)
    assert r.relative_diffusivity == pytest.approx(r.porosity / r.tau)


def test_blocked_pores_do_not_percolate():
    m = np.ones((12, 10, 10), bool)
    m[6] = False  # a solid wall across the electrode
    r = tortuosity_factor(m)
    assert not r.percolating and r.tau == np.inf and r.relative_diffusivity == 0.0
    assert r.as_dict()["tau"] is None
    c = pore_connectivity(m)
    assert c.percolating_fraction == 0.0 and c.n_clusters == 2


def _direct_tau(mask: np.ndarray) -> float:
    """Independent reference: node-by-node assembly on the whole grid, direct solve."""
    nz, ny, nx = mask.shape
    ids = -np.ones(mask.shape, int)
    ids[mask] = np.arange(mask.sum())
    rows, cols, vals = [], [], []
    rhs = np.zeros(mask.sum())
    for z, y, x in zip(*np.nonzero(mask), strict=True):
        i, d = ids[z, y, x], 0.0
        for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
            zz, yy, xx = z + dz, y + dy, x + dx
            if 0 <= yy < ny and 0 <= xx < nx and 0 <= zz < nz and mask[zz, yy, xx]:
                rows.append(i), cols.append(ids[zz, yy, xx]), vals.append(-1.0)
                d += 1
        if z == 0:
            d += 2
        if z == nz - 1:
            d += 2
            rhs[i] = 2.0
        rows.append(i), cols.append(i), vals.append(d)
    a = sparse.csr_matrix((vals, (rows, cols)), shape=(rhs.size, rhs.size))
    a = a + sparse.identity(rhs.size) * 1e-12  # isolated clusters: keep it regular
    u = spsolve(a.tocsc(), rhs)
    top = mask[0]
    flux = 2.0 * u[ids[0][top]].sum()
    return mask.mean() / (flux * nz / (ny * nx))


def test_random_volume_agrees_with_an_independent_direct_solve_and_a_finer_grid():
    rng = np.random.default_rng(4)
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.standard_normal((16, 14, 14)), 1.2)
    mask = field > np.percentile(field, 55)  # 45 % pores, tortuous
    r = tortuosity_factor(mask)
    assert r.percolating and r.converged and 1.2 < r.tau < 10
    assert r.tau == pytest.approx(_direct_tau(mask), rel=1e-4)
    # the same geometry on voxels half as large (a different discretisation)
    fine = mask.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    assert tortuosity_factor(fine).tau == pytest.approx(r.tau, rel=0.12)


def test_cancel_and_progress():
    m = np.ones((10, 8, 8), bool)
    with pytest.raises(Cancelled):
        tortuosity_factor(m, cancel=lambda: True)
    seen = []
    tortuosity_factor(m, progress=lambda f, msg: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def _spheres(shape, radius, rng, gap=0.5, tries=4000):
    centres = []
    for _ in range(tries):
        c = rng.uniform(0, shape)
        if all(np.linalg.norm(c - o) >= 2 * radius + gap for o in centres):
            centres.append(c)
    grid = np.indices(shape).reshape(3, -1).T
    m = np.zeros(int(np.prod(shape)), bool)
    for c in centres:
        m |= ((grid - c) ** 2).sum(axis=1) <= radius**2
    return m.reshape(shape), len(centres)


def test_particle_size_of_packed_spheres():
    rng = np.random.default_rng(1)
    voxel = 0.5
    radius = 6  # voxels: d = 6 µm
    active, n = _spheres((48, 64, 64), radius, rng)
    ps = particle_sizes(active, (voxel,) * 3)
    assert ps.n_particles >= 10 and ps.n_particles + ps.n_cut <= n + 2
    assert ps.d50_um == pytest.approx(2 * radius * voxel, rel=0.10)
    assert ps.number_d50_um == pytest.approx(2 * radius * voxel, rel=0.10)
    assert ps.d10_um <= ps.d50_um <= ps.d90_um


def test_surface_area_of_a_plane_and_a_sphere():
    m = np.zeros((30, 20, 24), bool)
    m[:13] = True
    assert phase_surface_area(m, (0.5, 0.5, 0.5)) == pytest.approx(19 * 23 * 0.25, rel=1e-6)
    g = np.indices((70, 40, 40)) - np.array([35, 20, 20])[:, None, None, None]
    sphere = (g**2).sum(axis=0) <= 14**2
    assert phase_surface_area(sphere) == pytest.approx(4 * np.pi * 14**2, rel=0.02)


def test_physics_curves_from_the_label_table():
    table = load_label_table()
    eps, r = 0.30, 4.0
    p = physics_curves(eps, r, eps ** (1 - TABLE_BRUGGEMAN), table)  # Bruggeman's own tau
    assert np.allclose(p["curves"]["bruggeman"]["specific"], label_curve(eps, r, table=table))
    for unit in ("specific", "volumetric"):
        assert np.allclose(p["curves"]["measured_tortuosity"][unit], p["curves"]["bruggeman"][unit])
    worse = physics_curves(eps, r, 2.0 / eps, table)  # twice Bruggeman's tortuosity
    assert worse["effective_porosity"] < eps
    assert (
        worse["curves"]["measured_tortuosity"]["specific"][-1]
        < (p["curves"]["bruggeman"]["specific"][-1])
    )
    blocked = physics_curves(eps, r, float("inf"), table)
    assert blocked["curves"]["measured_tortuosity"] is None and blocked["notes"]


def test_metrics_need_a_voxel_size():
    with pytest.raises(RateScopeError, match="voxel size"):
        microstructure_metrics(np.zeros((4, 4, 4), np.uint8))


def _volume_cli(argv):
    parser = argparse.ArgumentParser()
    volume_cli.add_arguments(parser)
    return volume_cli.run(parser.parse_args(argv))


@pytest.mark.parametrize("writer", ["hdf5", "tiff"])
def test_volume_json_reports_metrics_of_a_real_file(tmp_path, capsys, writer):
    labels = make_volume(VolumeParams(shape=(24, 64, 64), radius_um=2.0, seed=3)).labels
    path = tmp_path / ("v.h5" if writer == "hdf5" else "v.tif")
    (write_hdf5 if writer == "hdf5" else write_tiff)(path, labels, voxel_size_um=0.4)
    out = tmp_path / "v.json"
    assert _volume_cli([str(path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tortuosity factor of the pores" in text and "d50" in text
    info = json.loads(out.read_text())
    tau = info["tortuosity"]["factor"]
    assert tau == pytest.approx(tortuosity_factor(labels == 0).tau, rel=1e-6) and tau > 1
    assert info["tortuosity"]["percolating"] and info["tortuosity"]["axis"] == 0
    assert info["particle_size"]["d50_um"] > 0
    assert info["specific_surface_um-1"] > 0
    assert 0.9 < info["pore_connectivity"]["percolating_fraction"] <= 1
    assert len(info["physics"]["c_rates"]) == 5
    if writer == "hdf5":
        assert _volume_cli([str(path), "--json", str(out), "--no-metrics"]) == 0
        assert "tortuosity" not in json.loads(out.read_text())
