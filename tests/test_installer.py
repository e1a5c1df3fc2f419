"""The bootstrap and the desktop registration, run as a user would run them."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "installer" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_desktop_install_and_uninstall_for_the_user(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    script = ROOT / "installer" / "desktop.py"
    done = subprocess.run([sys.executable, script, "install"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    entry = tmp_path / "applications" / "org.ratescope.RateScope.desktop"
    text = entry.read_text()
    assert "MimeType=application/x-zeiss-czi;" in text and "image/tiff;" in text
    assert str(ROOT / "main.py") in text
    assert (tmp_path / "icons/hicolor/256x256/apps/org.ratescope.RateScope.png").stat().st_size
    assert "*.zvi" in (tmp_path / "mime/packages/org.ratescope.RateScope.xml").read_text()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", entry], capture_output=True, text=True)
        assert check.returncode == 0 and "error" not in check.stdout.lower(), check.stdout
    gone = subprocess.run([sys.executable, script, "uninstall"], env=env, capture_output=True)
    assert gone.returncode == 0 and not entry.exists()


def test_desktop_entry_for_the_bundle_starts_its_executable(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    script = ROOT / "installer" / "desktop.py"
    exe = tmp_path / "Rate Scope" / "RateScope"  # a space in the path must survive quoting
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    refused = subprocess.run([sys.executable, script, "install", "--exe", exe], env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode != 0 and "not an executable" in refused.stderr
    exe.chmod(0o755)
    done = subprocess.run([sys.executable, script, "install", "--exe", exe], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    entry = tmp_path / "data" / "applications" / "org.ratescope.RateScope.desktop"
    lines = entry.read_text().splitlines()
    assert f'Exec="{exe}" %f' in lines and "main.py" not in entry.read_text()
    assert "StartupWMClass=RateScope" in lines
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", entry], capture_output=True, text=True)
        assert check.returncode == 0 and "error" not in check.stdout.lower(), check.stdout


def test_bootstrap_names_the_missing_qt_package(monkeypatch, capsys):
    boot = _load("bootstrap")
    monkeypatch.setattr(boot.sys, "platform", "linux")
    monkeypatch.setattr(
        boot.ctypes.util, "find_library", lambda lib: None if lib == "xkbcommon" else "lib.so"
    )
    monkeypatch.delenv("CI", raising=False)
    assert boot.missing_qt_packages(window=False) == ["libxkbcommon0"]
    with pytest.raises(SystemExit) as stop:
        boot.check_qt_libs(window=False)
    assert "apt-get install -y libxkbcommon0" in str(stop.value)


def test_bench_bundle_rows_use_the_built_bundle_else_the_kept_record(tmp_path, monkeypatch):
    import json

    from ratescope.core.bench import startup

    kept = json.loads((ROOT / "installer" / "bundle_record.json").read_text())
    monkeypatch.setattr(startup, "RECORD", tmp_path / "dist" / "bundle_record.json")
    monkeypatch.setattr(startup, "BUNDLE_EXE", tmp_path / "dist" / "RateScope" / "RateScope")
    size, build = startup.bundle_rows()
    assert size.value == kept["bundle_bytes"] / 1e6 and build.value == kept["build_seconds"]
    assert "installer/bundle_record.json (no dist/ now)" in size.note
    assert "passed" in build.note  # the smoke test result travels with the record
    startup.BUNDLE_EXE.parent.mkdir(parents=True)
    startup.BUNDLE_EXE.write_text("")
    startup.RECORD.write_text(json.dumps(dict(kept, bundle_bytes=2e9, build_seconds=10.0)))
    size, build = startup.bundle_rows()
    assert (size.value, build.value) == (2000.0, 10.0) and "no dist/" not in size.note
