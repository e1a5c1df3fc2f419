"""A lab's own training data: a folder of tile images plus a CSV of measured capacities.

Folder layout (either):

- one sub-folder per sample, ``DIR/<sample>/*.png|*.tif|...``, or
- flat files named ``<sample>.<ext>`` or ``<sample>_<anything>.<ext>`` (the longest
  sample id of the CSV that matches wins).

Images are already-cropped active-layer images (collector and epoxy removed, as in the
paper's preparation). An image exactly one tile large is used as it is; a larger one is
cut into a centred grid of non-overlapping 224 x 672 tiles; a smaller one is an error.

CSV: a header with ``sample``, optionally ``unit`` (``Ah/kg``/``specific`` or
``Ah/L``/``volumetric``; rows of the other unit are skipped) and one column per C-rate
named like ``0.2C``, ``1C`` ... (or ``0.2``, ``C0.2``), e.g.::

    sample,unit,0.2C,1C,2C,3C,5C
    P50-a,Ah/kg,151.2,146.0,139.8,133.1,118.4
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ratescope.core.constants import C_RATES, TILE_HEIGHT, TILE_WIDTH, UNITS
from ratescope.core.errors import RateScopeError
from ratescope.core.io import load_mosaic
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train.data import TileDataset

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".czi", ".zvi"}


def _unit_key(text: str) -> str | None:
    t = text.strip().lower().replace(" ", "")
    for key, symbol in UNITS.items():
        if t in (key, symbol.lower(), symbol.lower().replace("/", "")):
            return key
    return None


def _rate_of(column: str) -> float | None:
    m = re.fullmatch(r"\s*c?\s*([0-9]*\.?[0-9]+)\s*c?\s*", column.lower())
    return float(m.group(1)) if m else None


def read_capacity_csv(path: str | Path, unit: str) -> dict[str, np.ndarray]:
    """Measured capacities per sample from a CSV (see module docstring) for ``unit``."""
    path = Path(path)
    if unit not in UNITS:
        raise RateScopeError(f"unknown unit {unit!r}; use one of {sorted(UNITS)}")
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as exc:
        raise RateScopeError(f"cannot read the capacity table ({exc})", path) from exc
    if not rows or "sample" not in rows[0]:
        raise RateScopeError("the capacity table needs a 'sample' column", path)
    columns = {}
    for col in rows[0]:
        rate = _rate_of(col) if col not in ("sample", "unit") else None
        for target in C_RATES:
            if rate is not None and abs(rate - target) < 1e-9:
                columns[target] = col
    missing = [c for c in C_RATES if c not in columns]
    if missing:
        raise RateScopeError(f"the capacity table lacks C-rate columns {missing}", path)
    out: dict[str, np.ndarray] = {}
    for i, row in enumerate(rows, start=2):
        if "unit" in row and row["unit"] and _unit_key(row["unit"]) != unit:
            if _unit_key(row["unit"]) is None:
                raise RateScopeError(f"line {i}: unknown unit {row['unit']!r}", path)
            continue
        try:
            out[row["sample"].strip()] = np.array(
                [float(row[columns[c]]) for c in C_RATES], np.float32
            )
        except (TypeError, ValueError) as exc:
            raise RateScopeError(f"line {i}: not a number ({exc})", path) from exc
    if not out:
        raise RateScopeError(f"no rows in unit {UNITS[unit]}", path)
    return out


def _read_image(path: Path) -> np.ndarray:
    """The whole image through the app's one reader (any format it opens)."""
    return np.asarray(load_mosaic(path).image)


def cut_tiles(image: np.ndarray, height: int = TILE_HEIGHT, width: int = TILE_WIDTH) -> np.ndarray:
    """Centred grid of non-overlapping ``height`` x ``width`` tiles of one image."""
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    h, w = image.shape[:2]
    ny, nx = h // height, w // width
    if ny == 0 or nx == 0:
        raise RateScopeError(f"image {h}x{w} px is smaller than a {height}x{width} tile")
    y0, x0 = (h - ny * height) // 2, (w - nx * width) // 2
    return np.stack(
        [
            image[y0 + i * height : y0 + (i + 1) * height, x0 + j * width : x0 + (j + 1) * width]
            for i in range(ny)
            for j in range(nx)
        ]
    )


def load_lab_dataset(
    tiles_dir: str | Path,
    labels_csv: str | Path,
    unit: str,
    progress: ProgressFn | None = None,
) -> TileDataset:
    """Read a lab's tile folder and capacity CSV into a :class:`TileDataset`."""
    tiles_dir = Path(tiles_dir)
    if not tiles_dir.is_dir():
        raise RateScopeError("the tile folder does not exist", tiles_dir)
    caps = read_capacity_csv(labels_csv, unit)
    by_length = sorted(caps, key=len, reverse=True)
    files: list[tuple[Path, str]] = []
    for p in sorted(tiles_dir.rglob("*")):
        if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            continue
        rel = p.relative_to(tiles_dir)
        if len(rel.parts) > 1 and rel.parts[0] in caps:
            files.append((p, rel.parts[0]))
            continue
        match = next((s for s in by_length if p.stem == s or p.stem.startswith(s + "_")), None)
        if match is not None:
            files.append((p, match))
    if not files:
        raise RateScopeError("no image in the folder matches a sample of the CSV", tiles_dir)
    tiles, groups = [], []
    for i, (p, sample) in enumerate(files):
        report(progress, i / len(files), f"reading {p.name}")
        t = cut_tiles(_read_image(p))
        tiles.append(t)
        groups += [sample] * len(t)
    shapes = {t.shape[1:] for t in tiles}
    dtypes = {t.dtype for t in tiles}
    if len(shapes) > 1 or len(dtypes) > 1:
        raise RateScopeError(f"images differ in colour or depth ({shapes}, {dtypes})", tiles_dir)
    report(progress, 1.0, f"{sum(map(len, tiles))} tiles from {len(set(groups))} samples")
    groups_a = np.array(groups)
    return TileDataset(
        np.concatenate(tiles),
        np.stack([caps[g] for g in groups_a]),
        groups_a,
        unit=unit,
        source=f"lab images {tiles_dir} with capacities {Path(labels_csv).name}",
    )
