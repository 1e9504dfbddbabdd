"""Self-checks of notebook 2, encoder and decoder.

    check_subfamily_ceiling   Exercise 2.1: the held-out accuracy of predicting every residue by
                              the most common one among the training sequences of its subfamily
    check_count_params        Exercise 2.2: the parameter count of PolymerVAE(24, h, 2, n_hidden=3)
                              as a formula in the hidden width h
    check_fitted_gaussian     Exercise 2.3: draws from a Gaussian with the mean and full covariance
                              of a set of latent codes

Each check calls the student's function on data the notebook never uses (other protein families,
other widths, other sets of codes of other dimensions), compares it with its own reference, and
names the misconception when a wrong answer looks like a known one. ``passes`` runs a check
silently; ``reference_subfamily_ceiling`` and ``reference_fitted_gaussian`` give the notebook's
text the reference result, whatever the student wrote.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..models import PolymerVAE
from ..sequences import consensus
from ._verdict import accepted, exercise_check


def _number(value):
    """``value`` as a float when it is one number (a Python or numpy scalar, a one-element tensor), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array.reshape(()))


# ---------------------------------------------------------------- Exercise 2.1


def reference_subfamily_ceiling(train_seqs, train_labels, test_seqs, test_labels) -> float:
    """The fraction of held-out residues equal to their subfamily's training consensus."""
    n_groups = int(max(np.max(train_labels), np.max(test_labels))) + 1
    per_group = consensus(train_seqs, np.asarray(train_labels), n_groups)  # (groups, length)
    test = torch.as_tensor(np.asarray(test_seqs))
    return float((test == per_group[torch.as_tensor(np.asarray(test_labels))]).double().mean())


def _family(seed: int, sizes_train, sizes_test, length: int):
    """A small aligned family the notebook never shows: per subfamily a centre sequence; each
    residue keeps the centre with probability 0.4, else becomes one of three alternatives per
    position (0.2 each). With ~100 training sequences per subfamily the training modes are the
    centres (drawn again until no two residues tie for a mode); a handful of held-out sequences
    per subfamily often has another mode, so the consensus of the held-out set scores
    differently from the training consensus."""
    rng = np.random.default_rng(seed)
    n_groups = len(sizes_train)
    centres = rng.integers(0, 20, size=(n_groups, length))
    offsets = 1 + np.argsort(rng.random((n_groups, length, 19)), axis=-1)[..., :3]  # three distinct, none 0
    alternatives = (centres[..., None] + offsets) % 20

    def draw(sizes):
        labels = rng.permutation(np.repeat(np.arange(n_groups), sizes))
        pick = rng.choice(4, p=[0.4, 0.2, 0.2, 0.2], size=(len(labels), length))
        options = np.concatenate([centres[..., None], alternatives], axis=-1)[labels]  # (n, length, 4)
        return np.take_along_axis(options, pick[..., None], -1)[..., 0], labels

    while True:  # training modes without ties: every correct answer agrees
        train, train_labels = draw(sizes_train)
        counts = np.stack(
            [np.apply_along_axis(np.bincount, 0, train[train_labels == k], minlength=20) for k in range(n_groups)]
        )  # (groups, 20, length)
        top2 = np.sort(counts, axis=1)[:, -2:]
        if np.all(top2[:, 1] > top2[:, 0]):
            break
    test, test_labels = draw(sizes_test)
    return torch.as_tensor(train), train_labels, torch.as_tensor(test), test_labels


@functools.lru_cache(maxsize=1)
def _ceiling_cases():
    """Two families: three subfamilies of unequal size and 30 positions; four subfamilies and 17 positions."""
    return (_family(21, (90, 120, 150), (4, 7, 11), 30), _family(22, (100, 110, 95, 130), (6, 3, 9, 5), 17))


def _scores(train, train_labels, test, test_labels) -> dict:
    """What the known mistakes compute on one family."""
    test_t = torch.as_tensor(test)
    per_group_test = consensus(test, test_labels)  # the held-out set's own modes
    groups = range(int(np.max(test_labels)) + 1)
    right = test_t == consensus(train, train_labels)[torch.as_tensor(test_labels)]
    return {
        "held-out modes": float((test_t == per_group_test[torch.as_tensor(test_labels)]).double().mean()),
        "all sequences": float((test_t == consensus(train)).double().mean()),
        "training accuracy": reference_subfamily_ceiling(train, train_labels, train, train_labels),
        "per subfamily": float(np.mean([right[torch.as_tensor(test_labels == k)].double().mean() for k in groups])),
    }


