"""Property-based tests (hypothesis): preprocessing invariances and the physics measures.

Chains are generated from random bond lengths and turning angles, so they cover far more
shapes than the simulated ensemble. Examples are derandomised (the same every run) and no
example database is written, so the suite stays deterministic and leaves no files behind.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import helpers

SETTINGS = settings(max_examples=60, deadline=None, database=None, derandomize=True)
MEASURES = (  # every length-valued measure: numpy in, numpy out; torch in, torch out
    helpers.radius_of_gyration,
    helpers.bond_lengths,
    helpers.end_to_end_distance,
    helpers.min_nonbonded_distance,
    helpers.pairwise_distances,
)

angles = st.floats(-np.pi, np.pi, allow_nan=False)
translations = st.tuples(st.floats(-100, 100), st.floats(-100, 100))
scales = st.floats(0.05, 20.0)


@st.composite
def chains(draw, min_beads=4, max_beads=14):
    """A 2-D chain (beads, 2): bonds of 0.6-1.4 sigma, turning angles up to +-150 degrees."""
    n = draw(st.integers(min_beads, max_beads))
    bonds = np.array(draw(st.lists(st.floats(0.6, 1.4), min_size=n - 1, max_size=n - 1)))
    turns = np.array(draw(st.lists(st.floats(-2.6, 2.6), min_size=n - 1, max_size=n - 1)))
    heading = np.cumsum(turns)
    steps = bonds[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    return np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])


def rotate(r, angle):
    c, s = np.cos(angle), np.sin(angle)
    return r @ np.array([[c, s], [-s, c]])


def well_defined(r, mirror=False):
    """True when the alignment is unambiguous: distinct principal axes, a clear left-right order."""
    aligned = helpers.align_principal(r[None])[0]
    sxx, syy = (aligned**2).sum(0)
    index = np.arange(len(r)) - (len(r) - 1) / 2
    corr = np.abs(index @ aligned) / (np.linalg.norm(index) * np.linalg.norm(aligned, axis=0) + 1e-300)
    return (sxx - syy) / (sxx + syy) > 1e-2 and corr[0] > 1e-2 and (not mirror or corr[1] > 1e-2)


# ----------------------------------------------------------------------------- preprocessing


@SETTINGS
@given(chains(), angles, translations)
def test_preprocess_is_invariant_to_rotation_and_translation(r, angle, shift):
    assume(well_defined(r))
    moved = rotate(r, angle) + np.array(shift)
    np.testing.assert_allclose(helpers.preprocess(moved[None]), helpers.preprocess(r[None]), atol=2e-4)


@SETTINGS
@given(chains(), angles, translations)
def test_resolve_mirror_is_also_invariant_to_reflection(r, angle, shift):
    assume(well_defined(r, mirror=True))
    mirrored = rotate(r * [1.0, -1.0], angle) + np.array(shift)
    out = helpers.preprocess(mirrored[None], resolve_mirror=True)
    np.testing.assert_allclose(out, helpers.preprocess(r[None], resolve_mirror=True), atol=2e-4)
    # ... while the default keeps the mirror image distinct
    np.testing.assert_allclose(
        helpers.unflatten(helpers.preprocess(mirrored[None])),
        helpers.unflatten(helpers.preprocess(r[None])) * [1, -1],
        atol=2e-4,
    )


@SETTINGS
@given(chains(), scales)
def test_preprocess_is_scale_equivariant_and_preserves_shape(r, s):
    assume(well_defined(r))
    out = helpers.preprocess((s * r)[None])
    np.testing.assert_allclose(out, s * helpers.preprocess(r[None]), rtol=1e-5, atol=1e-5 * s)
    aligned = helpers.unflatten(out)[0].astype(np.float64)
    np.testing.assert_allclose(helpers.pairwise_distances(aligned), helpers.pairwise_distances(s * r), atol=1e-4 * s)


# ----------------------------------------------------------------------------- measures


@SETTINGS
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=3, max_size=16))
def test_radius_of_gyration_is_non_negative_for_any_coordinates(points):
    r = np.array(points)
    rg = helpers.radius_of_gyration(r)
    assert rg >= 0 and np.isfinite(rg)
    assert rg <= np.linalg.norm(r - r.mean(0), axis=1).max() + 1e-9  # an rms never exceeds the max


@SETTINGS
@given(chains(), angles, translations)
def test_measures_are_invariant_to_rigid_motions(r, angle, shift):
    moved = rotate(r, angle) + np.array(shift)
    scale = 1e-9 * (1 + np.abs(shift).max())
    for f in (helpers.radius_of_gyration, helpers.end_to_end_distance, helpers.min_nonbonded_distance):
        np.testing.assert_allclose(f(moved), f(r), atol=scale)
    np.testing.assert_allclose(helpers.bond_lengths(moved), helpers.bond_lengths(r), atol=scale)


@SETTINGS
@given(chains(), scales)
def test_lengths_scale_linearly(r, s):
    for f in MEASURES:
        np.testing.assert_allclose(f(s * r), s * f(r), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(chains())
def test_measures_agree_with_each_other(r):
    n = len(r)
    d = helpers.pairwise_distances(r)
    # R_g^2 = 1 / (2 N^2) sum_ij |r_i - r_j|^2
    np.testing.assert_allclose(helpers.radius_of_gyration(r) ** 2, (d**2).sum() / (2 * n**2), rtol=1e-10)
    np.testing.assert_allclose(helpers.bond_lengths(r), np.diag(d, 1), rtol=1e-12)
    assert helpers.end_to_end_distance(r) <= helpers.bond_lengths(r).sum() + 1e-9  # triangle inequality
    non_bonded = d[np.triu_indices(n, 2)]
    assert helpers.min_nonbonded_distance(r) == non_bonded.min()


@SETTINGS
@given(st.lists(chains(min_beads=6, max_beads=6), min_size=1, max_size=5))
def test_numpy_and_torch_agree(frames):
    r = np.stack(frames)
    t = torch.tensor(r)
    for f in MEASURES:
        out = f(t)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), f(r), rtol=1e-9, atol=1e-9)


@settings(max_examples=15, deadline=None, database=None, derandomize=True)
@given(chains(max_beads=8))
def test_torch_measures_have_correct_gradients(r):
    for f in (helpers.radius_of_gyration, helpers.bond_lengths, helpers.end_to_end_distance):
        x = torch.tensor(r, requires_grad=True)
        assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5)
    x = torch.tensor(r, requires_grad=True)
    helpers.min_nonbonded_distance(x).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- losses

latent = st.integers(1, 4)
finite = st.floats(-20, 20)


@SETTINGS
@given(st.data(), latent)
def test_kl_is_non_negative_and_both_parameterisations_agree(data, dim):
    mu = torch.tensor(data.draw(st.lists(finite, min_size=dim, max_size=dim)), dtype=torch.float64)
    log_sigma = torch.tensor(data.draw(st.lists(st.floats(-5, 3), min_size=dim, max_size=dim)), dtype=torch.float64)
    sigma = log_sigma.exp()
    kl = helpers.kl_divergence(mu[None], sigma[None])
    assert kl.item() >= -1e-12
    torch.testing.assert_close(kl, helpers.kl_divergence(mu[None], logvar=2 * log_sigma[None]))
