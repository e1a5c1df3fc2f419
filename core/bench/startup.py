"""Start-up: how soon the window is there, the sample shown, the models ready; the bundle.

Every time is the wall time of a fresh process measured from outside (``subprocess``),
from just before it is started until it prints its marker line, so interpreter start and
every import count. Each is a median over repeats after one warm-up run (the warm case:
files in the page cache). Rows:

- first painted window: ``python main.py --smoke`` until ``READY`` (target <= 1.2 s);
- sample shown: ``python main.py --smoke resources/samples/sample_mosaic.czi`` until
  ``READY`` (printed once the mosaic is painted);
- models loaded in the GUI: smoke mode has no "models ready" marker, so a small driver
  starts the window the way ``gui.app.run_gui`` does and prints when the prediction
  controller's ``models_loaded`` fires (torch is imported off the GUI thread after the
  first paint);
- ``load_ensemble()`` alone in a fresh interpreter (torch import + weights), for scale;
- the bundled app's first painted window, when ``dist/RateScope`` exists;
- bundle size and build time from ``dist/bundle_record.json`` (written by
  ``installer/build_bundle.py``); without a built bundle, from
  ``installer/bundle_record.json``, the committed record of the last build that passed
  ``tests/test_bundle.py`` (the note says which).

The figures depend on the machine's load: the one-minute load average is in the notes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ratescope.core.bench import Row
from ratescope.core.resources import MODELS, SAMPLE_MOSAIC

ROOT = Path(__file__).resolve().parent.parent.parent
DIST = ROOT / "dist"
BUNDLE_EXE = DIST / "RateScope" / ("RateScope.exe" if sys.platform == "win32" else "RateScope")
RECORD = DIST / "bundle_record.json"
KEPT_RECORD = ROOT / "installer" / "bundle_record.json"
TIMEOUT_S = 180.0
FIRST_PAINT_TARGET = "<= 1.2 s"


_LOAD_ENSEMBLE = (
    "from ratescope.core.predict import load_ensemble; load_ensemble(); print('MODELS', flush=True)"
)


class _Failed(Exception):
    pass


def _time_until(cmd: list[str], marker: str, env: dict | None = None) -> float:
    """Seconds from starting ``cmd`` until it prints a line ``marker`` (then it may finish)."""
    with tempfile.TemporaryDirectory(prefix="ratescope-bench-startup-") as tmp:
        env = dict(os.environ if env is None else env)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["XDG_CONFIG_HOME"] = tmp  # never the user's settings
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [c.replace("{tmp}", tmp) for c in cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        try:
            elapsed = None
            lines = []
            for line in proc.stdout:
                if line.strip() == marker and elapsed is None:
                    elapsed = time.perf_counter() - t0
                lines.append(line.strip())
                if time.perf_counter() - t0 > TIMEOUT_S:
                    break
            rc = proc.wait(timeout=max(1.0, TIMEOUT_S - (time.perf_counter() - t0)))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if elapsed is None or rc != 0:
            raise _Failed(f"exit code {rc}, output {' | '.join(lines[-3:])!r}")
        return elapsed


def _median_until(cmd: list[str], marker: str, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        _time_until(cmd, marker)
    return statistics.median(_time_until(cmd, marker) for _ in range(repeats))


def _load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return f"{os.cpu_count()} CPUs"


def _timed_row(name: str, cmd: list[str], marker: str, repeats: int, target: str,
               note: str) -> Row:  # fmt: skip
    try:
        value = _median_until(cmd, marker, repeats)
    except (_Failed, OSError, subprocess.SubprocessError) as exc:
        return Row("startup", name, float("nan"), "s", target, f"not measured: {exc}")
    return Row("startup", name, value, "s", target,
               f"median of {repeats} after 1 warm-up; {note}; {_load()}")  # fmt: skip


def _has_models() -> bool:
    return any(MODELS.glob("*_fold*.safetensors"))


def bundle_rows() -> list[Row]:
    """Size and build time of the bundle in ``dist/``, else of the last tested build."""
    if RECORD.exists() and BUNDLE_EXE.exists():
        rec, kept = json.loads(RECORD.read_text()), ""
    elif KEPT_RECORD.exists():
        rec = json.loads(KEPT_RECORD.read_text())
        kept = f"; recorded in {KEPT_RECORD.relative_to(ROOT)} (no dist/ now)"
        if "smoke_test" in rec:
            kept += f"; {rec['smoke_test'].get('result', '')}"
    else:
        note = "no bundle built: python installer/build_bundle.py"
        return [Row("startup", "bundle size (dist/RateScope)", float("nan"), "MB", "", note),
                Row("startup", "bundle build time", float("nan"), "s", "", note)]  # fmt: skip
    where = (f"built {rec.get('built_at', '?')} from {rec.get('commit', '?')} with PyInstaller "
             f"{rec.get('pyinstaller', '?')}{kept}")  # fmt: skip
    return [
        Row("startup", "bundle size (dist/RateScope)", rec["bundle_bytes"] / 1e6, "MB", "",
            f"{rec.get('bundle_files', '?')} files; {where}"),
        Row("startup", "bundle build time", rec["build_seconds"], "s", "",
            f"one-folder PyInstaller build; load average {rec.get('load_average_at_start', '?')}"
            f" on {rec.get('cpu_count', '?')} CPUs at its start; {where}"),
    ]  # fmt: skip


def run() -> list[Row]:
    py = sys.executable
    sample = str(SAMPLE_MOSAIC)
    rows = [
        _timed_row("first painted window (main.py --smoke)", [py, "main.py", "--smoke"],
                   "READY", 5, FIRST_PAINT_TARGET,
                   "process start to READY (window painted), offscreen"),
        _timed_row("sample mosaic shown (main.py --smoke sample)",
                   [py, "main.py", "--smoke", sample], "READY", 3, "",
                   "process start to READY with the 975 x 6300 sample painted, offscreen"),
    ]  # fmt: skip
    if _has_models():
        rows += [
            _timed_row("models loaded in the GUI", [py, "-m", "ratescope.gui.predict.models_probe",
                       "{tmp}/settings.ini"], "MODELS", 3, "",
                       "smoke mode has no models-ready marker: a driver builds the window "
                       "as run_gui does and waits for PredictionController.models_loaded "
                       "(torch imported off the GUI thread after the first paint)"),
            _timed_row("load_ensemble() in a fresh interpreter", [py, "-c", _LOAD_ENSEMBLE],
                       "MODELS", 3, "", "python -c 'load_ensemble()': torch import + weights"),
        ]  # fmt: skip
    else:
        note = f"not measured: no ensemble (*_fold*.safetensors) in {MODELS}"
        rows += [Row("startup", "models loaded in the GUI", float("nan"), "s", "", note),
                 Row("startup", "load_ensemble() in a fresh interpreter", float("nan"), "s",
                     "", note)]  # fmt: skip
    if BUNDLE_EXE.exists():
        exe = str(BUNDLE_EXE)
        note = f"{BUNDLE_EXE.relative_to(ROOT)} --smoke"
        rows.append(_timed_row("bundled app: first painted window", [exe, "--smoke"], "READY",
                               3, "", note))  # fmt: skip
    return rows + bundle_rows()
