"""The 3D convolutional autoencoder of Faraji Niri et al. (Energies 2022), case studies 1/3.

Architecture (the paper's Table 3, reproduced parameter for parameter)::

    input  [N, 1, 24, 224, 224]  float32, voxel values in [-1, 1] (core.volume.phases)
    Conv3d(1, 8,  (1,3,3), stride (1,2,2))  -> [N, 8, 24, 111, 111]   80     ReLU
    Conv3d(8, 16, (1,3,3), stride (1,2,2))  -> [N, 16, 24, 55, 55]    1 168  ReLU
    Conv3d(16,16, (24,3,3), stride (1,2,2)) -> [N, 16, 1, 27, 27]     55 312 ReLU
    Flatten -> 11 664 -> Linear(11664, 128)                           1 493 120 ReLU
    Linear(128, 10)  -> latent [N, 10]                                1 290
    ----- encoder 1 550 970 parameters
    Linear(10, 128) ReLU -> Linear(128, 11664) ReLU -> Unflatten [16, 1, 27, 27]
    ConvTranspose3d(16, 16, (24,3,3), (1,2,2))                    -> [N, 16, 24, 55, 55]  ReLU
    ConvTranspose3d(16, 8, (1,3,3), (1,2,2))                      -> [N, 8, 24, 111, 111] ReLU
    ConvTranspose3d(8, 1, (1,3,3), (1,2,2), output_padding (0,1,1)) -> [N, 1, 24, 224, 224]
    ----- decoder 1 562 609 parameters

The output has no final activation (as in the paper); it is a regression of the input's
voxel values. The window length ``l`` (24) is a constructor parameter: the third
convolution's kernel spans the whole window depth.
"""

from __future__ import annotations

import torch
from torch import nn

WINDOW = 24
"""Window length l (slices) of the embedded model."""
PLANE = 224
"""In-plane size (voxels) of a mini-volume."""
LATENT = 10
"""Number of latent features."""
HIDDEN = 128
"""Hidden neurons of the bottleneck."""


class CAE3D(nn.Module):
    """The paper's 3-layer 3D CAE.

    Parameters
    ----------
    window : int
        Window length ``l`` in slices (depth of the input).
    hidden : int
        Hidden neurons (128 or 1000 in the paper).
    latent : int
        Latent features (10 in the paper).

    Notes
    -----
    ``forward(x)`` takes ``x`` float32 ``[N, 1, l, 224, 224]`` and returns the
    reconstruction of the same shape; ``encode`` returns ``[N, latent]``; ``decode``
    maps ``[N, latent]`` back to ``[N, 1, l, 224, 224]``.
    """

    def __init__(self, window: int = WINDOW, hidden: int = HIDDEN, latent: int = LATENT):
        super().__init__()
        self.window, self.hidden, self.latent = window, hidden, latent
        flat = 16 * 27 * 27
        self.encoder = nn.Sequential(
            nn.Conv3d(1, 8, (1, 3, 3), stride=(1, 2, 2)),
            nn.ReLU(),
            nn.Conv3d(8, 16, (1, 3, 3), stride=(1, 2, 2)),
            nn.ReLU(),
            nn.Conv3d(16, 16, (window, 3, 3), stride=(1, 2, 2)),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(flat, hidden),
            nn.ReLU(),
            nn.Linear(hidden, latent),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(),
            nn.Linear(hidden, flat),
            nn.ReLU(),
            nn.Unflatten(1, (16, 1, 27, 27)),
            nn.ConvTranspose3d(16, 16, (window, 3, 3), stride=(1, 2, 2)),
            nn.ReLU(),
            nn.ConvTranspose3d(16, 8, (1, 3, 3), stride=(1, 2, 2)),
            nn.ReLU(),
            nn.ConvTranspose3d(8, 1, (1, 3, 3), stride=(1, 2, 2), output_padding=(0, 1, 1)),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent features ``[N, latent]`` of windows ``[N, 1, l, 224, 224]``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[N, 1, l, 224, 224]`` from latent features ``[N, latent]``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def config(self) -> dict:
        """Constructor arguments, for the model card."""
        return {"window": self.window, "hidden": self.hidden, "latent": self.latent, "plane": PLANE}


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_counts(model: CAE3D) -> dict[str, int]:
    """``{"encoder": n, "decoder": n, "total": n}`` trainable parameters."""
    e, d = count_parameters(model.encoder), count_parameters(model.decoder)
    return {"encoder": e, "decoder": d, "total": e + d}


def save_model(model: CAE3D, path, card: dict) -> None:
    """Write weights (fp32 safetensors) with ``card`` in its metadata and a sidecar JSON.

    Both files are written atomically; ``card`` must be JSON-serialisable. The sidecar is
    ``path`` with suffix ``.json``.
    """
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    from ratescope.core.atomic import atomic_path

    path = Path(path)
    card = {**card, "config": model.config(), "parameters": parameter_counts(model)}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"model_card": json.dumps(card)})
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")


def load_model(path=None, device: str = "cpu") -> tuple[CAE3D, dict]:
    """Load a CAE from safetensors (default: the embedded ``resources/models/cae.safetensors``).

    Returns
    -------
    (CAE3D, dict)
        The model in eval mode on ``device`` and its model card.

    Raises
    ------
    core.errors.RateScopeError
        The file is missing or is not a CAE weight file.
    """
    import json
    from pathlib import Path

    from safetensors import safe_open
    from safetensors.torch import load_file

    from ratescope.core.errors import RateScopeError
    from ratescope.core.resources import MODELS

    path = Path(path) if path is not None else MODELS / "cae.safetensors"
    if not path.is_file():
        raise RateScopeError("the CAE weight file does not exist", path)
    try:
        with safe_open(str(path), framework="pt") as f:
            card = json.loads((f.metadata() or {}).get("model_card", "{}"))
        cfg = card.get("config", {})
        model = CAE3D(
            cfg.get("window", WINDOW), cfg.get("hidden", HIDDEN), cfg.get("latent", LATENT)
        )
        model.load_state_dict(load_file(str(path)))
    except RateScopeError:
        raise
    except Exception as exc:  # safetensors/torch raise many types for a bad file
        raise RateScopeError(f"not a CAE weight file ({exc})", path) from exc
    return model.to(device).eval(), card
