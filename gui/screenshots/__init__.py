"""Scripts that render the pictures in docs/ from the real app: ``python -m
ratescope.gui.screenshots.NAME OUT.png``."""
