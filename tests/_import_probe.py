"""What a fresh interpreter has loaded after importing some modules (import-cost tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(modules: list[str]) -> set[str]:
    """Top-level package names in ``sys.modules`` of a new Python after importing ``modules``;
    RateScope's own modules count by their part (``ratescope.core``, ``ratescope.gui``)."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "top = lambda n: '.'.join(n.split('.')[:2 if n.startswith('ratescope.') else 1])\n"
        "print(json.dumps(sorted({top(n) for n in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))
