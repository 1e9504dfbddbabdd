"""Notebook 5's exercise checks (helpers.exercises.reparameterization): the answers each must
accept, the misconceptions each must reject (with a hint that names them), and no reference
answer in the student edition."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test

from helpers.exercises import reparameterization as exercises

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "05_reparameterization.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "05_reparameterization.ipynb"


# ----------------------------------------------------------------------------- 5.1


def _by_autograd(logvar, eps):
    logvar = logvar.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((torch.exp(logvar / 2) * eps).sum(), logvar)
    return grad


def _raises(logvar, eps):
    return 0.5 * math.exp(0.5 * logvar) * eps  # math.exp takes one number, not a tensor


def test_check_dz_dlogvar():
    assert_table(
        exercises.check_dz_dlogvar,
        accept={
            "exp(logvar / 2) eps / 2": lambda lv, e: 0.5 * torch.exp(0.5 * lv) * e,
            "sqrt of the variance": lambda lv, e: torch.sqrt(torch.exp(lv)) * e / 2,
            "numpy": lambda lv, e: 0.5 * np.exp(0.5 * lv.numpy()) * e.numpy(),
            "autograd inside": _by_autograd,
            "computed in float32": lambda lv, e: 0.5 * torch.exp(0.5 * lv.float()) * e.float(),
        },
        reject={
            "the placeholder": (lambda lv, e: torch.zeros_like(e), "zeros"),
            "inner derivative 1/2 forgotten": (lambda lv, e: torch.exp(0.5 * lv) * e, "1/2"),
            "exp(logvar) taken for sigma": (lambda lv, e: torch.exp(lv) * e, "variance"),
            "exp(logvar) for sigma, with 1/2": (lambda lv, e: 0.5 * torch.exp(lv) * e, "variance"),
            "sign of the exponent": (lambda lv, e: 0.5 * torch.exp(-0.5 * lv) * e, "sign of the exponent"),
            "dz/dsigma instead": (lambda lv, e: e, "dz/dsigma"),
            "dz/dsigma halved": (lambda lv, e: e / 2, "d sigma / d logvar"),
            "dz/dmu instead": (lambda lv, e: torch.ones_like(lv), "dz/dmu"),
            "eps missing": (lambda lv, e: 0.5 * torch.exp(0.5 * lv), "eps is missing"),
            "eps missing, no 1/2": (lambda lv, e: torch.exp(0.5 * lv), "eps is missing"),
            "one number (mean)": (lambda lv, e: (0.5 * torch.exp(0.5 * lv) * e).mean(), "one number"),
            "one number (sum)": (lambda lv, e: (0.5 * torch.exp(0.5 * lv) * e).sum(), "one number"),
            "not a function": (0.5, "write a function"),
            "returns None": (lambda lv, e: None, "return"),
            "raises": (_raises, "raised"),
            # found by trying the student edition
            "d/dl of exp(l) * eps / 2": (lambda lv, e: 0.25 * torch.exp(0.5 * lv) * e, "autograd"),
            "power rule on exp": (lambda lv, e: 0.5 * lv * torch.exp(0.5 * lv - 1) * e, "autograd"),
            "1 / (2 sigma) eps, from d sqrt(v)/dv": (
                lambda lv, e: e / (2 * torch.exp(0.5 * lv)),
                "sign of the exponent",
            ),
            "z itself, mu = 0": (lambda lv, e: torch.exp(0.5 * lv) * e, "1/2"),
            "log sigma = logvar / 2, derivative 1/2": (lambda lv, e: torch.full_like(lv, 0.5), "does not change"),
            "sigma^2 / 2 * eps": (lambda lv, e: 0.5 * torch.exp(lv) * e, "variance"),
            "logvar / 2 * eps": (lambda lv, e: 0.5 * lv * e, None),
            "a list of floats": (lambda lv, e: [0.5] * lv.numel(), "expected that shape"),
            "the notebook's global sigma": (lambda lv, e: 0.5 * e / 2, "does not change with logvar"),
            "the notebook's global sigma, another value": (lambda lv, e: 0.3 * e / 2, "does not change with logvar"),
            "a fresh rsample instead of a derivative": (
                lambda lv, e: torch.distributions.Normal(0.0, torch.exp(lv / 2)).rsample() / 2,
                "autograd",
            ),
            "a log term added": (lambda lv, e: 0.5 * e * torch.exp(0.5 * lv) + 0.5 * lv, "autograd"),
            "mu added": (lambda lv, e: 1.0 + 0.5 * torch.exp(lv / 2) * e, "plus a constant"),
            "autograd without .sum()": (
                lambda lv, e: torch.autograd.grad(torch.exp(lv.requires_grad_() / 2) * e, lv)[0],
                "scalar outputs",
            ),
        },
    )


# ----------------------------------------------------------------------------- 5.2


def _torch_ratio(f, s):
    f, s = torch.as_tensor(f), torch.as_tensor(s)
    return (f * s**2).mean() / (s**2).mean()


def test_check_best_baseline():
    assert_table(
        exercises.check_best_baseline,
        accept={
            "E[f s²] / E[s²]": lambda f, s: np.mean(f * s**2) / np.mean(s**2),
            "a weighted mean": lambda f, s: np.average(f, weights=s**2),
            "sums": lambda f, s: np.sum(f * s * s) / np.sum(s * s),
            "dot products": lambda f, s: np.dot(f, s**2) / np.dot(s, s),
            "np.var(score) for E[score²]": lambda f, s: np.mean(f * s**2) / np.var(s),
            "covariance form": lambda f, s: np.cov(f * s, s)[0, 1] / np.var(s),
            "torch, 0-d tensor": _torch_ratio,
        },
        reject={
            "the placeholder": (lambda f, s: 0.0, "still returns 0"),
            "mean of f": (lambda f, s: np.mean(f), "mean of f"),
            "median of f": (lambda f, s: np.median(f), "median"),
            "E[f s^4] / E[s^4]": (lambda f, s: np.mean(f * s**4) / np.mean(s**4), None),
            "no denominator": (lambda f, s: np.mean(f * s**2), "divide"),
            "f squared": (lambda f, s: np.mean(f**2 * s**2) / np.mean(s**2), "enters squared"),
            "score to the first power": (lambda f, s: np.mean(f * s) / np.mean(s), "score enters squared"),
            "the gradient itself": (lambda f, s: np.mean(f * s), "not a baseline"),
            "regression of f on the score": (lambda f, s: np.mean(f * s) / np.mean(s**2), "regression"),
            "weighted by |score|": (lambda f, s: np.mean(f * np.abs(s)) / np.mean(np.abs(s)), "|score|"),
            "the toy's b* hard-coded": (lambda f, s: 1.75, "whatever the samples"),
            "one baseline per sample": (lambda f, s: f, "not one number"),
            "not a function": (1.75, "write a function"),
            "returns None": (lambda f, s: None, "return"),
            # found by trying the student edition
            "E[f s²] / E[s]²": (lambda f, s: np.mean(f * s**2) / np.mean(s) ** 2, "best constant brings it"),
            "mean of f times E[s²]": (lambda f, s: np.mean(f) * np.mean(s**2), "best constant brings it"),
            "E[f] + Var(f) / 2": (lambda f, s: np.mean(f) + np.var(f) / 2, "best constant brings it"),
            "f at the most likely sample": (lambda f, s: f[np.argmin(np.abs(s))], "best constant brings it"),
            "E[f s²] / E[s²] with f centred": (
                lambda f, s: np.mean((f - f.mean()) * s**2) / np.mean(s**2),
                "best constant brings it",
            ),
            "E[f² s²] / E[f s²]": (lambda f, s: np.mean(f**2 * s**2) / np.mean(f * s**2), "best constant brings it"),
            "2% too large": (lambda f, s: 1.02 * np.mean(f * s**2) / np.mean(s**2), "best constant brings it"),
            "mean plus one standard deviation of f": (lambda f, s: np.mean(f) + np.std(f), "best constant brings it"),
            "the gradient squared": (lambda f, s: np.mean(f * s) ** 2, "best constant brings it"),
            "mean over a sum": (lambda f, s: np.mean(f * s**2) / np.sum(s**2), "best constant brings it"),
            "E[f s] / E[f]": (lambda f, s: np.mean(f * s) / np.mean(f), "best constant brings it"),
            "a ratio of medians": (lambda f, s: np.median(f * s**2) / np.median(s**2), "best constant brings it"),
            "b* minus the mean of f": (
                lambda f, s: np.mean(f * s**2) / np.mean(s**2) - np.mean(f),
                "best constant brings it",
            ),
            "a numpy array of two numbers": (
                lambda f, s: np.array([np.mean(f * s**2), np.mean(s**2)]),
                "not one number",
            ),
        },
    )


def test_the_table_after_exercise_5_2_never_raises_and_never_says_correct():
    def broken(f, s):
        raise ValueError("half written")

    for answer in (lambda f, s: 0.0, broken, lambda f, s: f, lambda f, s: np.mean(f * s**2) / np.mean(s**2)):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exercises.show_baseline_variances(answer)
        assert "✓" not in out.getvalue() and "the best constant b*" in out.getvalue()
    exact = {name: row[1] for name, row in exercises.baseline_variances().items()}
    assert [round(v, 6) for v in exact.values()] == [21.75, 10.5, 9.5, 1.0]


REFERENCE_EXPRESSIONS = {
    "5.1": ["0.5 * torch.exp(0.5 * logvar) * eps", "torch.exp(0.5 * logvar) * eps / 2", "sigma * eps / 2"],
    "5.2": ["np.mean(f_values * score**2) / np.mean(score**2)", "mean(f_values * score**2)", "E[f s^2] / E[s^2]"],
}


test_no_reference_answer_in_the_student_edition = student_edition_test(
    INSTRUCTOR, STUDENT, [e for expressions in REFERENCE_EXPRESSIONS.values() for e in expressions]
)
