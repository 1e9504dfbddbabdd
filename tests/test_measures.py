"""Physical measures on numpy and torch, and the validity check against the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers
from helpers.measures import ValidityReport, why_invalid


def rod(n=12, spacing=1.0):
    """A straight chain along x: the textbook case with closed-form answers."""
    return np.stack([np.arange(n) * spacing, np.zeros(n)], axis=1)


def test_closed_form_values_of_a_straight_rod():
    r = rod(12)
    assert helpers.radius_of_gyration(r) == pytest.approx(np.sqrt((12**2 - 1) / 12))
    np.testing.assert_allclose(helpers.bond_lengths(r), np.ones(11))
    assert helpers.end_to_end_distance(r) == pytest.approx(11.0)
    assert helpers.min_nonbonded_distance(r) == pytest.approx(2.0)
    d = helpers.pairwise_distances(r)
    np.testing.assert_allclose(d, np.abs(np.arange(12)[:, None] - np.arange(12)[None]))


def test_radius_of_gyration_subtracts_the_centre_of_mass():
    r = rod(12) + np.array([100.0, -50.0])  # far from the origin
    assert helpers.radius_of_gyration(r) == pytest.approx(np.sqrt((12**2 - 1) / 12))
    square = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]]) + 7.0
    assert helpers.radius_of_gyration(square) == pytest.approx(np.sqrt(2.0))


def test_min_nonbonded_distance_ignores_bonded_neighbours():
    # beads 0-1 and 1-2 are very close (bonded, ignored); beads 0 and 3 are 0.5 apart
    r = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.5, 0.0]])
    assert helpers.min_nonbonded_distance(r) == pytest.approx(0.2)  # the pair (0, 2)
    r = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [0.0, 0.5]])
    assert helpers.min_nonbonded_distance(r) == pytest.approx(0.5)  # the pair (0, 3)


def test_batch_shapes_and_flattened_input(small_paths):
    frames = small_paths[:7]
    flat = frames.reshape(7, 24)
    assert helpers.radius_of_gyration(frames).shape == (7,)
    assert helpers.bond_lengths(frames).shape == (7, 11)
    assert helpers.pairwise_distances(frames).shape == (7, 12, 12)
    assert helpers.min_nonbonded_distance(frames).shape == (7,)
    for f in (
        helpers.radius_of_gyration,
        helpers.bond_lengths,
        helpers.end_to_end_distance,
        helpers.min_nonbonded_distance,
    ):
        np.testing.assert_array_equal(f(flat), f(frames))
    stacked = np.stack([frames, frames])  # extra leading batch axes work too
    assert helpers.radius_of_gyration(stacked).shape == (2, 7)


def test_torch_versions_are_differentiable(small_paths):
    x = torch.tensor(small_paths[:3], requires_grad=True)
    rg = helpers.radius_of_gyration(x)
    rg.sum().backward()
    # analytic gradient: dRg/dr_i = (r_i - r_com) / (N Rg)
    centred = x.detach() - x.detach().mean(1, keepdim=True)
    expected = centred / (12 * rg.detach()[:, None, None])
    torch.testing.assert_close(x.grad, expected)

    for f in (
        helpers.bond_lengths,
        helpers.end_to_end_distance,
        helpers.min_nonbonded_distance,
        helpers.pairwise_distances,
    ):
        y = torch.tensor(small_paths[:2], requires_grad=True)
        f(y).sum().backward()
        assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(helpers.bond_lengths, (torch.tensor(small_paths[:2], requires_grad=True),))


def test_pairwise_distance_gradient_is_finite_on_the_diagonal():
    r = torch.tensor(rod(4), requires_grad=True)
    helpers.pairwise_distances(r).sum().backward()
    assert torch.isfinite(r.grad).all()


# ----------------------------------------------------------------------------- validity


def test_real_frames_are_valid_and_collapsed_ones_are_not(small_split):
    train, test = small_split
    reference = helpers.ValidityReference.from_data(train)
    assert 0.5 < reference.bond_min < 1.0 < reference.bond_max < 1.6
    assert 0.7 < reference.contact_min < 1.1
    report = helpers.validity(test, reference)
    assert report.valid.shape == (len(test),)
    assert report.fraction_valid >= 0.85

    collapsed = test * 0.25  # the "more compact than anything in the data" failure mode
    bad = helpers.validity(collapsed, reference)
    assert bad.fraction_valid == 0.0 and not bad.bonds_ok.any() and not bad.contacts_ok.any()


def test_validity_separates_the_two_failure_modes(small_split):
    train, _ = small_split
    r = rod(12, spacing=1.0)
    report = helpers.validity(r, train)  # the reference can be the data itself
    assert bool(report.valid) and "valid" in str(report) and "INVALID" not in str(report)

    stretched = rod(12, spacing=1.0)
    stretched[6:] += [0.8, 0.0]  # one bond of 1.8 sigma
    report = helpers.validity(stretched, train)
    assert not report.bonds_ok and report.contacts_ok and "INVALID" in str(report)

    # normal bonds, but bead 3 folds back onto bead 0 (0.1 sigma apart)
    head = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.866], [0.0, 0.1]])
    tail = np.stack([-np.arange(1.0, 9.0), np.full(8, 0.1)], axis=1)
    folded = np.concatenate([head, tail])
    report = helpers.validity(folded, train)
    assert report.bonds_ok and not report.contacts_ok and not report.valid
    assert report.contact_min == pytest.approx(0.1)


def test_validity_accepts_torch_and_reports_a_summary(small_split):
    train, test = small_split
    report = helpers.validity(torch.tensor(np.array(test)), train)
    text = str(report)
    assert f"/{len(test)} valid" in text and "%" in text
    assert report.fraction_valid == pytest.approx(np.mean(report.valid))


def test_validity_reference_needs_frames():
    with pytest.raises(ValueError, match="set of frames"):
        helpers.ValidityReference.from_data(rod(12))


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.zeros((5, 3)), ValueError, r"\(\.\.\., beads, 2\) or \(\.\.\., 2 \* beads\)"),
        (np.zeros(2), ValueError, "beads, 2"),
        (np.full((4, 12, 2), np.inf), ValueError, "NaN or infinite"),
        (np.zeros((0, 12, 2)), ValueError, "at least 1 item"),
        ("not coordinates", TypeError, "numpy array or torch tensor"),
        (np.zeros((3, 12, 2), dtype=bool), TypeError, "real numbers"),
    ],
)
def test_bad_input_is_refused(bad, error, message):
    for f in (helpers.radius_of_gyration, helpers.bond_lengths, helpers.min_nonbonded_distance):
        with pytest.raises(error, match=message):
            f(bad)


def test_two_bead_chain_has_no_non_bonded_pairs():
    with pytest.raises(ValueError, match="at least 3 beads"):
        helpers.min_nonbonded_distance(np.zeros((5, 2, 2)))


def _reason(reference, bond_min=1.0, bond_max=1.0, contact=1.5):
    """What ``why_invalid`` says of a report with these extremes (the flags do not matter to it)."""
    report = ValidityReport(
        np.float64(bond_min), np.float64(bond_max), np.float64(contact), False, False, False, reference
    )
    return why_invalid(report, reference)


@pytest.mark.parametrize("below", [1e-3, 1e-5, 4e-9, 1e-12, "next float"])
def test_why_invalid_prints_a_true_comparison_for_a_value_a_hair_below_the_limit(below):
    """Rounding must not print "contact 0.9354 < 0.9354": decimals are added until value and limit
    differ, and past ten decimals both are printed in full (their exact shortest decimals)."""
    reference = helpers.ValidityReference(bond_min=0.7, bond_max=1.3, contact_min=0.9354)
    contact = np.nextafter(0.9354, 0.0) if below == "next float" else 0.9354 - below
    reason = _reason(reference, contact=contact)
    name, value, sign, limit = reason.split()
    assert (name, sign) == ("contact", "<") and value != limit, reason
    assert float(value) < float(limit), f"{reason} reads as false"
    for shown, exact in ((value, contact), (limit, 0.9354)):  # each is its number, rounded to the digits shown
        assert abs(float(shown) - exact) <= 0.5 * 10 ** -len(shown.split(".")[1]) + 1e-15, reason
    if below == 1e-3:
        assert reason == "contact 0.93 < 0.94"  # two decimals where they suffice


def test_why_invalid_prints_a_true_comparison_for_a_bond_a_hair_above_the_limit():
    reference = helpers.ValidityReference(bond_min=0.7, bond_max=1.3, contact_min=0.9354)
    reason = _reason(reference, bond_max=np.nextafter(1.3, 2.0))
    assert reason == "bond 1.3000000000000003 > 1.3"
