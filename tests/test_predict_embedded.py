"""The embedded ensemble (resources/models) on freshly generated electrodes.

Seeds below ``core.train.synthetic.dataset.SEED_BASE`` are never in the training set.
"""

from __future__ import annotations

import numpy as np
import pytest

from ratescope.core.predict import load_ensemble, predict_image, predict_tiles
from ratescope.core.resources import MODELS
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.core.train.synthetic.dataset import SEED_BASE

pytestmark = pytest.mark.skipif(
    not (MODELS / "specific_fold0.safetensors").is_file(),
    reason="the embedded models are not in resources/models yet",
)


@pytest.fixture(scope="module")
def ensemble():
    return load_ensemble()


@pytest.fixture(scope="module")
def dense_and_porous(ensemble):
    out = {}
    for porosity, seed in ((0.2, 101), (0.5, 102)):
        assert seed < SEED_BASE
        m = generate_mosaic(seed, porosity=porosity, particle_radius_um=5.0, width=3000)
        out[porosity] = predict_image(m.image, ensemble)
    return out


@pytest.fixture(scope="module")
def independent(ensemble):
    """Predictions on cross-sections drawn by another renderer (ellipses and boxes, other
    gray levels, no tile seams: tests/test_align_independent.py), dense to porous."""
    from test_align_independent import render

    out = {}
    for porosity in (0.2, 0.35, 0.5):
        img, _ = render(7, porosity=porosity, tilt_deg=1.0, w=3000)
        out[porosity] = predict_image(img, ensemble)[0]
    return out


def _physical(up) -> bool:
    c = np.vstack([up.per_tile, up.mean[None]])
    return bool((c >= 0).all() and (np.diff(c, axis=1) <= 1e-6 * np.abs(c[:, :-1])).all())


def test_cards_say_synthetic(ensemble):
    for unit in ensemble.units:
        card = ensemble.card(unit)
        assert card["synthetic"] is True and "DFN" in card["label_source"]
        assert "heldout" in card and ensemble.ood[unit] is not None
        assert card["architecture"]["head"] == "monotone"
        assert card["architecture"]["input_norm"] == "phases"
        assert ensemble.ood[unit].phase_lo is not None


def test_embedded_model_orders_electrodes_by_porosity(dense_and_porous):
    dense, porous = dense_and_porous[0.2][0], dense_and_porous[0.5][0]
    assert dense.units["specific"].mean[-1] < porous.units["specific"].mean[-1]  # 5C, Ah/kg


def test_independent_renders_are_ordered_by_porosity(independent):
    """Another renderer's sections: the 5C capacity per mass rises with porosity and the
    0.2C capacity per volume falls, without an out-of-distribution escape."""
    p = [independent[k] for k in sorted(independent)]
    kg5 = [x.units["specific"].mean[-1] for x in p]
    vol02 = [x.units["volumetric"].mean[0] for x in p]
    assert kg5 == sorted(kg5), [x.to_dict() for x in p]
    assert vol02 == sorted(vol02, reverse=True)
    for x in p:
        assert all(_physical(up) for up in x.units.values())


def test_no_input_yields_a_physically_impossible_curve(ensemble):
    rng = np.random.default_rng(1)
    inputs = [
        rng.integers(0, 256, (3, 224, 672, 3), dtype=np.uint8),
        np.zeros((1, 224, 672), np.uint8),
        np.full((1, 224, 672), 255, np.uint8),
    ]
    for tiles in inputs:
        pred = predict_tiles(tiles, ensemble)
        assert all(_physical(up) for up in pred.units.values())


def test_a_photograph_is_refused_or_flagged_with_a_reason(ensemble):
    """A non-electrode image never gets a curve shown as a result."""
    from skimage import data

    from ratescope.core.errors import RateScopeError

    for img in (data.astronaut(), data.camera()):
        try:
            pred, _ = predict_image(img, ensemble)
        except RateScopeError as exc:
            assert str(exc)
            continue
        assert pred.ood
        assert all(up.ood_reasons for up in pred.units.values())


def test_fresh_synthetic_electrode_is_in_distribution(dense_and_porous):
    for pred, alignment in dense_and_porous.values():
        assert len(alignment.kept) >= 1
        assert pred.complete and not pred.ood, pred.to_dict()
        assert all(_physical(up) for up in pred.units.values())


def test_foreign_images_are_flagged(ensemble):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, 224, 672, 3), dtype=np.uint8)
    assert predict_tiles(noise, ensemble).ood


def test_a_contrast_inverted_mosaic_is_refused(ensemble):
    """The phase front end reads the bright phase as active material, as reflected light
    shows NMC; an inverted section (dark foil, bright epoxy) never reaches the network."""
    from ratescope.core.errors import RateScopeError

    m = generate_mosaic(103, porosity=0.35, width=1500)
    with pytest.raises(RateScopeError, match="surface|collector"):
        predict_image(255 - m.image, ensemble)


def test_float32_by_default_bfloat16_on_request(ensemble, monkeypatch):
    """Predictions are float32 unless asked (the cards' metrics are float32 figures); the
    bf16 fast path really runs when asked and stays within a few percent per tile."""
    from ratescope.core.models.precision import ENV, cpu_has_bf16, inference_precision

    m = generate_mosaic(104, porosity=0.35, width=1500)
    from ratescope.core.align import align, extract_tiles

    tiles = extract_tiles(m.image, align(m.image))
    monkeypatch.delenv(ENV, raising=False)
    assert inference_precision() == "fp32"
    runs = {"default": predict_tiles(tiles, ensemble)}
    for precision in ("fp32", "bf16"):
        monkeypatch.setenv(ENV, precision)
        assert inference_precision() == precision
        runs[precision] = predict_tiles(tiles, ensemble)
    monkeypatch.setenv(ENV, "auto")
    assert inference_precision() == ("bf16" if cpu_has_bf16() else "fp32")
    for unit in ensemble.units:
        a, b = runs["fp32"].units[unit].per_tile, runs["bf16"].units[unit].per_tile
        assert np.array_equal(runs["default"].units[unit].per_tile, a)
        assert not np.array_equal(a, b)  # the bf16 path really ran
        assert np.max(np.abs(b - a) / np.abs(a)) < 0.15  # 5C moved by up to 11 % here
    monkeypatch.setenv(ENV, "nonsense")
    assert inference_precision("cuda") == "fp32"


def test_batch_size_does_not_change_the_prediction(ensemble):
    """On a CPU tiles go one at a time by default (faster under glibc malloc); a batch of
    several gives the same curves and per-tile values."""
    from ratescope.core.align import align, extract_tiles

    m = generate_mosaic(104, porosity=0.4, width=1500)
    tiles = extract_tiles(m.image, align(m.image))[:3]
    one, many = predict_tiles(tiles, ensemble), predict_tiles(tiles, ensemble, batch=3)
    for unit in ensemble.units:
        a, b = one.units[unit], many.units[unit]
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-4)
        np.testing.assert_allclose(a.per_tile, b.per_tile, rtol=1e-4)
