"""Benchmarks behind ``python main.py bench``: speed and memory targets live here.

Each module of this package (found by name) defines ``run() -> list[Row]``. Times are
medians of several repeats measured in the same run, so ratios between rows are fair.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ratescope.core.progress import ProgressFn, report

SUITES = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))


@dataclass
class Row:
    """One benchmark figure: ``value`` in ``unit``, with the target it must meet."""

    suite: str
    name: str
    value: float
    unit: str
    target: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_benchmarks(only: list[str] | None = None, progress: ProgressFn | None = None) -> list[Row]:
    """Run the suites named in ``only`` (default: all) and return their rows."""
    names = [s for s in SUITES if not only or s in only]
    rows: list[Row] = []
    for i, name in enumerate(names):
        report(progress, i / len(names), f"benchmark suite {name}")
        rows.extend(importlib.import_module(f"{__name__}.{name}").run())
    report(progress, 1.0, "done")
    return rows
