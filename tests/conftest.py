"""Shared fixtures for the test suite: the offline guard, small data sets, a private cache.

Offline guard (tests/offline/offline_guard.py)
    Every test runs with the network blocked: any socket connection to a non-loopback
    address (and any DNS look-up of a remote name) raises ``NetworkBlockedError`` at once,
    and a test during which such an attempt happened fails even if the code under test
    swallowed the error. Loopback (127.0.0.1, ::1, localhost) keeps working for Jupyter
    kernels and the browser test. Notebook kernels and subprocesses get the same guard from
    tests/offline/sitecustomize.py (the root conftest.py puts that folder on PYTHONPATH).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import hypothesis.configuration
import numpy as np
import pytest
import torch

import helpers

import offline_guard  # tests/offline, put on sys.path by the root conftest.py
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_chromium

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Short runs of the simulator for tests that need realistic chains but not the physics of
# the default ensemble (0.2 s instead of 6 s).
FAST_SIMULATION = dict(equilibration_steps=200, steps_between_frames=50)

# hypothesis keeps small caches; keep them out of the repository (a shared temporary folder)
hypothesis.configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "polymer-vae-hypothesis")

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two workers on two cores: avoid oversubscribing them


@pytest.fixture(scope="session", autouse=True)
def offline():
    """Block the network for the whole session (idempotent if sitecustomize already did it)."""
    offline_guard.block_network()
    yield


@pytest.fixture(autouse=True)
def no_network_attempts():
    """Fail any test during which code tried to reach the network, even if it caught the error.

    Yields the list of refused addresses: a test that expects refusals checks and clears it.
    """
    with offline_guard.no_attempts_allowed() as attempts:
        yield attempts


class PickleExploit:
    """Unpickling this object creates the folder ``target``: a stand-in for arbitrary code."""

    def __init__(self, target):
        self.target = Path(target)

    def __reduce__(self):
        return (os.makedirs, (str(self.target),))

    @property
    def ran(self) -> bool:
        """True if something unpickled this object (the folder exists)."""
        return self.target.exists()


@pytest.fixture
def exploit(tmp_path) -> PickleExploit:
    """An object whose unpickling would run code: put it into a file; ``exploit.ran`` must stay False."""
    return PickleExploit(tmp_path / "pwned")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A private, empty cache folder for this test (POLYMER_VAE_CACHE), returned as a Path."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(folder))
    return folder


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # a helper that modifies its input in place fails loudly
    return array


@pytest.fixture(scope="session")
def small_paths() -> np.ndarray:
    """400 simulated frames (12 beads, float64), read-only; not cached on disk."""
    return _read_only(helpers.simulate_polymer(400, seed=3, cache=False, **FAST_SIMULATION))


@pytest.fixture(scope="session")
def small_split(small_paths):
    """(train, test) float32 arrays (360 and 40 frames of 24 numbers), read-only."""
    train, test = helpers.train_test_split(helpers.preprocess(small_paths), seed=0)
    return _read_only(train), _read_only(test)


@pytest.fixture(scope="session")
def default_paths() -> np.ndarray:
    """The default 10,000-frame ensemble (cached in ~/.cache/polymer-vae after the first run)."""
    return _read_only(helpers.load_paths())


@pytest.fixture(scope="session")
def default_split(default_paths):
    """The split that the shipped checkpoints were trained and evaluated on."""
    return helpers.train_test_split(helpers.preprocess(default_paths), seed=42)


@pytest.fixture
def tiny_model():
    """A factory for small, seeded PolymerVAEs (fast to train): tiny_model(seed=0, **config)."""

    def make(seed: int = 0, **config):
        torch.manual_seed(seed)
        return helpers.PolymerVAE(**{"hidden_dim": 32, "n_hidden": 2, **config})

    return make


@pytest.fixture(scope="session")
def dmol_file() -> Path:
    """The original long_paths.npz from ../shared/data (skipped when it is not there)."""
    path = SHARED_DATA / "long_paths.npz"
    if not path.exists():
        pytest.skip(f"{path} is not available (it is not shipped with the bundle)")
    return path


# ----------------------------------------------------------------------------- real browser


@pytest.fixture(scope="session")
def chromium():
    """Headless Debian Chromium driven by Playwright, shared by the browser tests of a worker."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
