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
    assert "collector (yellow), coating surface (cyan)" in " ".join(text.split())  # GUI colours
    assert pages(out) == 2  # with an explanation map the details continue on page 2
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-singlefile", str(out),
                    str(tmp_path / "p")], check=True)  # fmt: skip
    from matplotlib.image import imread

    img = imread(tmp_path / "p.png")
    assert img.shape[0] > 300 and img[..., :3].std() > 0.05  # not blank
    assert (img[..., :3].mean(-1) < 0.5).mean() > 0.01  # ink on the page


@needs_poppler
def test_pdf_paginates_instead_of_clipping(sample, tmp_path):
    from dataclasses import replace

    plain = replace(sample, explanation=None)
    assert pages(write_pdf([plain], tmp_path / "one.pdf")) == 1  # it all fits on one page
    # a model card far longer than a page: every line is in the PDF, over several pages
    long_card = {f"unit{i}": dict(CARD, model=f"ModelNumber{i:03d}") for i in range(120)}
    out = write_pdf([replace(plain, cards=long_card)], tmp_path / "long.pdf")
    text = pdf_text(out)
    assert pages(out) >= 3
    assert all(f"ModelNumber{i:03d}" in text for i in range(120))


@needs_poppler
def test_batch_pdf_has_summary_page_and_warns_ood(sample, tmp_path):
    from dataclasses import replace

    other = replace(sample, prediction=fake_prediction(0.9, ood=True), explanation=None,
                    path=sample.path.with_name("second.czi"))  # fmt: skip
    out = write_pdf([sample, other], tmp_path / "b.pdf")
    assert pages(out) == 4  # summary, the first mosaic (with its explanation) on 2, the second
    text = pdf_text(out)
    assert "batch summary — 2 mosaics" in text and "second.czi" in text
    assert text.count("OUT OF DISTRIBUTION — NOT A RESULT") == 1  # only the flagged page
    assert "Why:" in text


@needs_poppler
def test_batch_summary_table_continues_instead_of_stopping(sample, tmp_path):
    from dataclasses import replace

    from matplotlib.backends.backend_pdf import PdfPages

    from ratescope.core.report.pdf import summary_pages

    n = 110
    many = [replace(sample, explanation=None, path=sample.path.with_name(f"m{i:03d}.czi"))
            for i in range(n)]  # fmt: skip
    assert len(summary_pages(many)) == 3

    with PdfPages(tmp_path / "s.pdf") as pdf:
        for page in summary_pages(many):
            pdf.savefig(page)
    text = pdf_text(tmp_path / "s.pdf")
    assert all(f"m{i:03d}.czi" in text for i in range(n))  # none falls off a page


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
    assert "MAPE 4.29 % (ensemble on 40 held-out electrodes, pooled)" in lines[1]
    assert "R² 0.959" in lines[1]
    assert "1.87" not in lines[1] and "5-fold cross-validation," in lines[1]
    assert "MAPE 1.87 % (the fold's own test split)" in card_lines({"specific": CARD})[1]


def test_gui_card_and_pdf_quote_the_same_figure():
    """One metric definition everywhere: the model-card dialog shows what the PDF says."""
    from ratescope.core.report.card import card_lines
    from ratescope.gui.predict.card import card_html, card_summary

    heldout = {"ensemble": {"mape": 4.29, "r2": 0.959, "n": 40}}
    folds = [{**CARD, "heldout": heldout, "metrics": {"test": {"mape": m, "r2": 0.9}}}
             for m in (1.0, 2.0, 3.0)]  # fmt: skip
    html = card_html(card_summary({"specific": folds}))
    assert "4.29 %" in html and "0.959" in html and "ensemble on 40 held-out electrodes" in html
    assert "2.00 %" not in html  # not the mean over the folds' own test splits
    assert "MAPE 4.29 %" in card_lines({"specific": folds[0]})[1]
    partial = {**heldout, "single_model_mape": [4.29, 4.22]}  # 2 fold models evaluated
    lines = card_lines({"specific": {**CARD, "heldout": partial}})
    assert "5-fold cross-validation (2 of 5 folds trained)" in lines[1]
