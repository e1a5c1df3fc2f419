"""Headless front end: one module per sub-command, each a thin layer over ``core``.

A command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
it is found by its file name (``align_view.py`` -> ``align-view``), modules starting
with ``_`` and ``common`` are not commands. :func:`main` dispatches (the GUI when no
command is given); :func:`launch` is what ``ratescope``, ``python -m ratescope`` and
``python main.py`` run. The commands of :data:`common.SHARED_THREADS` get ``--threads``
and run inside :func:`common.start_threads`: concurrent runs share the cores.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from ratescope.cli.common import SHARED_THREADS, add_threads_option, fail, start_threads
from ratescope.core.errors import RateScopeError

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
        module = importlib.import_module(f"{__name__}.{name}")
        command = name.replace("_", "-")
        p = sub.add_parser(command, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        if command in SHARED_THREADS:
            add_threads_option(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sub-command in ``argv`` (default: the process's arguments), else the GUI.

    ``[FILE ...]`` opens the files in the GUI; ``--smoke [FILE]`` starts it, prints READY
    once painted and quits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS or argv[:1] in (["-h"], ["--help"]):
        args = build_parser().parse_args(argv)
        try:
            budget = start_threads(args)  # --threads, or a share of the cores
        except RateScopeError as e:  # RATESCOPE_THREADS not understood
            return fail(e)
        try:
            return int(args.run(args) or 0)
        finally:
            if budget is not None:
                budget.close()
    from ratescope.gui.app import run_gui  # Qt only when the GUI is wanted

    smoke = "--smoke" in argv
    files = [a for a in argv if a != "--smoke"]
    return run_gui(files, smoke=smoke)


def launch() -> int:
    """Process entry point: restart once with tcmalloc where it helps, then :func:`main`."""
    from ratescope.core.allocator import reexec_with_tcmalloc

    script = sys.argv[0]
    module_run = script.endswith("__main__.py")  # python -m ratescope
    reexec_with_tcmalloc(["-m", "ratescope", *sys.argv[1:]] if module_run else sys.argv)
    return main()
