"""Shared fixtures for the test suite: the offline guard, small data sets, a private cache.

Offline guard
    Every test runs with the network blocked: any socket connection to a non-loopback
    address (and any DNS look-up of a remote name) raises ``helpers._offline.NetworkBlockedError``
    at once, and a test during which such an attempt happened fails even if the code under
    test swallowed the error. Loopback (127.0.0.1, ::1, localhost) keeps working for Jupyter
    kernels and the browser test.

    ``POLYMER_VAE_OFFLINE=1`` is exported before ``helpers`` is imported. ``helpers`` installs
    the same guard when it is imported with that variable set, so notebook kernels started by
    nbval (separate processes that inherit the environment) are offline as well.
"""

from __future__ import annotations

import os

os.environ["POLYMER_VAE_OFFLINE"] = "1"  # before importing helpers; inherited by kernels and subprocesses

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import hypothesis.configuration  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import helpers  # noqa: E402
from helpers import _io, _offline  # noqa: E402

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
    """Block the network for the whole session (idempotent if helpers already did it)."""
    _offline.block_network()
    yield


@pytest.fixture(autouse=True)
def no_network_attempts():
    """Fail any test during which code tried to reach the network, even if it caught the error."""
    _offline.blocked_attempts.clear()
    yield
    attempts = list(_offline.blocked_attempts)
    _offline.blocked_attempts.clear()
    assert not attempts, f"the test tried to use the network: {attempts}"


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A private, empty cache folder for this test (POLYMER_VAE_CACHE), returned as a Path."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(folder))
    monkeypatch.setattr(_io, "_cache_override", None)
    monkeypatch.setattr(_io, "_fallbacks", {})
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

