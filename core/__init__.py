"""RateScope core: science and I/O for electrode micrographs. Never imports Qt.

The pipeline, one module per step::

    core.io       load_mosaic(path) -> Mosaic          (CZI, ZVI, TIFF, PNG/JPEG)
    core.synth    generate_mosaic(...) -> SyntheticMosaic
    core.align    detect / straighten / tiles           (alignment and crop)
    core.models   the rate-capability CNN and the 3D CAE
    core.explain  Grad-RAM, guided backprop, occlusion
"""

from ratescope import __version__  # noqa: F401 - one version, ratescope.__version__
