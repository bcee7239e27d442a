"""Installs the demo app for the test run: DJANGO_DEMO=true, unless the environment says.

pytest-django reads the settings before any conftest.py runs, so the flag is set from
this plugin, which pyproject's `addopts` loads first (`-p dashboard.demo_upstream.pytest_plugin`).
"""

import os

os.environ.setdefault("DJANGO_DEMO", "true")
