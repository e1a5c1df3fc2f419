"""Which blocks the 3D workspace reconstructs, and when.

The block of the slice on screen first; once it is shown, the next block (else the
previous one) is prefetched, one reconstruction at a time (a small CPU has two cores).
Finished blocks are kept with their statistics (as many as the core cache keeps), so
stepping through their slices needs no work off the GUI thread.
"""

from __future__ import annotations

from ratescope.core.volume.export import last_slice
from ratescope.gui.volume_jobs import BlockStats, ensure_block_job


class BlockScheduling:
    """Mixin for :class:`gui.volume_workspace.VolumeWorkspace` (uses its ``volume``,
    ``stats``, ``pending``, ``current``, ``runner``, ``strip``, ``_show_current`` and
    ``_job_failed``)."""

    def _live_pending(self) -> dict[int, object]:
        self.pending = {z: t for z, t in self.pending.items() if not t.cancelled}
        return self.pending

    def _request(self, k: int, prefetch: bool = False) -> None:
        """Reconstruct the block of slice ``k``; for the slice on screen, work on other
        blocks is cancelled first (a dragged slider must not queue every block it crosses)."""
        rec = self.volume.rec
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
        cache = self.volume.cache
        self.pending[z0] = self.runner.start(
            ensure_block_job,
            cache,
            k,
            message=f"Reconstructing slices {z0 + 1}–{z1}…",
            on_done=lambda st, c=cache: self._block_ready(c, st),
            on_error=lambda e, z=z0: self._block_failed(z, e),
        )
        self._update_strip()

    def _prefetch(self) -> None:
        """Reconstruct the next (else the previous) block while the user looks at this one."""
        if self._live_pending():
            return  # one reconstruction at a time on a small CPU
        starts = self.volume.rec.starts
        i = starts.index(self.volume.rec.block_start(self.current))
        for j in (i + 1, i - 1):
            if 0 <= j < len(starts) and starts[j] not in self.stats:
                self._request(last_slice(self.volume.rec, starts[j]), prefetch=True)
                return

    def _block_ready(self, cache, st: BlockStats) -> None:
        if self.volume is None or cache is not self.volume.cache:
            return  # a block of a volume closed meanwhile
        self.pending.pop(st.z0, None)
        self.stats[st.z0] = st
        while len(self.stats) > cache.max_blocks:
            self.stats.popitem(last=False)
        if self.volume.rec.block_start(self.current) == st.z0:
            self._show_current()
        else:
            self._update_strip()
            self._prefetch()

    def _block_failed(self, z0: int, error: BaseException) -> None:
        self.pending.pop(z0, None)
        self._update_strip()
        self._job_failed("Reconstruction", error)

    def _update_strip(self) -> None:
        rec, n = self.volume.rec, self.volume.source.shape[0]
        span = [(z, min(z + rec.length, n)) for z in self.stats]
        pend = [(z, min(z + rec.length, n)) for z in self._live_pending()]
        st = self.stats.get(rec.block_start(self.current))
        self.strip.set_state(n, self.current, (st.z0, st.block.z1) if st else None, span, pend)
