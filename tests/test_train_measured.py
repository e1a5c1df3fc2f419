"""The measured-capacity CSV (core.train.measured): what is read, what is refused, and
that every refusal names the CSV and its line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ratescope.core.errors import RateScopeError
from ratescope.core.train.measured import read_measured_csv
from ratescope.core.train.optim import mape

HEADER = "sample,unit,0.2C,1C,2C,3C,5C\n"


def _csv(tmp_path, text, name="m.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _refused(tmp_path, text, *words):
    with pytest.raises(RateScopeError) as exc:
        read_measured_csv(_csv(tmp_path, text))
    msg = str(exc.value)
    assert msg.startswith("m.csv: "), msg
    for w in words:
        assert w in msg, msg
    return msg


def test_rows_units_and_missing_c_rates_are_read_as_written(tmp_path):
    rows = read_measured_csv(_csv(tmp_path, HEADER + "A,Ah/kg,151.2,146,139.8,133.1,118.4\n"
                                  "A,Ah/L,402,388.1,,354,\n"
                                  "B.czi,mAh/g,155,149.5,143,n/a,120.2\n"))  # fmt: skip
    assert [(r.name, r.unit, r.line) for r in rows] == [
        ("A", "specific", 2), ("A", "volumetric", 3), ("B.czi", "specific", 4)]  # fmt: skip
    assert rows[0].values == {0.2: 151.2, 1.0: 146.0, 2.0: 139.8, 3.0: 133.1, 5.0: 118.4}
    assert rows[1].missing() == [2.0, 5.0]  # missing stays missing: never filled in
    assert math.isnan(rows[1].as_array()[2]) and math.isnan(rows[1].as_array()[4])
    assert rows[2].values[5.0] == 120.2 and 3.0 not in rows[2].values  # mAh/g == Ah/kg


def test_semicolons_decimal_commas_header_units_and_exact_factors(tmp_path):
    text = "name;0.2C [Ah/g];5C [Ah/g]\nX;0,1512;0,1184\n"
    (row,) = read_measured_csv(_csv(tmp_path, text))
    assert row.unit == "specific" and row.values == pytest.approx({0.2: 151.2, 5.0: 118.4})


def test_duplicate_row_names_both_lines(tmp_path):
    _refused(tmp_path, HEADER + "A,Ah/kg,150,,,,\nB,Ah/kg,150,,,,\nA,mAh/g,151,,,,\n",
             "line 4", "'A'", "line 2")  # fmt: skip


def test_non_numeric_value_names_line_and_column(tmp_path):
    _refused(tmp_path, HEADER + "A,Ah/kg,150,14x6,,,\n", "line 2", "'1C'", "14x6")


def test_ah_per_kg_vs_mah_per_g_mixups_1000x_off_are_refused(tmp_path):
    # 0.15 "Ah/kg" is 0.15 Ah/g: 1000 times too small
    _refused(tmp_path, HEADER + "A,Ah/kg,151,146,,,\nB,Ah/kg,0.151,0.146,,,\n",
             "line 3", "1000 times too small", "Ah/g")  # fmt: skip
    # 151000 "mAh/g" is mAh/kg: 1000 times too large
    _refused(tmp_path, HEADER + "A,mAh/g,151000,,,,\n", "line 2", "1000 times too large")


def test_unknown_or_contradictory_units_and_foreign_c_rates(tmp_path):
    _refused(tmp_path, HEADER + "A,Wh/kg,150,,,,\n", "line 2", "unknown unit")
    _refused(tmp_path, "sample,unit,0.2C [Ah/L]\nA,Ah/kg,150\n", "line 2", "unit column says")
    _refused(tmp_path, "sample,unit,0.5C\nA,Ah/kg,150\n", "line 1", "0.5C")
    _refused(tmp_path, "sample,0.2C\nA,150\n", "line 1", "no unit")
    _refused(tmp_path, "what,0.2C\nA,150\n", "line 1", "no name column")
    _refused(tmp_path, HEADER + "A,Ah/kg,,,,,\n", "line 2", "no measured capacity")
    _refused(tmp_path, HEADER + "A,Ah/kg,-5,,,,\n", "line 2", "positive")


def test_line_numbers_count_blank_lines(tmp_path):
    _refused(tmp_path, HEADER + "A,Ah/kg,150,,,,\n\n\nB,Ah/kg,abc,,,,\n", "line 5")


def test_the_loss_leaves_missing_c_rates_out():
    pred = torch.tensor([[100.0, 90.0, 80.0], [50.0, 40.0, 30.0]], requires_grad=True)
    target = torch.tensor([[110.0, float("nan"), 80.0], [50.0, 44.0, float("nan")]])
    loss = mape(pred, target)
    measured = np.array([10 / 110, 0 / 80, 0 / 50, 4 / 44]) * 100  # the four measured values
    assert float(loss.detach()) == pytest.approx(measured.mean(), rel=1e-6)
    loss.backward()
    assert pred.grad[0, 1] == 0 and pred.grad[1, 2] == 0 and torch.isfinite(pred.grad).all()
