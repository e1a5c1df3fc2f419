"""A scratch segment found in the straightened image, and the geometry tiles need of it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    """A straight scratch segment in straightened full-resolution pixels.

    Attributes
    ----------
    u0, v0, u1, v1 : float
        End points (column, row).
    coverage : float
        Share of the positions along the segment where the line can be seen (see
        :func:`core.align.scratch_profile.verify_line`) that show it as a thin ridge.
    contrast : float
        Median relative contrast of those positions (negative: a dark groove).
    """

    u0: float
    v0: float
    u1: float
    v1: float
    coverage: float
    contrast: float

    @property
    def length(self) -> float:
        return math.hypot(self.u1 - self.u0, self.v1 - self.v0)

    def to_dict(self) -> dict:
        return {
            k: round(float(getattr(self, k)), 3)
            for k in ("u0", "v0", "u1", "v1", "coverage", "contrast")
        }

    def crosses(self, rect: tuple[int, int, int, int], margin: float = 4.0) -> float:
        """Length (px) of the segment inside ``rect`` = ``(top, left, height, width)``
        grown by ``margin``."""
        top, left, h, w = rect
        lo = np.array([left - margin, top - margin])
        hi = np.array([left + w + margin, top + h + margin])
        p = np.array([self.u0, self.v0])
        d = np.array([self.u1 - self.u0, self.v1 - self.v0])
        t0, t1 = 0.0, 1.0
        for k in range(2):
            if abs(d[k]) < 1e-12:
                if not lo[k] <= p[k] <= hi[k]:
                    return 0.0
                continue
            a, b = (lo[k] - p[k]) / d[k], (hi[k] - p[k]) / d[k]
            t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        return max(t1 - t0, 0.0) * self.length

    def same_line(self, other: Segment, tol: float = 6.0) -> bool:
        """Two detections of one scratch: nearly parallel and close to each other."""
        da = np.array([self.u1 - self.u0, self.v1 - self.v0]) / max(self.length, 1e-9)
        db = np.array([other.u1 - other.u0, other.v1 - other.v0]) / max(other.length, 1e-9)
        if abs(float(da @ db)) < math.cos(math.radians(3)):
            return False
        n = np.array([-db[1], db[0]])
        mid = np.array([(self.u0 + self.u1) / 2 - other.u0, (self.v0 + self.v1) / 2 - other.v0])
        return abs(float(mid @ n)) < tol