@exercise_check
def check_subfamily_ceiling(subfamily_ceiling):
    """Exercise 2.1: ``subfamily_ceiling(train_seqs, train_labels, test_seqs, test_labels)`` returns
    the fraction of held-out residues equal to the most common residue at that position among the
    training sequences of the same subfamily.

    Tried on two small families the notebook never uses (three and four subfamilies of unequal
    size, 30 and 17 positions), where the held-out set's own modes differ from the training modes.
    Recognises: the modes taken on the held-out sequences, the consensus of all training sequences
    (subfamilies ignored), scoring the training sequences, averaging the subfamilies' accuracies
    with equal weight, a percentage, the count per sequence (not divided by the positions), a
    vector or list instead of one number, a hard-coded number of subfamilies or positions, the
    notebook's variables used instead of the arguments, and a function that returns one number
    whatever it is given.
    """
    if not callable(subfamily_ceiling):
        return False, (
            "write a function subfamily_ceiling(train_seqs, train_labels, test_seqs, test_labels) that "
            "returns one number; the check calls it on protein families of its own"
        )
    results = []
    for case in _ceiling_cases():
        train, train_labels, test, test_labels = case
        try:
            got = subfamily_ceiling(train.clone(), train_labels.copy(), test.clone(), test_labels.copy())
        except Exception as error:  # noqa: BLE001 - a student's code may raise anything
            if len(results) == 1:
                return False, (
                    f"it ran on three subfamilies but raised {type(error).__name__} ({error}) on a family "
                    f"with four subfamilies and 17 positions: take the number of subfamilies and positions "
                    f"from the arguments, not from the notebook"
                )
            sizes = "size" in str(error).lower() or "shape" in str(error).lower()
            return False, (
                f"calling it on a family of {len(train)} training and {len(test)} held-out sequences (30 "
                f"positions) raised {type(error).__name__}: {error}"
                + (
                    "; does it use the notebook's seq_train, sub_train, ... instead of its own arguments?"
                    if sizes
                    else ""
                )
            )
        results.append((got, case))
    values = [_number(got) for got, _ in results]
    for (got, case), value in zip(results, values):
        want = reference_subfamily_ceiling(*case)
        if got is None:
            return (
                False,
                "subfamily_ceiling still returns None: compute the fraction of held-out residues predicted right",
            )
        if value is None:
            shape = getattr(got, "shape", None)
            return False, (
                f"it returned {type(got).__name__}{f' of shape {tuple(shape)}' if shape is not None else ''}: "
                f"return one number, the mean over all held-out sequences and positions"
            )
        if abs(value - want) < 1e-4:
            continue
        if values[0] is not None and values[1] is not None and abs(values[0] - values[1]) < 1e-9 and 0 < value < 1:
            return False, (
                f"it returns {value:.4f} for two different families: compute the fraction from the arguments, "
                f"not from the notebook's variables (seq_train, ...) or a number you typed in"
            )
        if abs(value / 100 - want) < 1e-4:
            return False, f"it returned {value:.2f}: give a fraction between 0 and 1, not a percentage"
        if abs(value / case[2].shape[1] - want) < 1e-4:
            return False, (
                f"it returned {value:.2f}, the number right per sequence: divide by the number of residues "
                f"(sequences x positions), not only by the number of sequences"
            )
        wrong = _scores(*case)
        if abs(value - wrong["held-out modes"]) < 1e-4:
            return False, (
                "those are the modes of the held-out sequences themselves: the prediction may only use the "
                "training sequences (the modes of each subfamily's training sequences), then score the held-out ones"
            )
        if abs(value - wrong["all sequences"]) < 1e-4:
            return False, (
                "that is the consensus of all training sequences together: take the mode over the training "
                "sequences of each subfamily separately and predict each held-out sequence with its own subfamily's"
            )
        if abs(value - wrong["training accuracy"]) < 1e-4:
            return False, "that scores the training sequences: score the held-out sequences (test_seqs, test_labels)"
        if abs(value - wrong["per subfamily"]) < 1e-4:
            return False, (
                "that averages the three subfamilies' accuracies with equal weight: take the mean over all "
                "held-out residues (subfamilies differ in size)"
            )
        return False, (
            f"on a family of {len(case[0])} training and {len(case[2])} held-out sequences it returned "
            f"{value:.4f}, expected {want:.4f}: for each held-out sequence, compare every position with the "
            f"most common residue at that position among the training sequences of the same subfamily"
        )
    return True, ""


