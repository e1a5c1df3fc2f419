"""``python main.py info`` reports what a real file holds, as text or JSON."""

import argparse
import json

import numpy as np

from ratescope.cli import info as info_cli
from ratescope.core.io.czi import write_czi_mosaic


def main(argv):
    """``python main.py info ...`` without importing every other sub-command (torch)."""
    parser = argparse.ArgumentParser()
    info_cli.add_arguments(parser)
    return info_cli.run(parser.parse_args(argv[1:]))


def test_info_json_of_two_scene_czi(tmp_path, capsys):
    path = tmp_path / "two.czi"
    a = np.zeros((300, 520), np.uint16)
    write_czi_mosaic(path, [a, a[:200, :260]], tile_shape=(128, 256), overlap=8, pixel_size_um=0.4)
    assert main(["info", str(path), "--json", "--scene", "1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "CZI" and info["scene"] == 1 and len(info["scenes"]) == 2
    assert (info["height_px"], info["width_px"], info["dtype"]) == (200, 260, "uint16")
    assert info["pixel_size_um"] == 0.4 and info["pixel_size_source"] == "metadata"
    assert info["tiles"] == 4  # 200 x 260 px in 128 x 256 tiles: 2 rows x 2 columns


def test_info_text_and_error_exit_code(tmp_path, capsys):
    path = tmp_path / "one.czi"
    write_czi_mosaic(path, np.zeros((100, 150, 3), np.uint8), tile_shape=(64, 64), overlap=4)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "150 x 100 px, RGB uint8" in out and "(metadata)" in out
    bad = tmp_path / "empty.czi"
    bad.write_bytes(b"")
    assert main(["info", str(bad)]) == 1
    assert "empty.czi: the file is empty" in capsys.readouterr().err
