"""Physical measures of polymer conformations, for numpy arrays and torch tensors alike.

Every measure accepts coordinates of shape (..., beads, 2) or flattened (..., 2 * beads)
and returns numpy for numpy input and torch (differentiable) for torch input, so the same
code colours a latent map and drives a gradient-based optimisation. ``validity`` judges
conformations against the training data's bonds and contacts; ``why_invalid`` says why one fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_array


def as_coordinates(x, name: str = "conformations"):
    """View ``x`` as (..., beads, 2): flattened (..., 2 * beads) vectors are reshaped."""
    x = check_array(name, x)
    if x.ndim >= 2 and x.shape[-1] == 2:
        return x
    if x.shape[-1] % 2 == 0 and x.shape[-1] >= 4:
        return x.reshape(*x.shape[:-1], -1, 2)
    raise ValueError(f"{name} must have shape (..., beads, 2) or (..., 2 * beads), got {tuple(x.shape)}")


def _norm(v):
    return torch.linalg.vector_norm(v, dim=-1) if isinstance(v, torch.Tensor) else np.linalg.norm(v, axis=-1)


def radius_of_gyration(x):
    """R_g = sqrt(mean_i |r_i - r_com|^2), centre of mass subtracted. Shape (...)."""
    r = as_coordinates(x)
    centred = r - r.mean(-2, keepdims=True) if isinstance(r, np.ndarray) else r - r.mean(-2, keepdim=True)
    return ((centred**2).sum(-1).mean(-1)) ** 0.5


def bond_lengths(x):
    """Distances between consecutive beads. Shape (..., beads - 1)."""
    r = as_coordinates(x)
    return _norm(r[..., 1:, :] - r[..., :-1, :])


def end_to_end_distance(x):
    """Distance between the first and the last bead. Shape (...)."""
    r = as_coordinates(x)
    return _norm(r[..., -1, :] - r[..., 0, :])


def internal_coordinates(x):
    """Bond lengths and directions: (lengths, angles), each (..., beads - 1).

    lengths in bead diameters; angles = direction of each bond against the x axis, in radians.
    ``layers.chain`` rebuilds the centred chain from them.
    """
    r = as_coordinates(x)
    b = r[..., 1:, :] - r[..., :-1, :]
    if isinstance(b, torch.Tensor):
        return _norm(b), torch.atan2(b[..., 1], b[..., 0])
    return _norm(b), np.arctan2(b[..., 1], b[..., 0])


def pairwise_distances(x):
    """All bead-bead distances. Shape (..., beads, beads)."""
    r = as_coordinates(x)
    diff = r[..., :, None, :] - r[..., None, :, :]
    squared = (diff**2).sum(-1)
    if isinstance(squared, torch.Tensor):
        # sqrt has an infinite gradient at 0 (the diagonal): take it of a safe value there and
        # put the exact 0 back, so the values match numpy and every gradient stays finite
        zero = squared == 0
        return torch.where(zero, 0.0, torch.sqrt(torch.where(zero, 1.0, squared)))
    return np.sqrt(squared)


def min_nonbonded_distance(x):
    """Closest approach of two beads that are not bonded (|i - j| >= 2). Shape (...)."""
    d = pairwise_distances(x)
    n = d.shape[-1]
    if n < 3:
        raise ValueError(f"a chain needs at least 3 beads to have non-bonded pairs, got {n}")
    i, j = np.triu_indices(n, k=2)
    pairs = d[..., i, j]
    return pairs.min(-1).values if isinstance(pairs, torch.Tensor) else pairs.min(-1)


@dataclass(frozen=True)
class ValidityReference:
    """What the training data allows: bond range and closest non-bonded contact."""

    bond_min: float  # 1st percentile of each data frame's shortest bond
    bond_max: float  # 99th percentile of each data frame's longest bond
    contact_min: float  # 0.1st percentile of each data frame's closest non-bonded contact

    @classmethod
    def from_data(cls, conformations) -> ValidityReference:
        """Derive the limits from data, shape (frames, beads, 2) or (frames, 2 * beads)."""
        r = as_coordinates(conformations, "reference data")
        if isinstance(r, torch.Tensor):
            r = r.detach().cpu().numpy()
        if r.ndim != 3:
            raise ValueError(f"reference data must be a set of frames (frames, beads, 2), got {r.shape}")
        # percentiles of per-frame extremes, so that ~98% of real frames pass the bond test
        # (percentiles of all bonds pooled would fail ~20% of real 11-bond frames)
        bonds = bond_lengths(r)
        lo, hi = np.percentile(bonds.min(-1), 1), np.percentile(bonds.max(-1), 99)
        contact = np.percentile(min_nonbonded_distance(r), 0.1)
        return cls(float(lo), float(hi), float(contact))


@dataclass(frozen=True)
class ValidityReport:
    """Per-conformation validity; arrays of shape (...) like the input's batch shape."""

    bond_min: np.ndarray
    bond_max: np.ndarray
    contact_min: np.ndarray
    bonds_ok: np.ndarray
    contacts_ok: np.ndarray
    valid: np.ndarray
    reference: ValidityReference

    @property
    def fraction_valid(self) -> float:
        return float(np.mean(self.valid))

    def __str__(self) -> str:
        ref = self.reference
        if np.ndim(self.valid) == 0:
            return (
                f"{'valid' if self.valid else 'INVALID'}: bonds {self.bond_min:.2f}-{self.bond_max:.2f} "
                f"(data {ref.bond_min:.2f}-{ref.bond_max:.2f}), closest contact {self.contact_min:.2f} "
                f"(data >= {ref.contact_min:.2f})"
            )
        return (
            f"{np.sum(self.valid)}/{np.size(self.valid)} valid ({100 * self.fraction_valid:.1f}%): "
            f"{np.mean(self.bonds_ok):.1%} with all bonds in {ref.bond_min:.2f}-{ref.bond_max:.2f}, "
            f"{np.mean(self.contacts_ok):.1%} with no contact closer than {ref.contact_min:.2f}"
        )


