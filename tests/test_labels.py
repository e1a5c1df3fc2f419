"""Physics label table: interpolation, validation, the paper's trends, label noise."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ratescope.core.labels import DEFAULT_TABLE, label_curve, load_label_table, noisy_labels

RATES = (0.2, 1.0, 2.0, 3.0, 5.0)
UNIT_COLUMNS = [("specific", "capacity_ah_kg"), ("volumetric", "capacity_ah_l")]
ROOT = Path(__file__).resolve().parent.parent


def _raw_table(path=DEFAULT_TABLE):
    """The committed CSV read independently of core.labels: {(por, r): {rate: row}}."""
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = (float(row["porosity"]), float(row["particle_radius_um"]))
            out.setdefault(key, {})[float(row["c_rate"])] = row
    return out


def _grid(raw, column):
    pors = sorted({k[0] for k in raw})
    rads = sorted({k[1] for k in raw})
    a = np.array([[[float(raw[(p, r)][c][column]) for c in RATES] for r in rads] for p in pors])
    return np.array(pors), np.array(rads), a


def _write_table(path, pors, rads, fun, skip=None, status="ok"):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            "porosity particle_radius_um thickness_um c_rate capacity_ah_kg capacity_ah_l "
            "status".split()
        )
        for p in pors:
            for r in rads:
                for c in RATES:
                    if skip == (p, r, c):
                        continue
                    st = status if (p, r, c) == (pors[0], rads[0], RATES[-1]) else "ok"
                    w.writerow([p, r, 50.0, c, fun(p, r, c), 2 * fun(p, r, c), st])


@pytest.fixture(scope="module")
def table():
    return load_label_table()


@pytest.fixture(scope="module")
def raw():
    return _raw_table()


# --- the committed table ---------------------------------------------------------------


def test_committed_table_covers_the_issue_grid(raw):
    pors = sorted({k[0] for k in raw})
    rads = sorted({k[1] for k in raw})
    assert pors[0] <= 0.15 and pors[-1] >= 0.55 and len(pors) >= 9
    assert rads[0] <= 3.0 and rads[-1] >= 8.0 and len(rads) >= 5
    assert all(row["status"] == "ok" for d in raw.values() for row in d.values())


@pytest.mark.parametrize("unit,column", UNIT_COLUMNS)
def test_interpolation_reproduces_grid_points(table, raw, unit, column):
    for (p, r), rows in raw.items():
        expected = [float(rows[c][column]) for c in RATES]
        np.testing.assert_allclose(table.curve(p, r, unit), expected, rtol=1e-12)
    p, r = next(iter(raw))
    np.testing.assert_allclose(
        label_curve(p, r, unit), [float(raw[(p, r)][c][column]) for c in RATES], rtol=1e-12
    )


@pytest.mark.parametrize("unit,column", UNIT_COLUMNS)
def test_interpolation_lies_between_neighbours(table, raw, unit, column):
    pors, rads, a = _grid(raw, column)
    for i in range(len(pors) - 1):  # half-way in porosity, on every radius grid line
        mid = table.curves(np.full(len(rads), (pors[i] + pors[i + 1]) / 2), rads, unit)
        lo, hi = np.minimum(a[i], a[i + 1]), np.maximum(a[i], a[i + 1])
        assert np.all(mid >= lo - 1e-9) and np.all(mid <= hi + 1e-9)
    for j in range(len(rads) - 1):  # half-way in radius, on every porosity grid line
        mid = table.curves(pors, np.full(len(pors), (rads[j] + rads[j + 1]) / 2), unit)
        lo, hi = np.minimum(a[:, j], a[:, j + 1]), np.maximum(a[:, j], a[:, j + 1])
        assert np.all(mid >= lo - 1e-9) and np.all(mid <= hi + 1e-9)


def test_out_of_range_and_bad_unit_raise(table):
    with pytest.raises(ValueError, match="porosity 0.6 is outside"):
        table.curve(0.6, 5.0)
    with pytest.raises(ValueError, match="particle radius 2.5 µm is outside"):
        label_curve(0.3, 2.5, table=table)
    with pytest.raises(ValueError, match="unit must be one of"):
        table.curve(0.3, 5.0, unit="Ah/kg")


def test_capacity_decreases_with_c_rate(raw):
    for column in ("capacity_ah_kg", "capacity_ah_l"):
        _, _, a = _grid(raw, column)
        assert np.all(np.diff(a, axis=-1) < 0)


def test_denser_electrodes_lose_more_at_5c(raw):
    pors, _, a = _grid(raw, "capacity_ah_kg")
    assert np.all(np.diff(pors) > 0)
    five_c = a[:, :, RATES.index(5.0)]  # (porosity, radius)
    # never lower when more porous (it saturates once the electrolyte stops limiting) ...
    assert np.all(np.diff(five_c, axis=0) > -1e-3 * five_c[1:])
    # ... and clearly ordered over the paper's five electrodes, at every radius
    paper = five_c[[int(np.argmin(abs(pors - p))) for p in (0.2, 0.25, 0.3, 0.35, 0.5)]]
    assert np.all(np.diff(paper, axis=0) > 0.01 * paper[1:])
    assert np.all(paper[0] < 0.5 * paper[-1])  # 20 % loses far more than 50 %


def test_larger_particles_lose_more_at_high_rate(raw):
    _, rads, a = _grid(raw, "capacity_ah_kg")
    assert np.all(np.diff(rads) > 0)
    for rate in (2.0, 3.0, 5.0):
        assert np.all(np.diff(a[:, :, RATES.index(rate)], axis=1) < 0)


def test_densest_electrode_stores_most_per_litre_at_low_rate(raw):
    pors, _, a = _grid(raw, "capacity_ah_l")
    low = a[:, :, RATES.index(0.2)]
    assert np.all(np.argmax(low, axis=0) == np.argmin(pors))


def test_units_agree_with_the_electrode_composition(raw):
    # Ah/L / Ah/kg = kg NCM per litre of coating = 0.92 * rho_solid * (1 - porosity)
    rho_solid = 1.0 / (0.92 / 4.75 + 0.04 / 1.78 + 0.04 / 1.95)  # paper's composition, g/cm³
    pors, _, spec = _grid(raw, "capacity_ah_kg")
    _, _, vol = _grid(raw, "capacity_ah_l")
    expected = 0.92 * rho_solid * (1 - pors)[:, None, None]
    np.testing.assert_allclose(vol / spec, np.broadcast_to(expected, vol.shape), rtol=2e-3)


def test_low_rate_specific_capacity_is_plausible_for_ncm111(raw):
    _, _, a = _grid(raw, "capacity_ah_kg")
    assert 140 < a[..., 0].min() and a[..., 0].max() < 175  # theoretical 2.46 mAh/cm²


# --- the loader on hand-made tables ----------------------------------------------------


def _linear(p, r, c):
    return 200.0 + 100.0 * p - 5.0 * r - 10.0 * c


def test_smooth_interpolation_is_exact_for_a_linear_table(tmp_path):
    f = tmp_path / "t.csv"
    pors, rads = [0.1, 0.2, 0.3, 0.4, 0.5], [2.0, 4.0, 6.0, 8.0]
    _write_table(f, pors, rads, _linear)
    t = load_label_table(f)
    np.testing.assert_allclose(t.curve(0.234, 5.1), [_linear(0.234, 5.1, c) for c in RATES])
    np.testing.assert_allclose(
        t.curve(0.234, 5.1, "volumetric"), [2 * _linear(0.234, 5.1, c) for c in RATES]
    )
    np.testing.assert_allclose(t.c_rates, RATES)


def test_incomplete_or_failed_tables_are_refused(tmp_path):
    pors, rads = [0.1, 0.2, 0.3, 0.4], [2.0, 4.0, 6.0, 8.0]
    _write_table(tmp_path / "a.csv", pors, rads, _linear, skip=(0.2, 4.0, 3.0))
    with pytest.raises(ValueError, match="not a complete regular grid"):
        load_label_table(tmp_path / "a.csv")
    _write_table(tmp_path / "b.csv", pors, rads, _linear, status="timeout_90s")
    with pytest.raises(ValueError, match="did not solve.*timeout_90s"):
        load_label_table(tmp_path / "b.csv")


# --- label noise -----------------------------------------------------------------------


def test_noise_has_the_stated_relative_spread():
    curves = np.tile(np.array([170.0, 160.0, 150.0, 120.0, 60.0]), (40_000, 1))
    noisy = noisy_labels(curves, np.random.default_rng(0), relative_sd=0.01)
    rel = noisy / curves - 1.0
    assert noisy.shape == curves.shape
    assert abs(rel.std() - 0.01) < 0.0003 and abs(rel.mean()) < 0.0003
    assert np.all(abs(rel.std(axis=0) - 0.01) < 0.0005)  # same relative spread at every rate
    np.testing.assert_array_equal(noisy, noisy_labels(curves, np.random.default_rng(0)))
    np.testing.assert_array_equal(noisy_labels(curves, 1, relative_sd=0.0), curves)
    with pytest.raises(ValueError):
        noisy_labels(curves, 1, relative_sd=-0.01)


# --- the generator reproduces the committed table --------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pybamm") is None, reason="needs PyBaMM (dev)")
def test_generator_reproduces_a_committed_row(tmp_path, raw):
    out = tmp_path / "one.csv"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_labels.py"),
            "--porosities",
            "0.3",
            "--radii",
            "5",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    new = _raw_table(out)[(0.3, 5.0)]
    for c in RATES:
        assert float(new[c]["capacity_ah_kg"]) == pytest.approx(
            float(raw[(0.3, 5.0)][c]["capacity_ah_kg"]), rel=1e-3
        )
