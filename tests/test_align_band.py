"""Large mosaics are aligned on an overview plus a full-resolution band (core.align.band).

The band path is forced on small generated mosaics by lowering ``WHOLE_BYTES``; it must
give the alignment and the tiles of the whole-image path, in mosaic pixels.
"""

from pathlib import Path

import numpy as np
import pytest

from ratescope.core.align import Alignment, align, extract_tiles
from ratescope.core.align import band as band_mod
from ratescope.core.align.band import align_mosaic, extract_working_tiles, working_image
from ratescope.core.errors import RateScopeError
from ratescope.core.io import load_mosaic
from ratescope.core.io.czi import write_czi_mosaic
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.model_input import to_model_image
from ratescope.core.synth.mosaic import generate_mosaic


@pytest.fixture(scope="module")
def tall():
    """A 6000 px tall mosaic, foil at 4000, tilted: 3500 px of epoxy above the coating."""
    return generate_mosaic(5, height=6000, width=6300, tilt_deg=0.5, collector_y=4000)


@pytest.fixture
def force_band(monkeypatch):
    monkeypatch.setattr(band_mod, "WHOLE_BYTES", 1000)
    monkeypatch.setattr(band_mod, "OVERVIEW_PIXELS", 2_000_000)  # a 1:3 overview


def _mosaic(image) -> Mosaic:
    return Mosaic(Path("tall.czi"), "CZI", [image], 0.123, "metadata")


def test_band_alignment_matches_whole_image(tall, force_band):
    rgb = to_model_image(tall.image)
    whole = align(rgb)
    banded, working = align_mosaic(_mosaic(tall.image))
    assert not working.whole and working.image.shape[0] < 2500  # a band, not the mosaic
    assert abs(banded.surface_y - tall.truth.surface_y) <= 20
    assert abs(banded.surface_y - whole.surface_y) <= 5
    assert abs(banded.angle_deg - whole.angle_deg) < 0.01
    assert len(banded.kept) == len(whole.kept) > 0
    assert banded.image_shape == rgb.shape  # mosaic pixels
    # the tiles cut from the band are the pixels the same alignment cuts from the whole
    np.testing.assert_array_equal(
        extract_working_tiles(working, banded), extract_tiles(rgb, banded)
    )


def test_band_alignment_round_trips_through_json(tall, force_band):
    banded, working = align_mosaic(_mosaic(tall.image))
    again = Alignment.from_json(banded.to_json())
    assert again.frame == banded.frame and again.centre == banded.centre
    assert [t.rect for t in again.tiles] == [t.rect for t in banded.tiles]
    np.testing.assert_array_equal(
        extract_working_tiles(working, again), extract_working_tiles(working, banded)
    )


def test_band_path_on_a_real_czi_reads_no_whole_image(tmp_path, tall, force_band, monkeypatch):
    from ratescope.core.io import czi

    monkeypatch.setattr(czi, "EAGER_BYTES", 0)  # read region by region, as a large CZI is
    reads = []
    real_read = czi.CziLevel._read

    def spy(self, roi, zoom):
        reads.append((roi, zoom))
        return real_read(self, roi, zoom)

    monkeypatch.setattr(czi.CziLevel, "_read", spy)
    path = tmp_path / "tall.czi"
    write_czi_mosaic(path, tall.image, tile_shape=(1024, 1024))
    mosaic = load_mosaic(path)
    assert reads == []  # opening decodes nothing
    banded, working = align_mosaic(mosaic)
    full = [roi for roi, zoom in reads if zoom is None]
    assert [zoom for _, zoom in reads if zoom] == [pytest.approx(1 / 3)]  # one overview
    assert len(full) == 1 and full[0][3] < 2500  # and one band of full-resolution rows
    assert abs(banded.surface_y - tall.truth.surface_y) <= 20
    assert len(banded.kept) > 0


def test_edited_collector_outside_the_band_reads_a_new_band(tall, force_band):
    mosaic = _mosaic(tall.image)
    first, working = align_mosaic(mosaic)
    c = first.collector
    moved = type(c)(c.x0, c.y0 - 1500, c.x1, c.y1 - 1500, 1.0, True)
    second, again = align_mosaic(mosaic, collector=moved, surface=None, working=working)
    assert again is not working and again.covers(min(moved.y0, moved.y1), max(moved.y0, moved.y1))
    assert second.collector.y0 == pytest.approx(moved.y0)


def test_a_band_over_the_memory_budget_is_refused(tall, force_band, monkeypatch):
    monkeypatch.setattr(band_mod, "BAND_BYTES", 1_000_000)
    with pytest.raises(RateScopeError, match=r"tall\.czi: the coating band .* memory budget"):
        working_image(_mosaic(tall.image))


def test_gui_aligns_a_large_mosaic_on_a_band(qtbot, tmp_path, tall, force_band):
    from _gui_helpers import window_shown

    path = tmp_path / "tall.czi"
    write_czi_mosaic(path, tall.image, tile_shape=(1024, 1024))
    with window_shown(qtbot, tmp_path) as window:
        with qtbot.waitSignal(window.alignment.alignment_changed, timeout=60_000):
            window.open_path(path)
        qtbot.waitUntil(lambda: not window.alignment.working(), timeout=60_000)
        ctl = window.alignment
        alignment, source = ctl.alignment, ctl.source
        assert not source.working.whole  # the GUI holds the band, not the mosaic
        assert abs(alignment.surface_y - tall.truth.surface_y) <= 20 and alignment.kept
        np.testing.assert_array_equal(
            source.tiles(alignment), extract_tiles(to_model_image(tall.image), alignment)
        )
        assert window.dialogs.errors == []


def test_a_lazy_pyramidal_tiff_aligns_reading_strips_and_a_band(tmp_path, tall, force_band,
                                                                  monkeypatch):  # fmt: skip
    import tifffile

    from ratescope.core.io import overview, tiff
    from ratescope.core.io.lazy_tiff import LazyTiffLevel

    monkeypatch.setattr(tiff, "EAGER_BYTES", 0)  # read tile by tile, as a large TIFF is
    monkeypatch.setattr(overview, "STRIP_BYTES", 4 * 1024**2)
    path = tmp_path / "tall.tif"
    image = tall.image
    with tifffile.TiffWriter(path) as tw:
        tw.write(image, tile=(256, 256), subifds=1, compression="zlib")
        tw.write(image[::2, ::2], tile=(256, 256), subfiletype=1, compression="zlib")
    mosaic = load_mosaic(path)
    assert all(isinstance(lv, LazyTiffLevel) for lv in mosaic.levels)
    reads = []
    real = LazyTiffLevel.read_region

    def spy(self, y0, y1, x0, x1):
        out = real(self, y0, y1, x0, x1)
        reads.append(out.nbytes)
        return out

    monkeypatch.setattr(LazyTiffLevel, "read_region", spy)
    banded, working = align_mosaic(mosaic)
    band_bytes = working.image.nbytes  # the band, read once at full resolution
    assert all(n <= 4 * 1024**2 or n == band_bytes for n in reads)
    assert reads.count(band_bytes) == 1 and band_bytes < image.nbytes / 2
    assert abs(banded.surface_y - tall.truth.surface_y) <= 20 and banded.kept
