"""The installed distribution: one ``ratescope`` namespace with its resources, usable from
any directory (the wheel built from this checkout, installed into a scratch folder)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"ratescope.core": "core", "ratescope.gui": "gui", "ratescope.cli": "cli"}


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_the_package_list_names_every_package_of_the_folders():
    found = {"ratescope", "ratescope.resources"}
    for package, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *rel)))
    assert set(_setuptools()["packages"]) == found
    mapped = _setuptools()["package-dir"]
    assert all(mapped[p] == f for p, f in FOLDERS.items()) and mapped["ratescope"] == "ratescope"


def test_the_source_checkout_resolves_the_same_names():
    import ratescope.core.resources as resources

    assert resources.SAMPLE_MOSAIC.is_file() and any(resources.MODELS.glob("*.safetensors"))
    assert Path(importlib.util.find_spec("ratescope.gui").origin).parent == ROOT / "gui"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout, installed (no dependencies) into a scratch folder."""
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    for name in ("ratescope", "core", "gui", "cli", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                    "-w", str(out), str(src)], check=True, cwd=out)  # fmt: skip
    (wheel,) = out.glob("ratescope-*.whl")
    target = out / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, cwd=out)  # fmt: skip
    return target


def test_the_wheel_installs_one_namespace_with_its_resources(installed):
    assert {p.name for p in installed.iterdir()} - {"bin"} == {
        "ratescope",
        "ratescope-0.1.0.dist-info",
    }
    pkg = installed / "ratescope"
    for name in ("core", "gui", "cli"):
        assert (pkg / name / "__init__.py").is_file(), name
    assert (pkg / "resources" / "samples" / "sample_mosaic.czi").is_file()
    assert len(list((pkg / "resources" / "models").glob("*_fold*.safetensors"))) >= 8
    assert (pkg / "resources" / "labels").is_dir() and (pkg / "resources" / "icons").is_dir()
    entry = (installed / "ratescope-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert "ratescope = ratescope.cli:launch" in entry


def test_the_installed_package_works_from_any_directory(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(installed), "RATESCOPE_MALLOC": "system"}
    code = (
        "import ratescope, ratescope.core.resources as r\n"
        "from ratescope.core.io import load_mosaic\n"
        "m = load_mosaic(r.SAMPLE_MOSAIC)\n"
        "print(ratescope.__file__, r.SAMPLE_MOSAIC, m.image.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    where, sample, _shape = res.stdout.split(" ", 2)
    assert where.startswith(str(installed)) and sample.startswith(str(installed))
    for command in ([sys.executable, "-m", "ratescope"], [str(installed / "bin" / "ratescope")]):
        info = subprocess.run([*command, "info", sample, "--json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["file"] == sample
    predict = subprocess.run([str(installed / "bin" / "ratescope"), "predict", sample, "--json",
                              "-"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert predict.returncode == 0, predict.stderr
    records = json.loads(predict.stdout)
    assert sorted(r["unit"] for r in records) == ["specific", "volumetric"]
    for r in records:
        assert r["file"] == sample and r["status"] == "prediction", r.get("status")
        assert len(r["mean"]) == 5 and all(
            a >= b > 0 for a, b in zip(r["mean"], r["mean"][1:], strict=False)
        )
