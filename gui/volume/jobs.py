"""Background jobs of the 3D workspace; each runs on a worker thread via the window's runner.

Every function here may take seconds (opening, loading the CAE, reconstructing, writing)
and is called only through :meth:`gui.background.TaskRunner.start`. torch is imported
inside the functions (through ``core.volume.reconstruct``), never when this module loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.progress import ProgressFn, report


@dataclass
class OpenedVolume:
    """What :func:`open_volume_job` hands to the GUI thread."""

    source: Any  # core.volume.io.VolumeSource
    kind: str  # "labels" or "grayscale"
    cache: Any  # core.volume.recon_cache.ReconstructionCache
    model: Any  # (CAE3D, card)

    @property
    def card(self) -> dict:
        return self.model[1]

    @property
    def rec(self):
        return self.cache.rec


@dataclass
class BlockStats:
    """A reconstructed block with what the panels show for each of its in-plane windows.

    Attributes
    ----------
    block : core.volume.reconstruct.Block
    tests : list of core.volume.stats.TTest
        Original vs reconstructed voxel values, per window (the paper's check).
    block_mse : float
        Voxel MSE of the stitched block.
    diff_limit : float
        Symmetric colour range of the difference view for this block.
    """

    block: Any
    tests: list = field(default_factory=list)
    block_mse: float = 0.0
    diff_limit: float = 1.0

    @property
    def z0(self) -> int:
        return self.block.z0


def open_volume_job(
    path: str | Path,
    dataset: str | None,
    model: tuple | None,
    model_path: str | Path | None,
    progress: ProgressFn | None = None,
) -> OpenedVolume:
    """Open the volume lazily, guess labels/grayscale, load the CAE (once) and a cache."""
    from ratescope.core.volume.io import guess_kind, open_volume, scaling_for

    report(progress, 0.0, f"Opening {Path(path).name}…")
    source = open_volume(path, dataset)
    try:
        kind = guess_kind(source)
        scaling = scaling_for(source, kind)
        if model is None:
            report(progress, 0.3, "Loading the CAE model…")
            from ratescope.core.models.cae import load_model

            model = load_model(model_path)
        from ratescope.core.volume.recon_cache import ReconstructionCache
        from ratescope.core.volume.reconstruct import Reconstructor

        cache = ReconstructionCache(Reconstructor(model[0], source, scaling))
    except BaseException:
        source.close()
        raise
    report(progress, 1.0, "volume open")
    return OpenedVolume(source, kind, cache, model)


def block_stats(rec, block) -> BlockStats:
    """Per-window t-tests, block MSE and difference range of a reconstructed block."""
    from ratescope.core.volume.stats import reconstruction_ttest

    p = rec.plane
    tests = [
        reconstruction_ttest(
            block.original[:, w.y0 : w.y0 + p, w.x0 : w.x0 + p],
            block.reconstruction[:, w.y0 : w.y0 + p, w.x0 : w.x0 + p],
        )
        for w in block.windows
    ]
    diff = np.abs(block.reconstruction - block.original)
    limit = float(np.percentile(diff, 99.9)) if diff.size else 1.0
    return BlockStats(block, tests, block.block_mse(), max(limit, 1e-3))


def ensure_block_job(cache, k: int, progress: ProgressFn | None = None) -> BlockStats:
    """Reconstruct (or fetch) the block showing slice ``k``; cancellable via ``progress``."""
    block = cache.ensure(k, progress)
    return block_stats(cache.rec, block)


def phase_fractions_job(source, phases=None, progress: ProgressFn | None = None) -> dict:
    """Phase fractions of a label volume (core), read chunk by chunk."""
    from ratescope.core.volume.phases import phase_fractions

    return phase_fractions(source, phases, progress=progress)


def metrics_job(source, phases=None, voxel_um=None, progress: ProgressFn | None = None):
    """Microstructure metrics of a label volume (core); cancellable via ``progress``."""
    from ratescope.core.volume.metrics import microstructure_metrics

    return microstructure_metrics(source, phases, voxel_um=voxel_um, progress=progress)
