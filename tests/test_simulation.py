"""The bead-spring simulator: forces, determinism, physics of the default ensemble, caching."""

from __future__ import annotations

import numpy as np
import pytest

import helpers
from helpers import simulation
from helpers.simulation import DEFAULTS, polymer_forces, simulate_polymer

from conftest import FAST_SIMULATION

FORCE_PARAMS = {k: DEFAULTS[k] for k in ("bond_k", "bond_length", "bend_k", "lj_epsilon", "lj_sigma", "lj_cutoff")}


def energy(r: np.ndarray, *, bond_k, bond_length, bend_k, lj_epsilon, lj_sigma, lj_cutoff) -> float:
    """Potential energy of one chain r (beads, 2), written independently of the simulator."""
    bonds = np.diff(r, axis=0)
    lengths = np.linalg.norm(bonds, axis=1)
    u = 0.5 * bond_k * np.sum((lengths - bond_length) ** 2)
    cos = np.sum(bonds[:-1] * bonds[1:], axis=1) / (lengths[:-1] * lengths[1:])
    u += bend_k * np.sum(1.0 - cos)
    for i in range(len(r)):
        for j in range(i + 2, len(r)):
            d = np.linalg.norm(r[i] - r[j])
            if d < lj_cutoff:
                u += 4 * lj_epsilon * ((lj_sigma / d) ** 12 - (lj_sigma / d) ** 6)
    return u


def test_forces_are_minus_the_gradient_of_the_energy():
    rng = np.random.default_rng(1)
    # a zig-zag chain with irregular bonds and angles, non-bonded pairs inside the LJ range
    angles = np.cumsum(rng.uniform(-1.2, 1.2, size=7))
    steps = rng.uniform(0.85, 1.15, size=(7, 1)) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    r = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    d = np.linalg.norm(r[:, None] - r[None], axis=-1)[np.triu_indices(8, 2)]
    assert d.min() > 0.8 and np.all(np.abs(d - FORCE_PARAMS["lj_cutoff"]) > 1e-3)  # smooth region

    forces = polymer_forces(r.T[:, :, None].copy(), **FORCE_PARAMS)[:, :, 0].T  # (beads, 2)
    h, numeric = 1e-6, np.zeros_like(r)
    for i in range(len(r)):
        for k in range(2):
            plus, minus = r.copy(), r.copy()
            plus[i, k] += h
            minus[i, k] -= h
            numeric[i, k] = -(energy(plus, **FORCE_PARAMS) - energy(minus, **FORCE_PARAMS)) / (2 * h)
    np.testing.assert_allclose(forces, numeric, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(forces.sum(0), 0.0, atol=1e-9)  # internal forces: no net force


def test_lj_force_vanishes_beyond_the_cutoff():
    r = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])  # straight chain, bonds at rest
    at_rest = polymer_forces(r.T[:, :, None].copy(), **{**FORCE_PARAMS, "lj_cutoff": 1.5})
    np.testing.assert_allclose(at_rest, 0.0, atol=1e-12)  # non-bonded pairs are 2 and 3 apart
    inside = polymer_forces(r.T[:, :, None].copy(), **{**FORCE_PARAMS, "lj_cutoff": 2.5})
    assert np.abs(inside).max() > 1e-3  # the same chain feels the pairs at distance 2


