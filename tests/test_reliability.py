"""Reliability: offline, deterministic, clear errors for bad input, safe under faults, robust numerics.

Whatever a student passes in, helpers either works or says what it expected; whatever
crashes half-way, no later run reads a half-written file.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import helpers
from helpers import _io

import offline_guard
from conftest import FAST_SIMULATION
from offline_guard import NetworkBlockedError

# ----------------------------------------------------------------------------- offline

PUBLIC_ADDRESS = ("93.184.216.34", 80)  # a public web server (example.com)


def test_connections_to_the_network_are_refused_by_the_guard(no_network_attempts):
    with pytest.raises(NetworkBlockedError, match="network access is blocked"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(PUBLIC_ADDRESS)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("10.255.255.1", 80), timeout=5)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)  # a DNS look-up is network access too
    with pytest.raises(urllib.error.URLError, match="offline guard"):
        urllib.request.urlopen("http://10.255.255.1/", timeout=5)
    assert len(no_network_attempts) == 4  # refused by the guard, not by a timeout
    no_network_attempts.clear()  # expected here; any other test with attempts fails


def test_a_swallowed_connection_still_fails_the_test():
    """What the autouse fixture does around every test: a planted, silenced connection fails it."""
    with pytest.raises(AssertionError, match="tried to use the network"):
        with offline_guard.no_attempts_allowed():
            try:
                socket.create_connection(PUBLIC_ADDRESS)
            except OSError:  # code that silently falls back when offline
                pass


def test_loopback_keeps_working(no_network_attempts):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection((host, port), timeout=5) as client:
                peer, _ = server.accept()
                with peer:
                    client.sendall(b"ping")
                    assert peer.recv(4) == b"ping"
    assert no_network_attempts == []


def test_notebook_kernels_and_subprocesses_are_offline():
    """A process started with the environment a notebook kernel gets (nbval, nbclient) is guarded."""
    code = f"import socket; socket.socket().connect({PUBLIC_ADDRESS!r})"
    result = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "NetworkBlockedError: network access is blocked" in result.stderr, result.stderr[-2000:]


@pytest.mark.slow
def test_importing_helpers_patches_nothing():
    """Without the suite's PYTHONPATH, importing helpers (all modules) leaves socket as it was."""
    code = (
        "import socket\n"
        "before = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)\n"
        "import helpers, helpers.plots, helpers.widgets, helpers.optimization\n"
        "after = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)\n"
        "assert all(a is b for a, b in zip(before, after)), after\n"
        "assert 'offline_guard' not in __import__('sys').modules\n"
        "print('unchanged')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(helpers.__file__).parents[1],
    )
    assert result.stdout.strip() == "unchanged", result.stderr[-2000:]


# ----------------------------------------------------------------------------- determinism


def _pipeline(seed):
    """Simulate, preprocess, split, train a few epochs and sample, all from one seed."""
    paths = helpers.simulate_polymer(80, seed=seed, cache=False, **FAST_SIMULATION)
    data = helpers.preprocess(paths)
    train, test = helpers.train_test_split(data, seed=seed)
    torch.manual_seed(seed)
    model = helpers.PolymerVAE(hidden_dim=16, n_hidden=1)
    history = helpers.train_vae(model, train, test, epochs=2, batch_size=16, seed=seed, progress=False)
    return dict(
        paths=paths,
        data=data,
        test=test,
        loss=np.array(history.train_loss + history.test_recon),
        samples=model.sample(10, seed=seed).numpy(),
    )


@pytest.mark.slow
def test_same_seed_gives_identical_arrays_and_another_seed_different_ones():
    first, second, other = _pipeline(0), _pipeline(0), _pipeline(1)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
        assert not np.array_equal(first[name], other[name]), name


def test_sampling_does_not_depend_on_global_random_state(tiny_model):
    model = tiny_model()
    torch.manual_seed(123)
    a = model.sample(4, seed=7)
    torch.randn(1000)
    b = model.sample(4, seed=7)
    torch.testing.assert_close(a, b)


# ----------------------------------------------------------------------------- bad input

GOOD = np.zeros((4, 12, 2)) + np.arange(12)[None, :, None] * [1.0, 0.0]  # straight chains
FLAT = np.zeros((4, 24), dtype=np.float32)
NAN = GOOD.copy()
NAN[1, 3, 0] = np.nan
INF = GOOD.copy()
INF[0, 0, 1] = np.inf


def _model():
    torch.manual_seed(0)
    return helpers.PolymerVAE(hidden_dim=8, n_hidden=1)


