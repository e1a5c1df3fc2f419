"""``python main.py explain``: the bundled sample -> alignment -> tile -> HDF5 maps."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from test_explain_fixtures import trained_model

from ratescope.cli import main
from ratescope.core.align import align, extract_tiles
from ratescope.core.constants import C_RATES
from ratescope.core.explain import gradram_map, guided_backprop_map, occlusion_map
from ratescope.core.io import load_mosaic
from ratescope.core.models.precision import inference_precision
from ratescope.core.models.store import save_model
from ratescope.core.predict import to_model_image
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.train.cv import fold_path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    card = {
        "model": "RateCNN (test)",
        "unit": "specific",
        "unit_symbol": "Ah/kg",
        "c_rates": list(C_RATES),
        "date": "2026-01-01",
        "data": {"source": "test"},
    }
    save_model(fold_path(d, "specific", 0), trained_model(0), card)
    save_model(fold_path(d, "specific", 1), trained_model(1), card)
    return d


@pytest.fixture(scope="module")
def sample_tiles():
    rgb = to_model_image(load_mosaic(SAMPLE_MOSAIC).image)
    alignment = align(rgb)
    return extract_tiles(rgb, alignment), alignment


def test_explain_cli_writes_gradram_and_occlusion(models_dir, sample_tiles, tmp_path):
    tiles, alignment = sample_tiles
    n = 1 if len(tiles) > 1 else 0
    out = tmp_path / "maps.h5"
    argv = [
        "explain",
        str(SAMPLE_MOSAIC),
        "--tile",
        str(n),
        "--models",
        str(models_dir),
        "--out",
        str(out),
    ]
    assert main([*argv, "--method", "gradram"]) == 0
    assert main([*argv[:-1], str(tmp_path / "occ.h5"), "--method", "occlusion"]) == 0
    assert main([*argv[:-1], str(tmp_path / "gb.h5"), "--method", "guided"]) == 0
    tile = tiles[n]
    models = [trained_model(0), trained_model(1)]
    with h5py.File(out) as f:
        assert np.array_equal(f["tile"][()], tile)
        assert list(f.attrs["c_rates"]) == list(C_RATES)
        assert f.attrs["unit"] == "specific" and "raises" in f.attrs["sign_convention"]
        assert tuple(f.attrs["tile_rect"]) == tuple(alignment.kept[n].rect)
        assert json.loads(f.attrs["model_card"])["folds"] == 2
        per_fold = f["gradram/per_fold"][()]
        assert per_fold.shape == (2, 5, 224, 672) and per_fold.dtype == np.float32
        for i, m in enumerate(models):
            np.testing.assert_allclose(
                per_fold[i], gradram_map(m, tile), rtol=1e-5, atol=1e-6 * np.abs(per_fold[i]).max()
            )
        np.testing.assert_allclose(f["gradram/mean"][()], per_fold.mean(0), rtol=1e-6)
    with h5py.File(tmp_path / "occ.h5") as f:
        occ = f["occlusion/mean"][()]
        assert occ.shape == (5, 32, 96)
        assert f["occlusion"].attrs["patch"] == 7
        np.testing.assert_allclose(
            f["occlusion/per_fold"][0], occlusion_map(models[0], tile), rtol=1e-6, atol=1e-9
        )
    with h5py.File(tmp_path / "gb.h5") as f:
        assert f["guided"].attrs["precision"] == inference_precision()
        gb = f["guided/per_fold"][1]
        ref = guided_backprop_map(models[1], tile)
        np.testing.assert_allclose(gb, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_explain_cli_rejects_a_missing_tile(models_dir, sample_tiles, tmp_path, capsys):
    tiles, _ = sample_tiles
    out = tmp_path / "maps.h5"
    code = main(
        [
            "explain",
            str(SAMPLE_MOSAIC),
            "--tile",
            str(len(tiles)),
            "--method",
            "gradram",
            "--models",
            str(models_dir),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    assert f"kept {len(tiles)} tiles" in capsys.readouterr().err
    assert not out.exists()


def test_explain_cli_needs_models(tmp_path, capsys):
    out = tmp_path / "maps.h5"
    code = main(["explain", str(SAMPLE_MOSAIC), "--models", str(tmp_path), "--out", str(out)])
    assert code == 1 and "no specific model" in capsys.readouterr().err
    assert not out.exists()


def test_explain_cli_module_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, ratescope.cli.explain, argparse; p = argparse.ArgumentParser(); "
        "ratescope.cli.explain.add_arguments(p); print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
