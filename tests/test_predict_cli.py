"""``python main.py predict FILE... --json``: records, text, a bad file among good ones."""

from __future__ import annotations

import json

import tifffile
from test_predict import make_ensemble

from ratescope.cli import main
from ratescope.core.synth.mosaic import generate_mosaic

RECORD_KEYS = {"file", "unit", "c_rate", "mean", "std", "tiles", "ood"}


def test_predict_cli_json_and_a_corrupt_file(tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    make_ensemble(models, k=2)
    good = []
    for seed, rgb in ((11, True), (12, False)):
        m = generate_mosaic(seed, porosity=0.3, width=1500, rgb=rgb, bit_depth=8 if rgb else 16)
        good.append(tmp_path / f"e{seed}.tif")
        tifffile.imwrite(good[-1], m.image)
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 40)
    out = tmp_path / "pred.json"
    files = [str(good[0]), str(bad), str(good[1])]
    code = main(["predict", *files, "--json", str(out), "--models", str(models)])
    cap = capsys.readouterr()
    assert code == 1
    assert "broken.tif" in cap.err and "1 of 3 files failed" in cap.err
    records = json.loads(out.read_text())
    assert [(r["file"], r["unit"]) for r in records] == [
        (str(good[0]), "specific"), (str(good[0]), "volumetric"),
        (str(good[1]), "specific"), (str(good[1]), "volumetric"),
    ]  # fmt: skip
    for r in records:
        assert RECORD_KEYS <= set(r)
        assert r["c_rate"] == [0.2, 1.0, 2.0, 3.0, 5.0]
        assert len(r["mean"]) == len(r["std"]) == 5 and r["tiles"] >= 1
        assert isinstance(r["ood"], bool)
    # the text report names each good file with both units and the tile count
    for g in good:
        assert str(g) in cap.out
    lines = cap.out.splitlines()
    assert sum(ln.startswith("  specific (Ah/kg)") for ln in lines) == 2
    assert sum(ln.startswith("  volumetric (Ah/L)") for ln in lines) == 2
    assert f"{records[0]['tiles']} tiles" in cap.out


def test_predict_cli_all_good_exits_zero(tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    make_ensemble(models, k=1)
    m = generate_mosaic(13, porosity=0.4, width=1500)
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, m.image)
    assert main(["predict", str(path), "--models", str(models), "--json", "-"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2 and records[0]["file"] == str(path)


def test_predict_cli_without_models_fails_cleanly(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "x.tif"), "--models", str(tmp_path)]) == 1
    assert "no specific model" in capsys.readouterr().err


def test_outputs_are_never_lost_or_replaced_by_nothing(tmp_path, capsys, monkeypatch):
    """Every input failing leaves an earlier JSON alone; an unwritable folder is named (not
    a hidden temporary file) and the computed records still reach stdout."""
    from ratescope.core.resources import SAMPLE_MOSAIC

    earlier = tmp_path / "out.json"
    earlier.write_text('[{"file": "earlier"}]')
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert main(["predict", str(broken), "--json", str(earlier)]) == 1
    assert json.loads(earlier.read_text()) == [{"file": "earlier"}]
    assert "left as it was" in capsys.readouterr().err
    import errno

    import ratescope.core.atomic as atomic

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", str(src))  # names the .part

    monkeypatch.setattr(atomic.os, "replace", read_only)
    code = main(["predict", str(SAMPLE_MOSAIC), "--json", str(tmp_path / "r.json"),
                 "--csv", str(tmp_path / "r.csv")])  # fmt: skip
    monkeypatch.undo()
    out = capsys.readouterr()
    assert code == 1
    assert "r.json: could not write the file (Read-only file system)" in out.err
    assert "r.csv: could not write the file" in out.err and ".part" not in out.err
    records = json.loads(out.out[out.out.index("[\n") :])  # after the curves in words
    assert records[0]["file"] == str(SAMPLE_MOSAIC)  # the records survive
    assert {p.name for p in tmp_path.iterdir()} == {"out.json", "broken.png"}  # no leftovers
