"""The rate-capability CNN of paper 1 (Deeg et al., Batteries 2024, §2.5).

Architecture (reconstructed from the paper's text)::

    input (N, 3, H, W) pixel values scaled to [0, 1]
      -> per-channel standardisation with the stored ``input_mean`` / ``input_std``
    block 1: [Conv3x3(3->32)  -> ReLU -> BN] x 2 -> MaxPool 2x2
    block 2: [Conv3x3(32->64) -> ReLU -> BN] x 2 -> MaxPool 2x2
    block 3: [Conv3x3(64->96) -> ReLU -> BN] x 2 -> global average pooling  (96 features)
    Dense(96->128) + LeakyReLU         ("a dense layer representing the 128 features")
    4 x [Dense(->64) -> LeakyReLU -> BN -> Dropout]
    Dense(64->5), linear, in standardised label units
      -> * ``label_std`` + ``label_mean``  (capacities in the model's unit)   head "paper"
      -> monotone: 5C = softplus, each slower rate = the next faster + softplus  head "monotone"

The ``monotone`` head is the one change to the paper's network in the embedded models: its
curve is non-negative and never rises with C-rate, for any input (:func:`monotone_curve`).
``input_norm`` names the tile normalisation the model was trained with
(:mod:`core.predict.normalise`); training, prediction and explanation all apply it.

This has 238 757 trainable parameters (:func:`count_parameters`): 217 184 in the feature
extractor incl. the 128-feature dense layer and 21 573 in the regressor — the paper's
"about 250 000, about 230 000 + 20 000". Batch-norm running statistics (1 280 numbers)
are buffers, not parameters. The paper's L2 penalty is applied by the optimiser as weight
decay on conv and dense weights (:func:`decay_parameter_names`).

Grayscale micrographs are replicated to three identical channels by
:func:`tiles_to_tensor`, so one architecture serves RGB and gray data.

Everything before global average pooling is local in eval mode (convolutions, ReLU,
per-channel affine BN, 2x2 pooling), which fast occlusion relies on. ``last_conv`` is the
final ``nn.Conv2d``; its output (before ReLU and BN) is what Grad-RAM weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ratescope.core.constants import C_RATES


@dataclass(frozen=True)
class RateCNNConfig:
    """Architecture hyper-parameters (stored in the model card).

    Attributes
    ----------
    in_channels : int
        Input channels (3; gray images are replicated).
    filters : tuple of int
        Filters of the three VGG blocks.
    feature_dense : int
        Width of the dense layer after global average pooling (0 disables it).
    hidden : int
        Width of each hidden dense layer.
    n_hidden : int
        Number of hidden dense layers.
    dropout : float
        Dropout rate after each hidden dense layer.
    leaky_slope : float
        Negative slope of the leaky ReLUs.
    n_outputs : int
        One output per C-rate.
    head : {"paper", "monotone"}
        The paper's linear output, or the physical one (non-negative, non-increasing).
    input_norm : str
        Tile normalisation before the network (``core.predict.normalise``); "none" for
        models trained before normalisations existed.
    """

    in_channels: int = 3
    filters: tuple[int, int, int] = (32, 64, 96)
    feature_dense: int = 128
    hidden: int = 64
    n_hidden: int = 4
    dropout: float = 0.1
    leaky_slope: float = 0.01
    n_outputs: int = len(C_RATES)
    head: str = "paper"
    input_norm: str = "none"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RateCNNConfig:
        d = dict(d)
        d["filters"] = tuple(d["filters"])
        return cls(**d)


def _conv_unit(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout)]


class RateCNN(nn.Module):
    """The paper's CNN with its input and label standardisation as buffers.

    Parameters
    ----------
    config : RateCNNConfig, optional
        Architecture; the paper's by default.

    Notes
    -----
    ``forward`` takes pixel values scaled to [0, 1] (see :func:`tiles_to_tensor`) of any
    height and width (the paper's tiles are 224 x 672) and returns capacities in the
    unit the labels had. Buffers ``input_mean``/``input_std`` (3,) and
    ``label_mean``/``label_std`` (5,) are set from the training set with
    :meth:`set_normalisation` and saved with the weights.
    """

    def __init__(self, config: RateCNNConfig | None = None):
        super().__init__()
        self.config = cfg = config or RateCNNConfig()
        f1, f2, f3 = cfg.filters
        self.block1 = nn.Sequential(*_conv_unit(cfg.in_channels, f1), *_conv_unit(f1, f1))
        self.block2 = nn.Sequential(*_conv_unit(f1, f2), *_conv_unit(f2, f2))
        self.block3 = nn.Sequential(*_conv_unit(f2, f3), *_conv_unit(f3, f3))
        self.pool = nn.MaxPool2d(2)
        layers: list[nn.Module] = []
        width = f3
        if cfg.feature_dense:
            layers += [nn.Linear(f3, cfg.feature_dense), nn.LeakyReLU(cfg.leaky_slope)]
            width = cfg.feature_dense
        for _ in range(cfg.n_hidden):
            layers += [
                nn.Linear(width, cfg.hidden),
                nn.LeakyReLU(cfg.leaky_slope),
                nn.BatchNorm1d(cfg.hidden),
                nn.Dropout(cfg.dropout),
            ]
            width = cfg.hidden
        self.regressor = nn.Sequential(*layers)
        self.output = nn.Linear(width, cfg.n_outputs)
        nn.init.zeros_(self.output.weight)  # start at the label mean: MAPE starts sane
        nn.init.zeros_(self.output.bias)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.register_buffer("input_mean", torch.full((cfg.in_channels,), 0.5))
        self.register_buffer("input_std", torch.full((cfg.in_channels,), 0.25))
        self.register_buffer("label_mean", torch.zeros(cfg.n_outputs))
        self.register_buffer("label_std", torch.ones(cfg.n_outputs))

    @property
    def last_conv(self) -> nn.Conv2d:
        """The last convolution (block 3, second conv): the Grad-RAM layer."""
        return self.block3[3]

    def set_normalisation(
        self,
        input_mean: np.ndarray | torch.Tensor,
        input_std: np.ndarray | torch.Tensor,
        label_mean: np.ndarray | torch.Tensor,
        label_std: np.ndarray | torch.Tensor,
    ) -> None:
        """Store per-channel input and per-output label statistics (standard deviations
        are floored at 1e-6)."""
        for name, value in (
            ("input_mean", input_mean),
            ("input_std", input_std),
            ("label_mean", label_mean),
            ("label_std", label_std),
        ):
            buf = getattr(self, name)
            t = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(buf.shape)
            if name.endswith("std"):
                t = t.clamp_min(1e-6)
            buf.copy_(t)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Output of block 3 (N, 96, H/4, W/4), before global average pooling."""
        x = (x - self.input_mean.view(1, -1, 1, 1)) / self.input_std.view(1, -1, 1, 1)
        x = self.pool(self.block1(x))
        x = self.pool(self.block2(x))
        return self.block3(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features (N, 96), e.g. for out-of-distribution scores."""
        return self.feature_map(x).mean(dim=(2, 3))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Capacities (N, 5) from pooled features (N, 96)."""
        z = self.output(self.regressor(features))
        if self.config.head == "monotone":
            return monotone_curve(z, self.label_mean, self.label_std)
        return z * self.label_std + self.label_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Capacities (N, 5) for pixel values ``x`` (N, 3, H, W) in [0, 1]."""
        return self.head(self.features(x))


def monotone_curve(z: torch.Tensor, label_mean: torch.Tensor,
                   label_std: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Capacities (N, 5), non-negative and non-increasing with C-rate, from raw outputs z.

    The fastest rate's capacity and each step to the next slower rate are softplus terms
    scaled by the label spread: ``c[-1] = s[-1] softplus(z[-1] + b[-1])`` and
    ``c[i] = c[i + 1] + s[i] softplus(z[i] + b[i])``. The offsets ``b`` are chosen so that
    ``z = 0`` gives the mean training curve (``label_mean``), as the paper's head starts.
    """
    mean = label_mean
    scale = label_std.clamp_min(1e-3 * float(mean.abs().mean()) + 1e-6)
    step = torch.cat([mean[:-1] - mean[1:], mean[-1:]]).clamp_min(1e-3) / scale
    b = step + torch.log(-torch.expm1(-step))  # softplus^-1 of the mean step, stable
    inc = torch.nn.functional.softplus(z + b) * scale
    return torch.flip(torch.cumsum(torch.flip(inc, dims=[-1]), dim=-1), dims=[-1])


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; 238 757 for the paper's configuration."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def decay_parameter_names(model: nn.Module) -> set[str]:
    """Names of the conv and dense weights that get the L2 penalty (not biases, not BN)."""
    return {
        f"{mod_name}.{p_name}" if mod_name else p_name
        for mod_name, mod in model.named_modules()
        if isinstance(mod, nn.Conv2d | nn.Linear)
        for p_name, _ in mod.named_parameters(recurse=False)
        if p_name == "weight"
    }


def tiles_to_tensor(tiles: np.ndarray) -> torch.Tensor:
    """Convert tiles to the model's input: float32 (N, 3, H, W) in [0, 1], channels_last.

    Parameters
    ----------
    tiles : ndarray
        (N, H, W) gray or (N, H, W, 3) RGB; uint8 is divided by 255, uint16 by 65535,
        floats are taken as already in [0, 1]. Gray tiles are replicated to 3 channels.
    """
    a = np.asarray(tiles)
    if a.ndim == 2:  # one gray tile
        a = a[None]
    if a.ndim == 3:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"tiles must be (N, H, W) or (N, H, W, 3), got {a.shape}")
    if a.dtype == np.uint8:
        scale = 1.0 / 255.0
    elif a.dtype == np.uint16:
        scale = 1.0 / 65535.0
    else:
        scale = 1.0
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)  # NHWC memory
    return t.to(torch.float32).mul_(scale).contiguous(memory_format=torch.channels_last)
