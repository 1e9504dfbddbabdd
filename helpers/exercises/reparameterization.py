"""Self-checks of notebook 5, the reparameterization trick.

    from helpers.exercises import reparameterization as exercises
    exercises.check_dz_dlogvar(dz_dlogvar)        # 5.1: dz/d(log sigma^2) of z = mu + exp(logvar / 2) * eps
    exercises.check_best_baseline(best_baseline)  # 5.2: the constant baseline with the smallest variance
    exercises.show_baseline_variances(best_baseline)  # after 5.2: the variances, yours beside the best

Each check calls your function on inputs the notebook never uses (other shapes, dtypes and
values for 5.1; other functions f, other distributions q and other parameters for 5.2), computes
the expected result itself and compares. When a wrong result matches a known mistake (the chain
rule's inner factor forgotten, the variance taken for the standard deviation, the mean of f as
the baseline, ...), the hint names it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._verdict import exercise_check

# ---------------------------------------------------------------- Exercise 5.1


def _logvar_cases():
    """(logvar, eps) pairs the notebook never shows: shapes (6, 3), (4,) and (2, 3, 2); float64
    and float32; log-variances from -8 (sigma = 0.02) to 3 (sigma = 4.5)."""
    g = torch.Generator().manual_seed(51)
    cases = []
    for shape, dtype in (((6, 3), torch.float64), ((4,), torch.float32), ((2, 3, 2), torch.float64)):
        logvar = (11 * torch.rand(shape, generator=g, dtype=torch.float64) - 8).to(dtype)
        eps = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
        cases.append((logvar, eps))
    return cases


def _autograd_dz_dlogvar(logvar, eps):
    """d z / d logvar, elementwise, by autograd through z = mu + exp(logvar / 2) * eps (mu = 0.3)."""
    logvar = logvar.double().clone().requires_grad_(True)
    z = 0.3 + torch.exp(0.5 * logvar) * eps.double()
    (grad,) = torch.autograd.grad(z.sum(), logvar)
    return grad


# misconception -> (what it computes from logvar and eps, the hint that names it)
_DZ_MISTAKES = {
    "inner derivative 1/2 forgotten": (
        lambda lv, e: torch.exp(0.5 * lv) * e,
        "twice too large: the chain rule's inner derivative d(logvar / 2)/d logvar = 1/2 is missing",
    ),
    "exp(logvar) taken for sigma": (
        lambda lv, e: torch.exp(lv) * e,
        "exp(logvar) is the variance sigma²; z uses the standard deviation sigma = exp(logvar / 2)",
    ),
    "exp(logvar) taken for sigma, with 1/2": (
        lambda lv, e: 0.5 * torch.exp(lv) * e,
        "exp(logvar) is the variance sigma²; z uses the standard deviation sigma = exp(logvar / 2)",
    ),
    "sign of the exponent": (
        lambda lv, e: 0.5 * torch.exp(-0.5 * lv) * e,
        "check the sign of the exponent: sigma = exp(logvar / 2) grows with logvar, and so does its derivative",
    ),
    "dz/dsigma instead": (
        lambda lv, e: e,
        "that is dz/dsigma = eps; z depends on logvar through sigma = exp(logvar / 2), so multiply by d sigma / d logvar",
    ),
    "dz/dsigma halved": (
        lambda lv, e: 0.5 * e,
        "the factor sigma is missing: dz/dlogvar = (dz/dsigma)(d sigma / d logvar); what is d sigma / d logvar "
        "for sigma = exp(logvar / 2)?",
    ),
    "dz/dmu instead": (lambda lv, e: torch.ones_like(e), "that is dz/dmu = 1; the exercise asks for dz/d logvar"),
    "eps missing": (
        lambda lv, e: 0.5 * torch.exp(0.5 * lv),
        "eps is missing: z - mu = exp(logvar / 2) * eps, so the derivative carries eps too",
    ),
    "eps missing, no 1/2": (
        lambda lv, e: torch.exp(0.5 * lv),
        "eps is missing (z - mu = exp(logvar / 2) * eps), and so is the inner derivative 1/2",
    ),
}


def _as_float_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    return torch.as_tensor(np.asarray(value, dtype=float))


@exercise_check
def check_dz_dlogvar(dz_dlogvar):
    """Exercise 5.1: ``dz_dlogvar(logvar, eps)`` returns dz/d(logvar), elementwise, for
    z = mu + exp(logvar / 2) * eps.

    Compared with autograd's derivative through z on tensors of shapes (6, 3), (4,) and (2, 3, 2),
    in float64 and float32, with log-variances from -8 to 3 (none of the notebook's values).
    Recognises: the inner derivative 1/2 forgotten, exp(logvar) taken for sigma (with or without
    the 1/2), the wrong sign of the exponent, dz/dsigma = eps or dz/dmu = 1 instead, eps missing,
    one number instead of one derivative per element, and a function that still returns zeros.
    """
    if not callable(dz_dlogvar):
        return False, "write a function dz_dlogvar(logvar, eps) that returns a tensor of the shape of logvar"
    for logvar, eps in _logvar_cases():
        out = dz_dlogvar(logvar.clone(), eps.clone())
        if out is None:
            return False, "dz_dlogvar returned None: is the `return` missing?"
        out = _as_float_tensor(out)
        want = _autograd_dz_dlogvar(logvar, eps)
        tol = {"rtol": 1e-5, "atol": 1e-8}  # float32 arithmetic is right too
        if out.shape != want.shape:
            if out.numel() == 1:
                return False, (
                    f"one number for a logvar of shape {tuple(logvar.shape)}: the derivative is elementwise, "
                    f"one value per element of logvar"
                )
            return (
                False,
                f"for logvar and eps of shape {tuple(logvar.shape)} expected that shape, got {tuple(out.shape)}",
            )
        if torch.allclose(out, want, **tol):
            continue
        if not out.any():
            return False, "dz_dlogvar still returns zeros: differentiate exp(logvar / 2) * eps with the chain rule"
        for mistake, hint in _DZ_MISTAKES.values():
            if torch.allclose(out, mistake(logvar.double(), eps.double()), **tol):
                return False, hint
        offset = out - want
        if torch.allclose(offset, offset.flatten()[0].expand_as(offset), rtol=0, atol=1e-6):
            return False, (
                f"your result is autograd's plus a constant {float(offset.flatten()[0]):.4g}: is mu (or another "
                f"number) added? z depends on logvar only through exp(logvar / 2) * eps"
            )
        if torch.allclose(_as_float_tensor(dz_dlogvar(logvar.clone() + 1, eps.clone())), out, **tol):
            return False, (
                "your result does not change with logvar: sigma = exp(logvar / 2) must come from the logvar "
                "passed in (not from a sigma defined elsewhere in the notebook)"
            )
        k = int((out - want).abs().argmax())
        return False, (
            f"at logvar = {float(logvar.flatten()[k]):.3f}, eps = {float(eps.flatten()[k]):.3f} your function gives "
            f"{float(out.flatten()[k]):.5f}, autograd {float(want.flatten()[k]):.5f}: write sigma = exp(logvar / 2) "
            f"and apply the chain rule, dz/dlogvar = (dz/dsigma)(dsigma/dlogvar)"
        )
    return True, ""


# ---------------------------------------------------------------- Exercise 5.2


def _baseline_cases():
    """(description, f values, score values) for score-function estimators the
    notebook never shows, 40,000 samples each.

    A Gaussian q and the gradient for its mean, a Gaussian q and the gradient for its standard
    deviation (a score that is not symmetric), and a Bernoulli q with the gradient for its logit
    (a discrete z, where only the score function works).
    """
    rng = np.random.default_rng(52)
    n = 40_000
    cases = []
    mu, sigma = -0.4, 0.3  # q = N(mu, sigma²), f(z) = exp(2 z), gradient for mu
    eps = rng.standard_normal(n)
    z = mu + sigma * eps
    cases.append(("q = N(-0.4, 0.3²), f(z) = exp(2z), the gradient for mu", np.exp(2 * z), eps / sigma))
    mu, sigma = 0.8, 1.3  # q = N(mu, sigma²), f(z) = (z - 2)², gradient for sigma
    eps = rng.standard_normal(n)
    z = mu + sigma * eps
    cases.append(("q = N(0.8, 1.3²), f(z) = (z - 2)², the gradient for sigma", (z - 2) ** 2, (eps**2 - 1) / sigma))
    p = 0.2  # q = Bernoulli(p), p = sigmoid(logit); d log q / d logit = z - p
    z = (rng.random(n) < p).astype(float)
    cases.append(("q = Bernoulli(0.2), f(0) = 3, f(1) = 7, the gradient for its logit", 3 + 4 * z, z - p))
    return cases


def _best_constant(f, s):
    return float(np.mean(f * s**2) / np.mean(s**2))


def _variance(f, s, b):
    """Per-sample variance of the score-function gradient (f - b) * s on these samples."""
    g = (f - b) * s
    return float(np.mean(g**2) - np.mean(g) ** 2)


# misconception -> (what it computes from f and the score s, the hint that names it)
_BASELINE_MISTAKES = {
    "mean of f": (
        lambda f, s: np.mean(f),
        "that is the mean of f: a good baseline, not the best one. The samples with a large |score| "
        "dominate the variance; minimize E[(f - b)² score²] over b",
    ),
    "median of f": (
        lambda f, s: np.median(f),
        "the median of f is a guess at the typical f, not the minimum of the variance",
    ),
    "no denominator": (
        lambda f, s: np.mean(f * s**2),
        "you have only part of it: setting d/db E[(f - b)² score²] = 0 leaves a factor in front of b too: divide by it",
    ),
    "f squared": (
        lambda f, s: np.mean(f**2 * s**2) / np.mean(s**2),
        "f enters squared: the square belongs to (f - b); its derivative in b is linear in f",
    ),
    "score to the first power": (
        lambda f, s: np.mean(f * s) / np.mean(s),
        "the score enters squared: the variance is E[(f - b)² score²] minus a term without b",
    ),
    "the gradient itself": (
        lambda f, s: np.mean(f * s),
        "that is the score-function estimate of the gradient, not a baseline",
    ),
    "gradient over E[score²]": (
        lambda f, s: np.mean(f * s) / np.mean(s**2),
        "that is E[f score] / E[score²], a regression of f on the score, not the minimum of the variance: "
        "set d/db E[(f - b)² score²] = 0",
    ),
    "weighted by |score|": (
        lambda f, s: np.mean(f * np.abs(s)) / np.mean(np.abs(s)),
        "the variance weights each sample by score², not |score|",
    ),
}


def _as_number(value):
    """The student's baseline as a float, or None if it is not one number."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


@exercise_check
def check_best_baseline(best_baseline):
    """Exercise 5.2: ``best_baseline(f_values, score)`` estimates, from n samples z_i ~ q (numpy
    arrays (n,) of f(z_i) and of the score d log q(z_i)/d lambda), the constant b that minimizes
    the variance of the score-function gradient (f(z) - b) * score.

    Tried on three estimators the notebook never shows: the gradient for the mean of a Gaussian with
    f(z) = exp(2z), for the standard deviation of a Gaussian with f(z) = (z - 2)², and for the logit
    of a Bernoulli (a discrete z), 40,000 samples each. Compared with the check's own b* on the
    same samples, within 1% (other sample estimates of the same b* differ by < 0.2%; the
    misconceptions below by 13% or more).
    Recognises: the mean or the median of f, E[f score²] without the denominator, f squared, the
    score to the first power, the gradient estimate itself, a regression of f on the score, |score|
    weights, a number that does not depend on the samples, one baseline per sample instead of one
    number, and a function that still returns 0.
    """
    if not callable(best_baseline):
        return False, "write a function best_baseline(f_values, score) that returns one number"
    cases, answers = _baseline_cases(), []
    for what, f, s in cases:
        out = best_baseline(f.copy(), s.copy())
        if out is None:
            return False, "best_baseline returned None: is the `return` missing?"
        b = _as_number(out)
        if b is None:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else np.shape(out)
            return False, (
                f"best_baseline returned {type(out).__name__} of shape {shape}, not one number: a baseline "
                f"that differs from sample to sample would bias the estimator; the exercise asks for a constant b"
            )
        if not math.isfinite(b):
            return (
                False,
                f"for {what} your baseline is {b}: is a division by zero or a log of a negative number inside?",
            )
        answers.append(b)
    if len(set(answers)) == 1 and answers[0] != 0:
        return False, (
            f"your function returns {answers[0]:g} whatever the samples: the best baseline depends on f and q, "
            f"so compute it from f_values and score"
        )
    for (what, f, s), b in zip(cases, answers):
        want = _best_constant(f, s)
        if abs(b - want) <= 0.01 * abs(want):  # other estimates of the same b* (np.var(score), ...) differ by < 0.2%
            continue
        if b == 0:
            return False, (
                "best_baseline still returns 0 (no baseline): write the variance of (f - b) * score as a "
                "function of b, set its derivative to zero, and estimate the result with sample means"
            )
        for mistake, hint in _BASELINE_MISTAKES.values():
            if abs(b - float(mistake(f, s))) <= 1e-6 * (1 + abs(b)):
                return False, hint
        return False, (
            f"for {what}, your b = {b:.4g} leaves a per-sample variance of {_variance(f, s, b):.4g}; the best "
            f"constant brings it to {_variance(f, s, want):.4g}. Write Var[(f - b) score] as a function of b "
            f"(its mean does not depend on b), set the derivative to zero, and replace expectations by sample means"
        )
    return True, ""


# ---------------------------------------------------------------- after Exercise 5.2

_MU, _SIGMA = 1.0, 0.5  # the notebook's toy: f(z) = z², q = N(mu, sigma²), the gradient for mu


def _toy_variance(b, mu=_MU, sigma=_SIGMA):
    """Exact per-sample variance of (z² - b) eps / sigma, z = mu + sigma eps (moments of a Gaussian)."""
    e_f2_eps2 = mu**4 + 18 * mu**2 * sigma**2 + 15 * sigma**4  # E[z⁴ eps²]
    e_f_eps2 = mu**2 + 3 * sigma**2  # E[z² eps²]
    return (e_f2_eps2 - 2 * b * e_f_eps2 + b**2) / sigma**2 - (2 * mu) ** 2


def baseline_variances(best_baseline=None, n=200_000, seed=6):
    """The variances of the notebook's toy REINFORCE gradient (f = z², mu = 1, sigma = 0.5, the
    gradient for mu) with no baseline, the mean of f, the best constant and, if given, the
    student's ``best_baseline`` applied to the same n samples: name -> (b, formula, measured).
    The pathwise variance 4 sigma² is added for comparison (b = None)."""
    eps = np.random.default_rng(seed).standard_normal(n)
    f, s = (_MU + _SIGMA * eps) ** 2, eps / _SIGMA
    rows = {
        "no baseline": 0.0,
        "b = mean of f": _MU**2 + _SIGMA**2,
        "the best constant b*": _MU**2 + 3 * _SIGMA**2,
    }
    if best_baseline is not None:
        try:
            rows["your best_baseline"] = _as_number(best_baseline(f.copy(), s.copy()))
        except Exception:  # noqa: BLE001 - a half-written function must not stop Run All
            rows["your best_baseline"] = None
    table = {
        name: (b, _toy_variance(b), _variance(f, s, b)) if b is not None and math.isfinite(b) else (b, None, None)
        for name, b in rows.items()
    }
    table["pathwise (no baseline needed)"] = (None, 4 * _SIGMA**2, float(np.var(2 * (_MU + _SIGMA * eps))))
    return table


def show_baseline_variances(best_baseline) -> None:
    """Print the variances of the toy's REINFORCE gradient for mu: no baseline, the mean of f, the
    best constant, your ``best_baseline`` on the same samples, and the pathwise estimator."""
    print("per-sample variance of the gradient for mu, f(z) = z², mu = 1, sigma = 0.5")
    print(f"{'':32s}{'formula':>10s}{'measured (200,000 samples)':>30s}")
    for name, (b, exact, measured) in baseline_variances(best_baseline).items():
        if name == "your best_baseline":
            name = f"yours, b = {b:.4g}" if exact is not None else "yours: not a number yet"
        if exact is not None:
            print(f"{name:32s}{exact:10.2f}{measured:30.2f}")
        else:
            print(name)
