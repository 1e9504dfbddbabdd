"""Settings for the whole test session: tests/ and the notebooks that nbval executes.

Environment variables set here are inherited by the pytest-xdist workers and by the Jupyter
kernels that nbval starts, so they apply to the notebooks too.
"""

import os

# No test and no notebook may use the network: helpers refuses non-loopback connections
# when this is set (see helpers/_offline.py); loopback stays open for Jupyter and the browser test.
os.environ["POLYMER_VAE_OFFLINE"] = "1"
# The notebooks check their own prose claims (helpers.selfcheck.claim): in the test run a claim
# that does not hold fails the notebook instead of printing a note.
os.environ["POLYMER_VAE_STRICT"] = "1"
# Two notebooks run side by side on two cores: one math thread each avoids oversubscription,
# which slows small torch models down by an order of magnitude.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
