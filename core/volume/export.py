"""Writers of a volume's CAE reconstruction (HDF5 or TIFF), latent features (CSV) and
microstructure metrics (CSV).

They walk the blocks of a :class:`core.volume.recon_cache.ReconstructionCache` (reusing
blocks already reconstructed for viewing), write atomically and report progress; they may
take minutes and run off the GUI thread.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.progress import ProgressFn, report


def last_slice(rec, z0: int) -> int:
    """A slice whose block (``rec.block_start``) starts at ``z0``: the block's last one
    (the last block overlaps its neighbour, so its first slices belong to the one before)."""
    return min(z0 + rec.length, rec.shape[0]) - 1


def iter_blocks(cache, progress: ProgressFn | None = None) -> Iterator:
    """Every block of the volume in order, through ``cache`` (progress over all blocks)."""
    rec = cache.rec
    for i, z0 in enumerate(rec.starts):

        def sub(f: float, m: str, i: int = i) -> None:
            report(progress, (i + f) / len(rec.starts), m)

        yield cache.ensure(last_slice(rec, z0), sub if progress else None)


def write_reconstruction(cache, out: str | Path, progress: ProgressFn | None = None) -> Path:
    """Write the whole reconstruction (CAE units, float32) atomically as HDF5 or TIFF.

    HDF5 goes through :func:`core.volume.reconstruct.reconstruct_volume` (with latents,
    windows and per-window MSE). TIFF is a float32 multi-page (Big)TIFF written block by
    block through the cache; slices covered twice keep the earlier block's values.
    """
    out = Path(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        from ratescope.core.volume.reconstruct import reconstruct_volume

        reconstruct_volume(cache.rec, out, progress)
        return out
    import tifffile

    big = 4 * int(np.prod(cache.rec.shape)) > 2**31
    with atomic_path(out) as tmp, tifffile.TiffWriter(tmp, bigtiff=big) as tw:
        done = 0
        for blk in iter_blocks(cache, progress):
            for r in blk.reconstruction[max(done - blk.z0, 0) :]:
                tw.write(r, contiguous=True, metadata=None)
            done = blk.z1
    report(progress, 1.0, "reconstruction written")
    return out


def write_latents_csv(cache, out: str | Path, progress: ProgressFn | None = None) -> Path:
    """Write one CSV row per window (z0, y0, x0, MSE, latent features) atomically."""
    rows = [
        [w.z0, w.y0, w.x0, f"{mse:.6g}", *(f"{v:.6g}" for v in lat)]
        for blk in iter_blocks(cache, progress)
        for w, mse, lat in zip(blk.windows, blk.mse, blk.latents, strict=True)
    ]
    n = len(rows[0]) - 4 if rows else 0
    with atomic_path(Path(out)) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["z0", "y0", "x0", "mse", *(f"latent_{j + 1}" for j in range(n))])
        writer.writerows(rows)
    report(progress, 1.0, "latents written")
    return Path(out)


def metrics_rows(metrics) -> list[tuple[str, object]]:
    """``(quantity, value)`` rows of a :class:`core.volume.metrics.MicrostructureMetrics`:
    its ``volume --json`` layout flattened (``tortuosity.factor``, ``physics.curves.
    bruggeman.specific.5C`` …); curve values are named by their C-rate."""
    d = metrics.as_dict()
    rates = [f"{c:g}C" for c in (d.get("physics") or {}).get("c_rates", [])]
    rows: list[tuple[str, object]] = []

    def walk(name: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{name}.{k}" if name else str(k), v)
        elif isinstance(value, list | tuple):
            names = rates if len(value) == len(rates) and "curves" in name else None
            if name.endswith("c_rates"):
                rows.append((name, " ".join(str(v) for v in value)))
                return
            for i, v in enumerate(value):
                walk(f"{name}.{names[i] if names else i}", v)
        else:
            rows.append((name, value))

    walk("", d)
    return rows


def write_metrics_csv(metrics, out: str | Path, source: str = "") -> Path:
    """Write the microstructure metrics of a volume as a two-column CSV, atomically."""
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["quantity", "value"])
            if source:
                w.writerow(["source", source])
            for name, value in metrics_rows(metrics):
                w.writerow([name, "" if value is None else value])
    return Path(out)
