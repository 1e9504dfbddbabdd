"""Run at start-up by every Python process whose PYTHONPATH holds this folder (see conftest.py).

The root conftest.py adds this folder to PYTHONPATH, so notebook kernels and subprocesses
started by the tests are offline from their first line: see offline_guard.py.
"""

import offline_guard

offline_guard.block_network()
