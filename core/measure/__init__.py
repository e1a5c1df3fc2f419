"""Classical measurements of the coating and the physics rate curve they imply (no Qt).

::

    estimate = measure_physics(working.image, alignment, working_frame(working, alignment))
    estimate.micro.porosity, estimate.curves["specific"].mean
    cross_check(prediction, estimate, ensemble.cards)
"""

from __future__ import annotations

from ratescope.core.errors import RateScopeError
from ratescope.core.measure.microstructure import Microstructure, measure_coating
from ratescope.core.measure.physics import (
    CrossCheck,
    PhysicsEstimate,
    cross_check,
    physics_estimate,
)

__all__ = [
    "CrossCheck",
    "Microstructure",
    "PhysicsEstimate",
    "cross_check",
    "measure_physics",
    "physics_estimate",
]


def measure_physics(image, alignment, frame=None) -> PhysicsEstimate:
    """Measure the accepted coating of a model image and read the physics table there.

    Never raises for an image that cannot be measured: the estimate then has no curves and
    a note that says why.
    """
    try:
        micro, strips = measure_coating(image, alignment, frame)
    except RateScopeError as e:
        return PhysicsEstimate(None, notes=[f"the coating could not be measured: {e.reason}"])
    est = physics_estimate(micro)
    est.strips = strips
    return est
