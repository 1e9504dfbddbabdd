"""Self-checks of notebook 08, generating valid polymers.

    from helpers.exercises import valid_generation as exercises
    exercises.check_mean_resultant_length(mean_resultant_length)  # 8.1: how much averaging shortens a bond
    exercises.check_sample_mixture(sample_mixture)                # 8.2: draw from a Gaussian mixture prior
    exercises.check_hit_rate(hit_rate)                            # 8.3: the share of targeted draws that hit

Each check calls your function on angles, mixtures and conformations that the notebook never
shows, computes the expected result itself and compares. When a wrong result matches a known
mistake (averaging the angles themselves, one Gaussian instead of a mixture, a component chosen
per coordinate, the fractions multiplied, ...), the hint names it. ``bond_resultant`` is the
measurement the notebook's text uses after Exercise 8.1, ``hit_mask`` the one after 8.3.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from ..data import load_paths, preprocess, train_test_split, unflatten
from ..measures import ValidityReference, end_to_end_distance, radius_of_gyration, validity
from ._verdict import accepted, as_array, exercise_check

TOLERANCE = 0.15  # bead diameters: a targeted draw "hits" when valid and this close to the target R_g


def _resultant(angles: np.ndarray) -> np.ndarray:
    return np.abs(np.exp(1j * np.asarray(angles, dtype=float)).mean(-1))


# ----------------------------------------------------------------------------- Exercise 8.1

_RNG_81 = np.random.default_rng(81)
_ANGLE_SETS = [
    np.array([0.3, 1.1]),  # not symmetric about 0: the sines matter
    np.array([2.5, -2.5]),  # both near pi: their average angle, 0, points the other way
    _RNG_81.vonmises(0.7, 3.0, size=(5, 9)),  # a batch: one result per row
    _RNG_81.uniform(-np.pi, np.pi, size=(2, 3, 40)),
]


_X_ONLY = "only the x components (cos): a mean vector has a y component too (sin)"
_RESULTANT_MISTAKES = [  # (what the mistake computes from angles (..., k), its hint)
    (
        lambda a: np.cos(a.mean(-1)),
        "you averaged the angles and took the cosine: the mean of two angles near "
        "+pi and -pi is 0, the opposite direction; average the unit vectors instead",
    ),
    (lambda a: np.abs(np.cos(a).mean(-1)), _X_ONLY),
    (lambda a: np.cos(a).mean(-1), _X_ONLY),
    (
        lambda a: a.shape[-1] * _resultant(a),
        "that is the length of the sum of the vectors: divide by their number (the mean, not the sum)",
    ),
    (lambda a: _resultant(a) ** 2, "that is the squared length of the mean vector: take the square root"),
    (lambda a: 1 - _resultant(a), "that is 1 - R, the circular variance: return the length R itself"),
    (lambda a: _resultant(np.radians(a)), "the angles are already in radians: do not convert them again"),
]


def _diagnose_resultant(outputs) -> str:
    """The hint for the known mistake that turns every one of ``_ANGLE_SETS`` into the answer's
    ``outputs`` (one array per set), or ''. A mistake that agrees on one set only, as the x
    components do with the length for two angles at +-2.5 (no y component), is not named."""
    for mistake, hint in _RESULTANT_MISTAKES:
        if all(
            out.shape == np.shape(value := mistake(angles)) and np.allclose(out, value, atol=1e-6)
            for angles, out in zip(_ANGLE_SETS, outputs)
        ):
            return hint
    return ""


@exercise_check
def check_mean_resultant_length(mean_resultant_length):
    """8.1: ``mean_resultant_length(angles)`` -> the length of the mean of the unit vectors at ``angles``.

    angles (..., k) in radians -> (...), averaged over the last axis. Tried on two angles that
    are not symmetric about 0, two near +-pi, and batches of other shapes; an answer that changes
    its input array in place, or keeps the averaged axis (shape (..., 1)), is told so. Recognises,
    when the answer gives what the mistake gives on every one of these angle sets: the cosine of
    the mean angle, the x components only, the sum instead of the mean, the squared length, the
    circular variance 1 - R, and a conversion from degrees.
    """
    if not callable(mean_resultant_length):
        return False, "define a function mean_resultant_length(angles)"
    outputs = []
    for angles in _ANGLE_SETS:
        given = angles.copy()
        out = as_array(mean_resultant_length(given))
        if not np.array_equal(given, angles):
            return False, (
                "your function changed its input array in place (+=, %=, or an out= argument): compute "
                "a new array instead, the caller still needs its angles"
            )
        expected = _resultant(angles)
        if out.shape == angles.shape[:-1] + (2,):
            return False, "you returned the mean vector (x, y): return its length"
        if out.shape == expected.shape + (1,):
            return False, (
                f"for angles of shape {angles.shape} expected shape {expected.shape}, got {out.shape}: "
                "the averaged axis is still there (keepdims=True?); drop it"
            )
        if out.shape != expected.shape:
            return False, (
                f"for angles of shape {angles.shape} expected one number per row, shape {expected.shape}, "
                f"got {out.shape}: average over the last axis"
            )
        outputs.append(out)
    for angles, out in zip(_ANGLE_SETS, outputs):
        if not np.allclose(out, _resultant(angles), atol=1e-6):
            return False, _diagnose_resultant(outputs) or (
                f"for the angles {np.round(angles, 3).tolist()[:4]} ... the mean unit vector has another length"
            )
    return True, ""


@functools.lru_cache(maxsize=1)
def _training_frames() -> np.ndarray:
    return unflatten(train_test_split(preprocess(load_paths()), seed=42)[0]).astype(np.float64)


@torch.no_grad()
def bond_resultant(model, neighbours: int = 32, frames: int = 400) -> float:
    """The mean resultant length of each bond's direction among the ``neighbours`` training frames
    whose codes mu_phi(x) lie nearest to a frame's code, averaged over bonds and ``frames`` frames:
    what a decoder that averages those frames' coordinates would make of a unit bond."""
    x = _training_frames()
    mu = model.encode(torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32))[0].numpy()
    pick = np.random.default_rng(0).choice(len(x), frames, replace=False)
    near = np.argsort(((mu[pick, None] - mu[None]) ** 2).sum(-1), axis=1)[:, :neighbours]
    bonds = np.diff(x[near], axis=-2)  # (frames, neighbours, bonds, 2)
    angles = np.arctan2(bonds[..., 1], bonds[..., 0]).transpose(0, 2, 1)  # (frames, bonds, neighbours)
    return float(_resultant(angles).mean())


