"""Self-checks of notebook 4, beta.

    from helpers.exercises import beta as exercises
    exercises.check_sigma_x_assumed(sigma_x_assumed)        # 4.1: the decoder noise a "mean"-convention beta assumes
    exercises.check_draw_conformations(draw_conformations)  # 4.2: draws x ~ p_theta(x), not only decoder means

Each check calls your function on inputs the notebook never uses (other numbers of coordinates
and latent dimensions; other models of the beta sweep, other betas, sample sizes and seeds),
computes the expected result itself and compares. For 4.2 the draws are tested on their whole
covariance, not only their total variance: the noise of a Gaussian decoder is independent from
coordinate to coordinate. When a wrong answer looks like a known misconception, the hint names it.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import torch

from ..checkpoints import load_beta_sweep
from ..measures import bond_lengths, validity
from ._verdict import as_array, exercise_check

# ----------------------------------------------------------------------------- Exercise 4.1

# (beta_mean, n_coords, n_latent): ours, the walkthrough's 0.01, 3-D chains of 20 beads, a 3-D latent, 8 latents
_NOISE_CASES = ((1.0, 24, 2), (0.01, 24, 2), (0.5, 60, 4), (2.0, 36, 3), (0.2, 100, 8), (4.0, 30, 5))


def _sigma_reference(beta_mean, n_coords, n_latent) -> float:
    return math.sqrt(beta_mean * n_coords / n_latent / 2)


# misconception -> (sigma_x it gives for (b, D, J), the hint that names it)
_NOISE_MISTAKES = {
    "no conversion": (
        lambda b, d, j: math.sqrt(b / 2),
        "that takes beta_mean as if it were the 'sum' convention's beta: averaging changes the weight of "
        "each term, so convert first (section 1)",
    ),
    "factor upside down": (
        lambda b, d, j: math.sqrt(b * j / d / 2),
        "the conversion is upside down: averaging makes the squared error n_coords times smaller and the "
        "KL n_latent times smaller; which of the two does the 'sum' convention's beta gain, which lose?",
    ),
    "only the coordinates": (
        lambda b, d, j: math.sqrt(b * d / 2),
        "the KL is averaged too (over the n_latent dimensions): undo that average as well",
    ),
    "only the latent dimensions": (
        lambda b, d, j: math.sqrt(b / j / 2),
        "the squared error is averaged over n_coords coordinates: multiply by n_coords too",
    ),
    "the variance": (
        lambda b, d, j: b * d / j / 2,
        "that is sigma_x², the variance; sigma_x is its square root",
    ),
    "no 1/2": (
        lambda b, d, j: math.sqrt(b * d / j),
        "the 1/2 is missing: solve section 1's beta = 2 sigma_x² for sigma_x",
    ),
    "sigma² = 2 beta": (
        lambda b, d, j: math.sqrt(2 * b * d / j),
        "section 1 says beta = 2 sigma_x², not sigma_x² = 2 beta",
    ),
    "beta in the sum convention": (
        lambda b, d, j: b * d / j,
        "that is beta in the 'sum' convention; the question is the noise it assumes (section 1)",
    ),
    "24 and 2 hard-coded": (
        lambda b, d, j: math.sqrt(b * 24 / 2 / 2),
        "right for our 24 coordinates and 2 latent dimensions only: use n_coords and n_latent, not 24 and 2 "
        "(helpers.beta_sum_from_mean takes them as input_dim and latent_dim)",
    ),
}


@exercise_check
def check_sigma_x_assumed(sigma_x_assumed):
    """Exercise 4.1: ``sigma_x_assumed(beta_mean, n_coords, n_latent)`` returns the decoder noise
    sigma_x (a standard deviation, in the units of x) that a loss in the "mean" convention (squared
    error averaged over n_coords coordinates, KL averaged over n_latent latent dimensions) with
    weight beta_mean assumes.

    Tried on our 24 coordinates and 2 latent dimensions and on data sets the notebook does not
    have (3-D chains, 3 to 8 latent dimensions), against the check's own reference. Recognises:
    no conversion, the factor upside down, only one of the two averages undone, the variance
    instead of the standard deviation, a missing 1/2, sigma² = 2 beta, beta itself, 24 and 2
    hard-coded, and a result that is not one number (a string, a tuple, None).
    """
    if not callable(sigma_x_assumed):
        return False, "write a function sigma_x_assumed(beta_mean, n_coords, n_latent) that returns one number"
    yours = []
    for b, d, j in _NOISE_CASES:
        out = sigma_x_assumed(b, d, j)
        if out is None:
            return False, "your function returns None: end it with return <sigma_x>"
        numeric = isinstance(out, torch.Tensor) or (
            isinstance(out, (numbers.Real, np.ndarray, np.generic))
            and not isinstance(out, (bool, np.bool_))
            and np.issubdtype(np.asarray(out).dtype, np.number)
        )
        if not numeric:
            return False, f"your function returned {type(out).__name__} {out!r}, not one number (sigma_x)"
        try:
            value = float(np.asarray(as_array(out)).reshape(()))
        except (TypeError, ValueError):
            return False, f"your function returned {type(out).__name__} {out!r}, not one number (sigma_x)"
        yours.append(value)
    want = [_sigma_reference(*case) for case in _NOISE_CASES]
    if np.allclose(yours, want, rtol=1e-4):
        return True, ""
    if not np.any(yours):
        return False, "your function returns 0: compute sigma_x from beta_mean, n_coords and n_latent"
    for mistake, hint in _NOISE_MISTAKES.values():
        if np.allclose(yours, [mistake(*case) for case in _NOISE_CASES], rtol=1e-4):
            return False, hint
    wrong = next(k for k, (y, w) in enumerate(zip(yours, want)) if not math.isclose(y, w, rel_tol=1e-4))
    b, d, j = _NOISE_CASES[wrong]
    return False, (
        f"for beta_mean = {b:g}, {d} coordinates and {j} latent dimensions your function gives {yours[wrong]:.4g}, "
        f"expected {want[wrong]:.4g}: first find the 'sum' convention's beta (section 1 converts 24 and 2), "
        f"then the noise that beta assumes"
    )


# ----------------------------------------------------------------------------- Exercise 4.2


@functools.lru_cache(maxsize=1)
def _sweep() -> dict:
    """The beta sweep's models by beta (loaded once; the notebook's own copies stay untouched)."""
    return {beta: model for beta, model, _ in load_beta_sweep()}


def _reference_draws(model, beta, n, generator):
    """The reference's decoder means and its draws from p_theta(x), (n, 24) each (draw i decodes the z of mean i)."""
    with torch.no_grad():
        means = model.decode(torch.randn(n, model.latent_dim, generator=generator))
    return means, means + math.sqrt(beta / 2) * torch.randn(means.shape, generator=generator)


