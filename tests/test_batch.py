"""Batch prediction: good + corrupt files -> exit code, CSV rows, PDF pages, progress."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from test_report import pages, pdf_text
from test_report_helpers import tiny_ensemble

from ratescope.cli import main
from ratescope.core.resources import SAMPLE_MOSAIC


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two small good mosaics (cut from the sample, PNG), a corrupt and a missing file."""
    from matplotlib.image import imsave

    from ratescope.core.io import load_mosaic

    d = tmp_path_factory.mktemp("batch")
    image = load_mosaic(SAMPLE_MOSAIC).image
    imsave(d / "good_a.png", image[:, :1500])
    imsave(d / "good_b.png", np.ascontiguousarray(image[:, 1500:3000]))
    (d / "corrupt.czi").write_bytes(b"ZISRAWFILE" + bytes(100))
    tiny_ensemble(d)
    return d


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="no poppler")
def test_cli_batch_skips_bad_files(files, tmp_path, capsys):
    d = files
    args = ["predict", str(d / "good_a.png"), str(d / "corrupt.czi"), str(d / "missing.png"),
            str(d / "good_b.png"), "--models", str(d), "--pdf", str(tmp_path / "r.pdf"),
            "--csv", str(tmp_path / "r.csv"), "--json", str(tmp_path / "r.json")]  # fmt: skip
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "corrupt.czi" in err and "missing.png" in err and "2 of 4 files failed" in err
    assert "[1/4 good_a.png]" in err and "[4/4 good_b.png]" in err  # progress (no tty)
    assert "good_a.png" in out and "good_b.png" in out and "Ah/kg" in out
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(rows) == 2 * 2 * 5
    assert [r["file"].rsplit("/", 1)[1] for r in rows[::10]] == ["good_a.png", "good_b.png"]
    assert {r["c_rate"] for r in rows} == {"0.2", "1.0", "2.0", "3.0", "5.0"}
    assert pages(tmp_path / "r.pdf") == 3  # summary + one page per good file
    text = pdf_text(tmp_path / "r.pdf")
    mean = float(rows[0]["mean"])
    assert f"{mean:.1f}" in text and "batch summary — 2 mosaics" in text


@pytest.mark.slow
def test_cli_all_good_exit_zero_and_all_bad_writes_nothing(files, tmp_path, capsys):
    d = files
    assert main(["predict", str(d / "good_a.png"), "--models", str(d),
                 "--csv", str(tmp_path / "a.csv")]) == 0  # fmt: skip
    assert len(list(csv.DictReader((tmp_path / "a.csv").open()))) == 10
    assert main(["predict", str(d / "corrupt.czi"), "--models", str(d),
                 "--pdf", str(tmp_path / "b.pdf")]) == 1  # fmt: skip
    assert not (tmp_path / "b.pdf").exists()
    assert "no report written" in capsys.readouterr().err


def test_progress_bar_on_a_terminal():
    import io

    from ratescope.cli.predict import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    s = Tty()
    bar = ProgressBar(s, width=10)
    bar(0.5, "1/2 a.png: predicting")
    bar.clear()
    assert "[#####.....]  50% 1/2 a.png" in s.getvalue()
