"""A thread-safe cache of reconstructed blocks, so that stepping through slices is instant.

For a GUI: ``cache = ReconstructionCache(Reconstructor(model, source))``; on a worker
thread ``cache.ensure(k, progress)`` (cancellable through ``progress``); on the GUI thread
``cache.slice(k)`` returns the cached ``(original, reconstruction)`` slice pair at once,
or None if that block is not reconstructed yet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ratescope.core.progress import ProgressFn
from ratescope.core.volume.reconstruct import Block, Reconstructor


class ReconstructionCache:
    """Thread-safe LRU cache of reconstructed blocks, for stepping through slices.

    Parameters
    ----------
    reconstructor : Reconstructor
    max_blocks : int
        Blocks kept (memory: ``2 * 4 * l * y * x`` bytes each).
    """

    def __init__(self, reconstructor: Reconstructor, max_blocks: int = 8):
        self.rec = reconstructor
        self.max_blocks = max_blocks
        self._blocks: OrderedDict[int, Block] = OrderedDict()
        self._lock = threading.Lock()

    def cached_block(self, k: int) -> Block | None:
        """The cached block containing slice ``k``, or None."""
        z0 = self.rec.block_start(k)
        with self._lock:
            blk = self._blocks.get(z0)
            if blk is not None:
                self._blocks.move_to_end(z0)
            return blk

    def ensure(self, k: int, progress: ProgressFn | None = None) -> Block:
        """The block containing slice ``k``, reconstructing it if needed (call off-thread)."""
        blk = self.cached_block(k)
        if blk is not None:
            return blk
        blk = self.rec.block(self.rec.block_start(k), progress)
        with self._lock:
            self._blocks[blk.z0] = blk
            while len(self._blocks) > self.max_blocks:
                self._blocks.popitem(last=False)
        return blk

    def slice(self, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(original, reconstruction)`` float32 ``[y, x]`` of slice ``k`` if cached, else None."""
        blk = self.cached_block(k)
        if blk is None:
            return None
        return blk.original[k - blk.z0], blk.reconstruction[k - blk.z0]

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
