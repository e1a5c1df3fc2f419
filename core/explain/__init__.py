"""Explanation maps for the rate-capability CNN (paper 1, §2.7).

Every map function takes a model (eval mode is used and the model left as it was), one
tile, and ``progress`` (may raise :class:`~core.errors.Cancelled`), and returns a plain
float32 numpy array, first axis = the model's outputs (C-rates, model-card order):

* :func:`gradram_map` — Grad-RAM, signed Grad-CAM on the last convolution, (5, H, W);
* :func:`guided_backprop_map` — guided backpropagation, (5, H, W) (colour channels summed);
* :func:`occlusion_map` — exact fast occlusion, (5, ny, nx) (32 x 96 for 7 x 7 / stride 7).

Sign convention for all: positive (red) = the region raises the predicted capacity,
negative (blue) = it lowers it. :func:`ensemble_maps` averages over fold models and keeps
the per-fold maps.
"""

from ratescope.core.explain.common import METHODS, SIGN_CONVENTION
from ratescope.core.explain.ensemble import EnsembleMaps, ensemble_maps, explain
from ratescope.core.explain.gradram import gradram_map
from ratescope.core.explain.guided import guided_backprop_map
from ratescope.core.explain.occlusion import occlusion_grid, occlusion_map, occlusion_naive

__all__ = [
    "METHODS",
    "SIGN_CONVENTION",
    "EnsembleMaps",
    "ensemble_maps",
    "explain",
    "gradram_map",
    "guided_backprop_map",
    "occlusion_grid",
    "occlusion_map",
    "occlusion_naive",
]
