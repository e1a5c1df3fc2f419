"""3D tomography volumes: lazy reading (``io``), phases and fractions (``phases``),
mini-volume windows (``windows``), CAE reconstruction with a slice cache
(``reconstruct``) and the paper's statistics (``stats``).

Only ``reconstruct`` imports torch; the rest is numpy/scipy/h5py/tifffile.
"""
