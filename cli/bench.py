"""``python main.py bench``: print the benchmark table and write it as JSON."""

from __future__ import annotations

import argparse
import platform
import time

from ratescope.cli.common import save_json
from ratescope.core import __version__
from ratescope.core.bench import SUITES, run_benchmarks

HELP = "run the benchmarks, print a table and write JSON"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="*", choices=SUITES, help="suites to run (default: all)")
    p.add_argument("--json", default="bench_results/bench.json", help="where to write JSON")


def run(args: argparse.Namespace) -> int:
    rows = run_benchmarks(args.only, progress=lambda f, m: print(f"[{f:4.0%}] {m}", flush=True))
    print()
    print(f"{'suite':<8} {'benchmark':<52} {'value':>12} {'unit':<8} {'target':<14} note")
    for r in rows:
        print(f"{r.suite:<8} {r.name:<52} {r.value:>12.4g} {r.unit:<8} {r.target:<14} {r.note}")
    code = save_json(
        {
            "version": __version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": platform.platform(),
            "processor": platform.processor(),
            "rows": [r.as_dict() for r in rows],
        },
        args.json,
    )
    if code == 0:
        print(f"\nwritten to {args.json}")
    return code
