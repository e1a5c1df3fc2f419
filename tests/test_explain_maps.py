"""Grad-RAM and guided backprop equal captum's; ensemble averaging; model state is left
as it was; cancellation. (The weight-randomisation check is test_explain_sanity.py.)"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_explain_fixtures import texture, trained_model

from ratescope.core.errors import Cancelled
from ratescope.core.explain import (
    ensemble_maps,
    explain,
    gradram_map,
    guided_backprop_map,
    occlusion_map,
)
from ratescope.core.explain.common import as_input
from ratescope.core.explain.guided import guided_autograd
from ratescope.core.explain.guided_fast import fast_levels


def _x(tile: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(tile / 255.0).float()[None, None].repeat(1, 3, 1, 1)


def _close(a: np.ndarray, b: np.ndarray, rel: float = 1e-4) -> bool:
    return float(np.abs(a - b).max()) <= rel * float(np.abs(b).max())


@pytest.fixture(scope="module")
def tile():
    return texture(21)


def test_gradram_equals_captum_signed_layergradcam(tile):
    from captum.attr import LayerAttribution, LayerGradCam

    model = trained_model()
    maps = gradram_map(model, tile)
    assert maps.shape == (5, 224, 672) and maps.dtype == np.float32
    gc = LayerGradCam(model, model.last_conv)
    for k in range(5):
        a = gc.attribute(_x(tile), target=k, relu_attributions=False)
        ref = LayerAttribution.interpolate(a, (224, 672), "bilinear")[0, 0].detach().numpy()
        assert _close(maps[k], ref, 1e-5)
    assert maps.min() < 0 < maps.max()  # signed: no ReLU
    low = gradram_map(model, tile, upsample=False)
    assert low.shape == (5, 56, 168)


def test_guided_backprop_equals_captum(tile):
    from captum.attr import GuidedBackprop

    model = trained_model()
    maps = guided_backprop_map(model, tile, precision="fp32")
    per_channel = guided_backprop_map(model, tile, channel_sum=False, precision="fp32")
    assert maps.shape == (5, 224, 672) and per_channel.shape == (5, 3, 224, 672)
    np.testing.assert_allclose(per_channel.sum(axis=1), maps, rtol=1e-5, atol=1e-7)
    # guided, not the plain gradient
    x = _x(tile).requires_grad_()
    (grad,) = torch.autograd.grad(model(x)[0, 4], x)
    assert not _close(per_channel[4], grad[0].numpy(), 1e-2)
    # captum, in float64: in float32 a pre-activation within rounding of 0 can switch
    # a ReLU's guided path in one implementation and not the other (isolated pixels)
    small = tile[:112, :336]
    plain = copy.deepcopy(model).double()  # captum's hooks refuse in-place ReLUs
    for m in plain.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    ours = guided_backprop_map(plain, small, channel_sum=False)
    gb = GuidedBackprop(plain)
    x64 = _x(small).double()
    for k in range(5):
        ref = gb.attribute(x64.clone().requires_grad_(), target=k)[0].detach().numpy()
        assert _close(ours[k], ref, 1e-6)
    f32 = guided_backprop_map(model, small, channel_sum=False, precision="fp32")
    assert np.mean(np.abs(f32 - ours) <= 1e-4 * np.abs(ours).max()) > 0.99


def test_guided_backprop_in_bfloat16_is_the_float32_map_within_a_percent(tile):
    """The bfloat16 backward pass (the default on CPUs with AMX) keeps the maps."""
    model = trained_model()
    ref = guided_backprop_map(model, tile, precision="fp32")
    bf = guided_backprop_map(model, tile, precision="bf16")
    assert bf.dtype == np.float32 and bf.shape == ref.shape
    for k in range(5):
        err = np.linalg.norm(bf[k] - ref[k]) / np.linalg.norm(ref[k])
        assert 0 < err < 0.01, (k, err)  # not the same numbers, but the same map
        assert np.corrcoef(bf[k].ravel(), ref[k].ravel())[0, 1] > 0.9999
    with pytest.raises(ValueError, match="precision"):
        guided_backprop_map(model, tile[:32, :32], precision="fp16")


@pytest.mark.parametrize("shape", [(29, 45), (50, 90)])
def test_guided_fast_path_equals_autograd_on_odd_sizes(shape):
    """The hand-written backward pass (floor pooling drops a row/column) = autograd."""
    model = copy.deepcopy(trained_model()).double()
    assert fast_levels(model) is not None
    tile = texture(3, *shape)
    fast = guided_backprop_map(model, tile, channel_sum=False)
    ref = guided_autograd(model, as_input(tile).double(), channel_sum=False).numpy()
    assert np.abs(ref).max() > 0 and _close(fast, ref, 1e-6)


def test_guided_backprop_of_another_model_equals_captum(tile):
    """Models the fast path does not know take the autograd path, also captum's numbers."""
    from captum.attr import GuidedBackprop

    torch.manual_seed(4)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5),
    ).double()  # fmt: skip
    assert fast_levels(model) is None
    small = tile[:40, :60]
    ours = guided_backprop_map(model, small, channel_sum=False)
    x64 = _x(small).double().requires_grad_()
    for k in range(5):
        ref = GuidedBackprop(model).attribute(x64, target=k)[0].detach().numpy()
        assert np.abs(ref).max() > 0 and _close(ours[k], ref, 1e-6)


def test_maps_leave_the_model_as_it_was(tile):
    model = copy.deepcopy(trained_model()).train()
    flags = [p.requires_grad for p in model.parameters()]
    small = tile[:64, :128]
    for method in ("gradram", "guided", "occlusion"):
        explain(model, small, method)
        assert model.training
        assert [p.requires_grad for p in model.parameters()] == flags
    with pytest.raises(ValueError, match="unknown method"):
        explain(model, small, "lime")


def test_ensemble_mean_and_per_fold(tile):
    models = [trained_model(0), trained_model(1)]
    small = tile[:64, :192]
    seen = []
    ens = ensemble_maps(models, small, "occlusion", progress=lambda f, m: seen.append(m))
    assert len(ens) == 2 and ens.per_fold.shape == (2, 5, 9, 27)
    for i, m in enumerate(models):
        assert np.array_equal(ens.fold(i), occlusion_map(m, small))
    np.testing.assert_allclose(ens.mean, (ens.fold(0) + ens.fold(1)) / 2, rtol=1e-6)
    assert ens.std.shape == ens.mean.shape and np.all(ens.std >= 0)
    assert any(s.startswith("fold 2/2") for s in seen)
    with pytest.raises(ValueError):
        ensemble_maps([], small, "gradram")


@pytest.mark.parametrize("method", ["gradram", "guided", "occlusion"])
def test_cancel(tile, method):
    def cancel(frac, msg):
        if frac > 0.1:
            raise Cancelled()

    with pytest.raises(Cancelled):
        ensemble_maps([trained_model()], tile[:64, :192], method, progress=cancel)