def test_same_seed_same_frames_and_different_seed_different_frames():
    a = simulate_polymer(60, seed=5, cache=False, **FAST_SIMULATION)
    b = simulate_polymer(60, seed=5, cache=False, **FAST_SIMULATION)
    c = simulate_polymer(60, seed=6, cache=False, **FAST_SIMULATION)
    assert a.shape == (60, 12, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.5


@pytest.mark.parametrize("n_steps, chunk_steps", [(0, 4), (1, 4), (10, 4), (12, 4), (7, 64)])
def test_thermal_noise_is_the_per_step_stream_drawn_ahead(n_steps, chunk_steps):
    # the background thread must hand out exactly the numbers of one draw per step, in order,
    # and leave the generator where per-step drawing would (the next draw continues the stream)
    shape = (2, 5, 3)
    expected_rng, rng = np.random.default_rng(11), np.random.default_rng(11)
    expected = [expected_rng.standard_normal(shape, dtype=np.float32) for _ in range(n_steps)]
    got = list(simulation.thermal_noise(rng, shape, np.float32, n_steps, chunk_steps=chunk_steps))
    assert len(got) == n_steps
    for e, g in zip(expected, got):
        assert g.shape == shape and g.dtype == np.float32
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(rng.standard_normal(4), expected_rng.standard_normal(4))


@pytest.mark.parametrize("n_frames, n_beads", [(1, 12), (37, 12), (25, 5)])
def test_returns_exactly_the_requested_frames(n_frames, n_beads):
    frames = simulate_polymer(n_frames, n_beads=n_beads, seed=0, cache=False, **FAST_SIMULATION)
    assert frames.shape == (n_frames, n_beads, 2)
    assert np.isfinite(frames).all()


def test_default_ensemble_is_physical(default_paths):
    """Bonds near their rest length, no overlaps, compact coils and extended chains."""
    assert default_paths.shape == (10_000, 12, 2)
    bonds = helpers.bond_lengths(default_paths)
    assert abs(bonds.mean() - DEFAULTS["bond_length"]) < 0.02
    # harmonic bonds at kT = 1, k = 100: thermal fluctuation sqrt(kT / k) = 0.1 sigma
    assert 0.08 < bonds.std() < 0.12
    assert 0.5 < bonds.min() and bonds.max() < 1.5
    # excluded volume: no two non-bonded beads closer than 0.8 sigma in any frame
    assert helpers.min_nonbonded_distance(default_paths).min() > 0.8
    rg = helpers.radius_of_gyration(default_paths)
    assert rg.max() / rg.min() >= 2.5, f"Rg range {rg.min():.2f}-{rg.max():.2f} too narrow"
    # frames are spread: no two consecutive frames of a replica are (nearly) the same
    assert np.abs(np.diff(default_paths, axis=0)).max(axis=(1, 2)).min() > 0.05


def test_frames_of_a_replica_are_nearly_decorrelated(default_paths):
    per_replica = DEFAULTS["frames_per_replica"]
    rg = helpers.radius_of_gyration(default_paths).reshape(-1, per_replica)

    def autocorrelation(lag):
        return np.corrcoef(rg[:, :-lag].ravel(), rg[:, lag:].ravel())[0, 1]

    assert autocorrelation(1) < 0.35
    assert autocorrelation(2) < 0.15
    # equilibrated before sampling: the first frames look like the later ones
    first, rest = rg[:, 0], rg[:, 1:].ravel()
    assert abs(first.mean() - rest.mean()) < 4 * rest.std() / np.sqrt(len(first))


def test_cache_second_call_reads_the_file_and_is_identical(tmp_cache, monkeypatch):
    first = simulate_polymer(100, seed=1, **FAST_SIMULATION)
    files = sorted(tmp_cache.glob("*.npy"))
    assert len(files) == 1
    monkeypatch.setattr(simulation, "_simulate", lambda *args: pytest.fail("a cached ensemble was simulated again"))
    second = simulate_polymer(100, seed=1, **FAST_SIMULATION)
    np.testing.assert_array_equal(first, second)
    assert not list(tmp_cache.glob("*.tmp")) and not list(tmp_cache.glob(".*"))


def test_cache_is_keyed_by_every_parameter(tmp_cache):
    base = simulate_polymer(50, seed=1, **FAST_SIMULATION)
    variants = [
        simulate_polymer(50, seed=2, **FAST_SIMULATION),
        simulate_polymer(50, seed=1, kT=1.5, **FAST_SIMULATION),
        simulate_polymer(50, seed=1, **{**FAST_SIMULATION, "steps_between_frames": 60}),
        simulate_polymer(40, seed=1, **FAST_SIMULATION),
    ]
    assert len(list(tmp_cache.glob("*.npy"))) == 1 + len(variants)
    for v in variants[:3]:
        assert not np.array_equal(base, v)
    # equal values of another type (numpy int seed, int kT) find the same file
    same = simulate_polymer(50, seed=np.int64(1), kT=1, **FAST_SIMULATION)
    np.testing.assert_array_equal(base, same)
    assert len(list(tmp_cache.glob("*.npy"))) == 1 + len(variants)


def test_cache_false_writes_nothing(tmp_cache):
    simulate_polymer(20, seed=1, cache=False, **FAST_SIMULATION)
    assert not tmp_cache.exists() or not any(tmp_cache.iterdir())


def test_simulation_version_is_part_of_the_key(tmp_cache, monkeypatch):
    simulate_polymer(20, seed=1, **FAST_SIMULATION)
    monkeypatch.setattr(simulation, "SIMULATION_VERSION", simulation.SIMULATION_VERSION + 1)
    simulate_polymer(20, seed=1, **FAST_SIMULATION)
    assert len(list(tmp_cache.glob("*.npy"))) == 2


def test_verbose_reports_time_and_rg_range(capsys):
    simulate_polymer(20, seed=1, cache=False, verbose=True, **FAST_SIMULATION)
    out = capsys.readouterr().out
    assert "simulated 20 frames" in out and "radius of gyration" in out


def test_impossible_parameters_raise_instead_of_hanging(monkeypatch):
    """Placing the chains gives up after a bounded number of rounds, before any dynamics."""
    monkeypatch.setattr(simulation, "langevin", lambda *args, **kwargs: pytest.fail("dynamics started"))
    with pytest.raises(ValueError, match="overlapping"):
        simulate_polymer(10, lj_sigma=3.0, cache=False)


def test_unstable_time_step_raises_floating_point_error():
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="dt"):
        simulate_polymer(10, dt=5.0, cache=False, equilibration_steps=50, steps_between_frames=5)
