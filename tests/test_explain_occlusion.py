"""Fast occlusion equals the naive method (one forward per occluded image) and captum."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_explain_fixtures import (
    EMBEDDED,
    embedded_model,
    random_model,
    sample_tile,
    texture,
    trained_model,
)

from ratescope.core.errors import Cancelled
from ratescope.core.explain import occlusion_grid, occlusion_map, occlusion_naive
from ratescope.core.explain.stages import stages_of


def _rel(fast: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Largest error per output relative to the output's largest reference value."""
    n = fast.shape[0]
    err = np.abs(fast.reshape(n, -1) - ref.reshape(n, -1)).max(axis=1)
    return err / np.abs(ref.reshape(n, -1)).max(axis=1)


def _windows(ny: int, nx: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct windows: the corners, some of every border, the rest random."""
    rng = np.random.default_rng(seed)
    corners = [0, nx - 1, (ny - 1) * nx, ny * nx - 1]
    borders = [
        *rng.choice(nx, 6),
        *((ny - 1) * nx + rng.choice(nx, 6)),
        *(rng.choice(ny, 6) * nx),
        *(rng.choice(ny, 6) * nx + nx - 1),
    ]
    chosen = list(dict.fromkeys(corners + [int(b) for b in borders]))
    rest = rng.permutation(np.setdiff1d(np.arange(ny * nx), chosen))
    return np.array(chosen + list(rest[: n - len(chosen)]))


def test_grid_of_the_paper():
    assert occlusion_grid((224, 672)) == (32, 96)
    assert occlusion_grid((224, 672), 5, (3, 4)) == (74, 167)
    with pytest.raises(ValueError):
        occlusion_grid((6, 100), 7, 7)


needs_embedded = pytest.mark.skipif(not EMBEDDED.is_file(), reason="no embedded model yet")


def _fast_equals_naive(tile: np.ndarray, grid: tuple[int, int], n: int) -> None:
    """The embedded model's fast occlusion map on ``tile`` equals the naive one on ``n``
    random windows of its ``grid``."""
    model = embedded_model()
    fast = occlusion_map(model, tile)
    assert fast.shape == (5, *grid) and fast.dtype == np.float32
    idx = _windows(*grid, n, seed=1)
    naive = occlusion_naive(model, tile, windows=idx)
    assert naive.shape == (5, n)
    assert np.all(np.abs(naive).max(axis=1) > 0)
    assert np.all(_rel(fast.reshape(5, -1)[:, idx], naive) <= 1e-4)


@needs_embedded
def test_fast_equals_naive_on_48_windows_of_a_tile_corner():
    """The top-left 112 x 224 px of a sample tile (a few seconds; the whole tile with 200
    windows is the slow test below)."""
    _fast_equals_naive(sample_tile()[:112, :224], (16, 32), 48)


@pytest.mark.slow
@needs_embedded
def test_fast_equals_naive_on_200_windows_of_a_tile():
    """A tile of the sample, as the application computes it."""
    _fast_equals_naive(sample_tile(), (32, 96), 200)


@pytest.mark.parametrize(
    ("shape", "patch", "stride"),
    [
        ((50, 90), 7, 7),  # odd sizes after pooling (50 -> 25 -> 12)
        ((29, 45), (5, 3), (3, 4)),  # overlapping, non-square, non-dividing
        ((30, 44), 9, 3),  # windows far larger than the stride
        ((33, 47), 1, 5),  # single pixels
    ],
)
def test_fast_equals_naive_everywhere_on_small_images(shape, patch, stride):
    """float64, every window: the incremental recomputation is exact, not approximate."""
    model = copy.deepcopy(trained_model()).double()
    tile = texture(3, *shape)
    fast = occlusion_map(model, tile, patch, stride)
    naive = occlusion_naive(model, tile, patch, stride)
    assert fast.shape == (5, *occlusion_grid(shape, patch, stride)) == naive.shape
    assert np.all(_rel(fast, naive) <= 1e-6)


def test_fast_equals_naive_with_a_random_model_and_fill():
    model, tile = random_model(3), texture(5, 64, 128)
    fast = occlusion_map(model, tile, fill=0.9)
    naive = occlusion_naive(model, tile, fill=0.9)
    assert np.all(_rel(fast, naive) <= 1e-4)
    assert not np.allclose(fast, occlusion_map(model, tile), atol=0)


def test_matches_captum_occlusion():
    """captum: original - occluded per pixel; with stride = window each pixel lies in one
    window, so the window's value is the attribution at its top-left pixel."""
    from captum.attr import Occlusion

    model = copy.deepcopy(trained_model())
    model.label_mean.zero_()  # same differences; keeps captum's float32 outputs near 0
    tile = texture(11, 42, 84)
    x = torch.from_numpy(tile / 255.0).float()[None, None].repeat(1, 3, 1, 1)
    fill = model.input_mean.view(1, 3, 1, 1).expand_as(x).contiguous()
    fast = occlusion_map(model, tile)
    occ = Occlusion(model)
    for k in range(5):
        a = occ.attribute(
            x,
            sliding_window_shapes=(3, 7, 7),
            strides=(3, 7, 7),
            baselines=fill,
            target=k,
            perturbations_per_eval=24,
        )
        ref = a[0, 0, ::7, ::7].numpy()
        assert ref.shape == fast.shape[1:]
        assert _rel(fast[k : k + 1], ref[None])[0] <= 1e-3


def test_uniform_tile_of_the_fill_colour_gives_zero():
    """The default fill is the training mean colour: occluding it with itself changes
    nothing — and any other fill does."""
    model = trained_model()
    mean = model.input_mean.numpy()
    tile = np.broadcast_to(mean, (56, 112, 3)).astype(np.float32)
    other = np.abs(occlusion_map(model, tile, fill=0.0)).max()
    assert other > 1e-3
    # zero up to float rounding (the window's convolutions may take other kernels than
    # the whole tile's: 2e-16 seen on an AMD EPYC)
    assert np.abs(occlusion_map(model, tile)).max() <= 1e-9 * other


def test_progress_and_cancel():
    model, tile = trained_model(), texture(2, 64, 192)
    seen = []
    occlusion_map(model, tile, chunk=16, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and len(seen) > 4 and seen == sorted(seen)

    def cancel(frac, msg):
        if frac > 0.3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        occlusion_map(model, tile, chunk=16, progress=cancel)
    assert not model.training


def test_unsupported_layers_are_refused():
    model = copy.deepcopy(trained_model())
    model.block2[0] = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="stride-1"):
        stages_of(model)


@pytest.mark.slow
@needs_embedded
def test_fast_equals_naive_on_all_3072_windows():
    model, tile = embedded_model(), sample_tile()
    fast = occlusion_map(model, tile)
    naive = occlusion_naive(model, tile)
    assert naive.shape == fast.shape == (5, 32, 96)
    assert np.all(_rel(fast, naive) <= 1e-4)
