"""A lab's measured capacities: one CSV row per electrode and unit.

Format (comma, semicolon or tab separated; a header line first)::

    sample,unit,0.2C,1C,2C,3C,5C
    P30-a,Ah/kg,151.2,146.0,139.8,133.1,118.4
    P30-a,Ah/L,402.0,388.1,,354.0,
    P35-b.czi,mAh/g,155.0,149.5,143.0,,120.2

- The name column is ``sample`` (or ``name``, ``file``, ``electrode``): a mosaic's file
  name, with or without its extension (``P30-a`` matches ``P30-a.czi`` and
  ``P30-a_overview.tif``; :mod:`core.train.mosaic_set` pairs them).
- C-rate columns are named ``0.2C``, ``1C``, ``C0.2``, ``0.2`` ...; only the model's
  C-rates (:data:`core.constants.C_RATES`) are allowed. A column may carry its unit in
  brackets (``5C [mAh/g]``) instead of a ``unit`` column.
- An empty cell (or ``-``, ``NA``, ``n/a``, ``nan``) is a C-rate that was not measured:
  it stays missing (NaN in the training labels, left out of the loss), never filled in.
- Units: ``Ah/kg`` = ``mAh/g`` (the same number, accepted as it is) for capacity per
  mass; ``Ah/L`` = ``mAh/cm3`` = ``mAh/mL`` for capacity per coating volume. Units off by
  a factor of 1000 (``Ah/g``, ``mAh/kg``, ``Ah/mL``, ``mAh/L``) are converted with their
  exact factor. A value outside the plausible range of its unit (e.g. 0.15 "Ah/kg": that
  is Ah/g) is refused with a hint at the factor of 1000, never silently rescaled.
- One row per electrode and unit: the same name twice in one unit is an error naming
  both lines. Decimal commas are accepted when the separator is not a comma.

Every problem raises :class:`core.errors.RateScopeError` naming the CSV and its line.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import RateScopeError

NAME_COLUMNS = ("sample", "name", "file", "electrode")
"""Accepted headers of the name column (case-insensitive), first found wins."""

MISSING = {"", "-", "na", "n/a", "nan", "none", "missing"}
"""Cell texts that mean "not measured"."""

UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "ah/kg": ("specific", 1.0),
    "mah/g": ("specific", 1.0),
    "specific": ("specific", 1.0),
    "ah/g": ("specific", 1000.0),
    "mah/kg": ("specific", 0.001),
    "ah/l": ("volumetric", 1.0),
    "mah/cm3": ("volumetric", 1.0),
    "mah/cm³": ("volumetric", 1.0),
    "mah/ml": ("volumetric", 1.0),
    "volumetric": ("volumetric", 1.0),
    "ah/ml": ("volumetric", 1000.0),
    "ah/cm3": ("volumetric", 1000.0),
    "mah/l": ("volumetric", 0.001),
}
"""Unit spelling (lower case, no spaces) -> (unit key, factor to Ah/kg or Ah/L)."""

PLAUSIBLE = {"specific": (1.0, 400.0), "volumetric": (2.0, 2000.0)}
"""Range (after conversion) a measured cathode capacity lies in, per unit."""


@dataclass
class MeasuredRow:
    """One electrode's measured capacities in one unit.

    Attributes
    ----------
    name : str
        The electrode's name as written in the CSV (file name or sample name).
    unit : str
        ``"specific"`` (Ah/kg) or ``"volumetric"`` (Ah/L).
    values : dict of float to float
        Capacity per C-rate, in Ah/kg or Ah/L, only for the C-rates measured.
    line : int
        The CSV line (1 = header).
    """

    name: str
    unit: str
    values: dict[float, float] = field(default_factory=dict)
    line: int = 0

    def missing(self) -> list[float]:
        """The model's C-rates this row has no value for."""
        return [c for c in C_RATES if c not in self.values]

    def as_array(self) -> list[float]:
        """Values at :data:`core.constants.C_RATES`, NaN where not measured."""
        return [self.values.get(c, math.nan) for c in C_RATES]


