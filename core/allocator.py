"""tcmalloc for RateScope's processes when the machine has it (Linux).

``main.py`` (every command, the GUI included) and ``scripts/train_embedded.py`` call
:func:`reexec_with_tcmalloc` first; the model benchmark uses :func:`find_tcmalloc` to
time both allocators.

glibc's allocator re-faults the pages of every large tensor; with tcmalloc preloaded a
batch-38 RateCNN training step (bf16, one thread) took 5.5 s instead of 10.5 s here
(2026-12-02, the embedded run), and the ensemble over the sample's tiles 3.0 s instead
of 3.9 s (8 models, AVX2 EPYC, 2026-12-03, ``main.py bench --only predict``).
``LD_PRELOAD`` only works from process start, so :func:`reexec_with_tcmalloc` restarts
the interpreter once with it set. Set ``RATESCOPE_MALLOC=system`` to keep the default
allocator. Not in a frozen bundle.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ENV = "RATESCOPE_MALLOC"
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/libtcmalloc_minimal.so.4",
)


def find_tcmalloc(candidates: Sequence[str] = CANDIDATES) -> str | None:
    """Path of an installed ``libtcmalloc_minimal.so.4``, or None."""
    return next((c for c in candidates if Path(c).is_file()), None)


def preload_env(env: Mapping[str, str], lib: str | None) -> dict[str, str] | None:
    """The environment to restart with, or None when no restart is wanted.

    None when ``lib`` is None, when it is preloaded already, when the user asked for the
    system allocator, or off Linux.
    """
    if lib is None or not sys.platform.startswith("linux") or getattr(sys, "frozen", False):
        return None
    if env.get(ENV, "").lower() == "system" or lib in env.get("LD_PRELOAD", ""):
        return None
    preload = ":".join(p for p in (lib, env.get("LD_PRELOAD", "")) if p)
    return {**env, "LD_PRELOAD": preload}


def reexec_with_tcmalloc(argv: Sequence[str]) -> None:
    """Replace this process by ``python argv...`` (``argv[0]``: the script) with tcmalloc
    preloaded, when it helps.

    Returns (doing nothing) when :func:`preload_env` says no restart is wanted.
    """
    env = preload_env(os.environ, find_tcmalloc())
    if env is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv], env)
