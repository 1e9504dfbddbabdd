"""Notebook 08's exercise checks (helpers.exercises.valid_generation): the answers each must
accept, the misconceptions each must reject (with a hint that names them), and no reference
answer in the student edition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test

import helpers
from helpers.exercises import valid_generation as exercises

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "08_valid_generation.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "08_valid_generation.ipynb"
DATA_REFERENCE = helpers.ValidityReference.from_data(
    helpers.unflatten(helpers.preprocess(helpers.load_paths()))
)  # the notebook's


# ----------------------------------------------------------------------------- 8.1


def _wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def _wrapped_in_place(a):
    """Right length, but the caller's angles are wrapped to [0, 2 pi) on the way."""
    a %= 2 * np.pi
    return np.hypot(np.cos(a).mean(-1), np.sin(a).mean(-1))


def _projected_on_the_mean_angle(a):
    """The mean vector's component along the wrapped arithmetic mean angle: the length whenever that
    angle is the mean vector's direction (two angles 0.3, 1.1), the x component for two at +-2.5
    (mean angle 0). Not the x components on every angle set, so that hint must not appear."""
    return np.cos(a - _wrap(a.mean(-1))[..., None]).mean(-1)


def test_check_mean_resultant_length():
    assert_table(
        exercises.check_mean_resultant_length,
        accept={
            "length of the mean of (cos, sin)": lambda a: np.hypot(np.cos(a).mean(-1), np.sin(a).mean(-1)),
            "complex numbers": lambda a: np.abs(np.mean(np.exp(1j * a), axis=-1)),
            "torch, sqrt of squares": lambda a: torch.sqrt(
                torch.cos(torch.as_tensor(a)).mean(-1) ** 2 + torch.sin(torch.as_tensor(a)).mean(-1) ** 2
            ),
        },
        reject={
            "the placeholder": (lambda a: 1.0, None),
            "cosine of the mean angle": (lambda a: np.cos(np.mean(a, axis=-1)), "averaged the angles"),
            "the x components only": (lambda a: np.mean(np.cos(a), axis=-1), "sin"),
            "the length of the sum": (lambda a: np.hypot(np.cos(a).sum(-1), np.sin(a).sum(-1)), "sum"),
            "the squared length": (lambda a: np.cos(a).mean(-1) ** 2 + np.sin(a).mean(-1) ** 2, "square root"),
            "the circular variance": (lambda a: 1 - np.abs(np.exp(1j * a).mean(-1)), "circular variance"),
            "degrees converted again": (lambda a: np.abs(np.exp(1j * np.radians(a)).mean(-1)), "radians"),
            "the mean vector": (lambda a: np.stack([np.cos(a).mean(-1), np.sin(a).mean(-1)], -1), "length"),
            "averaged over the first axis": (lambda a: np.abs(np.exp(1j * a).mean(0)), "last axis"),
            # invented while playing the student
            "mean of |cos| and |sin| added": (lambda a: np.abs(np.cos(a)).mean(-1) + np.abs(np.sin(a)).mean(-1), None),
            "mean of the pairwise cosines": (lambda a: np.cos(a[..., :, None] - a[..., None, :]).mean((-1, -2)), None),
            "cosine of the spread": (lambda a: np.cos(np.std(a, axis=-1)), None),
            "a function that raises": (lambda a: a.nope, "raised"),
            "projection on the wrapped mean angle (the x components on one angle set only)": (
                _projected_on_the_mean_angle,
                "another length",
            ),
            "right length, input wrapped in place": (_wrapped_in_place, "in place"),
            "right length, computed into the input (out=)": (
                lambda a: np.hypot(np.cos(a).mean(-1), np.sin(a, out=a).mean(-1)),
                "in place",
            ),
            "right length, averaged axis kept (keepdims)": (
                lambda a: np.abs(np.exp(1j * a).mean(-1, keepdims=True)),
                "averaged axis is still there",
            ),
        },
    )


def test_the_texts_bond_resultant_is_near_the_cartesian_decoders_bond_length():
    model, _ = helpers.load_pretrained("polymer_vae")
    resultant = exercises.bond_resultant(model)
    assert 0.7 < resultant < 0.95


# ----------------------------------------------------------------------------- 8.2


def _intended(weights, means, covariances, n, rng):
    pick = rng.choice(len(weights), size=n, p=weights)
    scale = np.linalg.cholesky(covariances)
    return means[pick] + (scale[pick] @ rng.standard_normal((n, means.shape[1]))[..., None])[..., 0]


