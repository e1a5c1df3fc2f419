"""PDF report and CSV: real text with the numbers, units, C-rates and model card line."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess

import numpy as np
import pytest
from test_report_helpers import CARD, cards, fake_prediction

from ratescope.core.constants import C_RATES
from ratescope.core.report import (
    SYNTHETIC_NOTE,
    Explanation,
    csv_rows,
    sample_report,
    write_csv,
    write_pdf,
)
from ratescope.core.resources import SAMPLE_MOSAIC

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no poppler")


@pytest.fixture(scope="module")
def sample():
    """The bundled sample, its automatic alignment, and a report built on them."""
    from ratescope.core.align import align
    from ratescope.core.io import load_mosaic

    mosaic = load_mosaic(SAMPLE_MOSAIC)
    alignment = align(mosaic.image)
    alignment.tiles[0].override = False
    tile = mosaic.image[:224, :672]
    grad = np.linspace(-1, 1, 224 * 672, dtype=np.float32).reshape(224, 672)
    ex = Explanation("gradram", "specific", 2.0, 1, grad, tile)
    return sample_report(mosaic, fake_prediction(), alignment, cards(),
                         measured={"specific": [150.1, 140.2, np.nan, 117.3, 85.4]},
                         explanation=ex)  # fmt: skip


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def pages(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@needs_poppler
def test_pdf_has_real_text_and_renders(sample, tmp_path):
    out = write_pdf([sample], tmp_path / "r.pdf")
    text = pdf_text(out)
    for up in sample.prediction.units.values():
        for m, s in zip(up.mean, up.std, strict=True):
            assert f"{m:.1f} ± {s:.1f}" in text
    for word in ("Ah/kg", "Ah/L", "0.2C", "1C", "2C", "3C", "5C", "sample_mosaic.czi",
                 "µm/px", "Rotation", "Tiles: ", "RateScope 0.1.0", "MAPE 1.87",
                 "Grad-RAM", "measured", "117.3"):  # fmt: skip
        assert word in text, word
    assert " ".join(SYNTHETIC_NOTE.split()[:8]) in " ".join(text.split())
    assert "rejected" in text and "by the user" in text
    assert pages(out) == 1
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-singlefile", str(out),
                    str(tmp_path / "p")], check=True)  # fmt: skip
    from matplotlib.image import imread

    img = imread(tmp_path / "p.png")
    assert img.shape[0] > 300 and img[..., :3].std() > 0.05  # not blank
    assert (img[..., :3].mean(-1) < 0.5).mean() > 0.01  # ink on the page


@needs_poppler
def test_batch_pdf_has_summary_page_and_warns_ood(sample, tmp_path):
    from dataclasses import replace

    other = replace(sample, prediction=fake_prediction(0.9, ood=True), explanation=None,
                    path=sample.path.with_name("second.czi"))  # fmt: skip
    out = write_pdf([sample, other], tmp_path / "b.pdf")
    assert pages(out) == 3
    text = pdf_text(out)
    assert "batch summary — 2 mosaics" in text and "second.czi" in text
    assert text.count("OUT OF DISTRIBUTION — NOT A RESULT") == 1  # only the flagged page
    assert "Why:" in text


def test_csv_rows(sample, tmp_path):
    rows = csv_rows([sample])
    assert len(rows) == 2 * len(C_RATES)
    assert {r["unit"] for r in rows} == {"specific", "volumetric"}
    r = rows[3]
    assert (r["c_rate"], r["mean"], r["std"], r["tiles"], r["ood"]) == (3.0, 118.94, 4.56, 6, False)
    assert r["measured"] == 117.3 and rows[2]["measured"] == ""
    out = write_csv([sample, sample], tmp_path / "x.csv")
    back = list(csv.DictReader(out.open()))
    assert len(back) == 20 and back[0]["file"].endswith("sample_mosaic.czi")
    assert set(back[0]) >= {"file", "unit", "c_rate", "mean", "std", "tiles", "ood"}


def test_write_pdf_cancel_leaves_nothing(sample, tmp_path):
    from ratescope.core.errors import Cancelled

    target = tmp_path / "c.pdf"
    target.write_bytes(b"old")

    def cancel(frac, msg):
        raise Cancelled()

    with pytest.raises(Cancelled):
        write_pdf([sample, sample], target, progress=cancel)
    assert target.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_card_lines_prefer_the_independent_held_out_electrodes():
    """The report quotes the held-out electrodes' score when the card has one (embedded
    models), not the fold's own test split, and never calls one fold an ensemble."""
    from ratescope.core.report.card import card_lines

    heldout = {"ensemble": {"mape": 4.29, "r2": 0.959, "n": 40}}
    lines = card_lines({"specific": {**CARD, "heldout": heldout}})
    assert "MAPE 4.29 % on 40 held-out electrodes" in lines[1] and "R² 0.959" in lines[1]
    assert "1.87" not in lines[1] and "5-fold cross-validation," in lines[1]
    assert "MAPE 1.87 % on held-out" in card_lines({"specific": CARD})[1]
    partial = {**heldout, "single_model_mape": [4.29, 4.22]}  # 2 fold models evaluated
    lines = card_lines({"specific": {**CARD, "heldout": partial}})
    assert "5-fold cross-validation (2 of 5 folds trained)" in lines[1]