def show_subfamily_ceiling(subfamily_ceiling, data, vae: float) -> None:
    """Print the reference subfamily-consensus accuracy on ``data`` (train_seqs, train_labels,
    test_seqs, test_labels), the student's beside it once Exercise 2.1's check passes, and the VAE's."""
    reference = reference_subfamily_ceiling(*data)
    yours = "not yet, Exercise 2.1"
    if accepted(check_subfamily_ceiling, subfamily_ceiling):
        yours = f"{_number(subfamily_ceiling(*data)):.1%}"
    print(f"held-out accuracy: subfamily consensus {reference:.1%} (yours: {yours}), VAE {float(vae):.1%}")


# ---------------------------------------------------------------- Exercise 2.2

WIDTHS = (1, 3, 10, 37, 128, 300)


def _layers(h: int, d: int = 24, j: int = 2, n_square: int = 2, heads: int = 2):
    """(n_in, n_out) of every Linear layer, for the real architecture and the miscounted variants below."""
    encoder = [(d, h)] + [(h, h)] * n_square + [(h, j)] * heads
    decoder = [(j, h)] + [(h, h)] * n_square + [(h, d)]
    return encoder + decoder


def _weights_and_biases(layers):
    return sum(n_in * n_out + n_out for n_in, n_out in layers)


# Counts a student might write, each from a misreading of the architecture or of a Linear layer.
MISCOUNTS = {
    "no biases": (
        lambda h: sum(a * b for a, b in _layers(h)),
        "that counts the weights only: every Linear layer also has a bias, one per output",
    ),
    "one head": (
        lambda h: _weights_and_biases(_layers(h, heads=1)),
        "the encoder has two heads, one for mu and one for sigma, each a Linear layer h -> 2",
    ),
    "three square layers": (
        lambda h: _weights_and_biases(_layers(h, n_square=3)),
        "three hidden layers of width h are joined by two h x h layers (the first hidden "
        "layer comes from the input), in each network",
    ),
    "bias per input": (
        lambda h: sum(a * b + a for a, b in _layers(h)),
        "a layer n_in -> n_out has one bias per output (n_out), not per input",
    ),
    "mirrored encoder": (
        lambda h: 2 * _weights_and_biases(_layers(h)[:5]),
        "the decoder is not a copy of the encoder: it reads 2 numbers and has one output layer of 24",
    ),
}


@functools.cache
def _true_count(h: int) -> int:
    return sum(p.numel() for p in PolymerVAE(input_dim=24, hidden_dim=h, latent_dim=2, n_hidden=3).parameters())


@exercise_check
def check_count_params(count_params):
    """Exercise 2.2: ``count_params(hidden)`` returns the number of parameters of
    ``PolymerVAE(24, hidden, 2, n_hidden=3)`` (weights and biases of both networks).

    Compared with real models of widths 1, 3, 10, 37, 128 and 300. Recognises: weights without
    biases, one encoder head instead of two (mu and sigma), three h x h layers per network instead
    of two, one bias per input instead of per output, a decoder counted as a copy of the encoder,
    a hard-coded count (277,532) and a non-integer result.
    """
    if not callable(count_params):
        return (
            False,
            "write a function count_params(hidden) that returns an integer; the check calls it for several widths",
        )
    got = {}
    for h in WIDTHS:
        try:
            got[h] = count_params(h)
        except Exception as error:  # noqa: BLE001 - a student's code may raise anything
            return False, f"count_params({h}) raised {type(error).__name__}: {error}"
    if all(v is None for v in got.values()):
        return False, "count_params still returns None: write the formula"
    values = {h: _number(v) for h, v in got.items()}
    for h, v in values.items():
        if v is None:
            return False, f"count_params({h}) returned {got[h]!r}: return one whole number"
    wrong = {h: v for h, v in values.items() if v != _true_count(h)}
    if not wrong:
        return True, ""
    if len(set(values.values())) == 1:
        return False, (
            f"count_params returns {values[WIDTHS[0]]:,.0f} for every width: write it as a formula in "
            f"`hidden` (the check tries widths {', '.join(map(str, WIDTHS))})"
        )
    for count, hint in MISCOUNTS.values():
        if all(values[h] == count(h) for h in WIDTHS):
            return False, hint
    h, v = next(iter(wrong.items()))
    if not float(v).is_integer():
        return False, f"count_params({h}) = {v}: a count of parameters is a whole number"
    return False, (
        f"count_params({h}) = {v:,.0f}, the model of width {h} has {_true_count(h):,}: count the weights "
        f"and biases of every Linear layer of both networks (print the model to see the layers)"
    )


