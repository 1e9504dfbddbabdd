"""The synthetic protein family and the one-hot encoding used by the sequence models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers


def test_family_is_deterministic_and_well_formed():
    seqs, labels = helpers.synthetic_family(300, length=40, n_subfamilies=3, seed=0)
    again, again_labels = helpers.synthetic_family(300, length=40, n_subfamilies=3, seed=0)
    other, _ = helpers.synthetic_family(300, length=40, n_subfamilies=3, seed=1)
    assert seqs.shape == (300, 40) and labels.shape == (300,)
    assert seqs.dtype == labels.dtype == np.int64
    assert seqs.min() >= 0 and seqs.max() <= 19 and set(labels.tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(seqs, again)
    np.testing.assert_array_equal(labels, again_labels)
    assert (seqs != other).mean() > 0.5


def test_family_has_subfamily_structure_and_conserved_sites():
    seqs, labels = helpers.synthetic_family(600, length=40, n_subfamilies=3, seed=2)
    identity = (seqs[:, None, :] == seqs[None, :, :]).mean(-1)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(seqs), dtype=bool)
    within, across = identity[same & off_diagonal].mean(), identity[~same].mean()
    assert within > across + 0.1  # members of a subfamily resemble each other more
    assert within < 0.9 and len({tuple(row) for row in seqs}) > 0.9 * len(seqs)  # ... but are not copies
    assert across > 3 / 20  # but all share the ancestor: far above random (1/20)
    # some positions are conserved: the most common residue dominates there
    top = np.array([np.bincount(col, minlength=20).max() for col in seqs.T]) / len(seqs)
    assert top.max() > 0.8 and top.min() < top.max() - 0.2


def test_one_hot_and_strings_round_trip():
    seqs, _ = helpers.synthetic_family(5, length=12, seed=0)
    x = helpers.one_hot(seqs)
    assert x.shape == (5, 12, 20) and x.dtype == torch.float32
    torch.testing.assert_close(x.sum(-1), torch.ones(5, 12))
    np.testing.assert_array_equal(x.argmax(-1).numpy(), seqs)
    strings = helpers.to_strings(seqs)
    assert len(strings) == 5 and all(len(s) == 12 for s in strings)
    assert [[helpers.AMINO_ACIDS.index(c) for c in s] for s in strings] == seqs.tolist()
    assert helpers.to_strings([[0, 1, 2, 19]]) == ["ACDY"]
    torch.testing.assert_close(helpers.one_hot([[0, 19]]), helpers.one_hot(torch.tensor([[0, 19]])))
    assert len(helpers.AMINO_ACIDS) == len(set(helpers.AMINO_ACIDS)) == 20


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ([[0, 20]], ValueError, r"residue indices 0\.\.19, got values 0 to 20"),
        ([[-1, 3]], ValueError, "residue indices"),
        ([[0.0, 1.0]], TypeError, "integer residue indices"),
        ([0, 1, 2], ValueError, "2 dimensions"),
        ([[0, 1], [2]], ValueError, "uneven lengths"),
        ("ACD", TypeError, "numpy array or torch tensor"),
    ],
)
def test_bad_sequences_are_refused(bad, error, message):
    with pytest.raises(error, match=message):
        helpers.one_hot(bad)
    with pytest.raises(error, match=message):
        helpers.to_strings(bad)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_sequences=0), ValueError),
        (dict(length=1), ValueError),
        (dict(seed=None), TypeError),
        (dict(n_subfamilies=1.5), TypeError),
    ],
)
def test_bad_family_options_are_refused(kwargs, error):
    with pytest.raises(error):
        helpers.synthetic_family(**kwargs)
