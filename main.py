"""RateScope entry point: the GUI by default, sub-commands for headless use.

    python main.py [FILE]                 start the GUI (optionally opening FILE)
    python main.py --smoke [FILE]         start the GUI, print READY when painted, quit
    python main.py info FILE [--json]     what a file holds
    python main.py bench                  benchmark table (also written as JSON)

Each sub-command lives in its own module of ``cli/``; ``python main.py -h`` lists them.
"""

from __future__ import annotations

import sys

from cli import COMMANDS, build_parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS or argv[:1] in (["-h"], ["--help"]):
        args = build_parser().parse_args(argv)
        return int(args.run(args) or 0)
    from gui.app import run_gui  # Qt only when the GUI is wanted

    smoke = "--smoke" in argv
    files = [a for a in argv if a != "--smoke"]
    return run_gui(files, smoke=smoke)


if __name__ == "__main__":
    from core.allocator import reexec_with_tcmalloc

    reexec_with_tcmalloc(sys.argv)  # every command: the app predicts in-process too
    sys.exit(main())