def unit_of(text: str) -> tuple[str, float] | None:
    """``(unit key, factor)`` of a unit spelling, None when unknown."""
    t = text.strip().lower().replace(" ", "").replace("^3", "3")
    t = t.replace("·", "").replace("mahg-1", "mah/g").replace("ahkg-1", "ah/kg")
    return UNIT_FACTORS.get(t)


def rate_of(column: str) -> float | None:
    """The C-rate a column header names (``0.2C``, ``C0.2``, ``1 C``, ``2``), else None."""
    m = re.fullmatch(r"\s*c?\s*([0-9]*[.,]?[0-9]+)\s*c?\s*", column.lower())
    return float(m.group(1).replace(",", ".")) if m else None


def _split_header_unit(col: str) -> tuple[str, str | None]:
    m = re.fullmatch(r"(.*?)[\[(]([^\])]*)[\])]\s*", col)
    return (m.group(1).strip(), m.group(2).strip()) if m else (col.strip(), None)


def _dialect(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _number(cell: str, sep: str) -> float | None:
    t = cell.strip()
    if t.lower() in MISSING:
        return None
    if sep != "," and re.fullmatch(r"[-+]?[0-9]+,[0-9]+", t):
        t = t.replace(",", ".")
    return float(t)  # ValueError for the caller


def read_measured_csv(path: str | Path) -> list[MeasuredRow]:
    """Read a CSV of measured capacities (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    list of MeasuredRow
        In file order, values in Ah/kg or Ah/L.

    Raises
    ------
    RateScopeError
        Unreadable file, no name or C-rate column, a C-rate the model does not predict,
        unknown or contradictory units, a non-numeric, non-positive or implausible value
        (likely a factor of 1000 off), a row without any value, or a duplicate row; the
        message names the CSV and the line.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RateScopeError(f"cannot read the measured capacities ({exc.strerror})", path) from exc
    except UnicodeDecodeError as exc:
        raise RateScopeError("not a text CSV file (not UTF-8)", path) from exc
    sep = _dialect(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)
    if not rows:
        raise RateScopeError("the CSV is empty", path)
    header = [c.strip() for c in rows[0]]
    lowered = [c.lower() for c in header]
    name_col = next((lowered.index(n) for n in NAME_COLUMNS if n in lowered), None)
    if name_col is None:
        raise RateScopeError(
            f"line 1: no name column (one of {', '.join(NAME_COLUMNS)}) in the header", path
        )
    unit_col = lowered.index("unit") if "unit" in lowered else None
    rate_cols: dict[int, float] = {}
    header_units: dict[int, str] = {}
    for j, col in enumerate(header):
        if j in (name_col, unit_col) or not col:
            continue
        label, unit = _split_header_unit(col)
        rate = rate_of(label)
        if rate is None:
            continue  # a comment or notes column
        match = next((c for c in C_RATES if abs(c - rate) < 1e-9), None)
        if match is None:
            raise RateScopeError(
                f"line 1: column {col!r} is a C-rate the models do not predict "
                f"(they predict {', '.join(f'{c:g}C' for c in C_RATES)})",
                path,
            )
        if match in rate_cols.values():
            raise RateScopeError(f"line 1: C-rate {match:g}C has two columns", path)
        rate_cols[j] = match
        if unit is not None:
            if unit_of(unit) is None:
                raise RateScopeError(f"line 1: column {col!r} names an unknown unit", path)
            header_units[j] = unit
    if not rate_cols:
        raise RateScopeError("line 1: no C-rate column (0.2C, 1C, 2C, 3C, 5C)", path)
    if unit_col is None and len(header_units) != len(rate_cols):
        raise RateScopeError(
            "line 1: no unit: add a 'unit' column (Ah/kg, mAh/g, Ah/L) or write it in the "
            "C-rate headers, e.g. '0.2C [mAh/g]'",
            path,
        )
    out: list[MeasuredRow] = []
    seen: dict[tuple[str, str], int] = {}
    # csv.reader counts physical lines; the header may follow blank lines
    for line_no, cells in _numbered(text, sep):
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(header) - len(cells))
        name = cells[name_col].strip()
        if not name:
            raise RateScopeError(f"line {line_no}: no electrode name", path)
        unit_text = cells[unit_col].strip() if unit_col is not None else ""
        if unit_col is not None and not unit_text and len(header_units) != len(rate_cols):
            raise RateScopeError(f"line {line_no}: no unit given for {name!r}", path)
        row_unit = unit_of(unit_text) if unit_text else None
        if unit_text and row_unit is None:
            raise RateScopeError(
                f"line {line_no}: unknown unit {unit_text!r} (use Ah/kg, mAh/g, Ah/L or mAh/cm3)",
                path,
            )
        values: dict[float, float] = {}
        unit_key = None
        for j, rate in rate_cols.items():
            col_unit = unit_of(header_units[j]) if j in header_units else None
            if row_unit and col_unit and row_unit[0] != col_unit[0]:
                raise RateScopeError(
                    f"line {line_no}: the unit column says {unit_text!r} but column "
                    f"{header[j]!r} says {header_units[j]!r}",
                    path,
                )
            key, factor = row_unit or col_unit  # type: ignore[misc]
            if unit_key is not None and key != unit_key:
                raise RateScopeError(
                    f"line {line_no}: capacities per mass and per volume mixed in one row", path
                )
            unit_key = key
            try:
                v = _number(cells[j], sep)
            except ValueError:
                raise RateScopeError(
                    f"line {line_no}: {header[j]!r} of {name!r} is not a number: {cells[j]!r}",
                    path,
                ) from None
            if v is None:
                continue
            _check_value(v, v * factor, key, header[j], name, line_no, path)
            values[rate] = v * factor
        if not values:
            raise RateScopeError(f"line {line_no}: {name!r} has no measured capacity", path)
        assert unit_key is not None
        if (name, unit_key) in seen:
            raise RateScopeError(
                f"line {line_no}: {name!r} ({UNITS[unit_key]}) is also on line "
                f"{seen[(name, unit_key)]}; give one row per electrode and unit",
                path,
            )
        seen[(name, unit_key)] = line_no
        out.append(MeasuredRow(name, unit_key, values, line_no))
    if not out:
        raise RateScopeError("the CSV has a header but no rows", path)
    return out


def _numbered(text: str, sep: str):
    """Data rows with their physical line numbers (quoted newlines counted)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    started = False
    for cells in reader:
        if not started:
            if any(c.strip() for c in cells):
                started = True  # the header
            continue
        yield reader.line_num, cells


def _check_value(raw, v, unit, col, name, line, path) -> None:
    if not math.isfinite(v) or v <= 0:
        raise RateScopeError(
            f"line {line}: {col!r} of {name!r} is {raw:g}; a capacity must be positive", path
        )
    lo, hi = PLAUSIBLE[unit]
    if lo <= v <= hi:
        return
    symbol = UNITS[unit]
    hint = ""
    if lo <= v * 1000 <= hi:
        hint = (
            " — 1000 times too small: is it in " + ("Ah/g" if unit == "specific" else "Ah/mL") + "?"
        )
    elif lo <= v / 1000 <= hi:
        hint = (
            " — 1000 times too large: is it in "
            + ("mAh/kg" if unit == "specific" else "mAh/L")
            + "?"
        )
    raise RateScopeError(
        f"line {line}: {col!r} of {name!r} = {v:g} {symbol} is outside the plausible range "
        f"{lo:g}-{hi:g} {symbol}{hint}",
        path,
    )