@functools.lru_cache(maxsize=4)
def _mean_moments(beta) -> tuple[np.ndarray, np.ndarray]:
    """Mean (24,) and covariance (24, 24) of the decoder means under the prior, from 20,000 z."""
    means = _reference_draws(_sweep()[beta], beta, 20_000, torch.Generator().manual_seed(404))[0].double().numpy()
    return means.mean(0), np.cov(means.T)


# noise standard deviations a student may use by mistake, as functions of beta, and the hint that names them
_SCALE_MISTAKES = (
    (lambda b: b / 2, "beta / 2 is sigma_x², the variance; eps is scaled by a standard deviation"),
    (lambda b: math.sqrt(b), "the noise's standard deviation is not sqrt(beta): section 1 says beta = 2 sigma_x²"),
    (lambda b: b, "beta is not the noise's standard deviation: section 1 says beta = 2 sigma_x²"),
    (lambda b: math.sqrt(2 * b), "section 1 says beta = 2 sigma_x², not sigma_x² = 2 beta"),
    (lambda b: 1.0, "the noise has standard deviation 1: multiply eps ~ N(0, I) by the sigma_x that beta assumes"),
    (
        lambda b: math.sqrt(12 * b / 2),
        "beta is already in the 'sum' convention (the sweep's models were trained with it): no conversion",
    ),
)


