"""The PyInstaller bundle: it builds, and the bundled app starts headless and says READY.

Slow (a build of torch + PySide6 takes minutes and ~1 GB): run on demand with
``pytest -m slow tests/test_bundle.py``. Skipped where PyInstaller is not installed
(``pip install -e '.[bundle]'``). Set ``RATESCOPE_BUNDLE_REUSE=1`` to test an existing
``dist/RateScope`` instead of building again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "samples" / "sample_mosaic.czi"

pytestmark = pytest.mark.slow


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_bundle", ROOT / "installer" / "build_bundle.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("PyInstaller", reason="PyInstaller not installed (the bundle extra)")
    builder = _load_builder()
    if os.environ.get("RATESCOPE_BUNDLE_REUSE") == "1" and builder.executable().exists():
        return builder, builder.DIST
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    with open(dist / "pyinstaller.log", "w") as log:
        builder.build(dist=dist, work=work, log=log)
    return builder, dist


def test_bundle_is_built_with_its_record(bundle):
    builder, dist = bundle
    exe = builder.executable(dist)
    assert exe.exists() and os.access(exe, os.X_OK)
    internal = builder.bundle_dir(dist) / "_internal"
    for name in ("samples/sample_mosaic.czi", "icons/ratescope.png", "labels", "models"):
        assert (internal / "ratescope" / "resources" / name).exists(), name
    # torch's sources travel with it: TorchScript reads them with inspect
    assert (internal / "torch" / "jit" / "_script.py").exists()
    record = json.loads((dist / "bundle_record.json").read_text())
    assert record["bundle_bytes"] > 100e6 and record["build_seconds"] > 0


@pytest.mark.skipif(sys.platform == "win32", reason="a windowed Windows build has no stdout")
def test_bundled_app_starts_headless_and_reports_ready(bundle):
    builder, dist = bundle
    rc, out, _seconds = builder.smoke(dist=dist)
    assert rc == 0, out
    assert "READY" in out.splitlines()


@pytest.mark.skipif(sys.platform == "win32", reason="a windowed Windows build has no stdout")
def test_bundled_app_opens_the_sample(bundle):
    builder, dist = bundle
    rc, out, _seconds = builder.smoke(str(SAMPLE), dist=dist)
    assert rc == 0, out
    assert "READY" in out.splitlines()
    assert "Traceback" not in out, out  # quits cleanly: no work left to fail at exit


def test_bundled_cli_finds_its_subcommands(bundle):
    """pkgutil discovery works frozen: ``RateScope -h`` lists the sub-commands."""
    import subprocess

    builder, dist = bundle
    done = subprocess.run([str(builder.executable(dist)), "-h"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for command in ("info", "bench", "predict", "align"):
        assert command in done.stdout, done.stdout
