"""polymer_energy: the simulator's own potential, numpy and differentiable torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers
from helpers.energy import polymer_energy, relax
from helpers.simulation import DEFAULTS, polymer_forces

FORCES = {k: DEFAULTS[k] for k in ("bond_k", "bond_length", "bend_k", "lj_epsilon", "lj_sigma", "lj_cutoff")}


@pytest.mark.parametrize("params", [{}, dict(bond_k=50.0, bend_k=0.5, lj_epsilon=0.3, kT=2.0)])
def test_minus_the_gradient_is_the_simulators_force_on_real_frames(small_paths, params):
    frames = small_paths[:50]
    kT = params.get("kT", 1.0)
    r = torch.tensor(frames, dtype=torch.float64, requires_grad=True)
    polymer_energy(r, **params).sum().backward()
    force = -r.grad.numpy() * kT  # energy is in kT; polymer_forces in epsilon / sigma
    expected = polymer_forces(
        frames.transpose(2, 1, 0).copy(), **{**FORCES, **{k: v for k, v in params.items() if k != "kT"}}
    )
    np.testing.assert_allclose(force, expected.transpose(2, 1, 0), rtol=1e-7, atol=1e-8)


def test_numpy_and_torch_agree_and_shapes_follow_the_input(small_paths):
    frames = small_paths[:7]
    e_np = polymer_energy(frames)
    e_t = polymer_energy(torch.tensor(frames))
    assert e_np.shape == (7,) and isinstance(e_np, np.ndarray)
    np.testing.assert_allclose(e_t.numpy(), e_np, rtol=1e-12)
    np.testing.assert_allclose(polymer_energy(frames.reshape(7, -1)), e_np)  # flattened input
    np.testing.assert_allclose(polymer_energy(frames[None]), e_np[None])  # extra batch axis
    assert np.ndim(polymer_energy(frames[0])) == 0


def test_hand_computed_energies():
    straight = np.stack([np.arange(4.0), np.zeros(4)], -1)  # bonds at rest, no bending, LJ at r >= 2
    cut6 = (1 / 2.5) ** 6
    lj2 = 4 * 1.2 * ((1 / 2**12) - (1 / 2**6)) - 4 * 1.2 * (cut6**2 - cut6)  # pairs at r = 2
    assert polymer_energy(straight) == pytest.approx(2 * lj2)  # (0,2) and (1,3); (0,3) at r = 3 > cutoff
    stretched = straight * 1.1
    assert polymer_energy(stretched, lj_epsilon=0.0) == pytest.approx(3 * 0.5 * 100 * 0.1**2)
    bent = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # a right angle: cos = 0
    assert polymer_energy(bent, lj_epsilon=0.0) == pytest.approx(2.0)
    assert polymer_energy(bent, lj_epsilon=0.0, kT=2.0) == pytest.approx(1.0)


def test_real_frames_cost_a_few_kt_and_overlaps_cost_a_lot(small_paths):
    e = polymer_energy(small_paths)
    assert np.all(np.isfinite(e)) and np.median(e) < 30
    squashed = small_paths[:20] * 0.5  # beads at half a diameter overlap
    assert np.all(polymer_energy(squashed) > 10 * np.median(e))


@pytest.mark.parametrize(
    "conformations, params, error, match",
    [
        (np.zeros((3, 5)), {}, ValueError, "shape"),
        (np.full((2, 4, 2), np.nan), {}, ValueError, "finite|NaN"),
        ("abc", {}, TypeError, "array|tensor"),
        (np.zeros((2, 4, 2)), dict(bond_kk=1.0), ValueError, "unknown force-field parameter"),
        (np.zeros((2, 4, 2)), dict(kT=0.0), ValueError, "kT must be"),
        (np.zeros((2, 4, 2)), dict(bend_k=-1.0), ValueError, "bend_k must be"),
        (np.zeros((2, 4, 2)), dict(lj_sigma="1"), TypeError, "lj_sigma must be a number"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(conformations, params, error, match):
    with pytest.raises(error, match=match):
        polymer_energy(conformations, **params)


# ----------------------------------------------------------------------------- relax


def test_relax_without_noise_lowers_every_energy_and_separates_overlaps(small_paths):
    squashed = small_paths[:30] * 0.8  # short bonds, beads too close
    relaxed = relax(squashed, steps=50, temperature=0.0)
    assert relaxed.shape == squashed.shape and relaxed.dtype == np.float64
    assert np.all(polymer_energy(relaxed) < polymer_energy(squashed))
    np.testing.assert_allclose(relaxed.mean(1), 0.0, atol=1e-12)
    assert helpers.min_nonbonded_distance(relaxed).min() > helpers.min_nonbonded_distance(squashed).min()


def test_relax_caps_the_drift_so_overlapping_beads_do_not_fly_apart():
    overlap = np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.05, 0.0]]])  # beads 0 and 3 nearly on top
    assert polymer_energy(overlap)[0] > 1e10
    one = relax(overlap, steps=1, max_step=0.03, temperature=0.0)
    moved = np.linalg.norm((one - one.mean(1)) - (overlap - overlap.mean(1)), axis=-1)
    assert moved.max() <= 2 * 0.03 + 1e-12  # each bead's drift is capped (centring can add as much again)
    relaxed = relax(overlap, steps=200, temperature=0.0)
    assert np.isfinite(relaxed).all() and polymer_energy(relaxed)[0] < 10


def test_relax_is_deterministic_for_a_seed_and_keeps_the_input_type(small_paths):
    frames = small_paths[:20]
    a, b = relax(frames, seed=3), relax(frames, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, relax(frames, seed=4))
    t = relax(torch.tensor(frames), seed=3)
    assert isinstance(t, torch.Tensor) and not t.requires_grad
    np.testing.assert_allclose(t.numpy(), a)
    np.testing.assert_allclose(relax(frames.reshape(20, -1), seed=3), a)  # flattened input
    assert np.isfinite(frames).all() and not np.shares_memory(a, frames)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(conformations=np.zeros((3, 5))), ValueError, "shape"),
        (dict(conformations=np.full((2, 4, 2), np.nan)), ValueError, "finite|NaN"),
        (dict(conformations=np.zeros((4, 2))), ValueError, "shape"),
        (dict(steps=0), ValueError, "steps must be >= 1"),
        (dict(step_size=-1e-3), ValueError, "step_size must be"),
        (dict(max_step=0.0), ValueError, "max_step must be"),
        (dict(temperature=-1.0), ValueError, "temperature must be"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(bond_kk=1.0), ValueError, "unknown force-field parameter"),
    ],
)
def test_relax_refuses_bad_input(kwargs, error, match):
    kwargs = {"conformations": np.stack([np.arange(4.0), np.zeros(4)], -1)[None], **kwargs}
    with pytest.raises(error, match=match):
        relax(**kwargs)
