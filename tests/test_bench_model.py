"""The model benchmark's rows (core.bench.model): the bf16 step only where it is native."""

from ratescope.core.bench.model import _rows


def test_bf16_training_row_only_when_measured():
    m = {"forward_s": 0.03, "forward_app_s": 0.03, "app_precision": "fp32",
         "forward_gflop": 9.9, "matmul_gflops": 150.0, "train_step_s": 5.0,
         "train_step_bf16_s": None, "threads": 2, "tcmalloc": True}  # fmt: skip
    names = [r.name for r in _rows(m)]
    assert names[0].startswith("RateCNN forward") and not any("bf16 autocast" in n for n in names)
    rows = _rows({**m, "train_step_bf16_s": 2.5})
    assert rows[-1].name == "training step, batch 38, bf16 autocast (tcmalloc)"
    assert rows[-1].value == 2.5 and "15.2 images/s" in rows[-1].note
    assert rows[2].value == 9.9 / 0.03 and rows[2].unit == "GFLOP/s"
