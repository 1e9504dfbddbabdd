"""Notebook 2's exercise checks: the answers they accept, the misconceptions they reject, and
no reference answer in the student edition."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test

import helpers
from helpers.exercises import encoder_decoder as exercises
from helpers.sequences import consensus

INSTRUCTOR = Path(__file__).resolve().parent.parent / "notebooks" / "02_encoder_decoder.ipynb"
STUDENT = Path(__file__).resolve().parent.parent / "student" / "02_encoder_decoder.ipynb"


# ---------------------------------------------------------------- Exercise 2.1


def _modes(train_seqs, train_labels, groups):
    return torch.stack([torch.mode(train_seqs[torch.as_tensor(train_labels == k)], dim=0).values for k in groups])


def test_subfamily_ceiling():
    def intended(train_seqs, train_labels, test_seqs, test_labels):
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return float((test_seqs == modes[test_labels]).float().mean())

    def with_numpy(train_seqs, train_labels, test_seqs, test_labels):
        train, test = np.asarray(train_seqs), np.asarray(test_seqs)
        modes = {
            k: np.array([np.bincount(col, minlength=20).argmax() for col in train[train_labels == k].T])
            for k in np.unique(train_labels)
        }
        return np.mean([np.mean(seq == modes[k]) for seq, k in zip(test, test_labels)])  # a numpy float

    def with_counter(train_seqs, train_labels, test_seqs, test_labels):
        right = total = 0
        for seq, k in zip(test_seqs.tolist(), test_labels.tolist()):
            group = train_seqs[torch.as_tensor(train_labels == k)].tolist()
            for pos, residue in enumerate(seq):
                right += collections.Counter(row[pos] for row in group).most_common(1)[0][0] == residue
                total += 1
        return right / total

    def with_helper(train_seqs, train_labels, test_seqs, test_labels):
        return (test_seqs == consensus(train_seqs, train_labels)[test_labels]).float().mean()  # a 0-d tensor

    def held_out_modes(train_seqs, train_labels, test_seqs, test_labels):
        return intended(test_seqs, test_labels, test_seqs, test_labels)

    def all_sequences(train_seqs, train_labels, test_seqs, test_labels):
        return float((test_seqs == torch.mode(train_seqs, dim=0).values).float().mean())

    def training_accuracy(train_seqs, train_labels, test_seqs, test_labels):
        return intended(train_seqs, train_labels, train_seqs, train_labels)

    def three_subfamilies(train_seqs, train_labels, test_seqs, test_labels):
        return float((test_seqs == _modes(train_seqs, train_labels, range(3))[test_labels]).float().mean())

    def per_subfamily_mean(train_seqs, train_labels, test_seqs, test_labels):
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        right = (test_seqs == modes[test_labels]).float()
        return float(np.mean([right[torch.as_tensor(test_labels == k)].mean() for k in np.unique(test_labels)]))

    def per_position(train_seqs, train_labels, test_seqs, test_labels):
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return (test_seqs == modes[test_labels]).float().mean(0)

    def notebook_globals(train_seqs, train_labels, test_seqs, test_labels):  # the notebook's data, not the arguments
        seqs, labels = helpers.synthetic_family(2000, 40, 3, seed=0)
        return intended(torch.as_tensor(seqs[:1600]), labels[:1600], torch.as_tensor(seqs[1600:]), labels[1600:])

    def mode_per_sequence(train_seqs, train_labels, test_seqs, test_labels):  # torch.mode along the wrong axis
        modes = [torch.mode(train_seqs[torch.as_tensor(train_labels == k)], dim=1).values for k in range(3)]
        return float((test_seqs == torch.stack(modes)[test_labels]).float().mean())

    def fraction_of_sequences_exact(train_seqs, train_labels, test_seqs, test_labels):  # whole sequence right
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return float((test_seqs == modes[test_labels]).all(1).float().mean())

    def mean_of_modes(train_seqs, train_labels, test_seqs, test_labels):  # rounded mean residue index, not the mode
        groups = range(int(train_labels.max()) + 1)
        means = torch.stack(
            [train_seqs[torch.as_tensor(train_labels == k)].float().mean(0).round().long() for k in groups]
        )
        return float((test_seqs == means[test_labels]).float().mean())

    def error_rate(train_seqs, train_labels, test_seqs, test_labels):  # fraction wrong instead of right
        return 1 - intended(train_seqs, train_labels, test_seqs, test_labels)

    # invented by a student reader of the student edition (not from the list)
    seqs, labels = helpers.synthetic_family(2000, 40, 3, seed=0)
    notebook_train, notebook_labels = torch.as_tensor(seqs[:1600]), labels[:1600]

    def notebook_modes(train_seqs, train_labels, test_seqs, test_labels):  # modes of the notebook's seq_train
        modes = _modes(notebook_train, notebook_labels, range(3))
        return float((test_seqs == modes[test_labels]).float().mean())

    def median_residue(train_seqs, train_labels, test_seqs, test_labels):
        groups = range(int(train_labels.max()) + 1)
        medians = torch.stack([train_seqs[torch.as_tensor(train_labels == k)].median(0).values for k in groups])
        return float((test_seqs == medians[test_labels]).float().mean())

    def list_per_subfamily(train_seqs, train_labels, test_seqs, test_labels):
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return [
            float((test_seqs[torch.as_tensor(test_labels == k)] == modes[k]).float().mean())
            for k in range(int(train_labels.max()) + 1)
        ]

    def per_sequence_count(train_seqs, train_labels, test_seqs, test_labels):  # divided by sequences only
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return float((test_seqs == modes[test_labels]).float().sum() / len(test_seqs))

    def integer_mean(train_seqs, train_labels, test_seqs, test_labels):  # raises: mean of a Long tensor
        modes = _modes(train_seqs, train_labels, range(int(train_labels.max()) + 1))
        return (test_seqs == modes[test_labels]).long().mean()

    def rounded(train_seqs, train_labels, test_seqs, test_labels):
        return round(intended(train_seqs, train_labels, test_seqs, test_labels), 2)

    assert_table(
        exercises.check_subfamily_ceiling,
        accept={
            "torch.mode per subfamily": intended,
            "numpy bincount, mean per sequence": with_numpy,
            "collections.Counter per position": with_counter,
            "helpers' consensus, a 0-d tensor": with_helper,
        },
        reject={
            "placeholder": (lambda *args: None, "None"),
            "a number instead of a function (the old exercise)": (0.809, "function"),
            "modes of the held-out set": (held_out_modes, "held-out sequences themselves"),
            "consensus of all training sequences": (all_sequences, "all training sequences"),
            "scores the training sequences": (training_accuracy, "scores the training"),
            "a percentage": (lambda *args: 100 * intended(*args), "percentage"),
            "hard-coded three subfamilies": (three_subfamilies, "four subfamilies"),
            "subfamilies weighted equally": (per_subfamily_mean, "equal weight"),
            "a vector per position": (per_position, "one number"),
            "the notebook's data instead of the arguments": (notebook_globals, "from the arguments"),
            "a typed-in number": (lambda *args: 0.809, "from the arguments"),
            "torch.mode along the sequence": (mode_per_sequence, None),
            "whole sequences right": (fraction_of_sequences_exact, None),
            "mean residue index instead of the mode": (mean_of_modes, None),
            "fraction wrong": (error_rate, None),
            "modes of the notebook's seq_train": (notebook_modes, "own arguments"),
            "median residue index": (median_residue, None),
            "a list, one accuracy per subfamily": (list_per_subfamily, "one number"),
            "divided by the number of sequences only": (per_sequence_count, "number of residues"),
            "mean of an integer tensor (raises)": (integer_mean, "RuntimeError"),
            "rounded to two digits": (rounded, None),
            # invented while fixing the fresh review (issue 20)
            "the training labels' first entries for the held-out ones": (
                lambda a, b, c, d: float((c == _modes(a, b, range(int(b.max()) + 1))[b[: len(c)]]).float().mean()),
                None,
            ),
        },
    )


# ---------------------------------------------------------------- Exercise 2.2


def test_count_params():
    def by_layer(hidden, d=24, j=2):
        encoder = (d * hidden + hidden) + 2 * (hidden * hidden + hidden) + 2 * (hidden * j + j)
        decoder = (j * hidden + hidden) + 2 * (hidden * hidden + hidden) + (hidden * d + d)
        return encoder + decoder

    def layer_list(hidden):
        layers = [
            (24, hidden),
            (hidden, hidden),
            (hidden, hidden),
            (hidden, 2),
            (hidden, 2),
            (2, hidden),
            (hidden, hidden),
            (hidden, hidden),
            (hidden, 24),
        ]
        return sum((n_in + 1) * n_out for n_in, n_out in layers)

    assert_table(
        exercises.check_count_params,
        accept={
            "layer by layer": by_layer,
            "expanded polynomial": lambda h: 4 * h**2 + 60 * h + 28,
            "(n_in + 1) * n_out over a list of layers": layer_list,
            "a whole float": lambda h: float(4 * h**2 + 60 * h + 28),
            "counted from a built model": lambda h: sum(
                p.numel() for p in helpers.PolymerVAE(hidden_dim=h).parameters()
            ),
            "a numpy integer": lambda h: np.int64(4 * h**2 + 60 * h + 28),
            "a 0-d tensor": lambda h: torch.tensor(4 * h**2 + 60 * h + 28),
        },
        reject={
            "placeholder": (lambda h: 0, "every width"),
            "a number instead of a function": (277_532, "function"),
            "weights without biases": (lambda h: 4 * h**2 + 54 * h, "bias"),
            "one encoder head": (lambda h: 4 * h**2 + 58 * h + 26, "two heads"),
            "three h x h layers per network": (lambda h: 6 * h**2 + 62 * h + 28, "two h x h layers"),
            "one bias per input": (
                lambda h: sum(
                    a * b + a for a, b in [(24, h), (h, h), (h, h), (h, 2), (h, 2), (2, h), (h, h), (h, h), (h, 24)]
                ),
                "per output",
            ),
            "decoder counted as a copy of the encoder": (lambda h: 2 * (2 * h**2 + 31 * h + 4), "not a copy"),
            "hard-coded 277,532": (lambda h: 277_532, "every width"),
            "not a whole number": (lambda h: 4 * h**2 + 60 * h + 28.5, "whole number"),
            "returns None": (lambda h: None, "None"),
            "latent 2 forgotten in the decoder's input (24 -> h)": (lambda h: 4 * h**2 + 82 * h + 28, None),
            "biases counted once per network": (lambda h: 4 * h**2 + 54 * h + 2, None),
            "hidden width squared only": (lambda h: 4 * h**2, None),
            # invented by a student reader of the student edition
            "the encoder only": (lambda h: 2 * h**2 + 31 * h + 4, None),
            "a formatted string": (lambda h: f"{4 * h**2 + 60 * h + 28:,}", "whole number"),
            "first layer counted as h x h": (
                lambda h: sum((a + 1) * b for a, b in [(h, h)] * 3 + [(h, 2)] * 2 + [(h, h)] * 3 + [(h, 24)]),
                None,
            ),
            "decoder outputs a mean and a variance": (lambda h: 4 * h**2 + 84 * h + 52, None),
            "the constant term forgotten": (lambda h: 4 * h**2 + 60 * h, None),
        },
    )


# ---------------------------------------------------------------- Exercise 2.3


def _mean_cov(codes):
    codes = np.asarray(codes, dtype=np.float64)
    return codes.mean(0), np.cov(codes, rowvar=False)


def test_fitted_gaussian():
    def intended(codes, n, seed=0):
        z = np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.cov(codes.T), size=n)
        return torch.as_tensor(z, dtype=torch.float32)

    def cholesky_torch(codes, n, seed=0):
        c = torch.as_tensor(codes, dtype=torch.float64)
        factor = torch.linalg.cholesky(torch.cov(c.T))
        eps = torch.randn(n, c.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return (c.mean(0) + eps @ factor.T).float()

    def symmetric_root(codes, n, seed=0):
        mean, cov = _mean_cov(codes)
        w, v = np.linalg.eigh(cov)
        return mean + np.random.default_rng(seed).standard_normal((n, len(mean))) @ (v * np.sqrt(w)) @ v.T

    def torch_distribution(codes, n, seed=0):
        c = torch.as_tensor(codes, dtype=torch.float64)
        torch.manual_seed(seed)
        return torch.distributions.MultivariateNormal(c.mean(0), torch.cov(c.T)).sample((n,))

    def placeholder(codes, n, seed=0):
        return torch.randn(n, codes.shape[1], generator=torch.Generator().manual_seed(seed))

    def diagonal(codes, n, seed=0):
        return codes.mean(0) + codes.std(0) * np.random.default_rng(seed).standard_normal((n, codes.shape[1]))

    def bootstrap(codes, n, seed=0):
        return codes[np.random.default_rng(seed).integers(0, len(codes), n)]

    def jittered(codes, n, seed=0):
        rng = np.random.default_rng(seed)
        return codes[rng.integers(0, len(codes), n)] + 0.05 * rng.standard_normal((n, codes.shape[1]))

    def uniform(codes, n, seed=0):
        mean, cov = _mean_cov(codes)
        u = np.random.default_rng(seed).uniform(-(3**0.5), 3**0.5, (n, len(mean)))
        return mean + u @ np.linalg.cholesky(cov).T

    def times_covariance(codes, n, seed=0):
        mean, cov = _mean_cov(codes)
        return mean + np.random.default_rng(seed).standard_normal((n, len(mean))) @ cov

    def cholesky_untransposed(codes, n, seed=0):
        mean, cov = _mean_cov(codes)
        return mean + np.random.default_rng(seed).standard_normal((n, len(mean))) @ np.linalg.cholesky(cov)

    def no_mean(codes, n, seed=0):
        return np.random.default_rng(seed).multivariate_normal(np.zeros(codes.shape[1]), np.cov(codes.T), size=n)

    def transposed(codes, n, seed=0):
        return intended(codes, n, seed).T

    def seed_ignored(codes, n, seed=0):
        return np.random.multivariate_normal(codes.mean(0), np.cov(codes.T), size=n)

    def fixed_seed(codes, n, seed=0):
        return intended(codes, n, 0)

    def cov_of_rows(codes, n, seed=0):
        return np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.cov(codes), size=n)

    def variance_as_std(codes, n, seed=0):  # diagonal, and the variance used as a standard deviation
        return codes.mean(0) + codes.var(0) * np.random.default_rng(seed).standard_normal((n, codes.shape[1]))

    def clumps_as_gaussians(codes, n, seed=0):  # a Gaussian around each of a few codes: a mixture, not one Gaussian
        rng = np.random.default_rng(seed)
        centres = codes[rng.integers(0, len(codes), 5)]
        return centres[rng.integers(0, 5, n)] + rng.multivariate_normal(
            np.zeros(codes.shape[1]), np.cov(codes.T) / 4, size=n
        )

    def half_spread(codes, n, seed=0):  # standard deviation halved (e.g. cov / 2 as a scale)
        mean, cov = _mean_cov(codes)
        return np.random.default_rng(seed).multivariate_normal(mean, cov / 2, size=n)

    # invented by a student reader of the student edition
    def correlation_matrix(codes, n, seed=0):
        return np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.corrcoef(codes.T), size=n)

    def one_scalar(codes, n, seed=0):  # one mean and one spread for all entries
        return (
            torch.randn(n, codes.shape[1], generator=torch.Generator().manual_seed(seed)) * codes.std() + codes.mean()
        )

    def half_as_many(codes, n, seed=0):
        return intended(codes, n // 2, seed)

    def clipped(codes, n, seed=0):  # noise clipped to +-1.5 "to stay near the data"
        mean, cov = _mean_cov(codes)
        eps = np.clip(np.random.default_rng(seed).standard_normal((n, len(mean))), -1.5, 1.5)
        return mean + eps @ np.linalg.cholesky(cov).T

    def standardized_codes(codes, n, seed=0):  # fitted to z-scored codes, never scaled back
        s = (codes - codes.mean(0)) / codes.std(0)
        return np.random.default_rng(seed).multivariate_normal(s.mean(0), np.cov(s.T), size=n)

    def student_t(codes, n, seed=0):  # heavy-tailed noise with unit variance
        mean, cov = _mean_cov(codes)
        eps = np.random.default_rng(seed).standard_t(5, (n, len(mean))) / np.sqrt(5 / 3)
        return mean + eps @ np.linalg.cholesky(cov).T

    assert_table(
        exercises.check_fitted_gaussian,
        accept={
            "numpy multivariate_normal": intended,
            "Cholesky factor in torch": cholesky_torch,
            "symmetric square root of the covariance": symmetric_root,
            "torch.distributions with manual_seed": torch_distribution,
            "biased covariance (divided by N)": lambda c, n, seed=0: np.random.default_rng(seed).multivariate_normal(
                c.mean(0), np.cov(c.T, bias=True), size=n
            ),
            "float16 tensor": lambda c, n, seed=0: intended(c, n, seed).half(),
        },
        reject={
            "placeholder N(0, I)": (placeholder, "N(0, I)"),
            "not a function": (np.zeros((10, 8)), "function"),
            "spreads without correlations": (diagonal, "correlations"),
            "resampled codes (bootstrap)": (bootstrap, "copies"),
            "codes plus a little noise": (jittered, "close to the codes"),
            "uniform noise with the right covariance": (uniform, "not Gaussian"),
            "noise times the covariance": (times_covariance, "square root"),
            "Cholesky factor untransposed": (cholesky_untransposed, "transpose"),
            "not shifted by the mean": (no_mean, "centred on 0"),
            "draws transposed": (transposed, "one draw per row"),
            "seed ignored (global generator)": (seed_ignored, "same seed"),
            "seed fixed": (fixed_seed, "seed"),
            "np.cov of the rows": (cov_of_rows, "rowvar"),
            "variance used as a standard deviation": (variance_as_std, None),
            "a mixture around a few codes": (clumps_as_gaussians, None),
            "covariance halved": (half_spread, None),
            "correlation matrix instead of covariance": (correlation_matrix, "covariance"),
            "one scalar mean and spread": (one_scalar, "mean"),
            "half as many draws": (half_as_many, "shape"),
            "noise clipped at 1.5": (clipped, None),
            "fitted to standardised codes": (standardized_codes, "centred on 0"),
            "Student-t noise": (student_t, "not Gaussian"),
            "resampled codes plus N(0, 0.1²) noise": (
                lambda c, n, seed=0: (
                    c[np.random.default_rng(seed).integers(0, len(c), n)]
                    + 0.1 * np.random.default_rng(seed + 1).standard_normal((n, c.shape[1]))
                ),
                None,
            ),
        },
    )


def test_fitted_draws_use_the_reference_until_solved():
    codes = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    draws = exercises.fitted_draws(lambda c, n, seed=0: None, codes, 50)
    assert set(draws) == {"reference"} and draws["reference"].shape == (50, 3)
    solved = exercises.fitted_draws(lambda c, n, seed=0: exercises.reference_fitted_gaussian(c, n, seed), codes, 50)
    assert set(solved) == {"reference", "yours"} and solved["yours"].dtype == torch.float32


# ---------------------------------------------------------------- no answers in the student edition

REFERENCE_EXPRESSIONS = [
    "torch.mode(train_seqs[train_labels == k]",  # 2.1: the solution's modes
    "consensus(seq_train, sub_train",  # 2.1: the old reference, helpers' per-subfamily consensus
    "ceiling = ",  # 2.1: a stored reference value (subfamily_accuracy = ceiling)
    "2 * (hidden * hidden + hidden)",  # 2.2: the solution's formula
    "4 h^2 + 60 h + 28",  # 2.2: its expanded form
    "4 * h**2 + 60 * h + 28",
    "multivariate_normal(",  # 2.3: the solution's draws
    "np.cov(codes.T)",
    "np.cov(ae8_codes",
]


test_no_reference_answer_in_the_student_edition = student_edition_test(INSTRUCTOR, STUDENT, REFERENCE_EXPRESSIONS)