def validity(conformations, reference) -> ValidityReport:
    """Check conformations against the training data's bond lengths and contacts.

    Args:
        conformations: (..., beads, 2) or (..., 2 * beads), numpy or torch.
        reference: a ``ValidityReference`` or the training conformations themselves.

    A conformation is valid when its shortest and longest bonds lie within the 1st-99th
    percentile of the data's per-frame shortest and longest bonds, and no two non-bonded
    beads come closer than in 99.9% of the data frames. About 98% of real frames pass.
    """
    if not isinstance(reference, ValidityReference):
        reference = ValidityReference.from_data(reference)
    r = as_coordinates(conformations)
    if isinstance(r, torch.Tensor):
        r = r.detach().cpu().numpy()
    bonds = bond_lengths(r)
    contact = min_nonbonded_distance(r)
    bmin, bmax = bonds.min(-1), bonds.max(-1)
    bonds_ok = (bmin >= reference.bond_min) & (bmax <= reference.bond_max)
    contacts_ok = contact >= reference.contact_min
    return ValidityReport(bmin, bmax, contact, bonds_ok, contacts_ok, bonds_ok & contacts_ok, reference)


def _compared(value: float, sign: str, limit: float) -> str:
    """ "0.54 < 0.69": two decimals, more where two would print value and limit alike (up to ten),
    and where even ten do, each number in full (its shortest exact decimal form, as ``repr`` gives it).

    Rounding keeps the order, so once the two print differently the printed comparison is true."""
    value, limit = float(value), float(limit)
    for digits in range(2, 11):
        shown, bound = f"{value:.{digits}f}", f"{limit:.{digits}f}"
        if shown != bound:
            return f"{shown} {sign} {bound}"
    return f"{value!r} {sign} {limit!r}"  # distinct floats have distinct reprs


def why_invalid(report: ValidityReport, reference: ValidityReference) -> str:
    """Why one conformation fails ``validity``, the failing measure against the data's limit:
    "bond 0.54 < 0.69" (shortest bond), "bond 1.41 > 1.32" (longest), "contact 0.81 < 0.93",
    or "" when it is valid. More decimals appear where two would not tell value and limit apart
    ("bond 0.687 < 0.689", "contact 0.9353999 < 0.9354000"), so the comparison printed is always true."""
    if report.bond_min < reference.bond_min:
        return f"bond {_compared(float(report.bond_min), '<', reference.bond_min)}"
    if report.bond_max > reference.bond_max:
        return f"bond {_compared(float(report.bond_max), '>', reference.bond_max)}"
    if report.contact_min < reference.contact_min:
        return f"contact {_compared(float(report.contact_min), '<', reference.contact_min)}"
    return ""
