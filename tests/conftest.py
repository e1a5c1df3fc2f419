"""Test-wide setup: Qt runs offscreen; helpers live in the test modules that use them."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