def _by_counts(weights, means, covariances, n, rng):
    counts = rng.multinomial(n, weights)
    parts = [rng.multivariate_normal(m, c, size=k) for m, c, k in zip(means, covariances, counts)]
    return rng.permutation(np.concatenate(parts))


def _eigen(weights, means, covariances, n, rng):
    values, vectors = np.linalg.eigh(covariances)
    scale = vectors * np.sqrt(values)[:, None, :]
    pick = rng.choice(len(weights), size=n, p=weights)
    return means[pick] + np.einsum("nij,nj->ni", scale[pick], rng.standard_normal((n, means.shape[1])))


def _single_gaussian(weights, means, covariances, n, rng):
    mean = weights @ means
    cov = sum(w * (c + np.outer(m - mean, m - mean)) for w, m, c in zip(weights, means, covariances))
    return rng.multivariate_normal(mean, cov, size=n)


def _per_coordinate(weights, means, covariances, n, rng):
    pick = rng.choice(len(weights), size=(n, means.shape[1]), p=weights)
    noise = (
        rng.standard_normal((n, means.shape[1]))
        * np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))[pick, np.arange(means.shape[1])]
    )
    return means[pick, np.arange(means.shape[1])] + noise


def _shared_noise(weights, means, covariances, n, rng):
    pick = rng.choice(len(weights), size=n, p=weights)
    return means[pick] + np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))[pick] * rng.standard_normal((n, 1))


def _diagonal(weights, means, covariances, n, rng):
    pick = rng.choice(len(weights), size=n, p=weights)
    sd = np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))
    return means[pick] + sd[pick] * rng.standard_normal((n, means.shape[1]))


def _elementwise_sqrt(weights, means, covariances, n, rng):
    pick = rng.choice(len(weights), size=n, p=weights)
    return (
        means[pick] + (np.sqrt(np.abs(covariances))[pick] @ rng.standard_normal((n, means.shape[1]))[..., None])[..., 0]
    )


def _equal_weights(weights, means, covariances, n, rng):
    return _intended(np.full(len(weights), 1 / len(weights)), means, covariances, n, rng)


def _rounded_counts(weights, means, covariances, n, rng):
    counts = np.round(np.asarray(weights) * n).astype(int)
    parts = [rng.multivariate_normal(m, c, size=k) for m, c, k in zip(means, covariances, counts)]
    return rng.permutation(np.concatenate(parts))[:n]


def _in_blocks(weights, means, covariances, n, rng):
    counts = rng.multinomial(n, weights)
    return np.concatenate([rng.multivariate_normal(m, c, size=k) for m, c, k in zip(means, covariances, counts)])


def _global_random(weights, means, covariances, n, rng):
    return _intended(weights, means, covariances, n, np.random.default_rng())


def test_check_sample_mixture():
    assert_table(
        exercises.check_sample_mixture,
        accept={
            "choose, then Cholesky": _intended,
            "counts per component, then shuffle": _by_counts,
            "eigen-decomposition as the square root": _eigen,
        },
        reject={
            "the placeholder": (lambda w, m, c, n, rng: np.zeros((n, 2)), None),
            "one Gaussian with the mixture's moments": (_single_gaussian, "hole"),
            "a component chosen per coordinate": (_per_coordinate, "per draw"),
            "one noise number shared by both axes": (_shared_noise, "shared"),
            "only the covariance's diagonal": (_diagonal, "diagonal"),
            "elementwise square root of the covariance": (_elementwise_sqrt, "elementwise"),
            "equal weights": (_equal_weights, "weights"),
            "the means without noise": (lambda w, m, c, n, rng: m[rng.choice(len(w), size=n, p=w)], "noise"),
            "not the rng given": (_global_random, "rng"),
            "counts rounded from the weights (not n draws)": (_rounded_counts, "exactly n"),
            "one component after the other, not shuffled": (_in_blocks, "blocks"),
            # invented while playing the student
            "covariance instead of its square root": (
                lambda w, m, c, n, rng: (
                    m[(p := rng.choice(len(w), size=n, p=w))]
                    + (c[p] @ rng.standard_normal((n, m.shape[1]))[..., None])[..., 0]
                ),
                None,
            ),
            "the components' means averaged with the weights": (lambda w, m, c, n, rng: np.tile(w @ m, (n, 1)), None),
            "transposed Cholesky factor (upper)": (
                lambda w, m, c, n, rng: (
                    m[(p := rng.choice(len(w), size=n, p=w))]
                    + (np.linalg.cholesky(c).transpose(0, 2, 1)[p] @ rng.standard_normal((n, m.shape[1]))[..., None])[
                        ..., 0
                    ]
                ),
                None,
            ),
            "draws in the wrong shape": (lambda w, m, c, n, rng: _intended(w, m, c, n, rng).T, "shape"),
        },
    )


