"""CAE reconstruction of volumes of any size, block by block, with a slice cache for viewers.

A *block* is ``l`` consecutive slices over the whole plane, starting at one of
:func:`core.volume.windows.cover_starts` (``0, l, 2l, ...``, the last moved back to end at
the last slice). A block is reconstructed from its 224 x 224 in-plane tiles (mirror-padded
where the volume is smaller; overlapping tiles averaged), giving per tile the 10 latent
features and the MSE. Slice ``k`` belongs to block ``block_start(k)``.

Viewers keep reconstructed blocks in :class:`core.volume.recon_cache.ReconstructionCache`.
Values are in the CAE's input units ([-1, 1], core.volume.phases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ratescope.core.models.cae import CAE3D
from ratescope.core.progress import ProgressFn, report
from ratescope.core.volume.io import VolumeSource, scaling_for
from ratescope.core.volume.phases import Scaling
from ratescope.core.volume.stats import (
    Moments,
    TTest,
    moments_ttest,
    reconstruction_ttest,
    window_means_ttest,
)
from ratescope.core.volume.windows import Window, cover_starts, pad_to


@dataclass
class Block:
    """A reconstructed block of slices ``z0 .. z0 + n - 1`` (whole plane).

    Attributes
    ----------
    z0 : int
        First slice.
    original, reconstruction : numpy.ndarray
        float32 ``[n, y, x]`` in CAE input units ([-1, 1]); ``n = min(l, volume depth)``.
    windows : list of Window
        The in-plane tiles (``z0, y0, x0``) reconstructed.
    latents : numpy.ndarray
        float32 ``[len(windows), latent]``.
    mse : numpy.ndarray
        float64 ``[len(windows)]``: MSE of each tile over its voxels inside the volume.
    """

    z0: int
    original: np.ndarray
    reconstruction: np.ndarray
    windows: list[Window] = field(default_factory=list)
    latents: np.ndarray | None = None
    mse: np.ndarray | None = None

    @property
    def z1(self) -> int:
        return self.z0 + self.original.shape[0]

    def voxel_test(self) -> TTest:
        """The paper's reconstruction check on this block: original vs reconstructed voxel
        values (means, standard deviations, counts; ``ttest_ind_from_stats``)."""
        return reconstruction_ttest(self.original, self.reconstruction)

    def block_mse(self) -> float:
        """Voxel MSE of the whole block (stitched reconstruction vs original)."""
        d = self.original.astype(np.float64) - self.reconstruction
        return float(np.mean(d**2))


class Reconstructor:
    """Reconstructs blocks of a :class:`VolumeSource` with a CAE.

    Parameters
    ----------
    model : CAE3D
        In eval mode; ``model.window`` is the block length.
    source : VolumeSource or numpy.ndarray
        The volume ``[z, y, x]``.
    scaling : Scaling, optional
        Raw values -> [-1, 1]; guessed from the volume if omitted (arrays: labels).
    device : str
        Torch device.
    batch : int
        Tiles per forward pass.
    """

    def __init__(
        self,
        model: CAE3D,
        source,
        scaling: Scaling | None = None,
        device: str = "cpu",
        batch: int = 2,
        plane: int = 224,
    ):
        self.model, self.source, self.device, self.batch = model.eval(), source, device, batch
        self.length, self.plane = model.window, plane
        if scaling is None:
            scaling = scaling_for(source) if isinstance(source, VolumeSource) else Scaling()
        self.scaling = scaling
        self.shape = tuple(source.shape)
        self.starts = cover_starts(self.shape[0], self.length)
        self.tiles = [
            (y, x)
            for y in cover_starts(self.shape[1], plane)
            for x in cover_starts(self.shape[2], plane)
        ]

    def block_start(self, k: int) -> int:
        """First slice of the block that shows slice ``k`` (the first block holding it)."""
        if not 0 <= k < self.shape[0]:
            raise IndexError(f"slice {k} outside 0..{self.shape[0] - 1}")
        return next(s for s in self.starts if k < s + self.length)

    def _read(self, z0: int) -> np.ndarray:
        z1 = min(z0 + self.length, self.shape[0])
        if isinstance(self.source, VolumeSource):
            raw = self.source.read(z0, z1)
        else:
            raw = np.asarray(self.source[z0:z1])
        return self.scaling.apply(raw)

    @torch.inference_mode()
    def block(self, z0: int, progress: ProgressFn | None = None) -> Block:
        """Reconstruct the block starting at slice ``z0`` (a value of ``self.starts``).

        ``progress`` is called per batch of tiles and may raise
        :class:`core.errors.Cancelled`.
        """
        n_l, p = self.length, self.plane
        orig = self._read(z0)
        n, ny, nx = orig.shape
        acc = np.zeros((n, ny, nx), np.float32)
        cnt = np.zeros((1, ny, nx), np.float32)
        lat, mse = [], []
        for b in range(0, len(self.tiles), self.batch):
            report(progress, b / len(self.tiles), f"reconstructing slices {z0}-{z0 + n - 1}")
            chunk = self.tiles[b : b + self.batch]
            x = np.stack([pad_to(orig[:, y : y + p, xx : xx + p], (n_l, p, p)) for y, xx in chunk])
            xt = torch.from_numpy(x[:, None]).to(self.device)
            z = self.model.encode(xt)
            rec = self.model.decode(z)[:, 0].float().cpu().numpy()
            lat.append(z.float().cpu().numpy())
            for (y, xx), r, xi in zip(chunk, rec, x, strict=True):
                hy, hx = min(p, ny - y), min(p, nx - xx)
                acc[:, y : y + hy, xx : xx + hx] += r[:n, :hy, :hx]
                cnt[:, y : y + hy, xx : xx + hx] += 1.0
                d = r[:n, :hy, :hx] - xi[:n, :hy, :hx]
                mse.append(float(np.mean(d.astype(np.float64) ** 2)))
        report(progress, 1.0, "block done")
        return Block(
            z0,
            orig,
            acc / cnt,
            [Window(z0, y, x) for y, x in self.tiles],
            np.concatenate(lat),
            np.asarray(mse),
        )

    @torch.inference_mode()
    def latents(self, windows: list[Window], progress: ProgressFn | None = None) -> np.ndarray:
        """Latent features float32 ``[len(windows), latent]`` of any mini-volumes.

        Each window is ``l x 224 x 224`` voxels from its corner (mirror-padded at the
        volume's end), e.g. from :func:`core.volume.windows.sliding_windows`.
        """
        from ratescope.core.volume.windows import read_window

        out = []
        for b in range(0, len(windows), self.batch):
            report(progress, b / max(len(windows), 1), f"encoding window {b + 1}")
            x = np.stack(
                [
                    self.scaling.apply(read_window(self.source, w, self.length, self.plane))
                    for w in windows[b : b + self.batch]
                ]
            )
            out.append(self.model.encode(torch.from_numpy(x[:, None]).to(self.device)).cpu())
        report(progress, 1.0, "latents done")
        return torch.cat(out).float().numpy() if out else np.zeros((0, self.model.latent))


@dataclass
class VolumeReconstruction:
    """Summary of a whole-volume reconstruction.

    Attributes
    ----------
    mse : float
        Voxel MSE over the whole volume (CAE input units).
    windows : list of Window
        Every tile reconstructed (block start, tile corner).
    latents : numpy.ndarray
        float32 ``[len(windows), latent]``.
    window_mse : numpy.ndarray
        Per-window MSE.
    voxel_test : TTest
        Original vs reconstructed voxel values (means, stds, counts; the paper's check).
    window_means_test : TTest or None
        Paired t-test of per-window means (None with fewer than 2 windows).
    """

    mse: float
    windows: list
    latents: np.ndarray
    window_mse: np.ndarray
    voxel_test: TTest
    window_means_test: TTest | None


def reconstruct_volume(
    rec: Reconstructor, out: str | Path | None = None, progress: ProgressFn | None = None
) -> VolumeReconstruction:
    """Reconstruct every block; optionally write the reconstruction to HDF5 atomically.

    The output file holds ``reconstruction`` (float32 ``[z, y, x]``, CAE units, gzip),
    ``latents`` ``[n_windows, latent]``, ``windows`` ``[n_windows, 3]`` (z0, y0, x0),
    ``window_mse``; attributes name the source. Slices covered by two blocks (the last
    block overlaps) keep the earlier block's values, as in the viewer cache.
    Memory: one block at a time.
    """
    import h5py

    from ratescope.core.atomic import atomic_path

    a, b = Moments(), Moments()
    sq, nvox = 0.0, 0
    wins, lats, wmse, om, rm = [], [], [], [], []
    starts = rec.starts

    def run(dset) -> None:
        nonlocal sq, nvox
        done = 0  # slices already counted in the statistics
        for i, z0 in enumerate(starts):

            def sub(f: float, m: str, i: int = i) -> None:
                report(progress, (i + f) / len(starts), m)

            blk = rec.block(z0, sub if progress else None)
            new = slice(max(done - z0, 0), None)  # only slices not counted before
            o, r = blk.original[new], blk.reconstruction[new]
            a.add(o)
            b.add(r)
            sq += float(np.sum((o.astype(np.float64) - r) ** 2))
            nvox += o.size
            done = blk.z1
            if dset is not None:
                dset[blk.z0 + new.start : blk.z1] = r
            wins.extend(blk.windows)
            lats.append(blk.latents)
            wmse.append(blk.mse)
            for w in blk.windows:
                y1, x1 = w.y0 + rec.plane, w.x0 + rec.plane
                om.append(float(blk.original[:, w.y0 : y1, w.x0 : x1].mean()))
                rm.append(float(blk.reconstruction[:, w.y0 : y1, w.x0 : x1].mean()))

    if out is None:
        run(None)
    else:
        with atomic_path(Path(out)) as tmp, h5py.File(tmp, "w") as f:
            chunks = (1, *rec.shape[1:])
            d = f.create_dataset(
                "reconstruction",
                shape=rec.shape,
                dtype="float32",
                chunks=chunks,
                compression="gzip",
                compression_opts=4,
            )
            run(d)
            f.create_dataset("latents", data=np.concatenate(lats))
            f.create_dataset("windows", data=np.array([[w.z0, w.y0, w.x0] for w in wins]))
            f.create_dataset("window_mse", data=np.concatenate(wmse))
            src = rec.source
            f.attrs["source"] = str(getattr(src, "path", "array"))
            f.attrs["dataset"] = str(getattr(src, "dataset", "") or "")
            f.attrs["units"] = "CAE input units [-1, 1] (core.volume.phases)"
    report(progress, 1.0, "reconstruction done")
    return VolumeReconstruction(
        mse=sq / max(nvox, 1),
        windows=wins,
        latents=np.concatenate(lats),
        window_mse=np.concatenate(wmse),
        voxel_test=moments_ttest(a, b),
        window_means_test=window_means_ttest(om, rm) if len(om) > 1 else None,
    )
