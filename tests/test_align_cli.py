"""``python main.py align FILE --json --png`` on a real TIFF file."""

from __future__ import annotations

import json
import math

import numpy as np
import tifffile

from ratescope.cli import main
from ratescope.core.synth.mosaic import generate_mosaic


def test_align_cli_writes_json_and_preview(tmp_path):
    m = generate_mosaic(5, porosity=0.35, tilt_deg=1.5, width=2400, rgb=False, bit_depth=16)
    path = tmp_path / "mosaic.tif"
    tifffile.imwrite(path, m.image)
    out, png = tmp_path / "align.json", tmp_path / "preview.png"
    assert main(["align", str(path), "--json", str(out), "--png", str(png)]) == 0
    d = json.loads(out.read_text())
    (x0, y0), (x1, y1) = d["collector"]
    assert d["angle_deg"] == math.degrees(math.atan2(-(y1 - y0), x1 - x0))
    assert abs(d["angle_deg"] - 1.5) < 0.1
    assert abs(d["surface_y"] - m.truth.surface_y) < 10
    assert d["tiles"] and all(
        len(t["rect"]) == 4 and "kept" in t and "reason" in t for t in d["tiles"]
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_align_cli_reports_a_missing_collector(tmp_path, capsys):
    path = tmp_path / "flat.tif"
    rng = np.random.default_rng(0)
    tifffile.imwrite(path, (rng.random((600, 2000)) * 60).astype(np.uint8))
    assert main(["align", str(path), "--json", str(tmp_path / "x.json")]) == 1
    assert "collector" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