# ----------------------------------------------------------------------------- Exercise 8.2

_MIXTURE = dict(  # two components with a hole between them, unequal weights, one strongly correlated
    weights=np.array([0.7, 0.3]),
    means=np.array([[-3.0, -3.0], [3.0, 3.0]]),
    covariances=np.array([[[1.0, 0.8], [0.8, 1.0]], [[0.25, 0.0], [0.0, 0.25]]]),
)
_MIXTURE_3D = dict(
    weights=np.array([0.2, 0.5, 0.3]),
    means=np.array([[0.0, 4.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, -4.0]]),
    covariances=np.array([np.eye(3) * 0.5, [[1.0, -0.5, 0.0], [-0.5, 1.0, 0.3], [0.0, 0.3, 1.0]], np.eye(3) * 0.2]),
)


def _copies(mixture) -> tuple:
    return tuple(mixture[k].copy() for k in ("weights", "means", "covariances"))


def _mixture_moments(weights, means, covariances):
    mean = weights @ means
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(weights, means, covariances))
    return mean, second - np.outer(mean, mean)


@exercise_check
def check_sample_mixture(sample_mixture):
    """8.2: ``sample_mixture(weights, means, covariances, n, rng)`` -> n draws (n, d) from the mixture.

    Tried on a 2-D mixture the notebook never uses (weights 0.7 and 0.3, a hole between the
    components, one component correlated 0.8) and on a 3-D mixture of three. Tests what separates
    a mixture from look-alikes: draws reproducible with the given ``rng``, exactly n of them, in no
    order, the weights, no draws in the hole, one component per draw, each component's own
    variances and correlation.
    Recognises: a single Gaussian with the mixture's moments, a component chosen per
    coordinate, equal weights, one noise number shared by all axes, only the covariance's
    diagonal, the elementwise square root of the covariance, and the means without noise.
    """
    if not callable(sample_mixture):
        return False, "define a function sample_mixture(weights, means, covariances, n, rng)"
    n = 20_000
    z = as_array(sample_mixture(*_copies(_MIXTURE), n, np.random.default_rng(5)))
    if z.shape != (n, 2):
        return False, f"for n = {n} draws of a 2-D mixture return shape ({n}, 2), got {z.shape}"
    if not np.isfinite(z).all():
        return False, "some draws are not finite numbers"
    again = as_array(sample_mixture(*_copies(_MIXTURE), n, np.random.default_rng(5)))
    if again.shape != z.shape or not np.array_equal(again, z):
        return (
            False,
            "two calls with the same rng gave different draws: draw every random number from the rng you are given",
        )
    left = z.sum(1) < 0  # nearer the first component (-3, -3) than the second (3, 3)
    right = ~left
    if abs(left[: n // 10].mean() - left.mean()) > 0.05:  # independent draws: any stretch of rows looks like all
        return False, (
            "the draws come in blocks, one component after the other: each draw picks its own component "
            "(or shuffle the rows)"
        )
    if np.allclose(z, z[0]):
        return False, "every draw is the same point: pick a component for each draw, then add its Gaussian noise"
    if np.mean(np.linalg.norm(z - 0.5, axis=1) < 1.0) > 0.03:  # the mixture puts about 0.1% there
        return False, (
            "many draws fall in the hole between the components: that is one Gaussian with the "
            "mixture's moments, not a mixture; pick a component, then draw from it"
        )
    if np.mean(np.sign(z[:, 0]) != np.sign(z[:, 1])) > 0.05:
        return False, (
            "many draws mix the components' coordinates (z1 from one, z2 from the other): pick one "
            "component per draw and take all its coordinates from it"
        )
    if abs(left.mean() - 0.7) > 0.02:
        return (
            False,
            f"{left.mean():.0%} of the draws come from the first component, not 70%: choose components with the weights",
        )
    a = z[left]
    var = a.var(0)
    with np.errstate(invalid="ignore", divide="ignore"):  # draws without noise have no correlation
        corr = np.corrcoef(a.T)[0, 1]
    if np.all(var < 0.01):
        return False, "the draws sit on the components' means: add each component's Gaussian noise"
    if np.all(var > 1.5):
        return False, (
            "the first component's variances are too large: the elementwise square root of a covariance "
            "is not a matrix square root; use the Cholesky factor (np.linalg.cholesky)"
        )
    if corr > 0.999:
        return False, (
            "the two coordinates move together exactly: one noise number shared by both axes; draw "
            "an independent standard normal per coordinate and multiply by a square root of the covariance"
        )
    if abs(corr) < 0.1:
        return False, (
            "no correlation inside the first component (0.8 expected): you used only the covariance's "
            "diagonal; use a matrix square root such as the Cholesky factor (np.linalg.cholesky)"
        )
    if np.any(np.abs(var - 1.0) > 0.08) or abs(corr - 0.8) > 0.03 or np.any(np.abs(z[right].var(0) - 0.25) > 0.03):
        return False, (
            "the components' spreads are off (first: variances 1, correlation 0.8; second: variances "
            f"0.25); got {np.round(var, 2).tolist()}, {corr:.2f} and {np.round(z[right].var(0), 2).tolist()}"
        )
    z3 = as_array(sample_mixture(*_copies(_MIXTURE_3D), n, np.random.default_rng(6)))
    if z3.shape != (n, 3):
        return False, f"for a 3-D mixture return shape ({n}, 3), got {z3.shape}: use the means' last axis for d"
    few = as_array(sample_mixture(*_copies(_MIXTURE_3D), 17, np.random.default_rng(7)))
    if few.shape != (17, 3):
        return False, (
            f"for n = 17 draws of a mixture of three return shape (17, 3), got {few.shape}: exactly n draws "
            "(rounding weights * n to counts loses or adds some)"
        )
    mean, cov = _mixture_moments(**_MIXTURE_3D)
    if not (np.allclose(z3.mean(0), mean, atol=0.08) and np.allclose(np.cov(z3.T), cov, atol=0.25)):
        return False, "on a 3-D mixture of three components the draws have the wrong mean or covariance"
    return True, ""


# ----------------------------------------------------------------------------- Exercise 8.3


@functools.lru_cache(maxsize=1)
def _hit_cases():
    """Conformations the notebook never draws: test frames, the same squashed (bonds too short), and moved."""
    train, test = train_test_split(preprocess(load_paths()), seed=42)
    reference = ValidityReference.from_data(unflatten(train))
    frames = unflatten(test).astype(np.float64)[:600]
    a = np.deg2rad(70.0)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = frames[:200] @ turn.T + np.array([4.0, -2.5])  # same shapes, elsewhere: R_g unchanged
    squashed = frames[200:400] * 0.8  # R_g shrinks by 20% and every bond is too short
    x = np.concatenate([frames, moved, squashed])
    return x, reference, (2.0, 2.6)


class _ReferenceCalled(Exception):
    """Raised by ``hit_mask`` while ``check_hit_rate`` runs an answer: the answer used the reference."""


_checking = False  # True while check_hit_rate calls an answer


def _hits(conformations, target, reference) -> np.ndarray:
    x = np.asarray(conformations, dtype=np.float64)
    return validity(x, reference).valid & (np.abs(radius_of_gyration(x) - target) <= TOLERANCE)


def hit_mask(conformations, target, reference) -> np.ndarray:
    """Which conformations (n, beads, 2) hit: valid against ``reference`` and R_g within TOLERANCE of
    ``target``. Shape (n,), bool: the measurement the notebook's text uses after Exercise 8.3
    (not usable as an answer to it: the check refuses answers that call it)."""
    if _checking:
        raise _ReferenceCalled
    return _hits(conformations, target, reference)


def _expected_hit_rate(x, target, reference) -> float:
    return float(np.mean(_hits(x, target, reference)))


def _diagnose_hit_rate(x, target, reference, out) -> str:
    valid = validity(x, reference).valid
    rg = radius_of_gyration(x)
    near = np.abs(rg - target) <= TOLERANCE
    uncentred = np.sqrt((x**2).sum(-1).mean(-1))
    if abs(rg.mean() - target) <= TOLERANCE and abs(out - valid.mean()) < 1e-9:
        return (
            "that is the share of valid draws, as if every draw were near the target: did you compare the "
            "mean R_g of all draws with it? Judge each draw on its own R_g"
        )
    known = [
        (valid.mean(), "that is the share of valid draws: a hit must also be within ±0.15 of the target"),
        (near.mean(), "that is the share near the target: a hit must also be a valid polymer"),
        (
            valid.mean() * near.mean(),
            "you multiplied the two shares: that assumes validity and size are "
            "independent; count the draws that are valid AND near, one by one",
        ),
        (float((valid & near).sum()), "that is a count: return the fraction of all draws"),
        (
            float(np.mean(valid & (np.abs(uncentred - target) <= TOLERANCE))),
            "your R_g did not subtract the centre of mass: use helpers.radius_of_gyration",
        ),
        (
            float(np.mean(valid & (np.abs(end_to_end_distance(x) - target) <= TOLERANCE))),
            "you compared the end-to-end distance with the target: the target is a radius of gyration",
        ),
        (
            float(valid.mean() * (abs(rg.mean() - target) <= TOLERANCE)),
            "you compared the mean R_g of all draws with the target: judge each draw on its own R_g",
        ),
    ]
    for value, hint in known:
        if abs(out - value) < 1e-9:
            return hint
    return ""


@exercise_check
def check_hit_rate(hit_rate):
    """8.3: ``hit_rate(conformations, target, reference)`` -> the fraction that is valid and within ±0.15 of target R_g.

    Tried on 1,000 conformations the notebook never shows (test frames, some turned and moved,
    some squashed so that their bonds are too short and their R_g smaller) at two targets, and
    with a stricter reference than the notebook's (an answer must use the one it is given).
    Recognises: validity only, nearness only, the product of the two shares, a count instead of
    a fraction, R_g without the centre of mass, the end-to-end distance, and the mean R_g of all draws.
    """
    if not callable(hit_rate):
        return False, "define a function hit_rate(conformations, target, reference)"
    x, given, targets = _hit_cases()
    # a second, stricter reference (shortest bond allowed 0.1 longer): an answer must use the one it is given
    strict = dataclasses.replace(given, bond_min=given.bond_min + 0.1)
    global _checking
    for reference, target in [(given, t) for t in targets] + [(strict, targets[0])]:
        _checking = True
        try:
            value = as_array(hit_rate(x.copy(), target, reference))
        except _ReferenceCalled:
            return (
                False,
                "your function calls exercises.hit_mask, the notebook's own measurement: write the test yourself",
            )
        finally:
            _checking = False
        if value.size != 1:
            return False, f"return one number (a fraction), got an array of shape {value.shape}"
        out, expected = float(value.reshape(())), _expected_hit_rate(x, target, reference)
        if not np.isfinite(out):
            return False, f"hit_rate returned {out} (None or NaN?): return the fraction of hits, a number in [0, 1]"
        if not abs(out - expected) <= 1e-9:
            other = given if reference is strict else strict
            if abs(out - _expected_hit_rate(x, target, other)) <= 1e-9:
                return (
                    False,
                    "your function ignores its `reference` argument: test validity against the reference given",
                )
            hint = _diagnose_hit_rate(x, target, reference, out)
            return False, hint or f"at target {target} the share of hits is {expected:.3f}, yours {out:.3f}"
    return True, ""


__all__ = [
    "TOLERANCE",
    "accepted",
    "bond_resultant",
    "check_hit_rate",
    "check_mean_resultant_length",
    "check_sample_mixture",
    "hit_mask",
]
