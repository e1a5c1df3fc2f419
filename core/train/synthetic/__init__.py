"""Synthetic physics-labelled training data (``dataset``) and the driver that trains the
embedded ensemble on it (``embedded``). ``build_training_set`` is the hook of
``python main.py train --synthetic``."""

from ratescope.core.train.synthetic.dataset import (
    DEFAULT_CACHE,
    ElectrodeSpec,
    build_training_set,
    electrode_labels,
    generate_cache,
    plan_electrodes,
    read_cache,
    render_electrode,
)

__all__ = [
    "DEFAULT_CACHE",
    "ElectrodeSpec",
    "build_training_set",
    "electrode_labels",
    "generate_cache",
    "plan_electrodes",
    "read_cache",
    "render_electrode",
]
