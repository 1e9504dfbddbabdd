"""Notebook 09's exercise checks (helpers.exercises.diffusion): the answers each must accept, the
misconceptions each must reject (with a hint that names them), and no reference answer in the
student edition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, reference_answer_tests

from helpers.exercises import diffusion as exercises

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "09_diffusion.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "09_diffusion.ipynb"


def _sqrt(a):
    return torch.sqrt(torch.as_tensor(a, dtype=torch.float64))


def _noise_in_place(x0, eps, a):
    x0 *= a**0.5
    x0 += (1 - a) ** 0.5 * eps
    return x0


def _ddim_in_place(x, e, a, a_prev):
    x -= (1 - a) ** 0.5 * e
    x /= a**0.5
    return a_prev**0.5 * x + (1 - a_prev) ** 0.5 * e


def _guidance_in_place(c, u, w):
    c += w * (c - u)
    return c


def _ddim_clipped(bound):
    """The step with x0_hat clipped to +-bound, as helpers.diffusion's sampler does (bound 5)."""

    def ddim_step(x, e, a, a_prev):
        x0 = ((x - (1 - a) ** 0.5 * e) / a**0.5).clamp(-bound, bound)
        return a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * e

    return ddim_step


# ----------------------------------------------------------------------------- 9.1


def test_check_add_noise():
    assert_table(
        exercises.check_add_noise,
        accept={
            "sqrt(abar) x0 + sqrt(1 - abar) eps": lambda x0, eps, a: a**0.5 * x0 + (1 - a) ** 0.5 * eps,
            "torch, via the standard deviation": lambda x0, eps, a: _sqrt(a) * torch.as_tensor(x0)
            + torch.sqrt(1 - torch.as_tensor(a, dtype=torch.float64)) * torch.as_tensor(eps),
            "torch methods on the level": lambda x0, eps, a: torch.as_tensor(a, dtype=x0.dtype).sqrt() * x0
            + (1 - torch.as_tensor(a, dtype=x0.dtype)).sqrt() * eps,
            "a float32 result": lambda x0, eps, a: (a**0.5 * x0 + (1 - a) ** 0.5 * eps).float(),
        },
        reject={
            "the placeholder": (lambda x0, eps, a: x0, "unchanged"),
            "variances as scales": (lambda x0, eps, a: a * x0 + (1 - a) * eps, "variances"),
            "noise not scaled": (lambda x0, eps, a: a**0.5 * x0 + eps, "sqrt(1 - abar_t)"),
            "signal not scaled": (lambda x0, eps, a: x0 + (1 - a) ** 0.5 * eps, "shrink"),
            "factors swapped": (lambda x0, eps, a: (1 - a) ** 0.5 * x0 + a**0.5 * eps, "swapped"),
            "noise subtracted": (lambda x0, eps, a: a**0.5 * x0 - (1 - a) ** 0.5 * eps, "subtracted"),
            "beta instead of abar": (lambda x0, eps, a: (1 - a) ** 0.5 * eps + x0 * (1 - (1 - a) ** 2) ** 0.5, None),
            "a string": ("sqrt(abar) x0", "function"),
            "x0 scaled by abar, raw noise": (lambda x0, eps, a: x0 * a + eps, None),
            "variances added in quadrature": (lambda x0, eps, a: (a * x0**2 + (1 - a) * eps**2) ** 0.5, None),
            "both scaled by sqrt(abar)": (lambda x0, eps, a: (x0 + eps) * a**0.5, None),
            "one level for all chains": (lambda x0, eps, a: math.sqrt(np.mean(a)) * x0 + math.sqrt(1 - np.mean(a)) * eps, None),
            "x0 changed in place": (_noise_in_place, "in place"),
            "eps left out": (lambda x0, eps, a: a**0.5 * x0, "noise term is missing"),
            "square roots as **1/2": (lambda x0, eps, a: a**1/2 * x0 + (1 - a)**1/2 * eps, "x**0.5"),
            "a numpy array (from torch tensors)": (lambda x0, eps, a: np.sqrt(a) * np.asarray(x0) + np.sqrt(1 - a) * np.asarray(eps), "not a torch tensor"),
            "no return (None)": (lambda x0, eps, a: None, "missing return"),
            "math.sqrt of the levels": (lambda x0, eps, a: math.sqrt(a) * x0 + math.sqrt(1 - a) * eps, "torch.sqrt"),
            "torch.sqrt of a plain number": (lambda x0, eps, a: torch.sqrt(a) * x0 + torch.sqrt(1 - a) * eps, "plain number"),
            "the column of levels flattened": (lambda x0, eps, a: torch.as_tensor(a).flatten() ** 0.5 * x0
                                               + (1 - torch.as_tensor(a).flatten()) ** 0.5 * eps, "flattening"),
        },
    )  # fmt: skip


# ----------------------------------------------------------------------------- 9.2


def _ddim(x, e, a, a_prev):
    x0 = (x - (1 - a) ** 0.5 * e) / a**0.5
    return a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * e


def _ddim_coefficients(x, e, a, a_prev):
    """The same step written as one linear combination of x_t and eps."""
    return math.sqrt(a_prev / a) * x + (math.sqrt(1 - a_prev) - math.sqrt(a_prev * (1 - a) / a)) * e