# ----------------------------------------------------------------------------- 8.3


def _intended_hits(x, target, reference):
    valid = helpers.validity(x, reference).valid
    return float(np.mean(valid & (np.abs(helpers.radius_of_gyration(x) - target) <= 0.15)))


def _loop_hits(x, target, reference):
    hits = 0
    for conformation in x:
        report = helpers.validity(conformation, reference)
        near = abs(helpers.radius_of_gyration(conformation) - target) <= 0.15
        hits += bool(report.valid) and near
    return hits / len(x)


def _torch_hits(x, target, reference):
    rg = helpers.radius_of_gyration(torch.as_tensor(x))
    valid = torch.as_tensor(helpers.validity(x, reference).valid)
    return (valid & ((rg - target).abs() <= 0.15)).double().mean()


def test_check_hit_rate():
    v = lambda x, r: helpers.validity(x, r).valid  # noqa: E731
    rg = helpers.radius_of_gyration
    assert_table(
        exercises.check_hit_rate,
        accept={"valid and near, as arrays": _intended_hits, "a loop over draws": _loop_hits, "torch": _torch_hits},
        reject={
            "the placeholder": (lambda x, t, r: 0.0, None),
            "no return (None)": (lambda x, t, r: None, "None or NaN"),
            "NaN": (lambda x, t, r: float("nan"), "None or NaN"),
            "the notebook's hit_mask, averaged": (
                lambda x, t, r: exercises.hit_mask(x, t, r).mean(),
                "hit_mask",
            ),
            "validity only": (lambda x, t, r: v(x, r).mean(), "valid draws"),
            "nearness only": (lambda x, t, r: np.mean(np.abs(rg(x) - t) <= 0.15), "valid polymer"),
            "the product of the shares": (
                lambda x, t, r: v(x, r).mean() * np.mean(np.abs(rg(x) - t) <= 0.15),
                "independent",
            ),
            "a count": (lambda x, t, r: np.sum(v(x, r) & (np.abs(rg(x) - t) <= 0.15)), "count"),
            "R_g without the centre of mass": (
                lambda x, t, r: np.mean(v(x, r) & (np.abs(np.sqrt((x**2).sum(-1).mean(-1)) - t) <= 0.15)),
                "centre of mass",
            ),
            "end-to-end distance": (
                lambda x, t, r: np.mean(v(x, r) & (np.abs(helpers.end_to_end_distance(x) - t) <= 0.15)),
                "end-to-end",
            ),
            "the mean R_g of all draws": (lambda x, t, r: v(x, r).mean() * (abs(rg(x).mean() - t) <= 0.15), "mean R_g"),
            "the reference argument ignored (one built from the data)": (
                lambda x, t, r: np.mean(v(x, DATA_REFERENCE) & (np.abs(rg(x) - t) <= 0.15)),
                None,
            ),
            # invented while playing the student
            "one value per draw": (lambda x, t, r: v(x, r) & (np.abs(rg(x) - t) <= 0.15), "one number"),
            "a tolerance of 0.1": (lambda x, t, r: np.mean(v(x, r) & (np.abs(rg(x) - t) <= 0.1)), None),
            "relative tolerance 15%": (lambda x, t, r: np.mean(v(x, r) & (np.abs(rg(x) - t) <= 0.15 * t)), None),
            "validity against the draws themselves": (
                lambda x, t, r: np.mean(helpers.validity(x, x).valid & (np.abs(rg(x) - t) <= 0.15)),
                None,
            ),
        },
    )


# ----------------------------------------------------------------------------- no answers in the student edition


test_no_reference_answer_in_the_student_edition = student_edition_test(
    INSTRUCTOR,
    STUDENT,
    [
        "np.exp(1j",
        "np.hypot(np.cos(",
        "np.linalg.cholesky(covariances)",
        "rng.choice(len(weights)",
        "(np.abs(helpers.radius_of_gyration(",
    ],
)
