"""2D microstructure measurements and the physics cross-check (issue 22), on generated
mosaics whose truth is known, the bundled sample through the real CLI, and bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from ratescope.core.align import align
from ratescope.core.constants import C_RATES
from ratescope.core.electrode import active_volume_fraction
from ratescope.core.errors import RateScopeError
from ratescope.core.labels import load_label_table
from ratescope.core.measure import cross_check, measure_physics, physics_estimate
from ratescope.core.measure.microstructure import (
    ACTIVE,
    OTHER,
    OUTSIDE,
    Microstructure,
    measure_coating,
    measure_strips,
    porosity_from_active,
    weighted_percentiles,
)
from ratescope.core.measure.physics import interpolation_error
from ratescope.core.predict import to_model_image
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.synth.looks import restyle
from ratescope.core.synth.mosaic import generate_mosaic

CASES = [(0.22, 4.0, "zeiss_bf"), (0.42, 6.0, "midgrey_epoxy"), (0.32, 5.0, "low_contrast")]


def measured(seed, porosity, radius, look):
    m = generate_mosaic(seed, porosity=porosity, particle_radius_um=radius, width=3000)
    img = m.image if look == "zeiss_bf" else restyle(m.phase, look, seed)[0]
    img = to_model_image(img)
    a = align(img)
    micro, strips = measure_coating(img, a)
    return m.truth, micro, strips, a


@pytest.mark.parametrize(("porosity", "radius", "look"), CASES)
def test_porosity_size_and_thickness_match_the_generator_truth(porosity, radius, look):
    truth, micro, strips, _ = measured(71, porosity, radius, look)
    assert abs(micro.porosity - truth.porosity_measured) <= 0.03
    # what the image shows: pores and carbon-binder together
    assert abs(micro.non_active_fraction - (1 - truth.particle_share_measured)) <= 0.03
    d50_truth = 2 * float(np.median(truth.section_radii_um))
    assert abs(micro.d50_um / d50_truth - 1) <= 0.12
    assert micro.d10_um < micro.d50_um < micro.d90_um
    assert abs(micro.particle_radius_um / radius - 1) <= 0.12  # the table's sphere radius
    assert abs(micro.thickness_um / truth.coating_thickness_um - 1) <= 0.03
    assert 0 < micro.porosity_sd < 0.05
    # the overlay's phase maps: every strip holds all three values, consistent with the number
    values = np.concatenate([s.image.ravel() for s in strips])
    assert set(np.unique(values)) == {OUTSIDE, OTHER, ACTIVE}
    active = (values == ACTIVE).sum() / (values != OUTSIDE).sum()
    assert math.isclose(1 - active, micro.non_active_fraction, abs_tol=0.01)


def test_porosity_inverts_the_tables_composition():
    for p in (0.15, 0.3, 0.55):
        assert math.isclose(porosity_from_active(active_volume_fraction(p)), p, abs_tol=1e-12)


def test_physics_5c_orders_electrodes_by_porosity():
    from ratescope.core.train.metrics import spearman

    pors = [0.2, 0.27, 0.34, 0.41, 0.48]
    kg5, measured_pors = [], []
    for i, p in enumerate(pors):
        _, micro, _, _ = measured(300 + i, p, 5.0, "zeiss_bf")
        est = physics_estimate(micro)
        kg5.append(est.curves["specific"].mean[-1])
        measured_pors.append(micro.porosity)
    assert spearman(np.array(kg5), np.array(pors)) >= 0.9
    assert np.all(np.diff(measured_pors) > 0)


def test_physics_curve_is_physical_and_carries_its_uncertainty():
    table = load_label_table()
    micro = Microstructure(0.42, 0.3, 0.02, 5, 8.6, 13, 5.0, 0.3, 52.0, 200, 2e4, 90.0)
    est = physics_estimate(micro, table)
    for unit, curve in est.curves.items():
        assert np.allclose(curve.mean, table.curve(0.3, 5.0, unit))
        assert np.all(curve.mean > 0) and np.all(np.diff(curve.mean) <= 0)
        assert np.all(curve.sd > 0)
        # the porosity uncertainty dominates at 5C, where the curve depends most on it
        assert curve.sd[-1] > curve.sd[0]
    assert est.notes == []
    interp = interpolation_error(table)
    assert set(interp) == {"specific", "volumetric"} and all(
        e.shape == (5,) for e in interp.values()
    )
    assert all(np.all((e >= 0) & (e < 0.2)) for e in interp.values())


def test_outside_the_table_and_thickness_mismatch_are_said_in_words():
    far = Microstructure(0.8, 0.7, 0.02, 5, 8.6, 13, 5.0, 0.3, 52.0, 200, 2e4, 90.0)
    est = physics_estimate(far)
    assert est.curves == {} and "does not extrapolate" in est.notes[0]
    thick = Microstructure(0.42, 0.3, 0.02, 5, 8.6, 13, 5.0, 0.3, 90.0, 200, 2e4, 90.0)
    est = physics_estimate(thick)
    assert est.curves and "loading differs" in est.notes[0]


def test_cross_check_flags_a_cnn_far_from_the_physics():
    from ratescope.core.predict.predict import Prediction, UnitPrediction

    micro = Microstructure(0.42, 0.3, 0.01, 5, 8.6, 13, 5.0, 0.2, 52.0, 200, 2e4, 90.0)
    est = physics_estimate(micro)
    phys = est.curves["specific"].mean

    def pred(mean):
        z = np.zeros(5)
        up = UnitPrediction("specific", np.asarray(mean), z + 1, z + 0.5, z + 1,
                            np.asarray([mean]), np.asarray([mean]), 8, 4, 4)  # fmt: skip
        return Prediction({"specific": up}, True)

    ok = cross_check(pred(phys + 0.5), est)[0]
    assert ok.agree and "agree" in ok.message
    off = phys.copy()
    off[-1] += 60.0
    bad = cross_check(pred(off), est)[0]
    assert not bad.agree and bad.worst_rate == C_RATES[-1] and "above" in bad.message


def test_a_blank_coating_is_refused_with_a_message_not_a_crash():
    flat = np.full((300, 1400), 120, np.uint8)
    with pytest.raises(RateScopeError, match="no contrast"):
        measure_strips([flat])
    truth, micro, strips, a = measured(5, 0.3, 5.0, "zeiss_bf")
    blank = np.full(tuple(a.image_shape[:2]) + (3,), 128, np.uint8)
    est = measure_physics(blank, a)
    assert est.micro is None and est.curves == {} and "could not be measured" in est.notes[0]


def test_weighted_percentiles():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert math.isclose(weighted_percentiles(x, np.ones(4), [50])[0], 2.5)
    assert weighted_percentiles(x, np.array([0.0, 0.0, 0.0, 1.0]), [50])[0] == 4.0


def test_predict_json_csv_rows_gain_physics(tmp_path):
    out, csv = tmp_path / "p.json", tmp_path / "p.csv"
    run = subprocess.run([sys.executable, "main.py", "predict", str(SAMPLE_MOSAIC),
                          "--json", str(out), "--csv", str(csv)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = json.loads(out.read_text())
    assert {r["unit"] for r in rows} == {"specific", "volumetric"}
    for r in rows:
        ph = r["physics"]
        assert len(ph["mean"]) == 5 and all(v > 0 for v in ph["mean"])
        assert all(a >= b for a, b in zip(ph["mean"], ph["mean"][1:], strict=False))
        assert 0.2 < ph["porosity"] < ph["non_active_fraction"] < 0.7
        assert 2 < ph["particle_d50_um"] < 20 and 30 < ph["thickness_um"] < 80
        assert "pores only" in ph["porosity_definition"]
        assert isinstance(ph["agrees_with_cnn"], bool) and ph["cross_check"]
        assert r["model"].startswith("Embedded")  # which models made it
    assert "physics" in run.stdout  # the text output shows it too
    header = csv.read_text().splitlines()[0].split(",")
    assert {"physics_mean", "physics_sd", "physics_agrees", "porosity", "model"} <= set(header)