# ---------------------------------------------------------------- Exercise 2.3


def reference_fitted_gaussian(codes, n: int, seed: int = 0) -> torch.Tensor:
    """n draws (float32, (n, J)) from the Gaussian with the mean and full covariance of ``codes``."""
    codes = np.asarray(codes, dtype=np.float64)
    z = np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.cov(codes, rowvar=False), size=n)
    return torch.as_tensor(z, dtype=torch.float32)


def _clumped_codes(seed: int, n: int, dim: int) -> np.ndarray:
    """Codes like an autoencoder's: a few tight, unequal clumps, correlated axes, off-centre, unequal spreads."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, dim)) * 2.0
    labels = rng.choice(5, size=n, p=[0.35, 0.25, 0.2, 0.12, 0.08])
    points = centres[labels] + 0.3 * rng.normal(size=(n, dim))
    mixing = np.eye(dim) + 0.6 * rng.normal(size=(dim, dim))
    return (points @ mixing.T + rng.normal(size=dim) * 3).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _gaussian_cases():
    """Two sets of codes the notebook never uses: 600 in 5-D and 900 in 8-D."""
    return _clumped_codes(31, 600, 5), _clumped_codes(32, 900, 8)


def _as_draws(value):
    """The student's draws as a float64 numpy array, or None."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _ks_normal(x: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the sample ``x`` and the standard normal."""
    x = np.sort(x)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    n = len(x)
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


N_DRAWS = 4000


def _judge_draws(z: np.ndarray, codes: np.ndarray):
    """(ok, hint) for draws ``z`` meant to come from the Gaussian fitted to ``codes``."""
    n, dim = N_DRAWS, codes.shape[1]
    if z.shape != (n, dim):
        if z.shape == (dim, n):
            return False, f"the draws have shape {z.shape}: return one draw per row, shape (n, J) = ({n}, {dim})"
        return False, f"asked for {n} draws of {dim}-D codes, got an array of shape {z.shape}: return shape (n, J)"
    if not np.all(np.isfinite(z)):
        return False, "some draws are NaN or infinite"
    codes = codes.astype(np.float64)
    nearest = torch.cdist(torch.as_tensor(z), torch.as_tensor(codes)).min(1).values.numpy()
    if np.mean(nearest < 1e-4) > 0.01:
        return False, (
            "many draws are exact copies of the codes: resampling the codes keeps their clumps and holes, "
            "it is not a Gaussian; draw from N(mean, covariance) instead"
        )
    mean, cov = codes.mean(0), np.cov(codes, rowvar=False)
    chol = np.linalg.cholesky(cov)
    white = np.linalg.solve(chol, (z - mean).T).T  # N(0, I) if z ~ N(mean, cov)
    off_centre = np.abs(z.mean(0) - mean) / (z.std(0) / math.sqrt(n) + 1e-9)  # in standard errors of the draws' mean
    if np.max(off_centre) > 6:
        if np.max(np.abs(z.mean(0))) < 0.1 * np.max(np.abs(mean)):
            if np.max(np.abs(np.cov(z, rowvar=False) - np.eye(dim))) < 0.15:
                return False, "these are draws from N(0, I): give them the codes' mean and full covariance"
            return False, "the draws are centred on 0: shift them by the codes' mean"
        return False, "the draws' mean is not the codes' mean (codes.mean(axis=0): one mean per latent dimension)"
    sample_cov = np.cov(z, rowvar=False)
    white_cov = np.cov(white, rowvar=False)
    if np.max(np.abs(white_cov - np.eye(dim))) > 0.12:
        std = np.sqrt(np.diag(cov))
        candidates = {
            "the draws have unit spread: scale them by the codes' covariance (its Cholesky factor, or use "
            "multivariate_normal)": np.eye(dim),
            "the spreads are right but the correlations are missing: use the full covariance (np.cov of the codes, "
            "rowvar=False), not only each dimension's standard deviation": np.diag(std**2),
            "the noise was multiplied by the covariance itself: multiply by a square root of it, the Cholesky "
            "factor L with L L^T = covariance": cov @ cov,
            "the Cholesky factor L (L L^T = covariance) was applied without the right transpose: with one draw per row "
            "of eps, work out the covariance your product has, L^T L or L L^T": chol.T @ chol,
        }
        distance = {
            hint: np.linalg.norm(sample_cov - target) / np.linalg.norm(target) for hint, target in candidates.items()
        }
        hint, d = min(distance.items(), key=lambda item: item[1])
        if d < 0.1:
            return False, hint
        return False, "the draws' covariance is not the codes' covariance (np.cov: are rows codes or variables?)"
    directions = np.vstack([np.eye(dim), np.random.default_rng(0).normal(size=(6, dim))])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    worst = max(_ks_normal(white @ u) for u in directions)
    radius2 = (white**2).sum(1)  # chi-squared with J degrees of freedom: variance 2J
    if worst > 0.045 or abs(radius2.var() / (2 * dim) - 1) > 0.2:
        reference_nearest = np.median(
            torch.cdist(torch.as_tensor(reference_fitted_gaussian(codes, 1000).double()), torch.as_tensor(codes))
            .min(1)
            .values.numpy()
        )
        if np.median(nearest) < 0.5 * reference_nearest:
            return False, (
                "the draws sit close to the codes (copies plus a little noise?): they keep the codes' clumps; "
                "draw from a Gaussian with the codes' mean and covariance instead"
            )
        return False, (
            "mean and covariance are right but the draws are not Gaussian (their histogram along some "
            "direction is not a bell curve): the noise must be normal, not uniform or resampled"
        )
    return True, ""