def test_check_ddim_step():
    assert_table(
        exercises.check_ddim_step,
        accept={
            "predict x0, then re-noise": _ddim,
            "as coefficients of x_t and eps": _ddim_coefficients,
            "levels as tensors": lambda x, e, a, a_prev: _ddim(x, e, torch.tensor(a), torch.tensor(a_prev)),
            "a float32 result": lambda x, e, a, a_prev: _ddim(x, e, a, a_prev).float(),
        },
        reject={
            "the placeholder": (lambda x, e, a, a_prev: x, "went nowhere"),
            "jump to x0_hat": (lambda x, e, a, a_prev: (x - (1 - a) ** 0.5 * e) / a**0.5, "x0_hat"),
            "the same noise level": (lambda x, e, a, a_prev: _ddim(x, e, a, a), "abar_prev"),
            "variance in x0_hat": (lambda x, e, a, a_prev: a_prev**0.5 * (x - (1 - a) * e) / a**0.5 + (1 - a_prev) ** 0.5 * e, "scale"),
            "x0_hat not divided": (lambda x, e, a, a_prev: a_prev**0.5 * (x - (1 - a) ** 0.5 * e) + (1 - a_prev) ** 0.5 * e, "shrinking"),
            "noise not re-added": (lambda x, e, a, a_prev: a_prev**0.5 * (x - (1 - a) ** 0.5 * e) / a**0.5, "noise must come back"),
            "noise re-added with a minus": (lambda x, e, a, a_prev: 2 * a_prev**0.5 * (x - (1 - a) ** 0.5 * e) / a**0.5 - _ddim(x, e, a, a_prev), "sign"),
            "re-noised x_t instead of x0_hat": (lambda x, e, a, a_prev: a_prev**0.5 * x + (1 - a_prev) ** 0.5 * e, None),
            "x0_hat from abar_prev": (lambda x, e, a, a_prev: _ddim(x, e, a_prev, a_prev), "with abar_t"),
            "a DDPM mean": (lambda x, e, a, a_prev: (x - (1 - a / a_prev) / (1 - a) ** 0.5 * e) / (a / a_prev) ** 0.5, None),
            "x_t changed in place": (_ddim_in_place, "in place"),
            "x0_hat clipped to +-1": (_ddim_clipped(1.0), "clipped"),
            "x0_hat clipped to +-5 (as the library's sampler)": (_ddim_clipped(5.0), "clipped"),
            "a numpy array (from torch tensors)": (lambda x, e, a, a_prev: _ddim(x.numpy(), e.numpy(), a, a_prev), "not a torch tensor"),
            "the two levels swapped": (lambda x, e, a, a_prev: _ddim(x, e, a_prev, a), "swapped"),
            "square roots as **1/2": (lambda x, e, a, a_prev: a_prev**1/2 * (x - (1 - a)**1/2 * e) / (a**1/2) + (1 - a_prev)**1/2 * e, "x**0.5"),
            "square roots as **1/2, divisor unbracketed": (lambda x, e, a, a_prev: a_prev**1/2 * ((x - (1 - a)**1/2 * e) / a**1/2) + (1 - a_prev)**1/2 * e, "x**0.5"),
        },
    )  # fmt: skip


# ----------------------------------------------------------------------------- 9.3


def test_check_guided_noise():
    assert_table(
        exercises.check_guided_noise,
        accept={
            "(1 + w) eps_c - w eps_u": lambda c, u, w: (1 + w) * c - w * u,
            "eps_c + w (eps_c - eps_u)": lambda c, u, w: c + w * (c - u),
            "eps_u + (1 + w)(eps_c - eps_u)": lambda c, u, w: u + (1 + w) * (c - u),
            "torch.lerp beyond 1": lambda c, u, w: torch.lerp(u, c, 1 + w),
            "torch.add with alpha": lambda c, u, w: torch.add(c, c - u, alpha=w),
        },
        reject={
            "the placeholder": (lambda c, u, w: c, "ignores w"),
            "the other convention (w = 1: conditional)": (lambda c, u, w: u + w * (c - u), "convention"),
            "swapped": (lambda c, u, w: (1 + w) * u - w * c, "swapped"),
            "unconditional added": (lambda c, u, w: c + w * u, "minus sign"),
            "average": (lambda c, u, w: (c + u) / 2, "average"),
            "(1 - w) eps_c + w eps_u": (lambda c, u, w: (1 - w) * c + w * u, "towards the unconditional"),
            "eps_c - w eps_u": (lambda c, u, w: c - w * u, None),
            "normalised sum": (lambda c, u, w: (c + w * u) / (1 + w), None),
            "w times the difference only": (lambda c, u, w: w * (c - u), None),
            "guidance without the 1 (the other convention, expanded)": (lambda c, u, w: w * c - w * u + u, "convention"),
            "w hard-coded to 1": (lambda c, u, w: 2 * c - u, "change with w"),
            "guidance on or off": (lambda c, u, w: 2 * c - u if w else c, "wrong factor"),
            "eps_cond changed in place": (_guidance_in_place, "in place"),
            # equal to the other convention at w = 2 only: not that hint
            "half the difference": (lambda c, u, w: c + (w / 2) * (c - u), "wrong factor"),
            "a numpy array (from torch tensors)": (lambda c, u, w: (1 + w) * c.numpy() - w * u.numpy(), "not a torch tensor"),
        },
    )  # fmt: skip


# ----------------------------------------------------------------------------- no answers in the student edition

REFERENCE_EXPRESSIONS = [
    "abar_t**0.5 * x0 + (1 - abar_t) ** 0.5 * eps",  # 9.1
    "(x_t - (1 - abar_t) ** 0.5 * eps) / abar_t**0.5",  # 9.2
    "(1 + w) * eps_cond - w * eps_uncond",  # 9.3
]


test_the_reference_expressions_are_the_solutions, test_no_reference_answer_in_the_student_edition = (
    reference_answer_tests(INSTRUCTOR, STUDENT, REFERENCE_EXPRESSIONS)
)