# One table per function: load_paths, PolymerVAE and Encoder, the measures, the losses,
# sequences and optimization have theirs in their own test files.
BAD_INPUT = [
    # (id, call, exception, words the message must contain)
    ("preprocess wrong last axis", lambda: helpers.preprocess(np.zeros((4, 12, 3))), ValueError, "(..., any, 2)"),
    ("preprocess flat data", lambda: helpers.preprocess(FLAT), ValueError, "3 dimensions"),
    ("preprocess one frame without batch", lambda: helpers.preprocess(GOOD[0]), ValueError, "3 dimensions"),
    ("preprocess NaN", lambda: helpers.preprocess(NAN), ValueError, "NaN or infinite"),
    ("preprocess inf", lambda: helpers.preprocess(INF), ValueError, "NaN or infinite"),
    ("preprocess empty", lambda: helpers.preprocess(np.zeros((0, 12, 2))), ValueError, "at least 1"),
    ("preprocess strings", lambda: helpers.preprocess(np.full((2, 12, 2), "a")), TypeError, "real numbers"),
    ("preprocess object", lambda: helpers.preprocess(np.empty((2, 12, 2), dtype=object)), TypeError, "real numbers"),
    ("preprocess None", lambda: helpers.preprocess(None), TypeError, "numpy array or torch tensor"),
    ("preprocess two beads", lambda: helpers.preprocess(np.ones((3, 2, 2))), ValueError, "at least 3 beads"),
    ("split one frame", lambda: helpers.train_test_split(FLAT[:1]), ValueError, "at least 2"),
    ("split fraction 1", lambda: helpers.train_test_split(FLAT, test_fraction=1.0), ValueError, "between 0 and 1"),
    ("split fraction str", lambda: helpers.train_test_split(FLAT, test_fraction="0.1"), ValueError, "between 0 and 1"),
    ("split seed None", lambda: helpers.train_test_split(FLAT, seed=None), TypeError, "seed"),
    ("unflatten odd", lambda: helpers.unflatten(np.zeros((2, 23))), ValueError, "even"),
    ("simulate zero frames", lambda: helpers.simulate_polymer(0), ValueError, "n_frames must be >= 1"),
    ("simulate float frames", lambda: helpers.simulate_polymer(10.0), TypeError, "n_frames must be an integer"),
    (
        "simulate negative kT",
        lambda: helpers.simulate_polymer(10, kT=-1.0),
        ValueError,
        "kT must be a finite number > 0",
    ),
    ("simulate zero dt", lambda: helpers.simulate_polymer(10, dt=0.0), ValueError, "dt"),
    ("simulate nan friction", lambda: helpers.simulate_polymer(10, friction=float("nan")), ValueError, "friction"),
    (
        "simulate unknown option",
        lambda: helpers.simulate_polymer(10, temperature=2.0),
        ValueError,
        "unknown simulation parameter",
    ),
    ("simulate seed None", lambda: helpers.simulate_polymer(10, seed=None), TypeError, "seed"),
    ("simulate seed negative", lambda: helpers.simulate_polymer(10, seed=-3), ValueError, "seed"),
    ("train zero epochs", lambda: helpers.train_vae(_model(), FLAT, epochs=0), ValueError, "epochs must be >= 1"),
    ("train zero lr", lambda: helpers.train_vae(_model(), FLAT, lr=0.0), ValueError, "lr must be a finite number > 0"),
    ("train string lr", lambda: helpers.train_vae(_model(), FLAT, lr="1e-3"), TypeError, "lr must be a number"),
    (
        "train negative beta",
        lambda: helpers.train_vae(_model(), FLAT, beta=-0.1),
        ValueError,
        "beta must be a finite number >= 0",
    ),
    ("train nan beta", lambda: helpers.train_vae(_model(), FLAT, beta=float("nan")), ValueError, "beta"),
    ("train zero batch", lambda: helpers.train_vae(_model(), FLAT, batch_size=0), ValueError, "batch_size"),
    (
        "train unknown reduction",
        lambda: helpers.train_vae(_model(), FLAT, reduction="avg"),
        ValueError,
        "'mean', 'sum'",
    ),
    (
        "train unknown schedule",
        lambda: helpers.train_vae(_model(), FLAT, schedule="step"),
        ValueError,
        "'constant', 'cosine'",
    ),
    ("train raw paths", lambda: helpers.train_vae(_model(), GOOD), ValueError, "2 dimensions"),
    ("train wrong width", lambda: helpers.train_vae(_model(), np.zeros((4, 20))), ValueError, "(..., 24)"),
    ("train NaN data", lambda: helpers.train_vae(_model(), np.full((4, 24), np.nan)), ValueError, "NaN"),
    ("train empty", lambda: helpers.train_vae(_model(), np.zeros((0, 24))), ValueError, "at least 1"),
    ("train bad test set", lambda: helpers.train_vae(_model(), FLAT, np.zeros((4, 12, 2))), ValueError, "test"),
    ("train not a model", lambda: helpers.train_vae(torch.nn.Linear(24, 24), FLAT), TypeError, "PolymerVAE"),
    ("train seed None", lambda: helpers.train_vae(_model(), FLAT, seed=None), TypeError, "seed"),
    ("evaluate NaN", lambda: helpers.evaluate(_model(), np.full((2, 24), np.inf)), ValueError, "NaN"),
    ("pretrained unknown", lambda: helpers.load_pretrained("big"), ValueError, "expected one of"),
]