@exercise_check
def check_fitted_gaussian(fitted_gaussian_samples):
    """Exercise 2.3: ``fitted_gaussian_samples(codes, n, seed)`` returns n draws, shape (n, J), from
    the Gaussian whose mean and full covariance are those of ``codes`` (array (N, J)); the same
    seed gives the same draws, another seed others.

    Tried on two sets of clumped, correlated, off-centre codes the notebook never uses (5-D and
    8-D), 4,000 draws each: shape, mean and covariance (after whitening with the codes' Cholesky
    factor), Gaussian shape along 8 to 14 directions (Kolmogorov-Smirnov), and not copies of the
    codes. Recognises: N(0, I) draws, no shift by the mean, the spreads without the correlations,
    noise times the covariance instead of its square root, the Cholesky factor untransposed,
    resampled codes (a bootstrap: not a Gaussian) and codes plus a little noise, non-Gaussian
    noise with the right covariance (uniform), draws transposed, and a seed that is ignored.
    """
    if not callable(fitted_gaussian_samples):
        return False, "write a function fitted_gaussian_samples(codes, n, seed) that returns an (n, J) array of draws"
    for codes in _gaussian_cases():
        try:
            first = fitted_gaussian_samples(codes.copy(), N_DRAWS, seed=3)
        except Exception as error:  # noqa: BLE001 - a student's code may raise anything
            text = f"calling it on {codes.shape[0]} codes of dimension {codes.shape[1]} raised {type(error).__name__}: {error}"
            if "cov" in str(error).lower() or "shape" in str(error).lower() or "length" in str(error).lower():
                text += " (np.cov treats rows as variables unless rowvar=False, or pass codes.T)"
            return False, text
        z = _as_draws(first)
        if z is None:
            return False, f"it returned {type(first).__name__}: return the draws as an (n, J) array or tensor"
        ok, hint = _judge_draws(z, codes)
        if not ok:
            return False, f"on {codes.shape[0]} codes of dimension {codes.shape[1]}: {hint}"
        again = _as_draws(fitted_gaussian_samples(codes.copy(), N_DRAWS, seed=3))
        other = _as_draws(fitted_gaussian_samples(codes.copy(), N_DRAWS, seed=4))
        if again is None or again.shape != z.shape or not np.allclose(again, z):
            return False, "two calls with the same seed gave different draws: draw with a generator seeded by `seed`"
        if other is not None and other.shape == z.shape and np.allclose(other, z):
            return False, "seeds 3 and 4 gave the same draws: use the `seed` argument to seed the generator"
    return True, ""


def fitted_draws(fitted_gaussian_samples, codes, n: int) -> dict:
    """The draws notebook 2 decodes after Exercise 2.3: {"reference": n reference draws} and, once
    ``fitted_gaussian_samples`` passes its self-check, {"yours": n of its draws} beside them (seed 0)."""
    draws = {"reference": reference_fitted_gaussian(codes, n, seed=0)}
    if accepted(check_fitted_gaussian, fitted_gaussian_samples):
        draws["yours"] = torch.as_tensor(_as_draws(fitted_gaussian_samples(codes, n, seed=0)), dtype=torch.float32)
    else:
        print("Exercise 2.3 not solved yet: the next cell decodes the reference draws only.")
    return draws
