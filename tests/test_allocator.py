"""RateScope restarts itself under tcmalloc when it is installed (every main.py command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ratescope.core.allocator import ENV, find_tcmalloc, preload_env

ROOT = Path(__file__).resolve().parents[1]


def test_preload_decision(tmp_path):
    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"")
    assert find_tcmalloc([str(tmp_path / "missing.so"), str(lib)]) == str(lib)
    assert find_tcmalloc([str(tmp_path / "missing.so")]) is None
    env = preload_env({"PATH": "/bin", "LD_PRELOAD": "/x/other.so"}, str(lib))
    if not sys.platform.startswith("linux"):
        assert env is None
        return
    assert env["LD_PRELOAD"] == f"{lib}:/x/other.so" and env["PATH"] == "/bin"
    assert preload_env({"LD_PRELOAD": str(lib)}, str(lib)) is None  # already there: no loop
    assert preload_env({ENV: "system"}, str(lib)) is None
    assert preload_env({}, None) is None


@pytest.mark.skipif(find_tcmalloc() is None, reason="tcmalloc is not installed here")
def test_train_command_runs_under_tcmalloc(tmp_path):
    """The process re-executes once with tcmalloc preloaded; the child sees it in its
    own memory map (and does not restart again: the run ends)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "maps = open('/proc/self/maps').read()\n"
        "print('TCMALLOC' if 'tcmalloc' in maps else 'GLIBC', flush=True)\n"
        "from ratescope.core.allocator import reexec_with_tcmalloc\n"
        "reexec_with_tcmalloc(sys.argv)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", ENV)}
    out = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()  # fmt: skip
    assert out == ["GLIBC", "TCMALLOC"]
    env[ENV] = "system"
    out = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()  # fmt: skip
    assert out == ["GLIBC"]


@pytest.mark.skipif(find_tcmalloc() is None or not sys.platform.startswith("linux"),
                    reason="tcmalloc is not installed here")  # fmt: skip
@pytest.mark.parametrize("malloc", ["", "system"])
def test_every_main_command_restarts_under_tcmalloc(malloc):
    """Not only training: the app predicts in-process (ensemble 3.0 s instead of 3.9 s)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", ENV)}
    env.update({"LD_DEBUG": "files", ENV: malloc})  # the dynamic loader names each library
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "-h"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert "usage" in out.stdout
    assert ("libtcmalloc" in out.stderr) is (malloc != "system")
