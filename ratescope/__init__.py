"""RateScope: rate capability of Li-ion electrodes from cross-section micrographs.

One namespace for everything the distribution installs: ``ratescope.core`` (science, no
Qt), ``ratescope.gui`` (the desktop app), ``ratescope.cli`` (the sub-commands) and
``ratescope.resources`` (samples, models, label table, icons). In the installed wheel they
are sub-folders of this package; in a source checkout they are the folders ``core/``,
``gui/``, ``cli/`` and ``resources/`` beside this one, which the line below adds to the
package's search path (``pyproject.toml`` maps them the same way for the wheel).
"""

from pathlib import Path

if not (Path(__file__).parent / "core").is_dir():  # a source checkout
    __path__.append(str(Path(__file__).resolve().parent.parent))

__version__ = "0.1.0"
