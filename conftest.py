"""Settings for the whole test session: tests/ and the notebooks that nbval executes.

Environment variables set here are inherited by the pytest-xdist workers and by the Jupyter
kernels that nbval starts, so they apply to the notebooks too.
"""

import os
import sys
from pathlib import Path

import pytest

# No test and no notebook may use the network. tests/offline/sitecustomize.py installs the
# network guard (tests/offline/offline_guard.py) at the start of every Python process that
# has that folder on its path: the xdist workers, the notebook kernels and any subprocess.
# Loopback stays open for Jupyter and the browser test.
OFFLINE_DIR = str(Path(__file__).resolve().parent / "tests" / "offline")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (OFFLINE_DIR, os.environ.get("PYTHONPATH")) if p)
sys.path.insert(0, OFFLINE_DIR)
# The notebooks check their own prose claims (helpers.selfcheck.claim): in the test run a claim
# that does not hold fails the notebook instead of printing a note.
os.environ["POLYMER_VAE_STRICT"] = "1"
# Two notebooks run side by side on two cores: one math thread each avoids oversubscription,
# which slows small torch models down by an order of magnitude.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"


# Markers (registered in pyproject.toml; --strict-markers refuses any other): `pytest` runs
# everything; `pytest -m "not slow"` is the fast inner loop. Whole kinds of test are marked
# here, where they are collected; a single slow unit test carries @pytest.mark.slow itself.
STUDENT_EDITION_TESTS = "test_student_edition.py"


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.path.suffix == ".ipynb" or item.path.name == STUDENT_EDITION_TESTS:
            item.add_marker(pytest.mark.notebooks)  # nbval's notebooks/*.ipynb; the student/*.ipynb runs
            item.add_marker(pytest.mark.slow)
        if "chromium" in fixtures:  # JupyterLab or the built site in headless Chromium
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if "site" in fixtures:  # builds the website, executing every notebook
            item.add_marker(pytest.mark.slow)