def _judge_noise(x, n, beta, mean_ref, cov_ref) -> str | None:
    """Draws x (n, 24) of a collapsed model (its decoder means are all alike): is the noise around
    them that of p_theta(x|z), independent N(0, sigma_x²) in each coordinate? None if so, else what is wrong."""
    sigma = math.sqrt(beta / 2)
    cov = np.cov(x.T)
    noise_var = float(np.mean(np.diag(cov) - np.diag(cov_ref)))
    shift = float(np.abs(x.mean(0) - mean_ref).max())
    if noise_var < 1e-3 * sigma**2:
        if shift > 0.5 * sigma:
            return (
                "every polymer got the same noise (eps drawn once, shape (1, 24) or (24,)): draw a new eps "
                "for each of the n polymers, shape (n, 24)"
            )
        return (
            "your draws have (almost) no spread around the decoder's mean: they are decoder means f_theta(z). "
            "A draw adds the decoder's noise to x (not to z)"
        )
    noise_sd = math.sqrt(noise_var)
    if abs(noise_sd / sigma - 1) > 0.05:
        for scale, hint in _SCALE_MISTAKES:
            if abs(noise_sd / scale(beta) - 1) < 0.05:
                return hint + f" (beta = {beta:g} here)"
        for fixed in (0.12, 0.3, 1.0, 3.0, 10.0):
            if abs(noise_sd / math.sqrt(fixed / 2) - 1) < 0.05:
                return (
                    f"with beta = {beta:g} your noise has the standard deviation of beta = {fixed:g}, "
                    f"{noise_sd:.3g}: use the beta passed to your function (here sigma_x = {sigma:.3g})"
                )
        return (
            f"with beta = {beta:g} the noise should have standard deviation sigma_x = {sigma:.3g} in each "
            f"coordinate; yours has {noise_sd:.3g}: eps ~ N(0, 1) in each coordinate, times sigma_x"
        )
    off = (cov - cov_ref) / sigma**2
    off -= np.diag(np.diag(off))
    if np.mean(off[::2, ::2]) > 0.5 or np.mean(off[1::2, 1::2]) > 0.5:
        return (
            "the noise moves whole polymers: one eps per polymer (shape (n, 1)) is a rigid shift, "
            "not noise on each coordinate. Each of the 24 coordinates needs its own eps"
        )
    if np.mean([off[2 * i, 2 * i + 1] for i in range(12)]) > 0.5:
        return (
            "the x and y of each bead get the same eps (one eps per bead, shared by both coordinates): the "
            "decoder's noise is independent in each of the 24 coordinates"
        )
    if np.abs(off).max() > 0.1:
        return "your noise is correlated between coordinates: each of the 24 coordinates needs its own eps"
    standardised = (x - x.mean(0)) / x.std(0)
    if abs(float(np.mean(standardised**4)) - 3) > 0.3:  # a Gaussian's kurtosis is 3, a uniform's 1.8
        return (
            "the noise has the right variance but is not Gaussian (uniform, torch.rand?): "
            "p_theta(x|z) is a Gaussian, eps ~ N(0, I) (torch.randn, not torch.rand)"
        )
    if shift > 5 * sigma / math.sqrt(n) + 0.02:
        return "your draws are off-centre: is the noise centred (torch.randn, not torch.rand)? eps has mean 0"
    return None


def _judge_spread(x, n, beta, mean_ref, cov_ref) -> str | None:
    """Draws x (n, 24) of a model whose decoder means vary with z: mean and covariance those of
    p_theta(x), i.e. of the decoded means under z ~ N(0, I) plus sigma_x² I? None if so, else what is wrong."""
    sigma = math.sqrt(beta / 2)
    cov = np.cov(x.T)
    excess = (cov - cov_ref - sigma**2 * np.eye(24)) / sigma**2
    shift = np.abs(x.mean(0) - mean_ref).max() / math.sqrt(np.max(np.diag(cov)) / n)
    if np.abs(excess).max() < 0.15 and shift < 6:
        return None
    if abs(np.trace(cov) / (24 * sigma**2) - 1) < 0.1:
        return (
            "the noise is right, but every draw decodes the same z (z = 0?): draw one z per polymer from "
            "the prior, z ~ N(0, I), shape (n, 2), and decode it"
        )
    noise_sd = math.sqrt(max(np.trace(cov - cov_ref) / 24, 0.0))
    if abs(noise_sd / sigma - 1) > 0.1 and abs(noise_sd / math.sqrt(30 / 2) - 1) < 0.1:
        return (
            f"with beta = {beta:g} the noise should have standard deviation {sigma:.3g} in each "
            f"coordinate; yours has about {noise_sd:.3g}, that of beta = 30: use the beta passed to your function"
        )
    return (
        "the noise is right, but the spread of the decoded means is not that of z ~ N(0, I): draw one z "
        "per polymer from the prior, shape (n, 2), and decode it"
    )


def _draws_of(out, n) -> tuple[np.ndarray | None, str]:
    """The student's result as (n, 24) numpy, or None and what is wrong with it."""
    if out is None:
        return None, "your function returns None: end it with return <the draws>"
    if not isinstance(out, (torch.Tensor, np.ndarray)):
        return None, (
            f"your function returns a {type(out).__name__}: return one tensor of shape ({n}, 24) "
            f"(torch.stack or torch.cat the pieces of a list)"
        )
    x = as_array(out)
    if x.shape == (n, 12, 2):
        return None, (
            f"shape ({n}, 12, 2): the task asks for ({n}, 24), one row of 24 coordinates per polymer, "
            f"as the decoder returns them and as every helper of the course takes them"
        )
    if x.shape != (n, 24):
        return None, f"for n = {n} expected shape ({n}, 24), got {tuple(x.shape)}"
    return x, ""


