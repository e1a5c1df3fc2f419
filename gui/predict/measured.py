"""Measured capacities the user compares with the prediction (no Qt, no torch).

CSV format (UTF-8, comma separated, one header row; lines starting with ``#`` and blank
lines are ignored)::

    c_rate,capacity,unit
    0.2,152.3,Ah/kg
    1C,141.0,Ah/kg
    0.2,398,Ah/L

- ``c_rate``: one of the model's C-rates (0.2, 1, 2, 3, 5), a plain number or with a
  trailing ``C`` (``"2C"``);
- ``capacity``: a positive finite number in that row's unit;
- ``unit``: ``Ah/kg`` (specific) or ``Ah/L`` (volumetric); the names ``specific`` /
  ``volumetric`` are accepted too.

Any C-rate/unit pair may be missing; a pair given twice is an error. Every problem raises
:class:`core.errors.RateScopeError` naming the file and the line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import RateScopeError

COLUMNS = ("c_rate", "capacity", "unit")
"""The CSV's header, in this order (extra columns are ignored)."""

_UNIT_NAMES = {**{s.lower(): u for u, s in UNITS.items()}, **{u: u for u in UNITS}}


def parse_c_rate(text: str) -> float | None:
    """The model C-rate ``text`` names (``"2"``, ``"2C"``, ``"0.2 C"``), or None."""
    t = text.strip().upper().removesuffix("C").strip()
    try:
        value = float(t)
    except ValueError:
        return None
    return next((c for c in C_RATES if math.isclose(c, value, rel_tol=1e-6)), None)


def parse_unit(text: str) -> str | None:
    """``"specific"`` or ``"volumetric"`` for ``Ah/kg`` / ``Ah/L`` (any case), or None."""
    return _UNIT_NAMES.get(text.strip().lower())


@dataclass
class MeasuredValues:
    """Measured capacities per unit and C-rate; a missing value is None.

    Attributes
    ----------
    values : dict of str to list of (float or None)
        ``{"specific": [5 values at C_RATES], "volumetric": [...]}``.
    source : str
        Where they came from: a CSV path, ``"typed"``, or ``""`` when empty.
    """

    values: dict[str, list[float | None]] = field(
        default_factory=lambda: {u: [None] * len(C_RATES) for u in UNITS}
    )
    source: str = ""

    @property
    def empty(self) -> bool:
        return all(v is None for vals in self.values.values() for v in vals)

    def points(self, unit: str) -> tuple[list[float], list[float]]:
        """The (C-rates, capacities) of ``unit`` that have a value."""
        pairs = [(c, v) for c, v in zip(C_RATES, self.values[unit], strict=True) if v is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def rows(self) -> list[dict]:
        """One dict per value, in the CSV's columns (for export)."""
        return [{"c_rate": c, "capacity": v, "unit": UNITS[u]}
                for u in UNITS for c, v in zip(C_RATES, self.values[u], strict=True)
                if v is not None]  # fmt: skip

    def to_dict(self) -> dict:
        return {"source": self.source, "values": {u: list(v) for u, v in self.values.items()}}


def parse_capacity(text: str) -> float | None:
    """A positive finite capacity from ``text``; None for blank; ValueError otherwise."""
    t = text.strip()
    if not t:
        return None
    try:
        value = float(t.replace(",", ".") if t.count(",") == 1 and "." not in t else t)
    except ValueError:
        raise ValueError(f"{t!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{t!r} is not a positive capacity")
    return value


def read_measured_csv(path: str | Path) -> MeasuredValues:
    """Read measured capacities from a CSV file (format: module docstring).

    Raises
    ------
    RateScopeError
        Unreadable file, missing columns, an unknown C-rate or unit, a bad number, a
        duplicate, or no value at all; the message names the line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RateScopeError(f"cannot read the file ({exc})", path) from exc
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1)
             if ln.strip() and not ln.lstrip().startswith("#")]  # fmt: skip
    if not lines:
        raise RateScopeError("the file is empty (expected columns c_rate,capacity,unit)", path)
    header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RateScopeError(f"line {lines[0][0]}: missing column(s) {', '.join(missing)} "
                             f"(the header must name {','.join(COLUMNS)})", path)  # fmt: skip
    col = {c: header.index(c) for c in COLUMNS}
    out = MeasuredValues(source=str(path))
    seen: set[tuple[str, float]] = set()
    for lineno, row in zip([i for i, _ in lines[1:]], csv.reader([ln for _, ln in lines[1:]]),
                           strict=True):  # fmt: skip
        if len(row) < len(header):
            raise RateScopeError(f"line {lineno}: {len(row)} field(s), expected {len(header)}",
                                 path)  # fmt: skip
        rate_text, cap_text, unit_text = (row[col[c]] for c in COLUMNS)
        rate = parse_c_rate(rate_text)
        if rate is None:
            rates = ", ".join(f"{c:g}" for c in C_RATES)
            raise RateScopeError(f"line {lineno}: C-rate {rate_text.strip()!r} is not one of "
                                 f"{rates}", path)  # fmt: skip
        unit = parse_unit(unit_text)
        if unit is None:
            raise RateScopeError(f"line {lineno}: unit {unit_text.strip()!r} is not "
                                 f"{' or '.join(UNITS.values())}", path)  # fmt: skip
        try:
            value = parse_capacity(cap_text)
        except ValueError as exc:
            raise RateScopeError(f"line {lineno}: capacity {exc}", path) from exc
        if value is None:
            raise RateScopeError(f"line {lineno}: the capacity is empty", path)
        if (unit, rate) in seen:
            raise RateScopeError(f"line {lineno}: {rate:g}C in {UNITS[unit]} is given twice",
                                 path)  # fmt: skip
        seen.add((unit, rate))
        out.values[unit][C_RATES.index(rate)] = value
    if out.empty:
        raise RateScopeError("the file holds a header but no values", path)
    return out
