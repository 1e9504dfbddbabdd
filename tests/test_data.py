"""Loading (simulated, the original dmol.pub file, your own files) and preprocessing."""

from __future__ import annotations

import hashlib
import io
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

import helpers
from helpers import data as data_module

from conftest import FAST_SIMULATION


def rotate(paths, angle):
    """Rotate (..., beads, 2) coordinates by ``angle`` radians about the origin."""
    c, s = np.cos(angle), np.sin(angle)
    return paths @ np.array([[c, s], [-s, c]])


def function_calls(function, *args) -> int:
    """How many Python and C functions ``function(*args)`` calls (a profiler counts them)."""
    count = 0

    def profiler(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(profiler)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return count


def gyration_tensor(frames):
    centred = frames - frames.mean(axis=1, keepdims=True)
    return np.einsum("fbi,fbj->fij", centred, centred)


# ----------------------------------------------------------------------------- load_paths


def test_default_source_is_the_simulation(tmp_cache):
    loaded = helpers.load_paths(n_frames=30, seed=4, **FAST_SIMULATION)
    np.testing.assert_array_equal(loaded, helpers.simulate_polymer(30, seed=4, cache=False, **FAST_SIMULATION))
    assert len(list(tmp_cache.glob("*.npy"))) == 1  # and it went through the cache


@pytest.mark.parametrize("how", ["npy", "npz-arr", "npz-single", "npz-int"])
def test_load_own_files(tmp_path, small_paths, how):
    frames = small_paths[:20]
    path = tmp_path / f"frames.{how[:3]}"
    if how == "npy":
        np.save(path, frames)
    elif how == "npz-arr":
        np.savez(path, other=np.zeros(3), arr=frames)
    elif how == "npz-single":
        np.savez_compressed(path, positions=frames)
    else:
        frames = np.round(frames).astype(np.int32)
        np.savez(path, arr=frames)
    loaded = helpers.load_paths(path)
    assert loaded.dtype == np.float64 and loaded.shape == (20, 12, 2)
    np.testing.assert_array_equal(loaded, frames)
    np.testing.assert_array_equal(helpers.load_paths(str(path)), frames)  # str paths too


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 12, 3)), r"\(\.\.\., any, 2\)"),
        (np.zeros((5, 24)), "3 dimensions"),
        (np.zeros((5, 2, 2)), "at least 3 beads"),
        (np.zeros((0, 12, 2)), "at least 1 item"),
        (np.full((5, 12, 2), np.nan), "NaN"),
        (np.array([[[1 + 1j, 0]] * 3]), "real numbers"),
    ],
)
def test_load_checks_shape_and_values(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises((ValueError, TypeError), match=message):
        helpers.load_paths(path)


def test_npz_with_several_arrays_and_no_arr_is_refused(tmp_path):
    path = tmp_path / "two.npz"
    np.savez(path, a=np.zeros((2, 12, 2)), b=np.zeros((2, 12, 2)))
    with pytest.raises(ValueError, match=r"\['a', 'b'\]"):
        helpers.load_paths(path)


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_pickled_objects_are_refused_without_running_them(tmp_path, suffix, exploit):
    payload = np.empty(1, dtype=object)
    payload[0] = exploit
    path = tmp_path / f"evil{suffix}"
    if suffix == ".npz":
        np.savez(path, arr=payload)
    else:
        np.save(path, payload, allow_pickle=True)
    with pytest.raises(ValueError, match="pickled"):
        helpers.load_paths(path)
    assert not exploit.ran


def test_truncated_file_gives_a_clear_error(tmp_path, small_paths):
    buffer = io.BytesIO()
    np.save(buffer, small_paths)
    path = tmp_path / "cut.npy"
    path.write_bytes(buffer.getvalue()[:1000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        helpers.load_paths(path)


@pytest.mark.parametrize("source", ["simulated", "DMOL", "data.csv", "long_paths"])
def test_unknown_source_lists_the_options(source):
    with pytest.raises(ValueError, match="'simulate', 'dmol' or a path"):
        helpers.load_paths(source)


def test_missing_file_and_wrong_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data file"):
        helpers.load_paths(tmp_path / "absent.npz")
    with pytest.raises(TypeError, match="source must be"):
        helpers.load_paths(42)
    with pytest.raises(TypeError, match="only apply to source='simulate'"):
        helpers.load_paths(tmp_path / "absent.npz", n_frames=3)
    with pytest.raises(TypeError, match="takes no options"):
        helpers.load_paths("dmol", n_frames=3)


# ----------------------------------------------------------------------------- the dmol file


def test_original_file_loads_and_matches_its_checksum(dmol_file):
    assert hashlib.sha256(dmol_file.read_bytes()).hexdigest() == helpers.DMOL_SHA256
    frames = helpers.load_paths(dmol_file)
    assert frames.shape == (2048, 12, 2) and frames.dtype == np.float64
    assert np.isfinite(frames).all()
    assert helpers.preprocess(frames).shape == (2048, 24)


class _FakeResponse(io.BytesIO):
    """What urlopen returns: a readable file object usable as a context manager."""


def _serve(monkeypatch, payload: bytes | Exception):
    """Replace urllib's urlopen: return ``payload`` or raise it. Returns the list of calls."""
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        if isinstance(payload, Exception):
            raise payload
        return _FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_caches_and_reverifies(tmp_cache, monkeypatch, dmol_file):
    original = dmol_file.read_bytes()
    calls = _serve(monkeypatch, original)
    path = helpers.download_dmol()
    assert path == tmp_cache / "long_paths.npz" and path.read_bytes() == original
    assert calls == [data_module.DMOL_URL]
    assert _leftovers(tmp_cache) == ["long_paths.npz"]  # no temporary files left

    # second call: served from the cache, no download
    _serve(monkeypatch, urllib.error.URLError("offline"))
    assert helpers.download_dmol() == path
    assert helpers.load_paths("dmol").shape == (2048, 12, 2)

    # a cached copy that was modified is detected and fetched again
    path.write_bytes(original[:-10] + b"0123456789")
    calls = _serve(monkeypatch, original)
    assert helpers.download_dmol().read_bytes() == original
    assert len(calls) == 1


def test_download_with_wrong_checksum_is_discarded(tmp_cache, monkeypatch, dmol_file):
    tampered = bytearray(dmol_file.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    _serve(monkeypatch, bytes(tampered))
    with pytest.raises(ValueError, match="checksum mismatch.*discarded"):
        helpers.download_dmol()
    assert _leftovers(tmp_cache) == []  # nothing cached, no temporary file


def test_download_with_wrong_checksum_without_the_real_file(tmp_cache, monkeypatch):
    _serve(monkeypatch, b"not the file you are looking for")
    with pytest.raises(ValueError, match="checksum mismatch"):
        helpers.load_paths("dmol")
    assert _leftovers(tmp_cache) == []


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("Name or service not known"), TimeoutError("timed out"), OSError("unreachable")]
)
def test_offline_download_explains_what_to_do(tmp_cache, monkeypatch, error):
    _serve(monkeypatch, error)
    with pytest.raises(ConnectionError) as info:
        helpers.load_paths("dmol")
    message = str(info.value)
    assert "load_paths('simulate')" in message and str(tmp_cache) in message
    assert _leftovers(tmp_cache) == []


def test_real_download_is_blocked_by_the_offline_guard(tmp_cache, no_network_attempts):
    """With the real urlopen, the suite's offline guard stops the request before any socket opens."""
    with pytest.raises(ConnectionError, match="could not download") as info:
        helpers.download_dmol(timeout=5)
    assert "offline guard" in str(info.value)  # the guard, not a timeout or a real network error
    assert no_network_attempts
    no_network_attempts.clear()


# ----------------------------------------------------------------------------- preprocessing


def test_preprocess_gives_float32_vectors(small_paths):
    out = helpers.preprocess(small_paths)
    assert out.dtype == np.float32 and out.shape == (400, 24)
    np.testing.assert_allclose(helpers.unflatten(out).mean(axis=1), 0.0, atol=1e-5)


def test_center_com(small_paths):
    moved = small_paths + np.array([3.0, -7.0])
    centred = helpers.center_com(moved)
    assert centred.shape == moved.shape
    np.testing.assert_allclose(centred.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(centred, helpers.center_com(small_paths), atol=1e-12)


def test_alignment_is_a_rigid_motion_onto_the_principal_axis(small_paths):
    aligned = helpers.align_principal(small_paths)
    # distances inside each frame are unchanged (rotation, no scaling or shearing)
    np.testing.assert_allclose(helpers.pairwise_distances(aligned), helpers.pairwise_distances(small_paths), atol=1e-9)
    # the gyration tensor is diagonal with the larger variance along x
    s = gyration_tensor(aligned)
    np.testing.assert_allclose(s[:, 0, 1], 0.0, atol=1e-9)
    assert np.all(s[:, 0, 0] >= s[:, 1, 1])
    # the 180-degree ambiguity is resolved: bead index and x are positively correlated
    index = np.arange(12) - 5.5
    assert np.all(aligned[..., 0] @ index >= 0)
    # a proper rotation: the handedness (signed area) of every frame is kept
    np.testing.assert_allclose(_signed_turns(aligned), _signed_turns(small_paths), atol=1e-9)


def _signed_turns(frames):
    """Cross products of consecutive bonds: flip sign under reflection, not under rotation."""
    b = np.diff(frames, axis=1)
    return b[:, :-1, 0] * b[:, 1:, 1] - b[:, :-1, 1] * b[:, 1:, 0]


def test_alignment_agrees_with_an_eigendecomposition(small_paths):
    aligned = helpers.align_principal(small_paths)
    centred = small_paths - small_paths.mean(axis=1, keepdims=True)
    for k in range(0, 400, 37):
        _, vectors = np.linalg.eigh(gyration_tensor(small_paths[k : k + 1])[0])
        major = vectors[:, -1]
        x = centred[k] @ major
        x = x if x @ (np.arange(12) - 5.5) >= 0 else -x
        np.testing.assert_allclose(aligned[k, :, 0], x, atol=1e-9)


def test_180_degree_turn_is_resolved_deterministically(small_paths):
    turned = -small_paths  # rotation by exactly 180 degrees
    np.testing.assert_allclose(helpers.align_principal(turned), helpers.align_principal(small_paths), atol=1e-9)
    again = helpers.align_principal(helpers.align_principal(small_paths))
    np.testing.assert_allclose(again, helpers.align_principal(small_paths), atol=1e-9)  # idempotent


def test_mirror_images_are_kept_by_default_and_resolved_on_request(small_paths):
    mirrored = small_paths * np.array([1.0, -1.0])
    default, default_mirror = helpers.preprocess(small_paths), helpers.preprocess(mirrored)
    # by default a mirror image stays a mirror image: y flips, x is unchanged
    np.testing.assert_allclose(helpers.unflatten(default_mirror), helpers.unflatten(default) * [1, -1], atol=1e-5)
    assert np.abs(default_mirror - default).max() > 0.5
    # resolve_mirror=True maps both to the same representative, also after a rotation
    resolved = helpers.preprocess(small_paths, resolve_mirror=True)
    np.testing.assert_allclose(helpers.preprocess(rotate(mirrored, 1.1), resolve_mirror=True), resolved, atol=1e-4)
    assert np.all(helpers.unflatten(resolved)[..., 1] @ (np.arange(12) - 5.5) >= -1e-6)


def test_alignment_is_vectorised_and_frame_independent(small_paths):
    batch = helpers.align_principal(small_paths)
    single = np.concatenate([helpers.align_principal(small_paths[k : k + 1]) for k in range(0, 400, 50)])
    np.testing.assert_array_equal(batch[::50], single)
    # vectorised: 10,000 frames take exactly as many Python and numpy calls as 400 (a per-frame
    # loop would make 25 times more)
    assert function_calls(helpers.preprocess, np.tile(small_paths, (25, 1, 1))) == function_calls(
        helpers.preprocess, small_paths
    )


def test_single_frame_and_torch_input(small_paths):
    one = helpers.preprocess(small_paths[:1])
    assert one.shape == (1, 24)
    from_torch = helpers.preprocess(torch.tensor(small_paths[:5]))
    np.testing.assert_allclose(from_torch, helpers.preprocess(small_paths[:5]), atol=1e-6)


def test_inputs_are_not_modified(small_paths):
    frames = np.array(small_paths)
    before = frames.copy()
    helpers.preprocess(frames)
    helpers.center_com(frames)
    helpers.align_principal(frames, resolve_mirror=True)
    np.testing.assert_array_equal(frames, before)


# ----------------------------------------------------------------------------- split and reshape


def test_split_is_deterministic_disjoint_and_complete():
    data = np.arange(1000 * 24, dtype=np.float32).reshape(1000, 24)
    train, test = helpers.train_test_split(data, seed=42)
    again_train, again_test = helpers.train_test_split(data, seed=42)
    other_train, _ = helpers.train_test_split(data, seed=43)
    assert train.shape == (900, 24) and test.shape == (100, 24)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert not np.array_equal(train, other_train)
    ids = np.concatenate([train[:, 0], test[:, 0]]) // 24
    assert sorted(ids.tolist()) == list(range(1000))  # every frame exactly once
    assert not np.array_equal(test[:, 0] // 24, np.arange(900, 1000))  # shuffled, not the tail


def test_split_fraction_and_types():
    data = torch.arange(50 * 4, dtype=torch.float32).reshape(50, 4)
    train, test = helpers.train_test_split(data, test_fraction=0.2, seed=0)
    assert isinstance(train, torch.Tensor) and train.shape == (40, 4) and test.shape == (10, 4)
    train, test = helpers.train_test_split(np.zeros((2, 4)), seed=0)
    assert len(train) == 1 and len(test) == 1


def test_unflatten_inverts_flattening(small_paths):
    flat = small_paths.reshape(400, 24)
    np.testing.assert_array_equal(helpers.unflatten(flat), small_paths)
    assert helpers.unflatten(torch.zeros(3, 24)).shape == (3, 12, 2)
    assert helpers.unflatten(np.zeros(24)).shape == (12, 2)