@pytest.mark.parametrize("call, error, words", [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_gets_a_clear_error(call, error, words, tmp_cache):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
    assert not tmp_cache.exists() or not any(tmp_cache.iterdir())  # no files left behind


def test_single_frames_work_where_they_make_sense(tiny_model):
    one = GOOD[:1]
    assert helpers.preprocess(one).shape == (1, 24)
    assert helpers.radius_of_gyration(one[0]) > 0  # an unbatched (beads, 2) frame
    assert helpers.simulate_polymer(1, cache=False, **FAST_SIMULATION).shape == (1, 12, 2)
    model = tiny_model()
    history = helpers.train_vae(model, helpers.preprocess(one), helpers.preprocess(one), epochs=2, progress=False)
    assert history.epochs == 2 and np.isfinite(history.test_recon).all()
    assert helpers.reconstruction_error(model, helpers.preprocess(one)) >= 0


# ----------------------------------------------------------------------------- faults


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("crash", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_crash_during_atomic_write_leaves_no_partial_file(tmp_path, crash):
    target = tmp_path / "out.bin"

    def writer(f):
        f.write(b"half of the")
        raise crash

    with pytest.raises(type(crash)):
        _io.atomic_write(target, writer)
    assert _leftovers(tmp_path) == []  # neither the target nor a temporary file

    target.write_bytes(b"old and complete")
    with pytest.raises(type(crash)):
        _io.atomic_write(target, writer)
    assert target.read_bytes() == b"old and complete" and _leftovers(tmp_path) == ["out.bin"]


def test_crash_while_caching_a_simulation_is_recovered(tmp_cache, monkeypatch):
    real_save = np.save

    def crashing_save(f, array, allow_pickle=False):
        f.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        helpers.simulate_polymer(30, seed=2, **FAST_SIMULATION)
    assert _leftovers(tmp_cache) == []
    monkeypatch.setattr(np, "save", real_save)
    frames = helpers.simulate_polymer(30, seed=2, **FAST_SIMULATION)
    np.testing.assert_array_equal(frames, helpers.simulate_polymer(30, seed=2, cache=False, **FAST_SIMULATION))


def test_full_disk_while_caching_warns_and_returns_the_result(tmp_cache, monkeypatch):
    def full_disk(f, array, allow_pickle=False):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.warns(UserWarning, match="not cached"):
        frames = helpers.simulate_polymer(30, seed=2, **FAST_SIMULATION)
    assert frames.shape == (30, 12, 2) and _leftovers(tmp_cache) == []


def test_corrupt_cache_file_is_recomputed(tmp_cache):
    expected = helpers.simulate_polymer(30, seed=2, **FAST_SIMULATION)
    (cached,) = tmp_cache.glob("*.npy")
    cached.write_bytes(cached.read_bytes()[:200])  # e.g. written by an older, crashed version
    with pytest.warns(UserWarning, match="unreadable cache file"):
        again = helpers.simulate_polymer(30, seed=2, **FAST_SIMULATION)
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(np.load(cached), expected)  # and the file was repaired


def test_crash_while_saving_a_checkpoint_keeps_the_old_one(tmp_path, tiny_model, monkeypatch):
    old, new = tiny_model(seed=0), tiny_model(seed=1)
    path = helpers.save_checkpoint(old, tmp_path / "model.pt", version=1)
    real_save = torch.save

    def crashing_save(obj, f):
        real_save(obj, f)
        f.truncate(f.tell() // 2)  # half the bytes are out ...
        raise KeyboardInterrupt  # ... when the student presses stop

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        helpers.save_checkpoint(new, path, version=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert _leftovers(tmp_path) == ["model.pt"]
    loaded, metadata = helpers.load_checkpoint(path)
    assert metadata == {"version": 1}
    assert all(torch.equal(v, old.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_download_interrupted_midway_caches_nothing(tmp_cache, monkeypatch):
    class Dropping(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 1000:
                raise ConnectionResetError("connection reset by peer")
            return super().read(min(size, 600))

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Dropping(b"x" * 5000))
    with pytest.raises(ConnectionError, match="could not download"):
        helpers.download_dmol()
    assert _leftovers(tmp_cache) == []


# ----------------------------------------------------------------------------- cache folder


def test_unwritable_cache_folder_falls_back_with_a_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(blocker / "cache"))  # cannot be created, even by root
    monkeypatch.setattr(_io.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    with pytest.warns(UserWarning, match="not writable; using .*POLYMER_VAE_CACHE"):
        frames = helpers.simulate_polymer(20, seed=1, **FAST_SIMULATION)
    (fallback,) = (tmp_path / "tmp").iterdir()
    assert len(list(fallback.glob("*.npy"))) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not on every call
        np.testing.assert_array_equal(helpers.simulate_polymer(20, seed=1, **FAST_SIMULATION), frames)
    # pointing the variable at a writable folder takes effect at once
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(tmp_path / "good"))
    assert _io.cache_dir() == tmp_path / "good"


def test_no_writable_folder_at_all_explains_what_to_do(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(_io.tempfile, "gettempdir", lambda: str(blocker / "tmp"))
    with pytest.raises(PermissionError, match="set POLYMER_VAE_CACHE to a writable folder"):
        helpers.simulate_polymer(20, seed=1, **FAST_SIMULATION)
    # without the cache it still works
    assert helpers.simulate_polymer(20, seed=1, cache=False, **FAST_SIMULATION).shape == (20, 12, 2)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write read-only folders")
def test_read_only_cache_folder_falls_back(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("POLYMER_VAE_CACHE", str(folder))
    monkeypatch.setattr(_io.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    try:
        with pytest.warns(UserWarning, match="not writable"):
            assert _io.cache_dir() != folder
    finally:
        folder.chmod(0o700)


# ----------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_is_finite_for_tiny_sigma_and_huge_mu(reduction):
    x = torch.randn(4, 24)
    x_recon = torch.randn(4, 24, requires_grad=True)
    for mu_value, sigma_value in [(0.0, 1e-12), (1e6, 1.0), (1e6, 1e-12), (-1e6, 0.0)]:
        mu = torch.full((4, 2), mu_value, requires_grad=True)
        sigma = torch.full((4, 2), sigma_value, requires_grad=True)
        total, recon, kl = helpers.vae_loss(x, x_recon, mu, sigma, beta=1.0, reduction=reduction)
        assert torch.isfinite(total) and torch.isfinite(kl) and kl >= 0, (mu_value, sigma_value)
        total.backward()
        for t in (mu, sigma, x_recon):
            assert torch.isfinite(t.grad).all(), (mu_value, sigma_value)
    # very small sigma costs a lot of KL, but a finite amount: -log sigma^2 is capped at sigma = 1e-6
    kl = helpers.kl_divergence(torch.zeros(1, 2), torch.full((1, 2), 1e-12))
    assert 20 < kl.item() < 30


def test_logvar_extremes_are_finite():
    mu = torch.zeros(3, 2)
    kl = helpers.kl_divergence(mu, logvar=torch.full((3, 2), -60.0))
    assert torch.isfinite(kl).all() and (kl > 0).all()


def test_elbo_and_iwae_are_finite_for_a_collapsed_encoder(tiny_model):
    model = tiny_model()
    with torch.no_grad():
        model.encoder.to_sigma.weight.zero_()
        model.encoder.to_sigma.bias.fill_(-200.0)  # softplus underflows: sigma == 0 exactly
    x = torch.randn(5, 24)
    assert (model.encode(x)[1] == 0).all()
    assert torch.isfinite(helpers.elbo(model, x, 0.5, n_samples=3)).all()
    assert torch.isfinite(helpers.importance_weighted_log_likelihood(model, x, 0.5, n_samples=3)).all()
    assert torch.isfinite(helpers.vae_loss(x, model(x)[0], *model.encode(x))[0])


@pytest.fixture
def unscaled():
    """Preprocessed frames blown up 1000 times: losses of order 1e7 from the first step."""
    return helpers.preprocess(helpers.simulate_polymer(64, seed=0, cache=False, **FAST_SIMULATION)) * 1000


def test_unscaled_data_trains_without_a_false_alarm(tiny_model, unscaled):
    """Divergence is judged against the untrained model's loss, so a large loss alone is no alarm."""
    history = helpers.train_vae(tiny_model(), unscaled, epochs=2, lr=1e-2, progress=False)
    assert np.isfinite(history.train_loss).all() and history.train_loss[-1] < history.train_loss[0]


def test_divergence_on_unscaled_data_names_the_likely_causes(tiny_model, unscaled):
    with pytest.raises(FloatingPointError, match="diverged") as info:
        helpers.train_vae(tiny_model(), unscaled, epochs=2, lr=1.0, progress=False)
    assert "lr=1.0" in str(info.value) and "unscaled input data" in str(info.value)