@exercise_check
def check_draw_conformations(draw_conformations):
    """Exercise 4.2: ``draw_conformations(model, beta, n, generator)`` returns n draws from
    p_theta(x) of a VAE trained with ``beta`` ("sum" convention), not only decoder means: a
    tensor (or numpy array) of shape (n, 24), with every random number taken from ``generator``.

    Tried with three models of the beta sweep (beta = 30, 3 and 0.3) and n = 10,000, 20,000 and 7, other
    generators than the notebook's. Compares the draws' mean and full covariance with the model's
    (the check computes both itself), then calls the function again: the same seeded generator
    must give the same draws, a generator with another seed other draws. Recognises: decoder means
    only (or the noise put on z), one eps shared by all polymers, one eps per polymer (a rigid
    shift), one eps per bead shared by x and y, other correlated noise, sigma_x² or sqrt(beta) or
    beta as the noise's scale, unit noise, a fixed beta, uniform noise, z not drawn from the prior,
    random numbers not drawn from ``generator`` (the global RNG, a fixed seed, ``model.sample``),
    shape (n, 12, 2) instead of (n, 24), and a list instead of one tensor.
    """
    if not callable(draw_conformations):
        return False, "write a function draw_conformations(model, beta, n, generator) that returns (n, 24)"
    models = _sweep()
    for beta, n, seed in ((30.0, 10_000, 11), (3.0, 20_000, 12), (0.3, 7, 13)):
        x, problem = _draws_of(draw_conformations(models[beta], beta, n, torch.Generator().manual_seed(seed)), n)
        if x is None:
            return False, problem
        if not np.all(np.isfinite(x)):
            return False, "your draws contain nan or inf"
        if not x.any():
            return False, "your function still returns zeros: decode z ~ N(0, I), then add the decoder's noise"
        if n < 100:  # too few draws for moments: the shape is what this case tests
            continue
        judge = _judge_noise if beta == 30.0 else _judge_spread  # at beta = 30 every decoder mean is alike
        problem = judge(x, n, beta, *_mean_moments(beta))
        if problem:
            return False, problem
    # reproducible through `generator` alone: the same seed twice, then another seed
    first, again, other = (
        _draws_of(draw_conformations(models[3.0], 3.0, 50, torch.Generator().manual_seed(seed)), 50)[0]
        for seed in (21, 21, 22)
    )
    if first is None or again is None or other is None:
        return False, "called again with n = 50, your function did not return 50 draws of shape (50, 24)"
    if not np.allclose(first, again):
        return False, (
            "two calls with generators seeded alike gave different draws: some random numbers come from "
            "elsewhere (the global RNG, torch.randn_like, numpy). Pass generator=generator to every random call"
        )
    if np.allclose(first, other):
        return False, (
            "generators with different seeds gave the same draws: your function ignores `generator` (a fixed "
            "seed, or model.sample?). Take z and eps from generator=generator"
        )
    return True, ""


def compare_draws(draw_conformations, model, beta, reference, n=2000, seed=0):
    """For the text after Exercise 4.2: n draws from p_theta(x) of ``model`` (trained with ``beta``,
    "sum" convention), by the reference and by your function. Prints, for both, the share of valid
    polymers (``reference``: a ``ValidityReference``) and the spread of their bond lengths.
    Returns the reference's decoder means and draws (numpy, (n, 24) each; draw i decodes the z of mean i)."""
    means, draws = (t.numpy() for t in _reference_draws(model, beta, n, torch.Generator().manual_seed(seed)))
    try:
        out = draw_conformations(model, beta, n, torch.Generator().manual_seed(seed + 1))
        yours = (
            "not written yet" if out is None else f"{float(validity(as_array(out), reference).valid.mean()):.1%} valid"
        )
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        yours = f"raised {type(error).__name__}"
    bonds = bond_lengths(draws)
    print(
        f"beta = {beta:g} (sigma_x = {math.sqrt(beta / 2):.2f}): {float(validity(draws, reference).valid.mean()):.1%} "
        f"of {n:,} draws valid (your draw_conformations: {yours}); decoder means "
        f"{float(validity(means, reference).valid.mean()):.0%} valid; bond lengths of the draws "
        f"{bonds.mean():.2f} ± {bonds.std():.2f}"
    )
    return means, draws


def sigma_x_beside_yours(sigma_x_assumed, beta_mean, n_coords, n_latent) -> float:
    """For the text after Exercise 4.1: the decoder noise sigma_x that a "mean"-convention loss with
    weight ``beta_mean`` assumes, by the reference and by your function. Prints both; returns the reference's."""
    reference = _sigma_reference(beta_mean, n_coords, n_latent)
    try:
        yours = f"{float(np.asarray(as_array(sigma_x_assumed(beta_mean, n_coords, n_latent))).reshape(())):.2f}"
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        yours = f"raised {type(error).__name__}"
    print(
        f"'mean' convention, beta = {beta_mean:g} with {n_coords} coordinates and {n_latent} latent dimensions: "
        f"sigma_x = {reference:.2f} (your sigma_x_assumed: {yours})"
    )
    return reference
