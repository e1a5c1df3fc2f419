"""Headless front end: one module per sub-command, each a thin layer over ``core``.

A command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
it is found by its file name (``align_view.py`` -> ``align-view``), modules starting
with ``_`` and ``common`` are not commands.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules([str(Path(__file__).parent)])
    if not m.name.startswith("_") and m.name != "common"
)
COMMANDS = {m.replace("_", "-") for m in MODULES}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ratescope", description="RateScope: rate capability from electrode micrographs."
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in MODULES:
        module = importlib.import_module(f"cli.{name}")
        p = sub.add_parser(name.replace("_", "-"), help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser
