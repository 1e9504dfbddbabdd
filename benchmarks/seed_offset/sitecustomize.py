"""Shift every seed a notebook uses by ``POLYMER_VAE_SEED_OFFSET`` (for bench_robustness.py only).

``bench_robustness.py`` puts this folder on the kernels' ``PYTHONPATH``; Python imports this
file at start-up. With ``POLYMER_VAE_SEED_OFFSET=k`` (k != 0) every seed given to
``torch.manual_seed``, ``torch.Generator(...).manual_seed`` and ``numpy.random.default_rng``
becomes ``seed + k``, in the notebooks and in ``helpers`` alike: other initial weights, other
mini-batches, other prior draws. The data stay fixed: seeds used inside ``helpers.data``
(the train/test split), ``helpers.simulation`` and ``helpers.sequences`` (the simulated
polymers and protein family) are not shifted, because the shipped models were trained on
exactly that data and split. Nothing in ``helpers`` knows about this file.

The kernels stay offline as in the test suite: the network guard of ``tests/offline`` is
installed first (a process reads only one ``sitecustomize``).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "offline"))
import offline_guard  # noqa: E402

offline_guard.block_network()

_OFFSET = int(os.environ.get("POLYMER_VAE_SEED_OFFSET", "0") or 0)
_DATA_MODULES = {"helpers.data", "helpers.simulation", "helpers.sequences"}


def _from_data_module(depth: int = 2) -> bool:
    return sys._getframe(depth).f_globals.get("__name__") in _DATA_MODULES


def _install(offset: int) -> None:
    import numpy as np
    import torch

    original_manual_seed = torch.manual_seed
    original_default_rng = np.random.default_rng

    def manual_seed(seed):
        return original_manual_seed(int(seed) + offset)

    class Generator(torch.Generator):
        def manual_seed(self, seed):
            return super().manual_seed(int(seed) + offset)

    def default_rng(seed=None):
        if isinstance(seed, (int, np.integer)) and not _from_data_module():
            seed = int(seed) + offset
        return original_default_rng(seed)

    torch.manual_seed = manual_seed
    torch.Generator = Generator
    np.random.default_rng = default_rng


if _OFFSET:
    _install(_OFFSET)
