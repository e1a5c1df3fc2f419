"""Models and tiles shared by the explanation tests (no tests here).

``trained_model`` is a RateCNN trained for a few steps on porosity-like textures whose
labels follow their dark-area fraction: its batch-norm statistics, head and maps are
non-trivial (an untrained RateCNN has a zero output layer, so every map is zero).
``embedded_model`` and ``sample_tile`` are the shipped Ah/kg fold-0 model and the first
kept tile of the bundled sample: the explanations as a user gets them.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from ratescope.core.models.ratecnn import RateCNN, tiles_to_tensor
from ratescope.core.resources import MODELS
from ratescope.core.train.cv import fold_path

EMBEDDED = fold_path(MODELS, "specific", 0)

LABEL_MEAN = np.array([160.0, 150.0, 140.0, 120.0, 90.0])
LABEL_STD = np.array([4.0, 6.0, 8.0, 11.0, 15.0])


def texture(seed: int, h: int = 224, w: int = 672, porosity: float | None = None) -> np.ndarray:
    """A gray uint8 'microstructure': bright grains, dark pores, some noise."""
    rng = np.random.default_rng(seed)
    por = rng.uniform(0.2, 0.5) if porosity is None else porosity
    field = gaussian_filter(rng.standard_normal((h, w)), 4)
    grains = field > np.quantile(field, por)
    img = np.where(grains, 170, 45) + rng.normal(0, 12, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def _labels(tiles: np.ndarray) -> np.ndarray:
    dark = (tiles < 100).mean(axis=(1, 2))  # porosity-like
    slope = np.array([0.5, 1.0, 1.5, 2.5, 4.0])
    return LABEL_MEAN - slope[None] * (dark[:, None] - 0.35) * LABEL_STD[None] * 6


@functools.lru_cache(maxsize=4)
def trained_model(seed: int = 0, steps: int = 8) -> RateCNN:
    """A briefly trained RateCNN in eval mode (channels_last); cached per process."""
    torch.manual_seed(seed)
    tiles = np.stack([texture(100 * seed + i, 48, 144) for i in range(8)])
    x = tiles_to_tensor(tiles)
    y = torch.as_tensor(_labels(tiles), dtype=torch.float32)
    model = RateCNN()
    mean = x.mean(dim=(0, 2, 3))
    model.set_normalisation(mean, x.std(dim=(0, 2, 3)), LABEL_MEAN, LABEL_STD)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y).abs() / y).mean()
        loss.backward()
        opt.step()
    return model.eval().to(memory_format=torch.channels_last)


def random_model(seed: int) -> RateCNN:
    """The trained model's architecture and normalisation with re-initialised weights."""
    ref = trained_model()
    torch.manual_seed(seed)
    model = RateCNN()
    for name in ("input_mean", "input_std", "label_mean", "label_std"):
        getattr(model, name).copy_(getattr(ref, name))
    torch.nn.init.normal_(model.output.weight, std=0.1)
    return model.eval().to(memory_format=torch.channels_last)


@functools.lru_cache(maxsize=1)
def embedded_model() -> RateCNN:
    """The embedded Ah/kg model of fold 0, as the application loads it."""
    from ratescope.core.models.store import load_model

    return load_model(EMBEDDED)[0]


@functools.lru_cache(maxsize=1)
def sample_tile() -> np.ndarray:
    """The first kept 224 x 672 tile of the bundled sample, in the models' RGB input."""
    from ratescope.core.align import align, extract_tiles
    from ratescope.core.io import load_mosaic
    from ratescope.core.predict import to_model_image
    from ratescope.core.resources import SAMPLE_MOSAIC

    rgb = to_model_image(load_mosaic(SAMPLE_MOSAIC).image)
    return extract_tiles(rgb, align(rgb))[0]
