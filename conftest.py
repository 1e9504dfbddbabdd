"""Settings for the whole test session: tests/ and the notebooks that nbval executes.

Environment variables set here are inherited by the pytest-xdist workers and by the Jupyter
kernels that nbval starts, so they apply to the notebooks too.
"""

import os
import sys
from pathlib import Path

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
