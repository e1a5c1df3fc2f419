"""Which blocks the 3D workspace reconstructs, and when.

The block of the slice on screen first; once it is shown, the next block (else the
previous one) is prefetched, one reconstruction at a time (a small CPU has two cores).
Finished blocks are kept with their statistics (as many as the core cache keeps), so
stepping through their slices needs no work off the GUI thread.
"""

from __future__ import annotations

from collections import OrderedDict

from ratescope.core.volume.export import last_slice
from ratescope.gui.volume.jobs import BlockStats, ensure_block_job


class BlockScheduler:
    """The reconstructed blocks of one workspace's volume and the work under way.

    ``stats`` maps a block's first slice to its :class:`BlockStats` (oldest first);
    ``pending`` maps it to the task reconstructing it. Reads the workspace's ``volume``,
    ``current``, ``runner`` and ``strip``; calls back its ``show_current`` when the block
    on screen is ready and its ``job_failed`` on errors.
    """

    def __init__(self, workspace):  # the VolumeWorkspace (not imported: a cycle)
        self.ws = workspace
        self.stats: OrderedDict[int, BlockStats] = OrderedDict()
        self.pending: dict[int, object] = {}

    def reset(self) -> None:
        """Forget every block and cancel the work under way (another volume was opened)."""
        for task in self.pending.values():
            task.cancel()
        self.stats.clear()
        self.pending.clear()

    def block_of(self, k: int) -> BlockStats | None:
        """The finished block holding slice ``k``, or None."""
        return self.stats.get(self.ws.volume.rec.block_start(k))

    def _live_pending(self) -> dict[int, object]:
        self.pending = {z: t for z, t in self.pending.items() if not t.cancelled}
        return self.pending

    def request(self, k: int, prefetch: bool = False) -> None:
        """Reconstruct the block of slice ``k``; for the slice on screen, work on other
        blocks is cancelled first (a dragged slider must not queue every block it crosses)."""
        rec = self.ws.volume.rec
        z0 = rec.block_start(k)
        if z0 in self.stats:
            return
        if not prefetch:
            for z, task in self._live_pending().items():
                if z != z0:
                    task.cancel()
        if z0 in self._live_pending():
            return
        z1 = min(z0 + rec.length, rec.shape[0])
        cache = self.ws.volume.cache
        self.pending[z0] = self.ws.runner.start(
            ensure_block_job,
            cache,
            k,
            message=f"Reconstructing slices {z0 + 1}–{z1}…",
            on_done=lambda st, c=cache: self._ready(c, st),
            on_error=lambda e, z=z0: self._failed(z, e),
        )
        self.update_strip()

    def prefetch(self) -> None:
        """Reconstruct the next (else the previous) block while the user looks at this one."""
        if self._live_pending():
            return  # one reconstruction at a time on a small CPU
        rec = self.ws.volume.rec
        starts = rec.starts
        i = starts.index(rec.block_start(self.ws.current))
        for j in (i + 1, i - 1):
            if 0 <= j < len(starts) and starts[j] not in self.stats:
                self.request(last_slice(rec, starts[j]), prefetch=True)
                return

    def _ready(self, cache, st: BlockStats) -> None:
        volume = self.ws.volume
        if volume is None or cache is not volume.cache:
            return  # a block of a volume closed meanwhile
        self.pending.pop(st.z0, None)
        self.stats[st.z0] = st
        while len(self.stats) > cache.max_blocks:
            self.stats.popitem(last=False)
        if volume.rec.block_start(self.ws.current) == st.z0:
            self.ws.show_current()
        else:
            self.update_strip()
            self.prefetch()

    def _failed(self, z0: int, error: BaseException) -> None:
        self.pending.pop(z0, None)
        self.update_strip()
        self.ws.job_failed("Reconstruction", error)

    def update_strip(self) -> None:
        """The block strip under the slider: cached, pending and current blocks."""
        rec, n = self.ws.volume.rec, self.ws.volume.source.shape[0]
        span = [(z, min(z + rec.length, n)) for z in self.stats]
        pend = [(z, min(z + rec.length, n)) for z in self._live_pending()]
        st = self.block_of(self.ws.current)
        self.ws.strip.set_state(n, self.ws.current, (st.z0, st.block.z1) if st else None, span,
                                pend)  # fmt: skip
