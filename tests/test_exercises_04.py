"""Notebook 04's exercise checks (helpers.exercises.beta): the answers each must accept, the
misconceptions each must reject (with a hint that names them), and no reference answer in the
student edition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test

import helpers
from helpers.exercises import beta as exercises

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "04_beta.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "04_beta.ipynb"


# ----------------------------------------------------------------------------- 4.1


def test_check_sigma_x_assumed():
    assert_table(
        exercises.check_sigma_x_assumed,
        accept={
            "sqrt(beta_mean * n_coords / n_latent / 2)": lambda b, d, j: math.sqrt(b * d / j / 2),
            "through the course helper": lambda b, d, j: math.sqrt(helpers.beta_sum_from_mean(b, d, j) / 2),
            "numpy, ** 0.5": lambda b, d, j: np.float64(b * d / (2 * j)) ** 0.5,
            "a tensor": lambda b, d, j: torch.tensor(b * d / j / 2).sqrt(),
        },
        reject={
            "the placeholder": (lambda b, d, j: 0.0, "returns 0"),
            "returns None": (lambda b, d, j: None, "None"),
            "a number, not a function": (2.449, "write a function"),
            "a string": (lambda b, d, j: f"{math.sqrt(b * d / j / 2):.3f}", "not one number"),
            "True": (lambda b, d, j: True, "not one number"),
            "no conversion": (lambda b, d, j: math.sqrt(b / 2), "convert first"),
            "factor upside down": (lambda b, d, j: math.sqrt(b * j / d / 2), "upside down"),
            "only the coordinates": (lambda b, d, j: math.sqrt(b * d / 2), "averaged too"),
            "only the latent dimensions": (lambda b, d, j: math.sqrt(b / j / 2), "multiply by n_coords"),
            "the variance": (lambda b, d, j: b * d / j / 2, "variance"),
            "no 1/2": (lambda b, d, j: math.sqrt(b * d / j), "1/2"),
            "sigma^2 = 2 beta": (lambda b, d, j: math.sqrt(2 * b * d / j), "not sigma_x² = 2 beta"),
            "beta in the sum convention": (lambda b, d, j: b * d / j, "the noise it assumes"),
            "the helper without the dimensions": (
                lambda b, d, j: math.sqrt(helpers.beta_sum_from_mean(b) / 2),
                "not 24 and 2",
            ),
            "a tuple (beta_sum, sigma_x)": (lambda b, d, j: (b * d / j, math.sqrt(b * d / j / 2)), "not one number"),
            # found by trying the student edition
            "12 hard-coded": (lambda b, d, j: math.sqrt(12 * b / 2), "not 24 and 2"),
            "n_coords / n_latent only": (lambda b, d, j: math.sqrt(d / j / 2), None),
            "beta times 12, then over J": (lambda b, d, j: math.sqrt(b * 12 / j / 2), None),
            "the rms spread of the data": (lambda b, d, j: 1.05, None),
            "sqrt of beta only": (lambda b, d, j: math.sqrt(b) * d / j / 2, None),
            "sigma scaled instead of sigma²": (lambda b, d, j: math.sqrt(b / 2) * d / j, None),
            "1/2 outside the sqrt": (lambda b, d, j: math.sqrt(b * d / j) / 2, None),
            "both multiplied": (lambda b, d, j: math.sqrt(b * d * j / 2), None),
            "integer division": (lambda b, d, j: math.sqrt(b * (d // j) / 2), None),
            # a student's further tries (issue 19, second round)
            "beads counted instead of coordinates": (lambda b, d, j: math.sqrt(b * (d / 2) / j / 2), None),
            "divided by 12": (lambda b, d, j: math.sqrt(b / 12 / 2), None),
            "12 hard-coded, no 1/2": (lambda b, d, j: math.sqrt(12 * b), None),
            "a numpy string": (lambda b, d, j: np.str_("2.449"), "not one number"),
        },
    )


# ----------------------------------------------------------------------------- 4.2


def _draw(noise=None, z=None):
    """A draw_conformations built from a noise rule (beta, n, generator) -> (n, 24) and a z rule."""

    def draw(model, beta, n, generator):
        latent = torch.randn(n, 2, generator=generator) if z is None else z(n, generator)
        with torch.no_grad():
            means = model.decode(latent)
        return means + (
            math.sqrt(beta / 2) * torch.randn(n, 24, generator=generator)
            if noise is None
            else noise(beta, n, generator)
        )

    return draw


def _sd(beta):
    return math.sqrt(beta / 2)


def _with_grad(model, beta, n, generator):  # no torch.no_grad(): the result requires grad
    return model.decode(torch.randn(n, 2, generator=generator)) + _sd(beta) * torch.randn(n, 24, generator=generator)


def test_check_draw_conformations():
    assert_table(
        exercises.check_draw_conformations,
        accept={
            "decode z ~ N(0, I), add sqrt(beta / 2) eps": _draw(),
            "torch.normal around the means": lambda m, b, n, g: torch.normal(
                m.decode(torch.randn(n, 2, generator=g)).detach(), _sd(b), generator=g
            ),
            "without torch.no_grad()": _with_grad,
            "a numpy array, noise from a numpy generator seeded by `generator`": lambda m, b, n, g: (
                m.decode(torch.randn(n, 2, generator=g)).detach().numpy()
                + _sd(b) * np.random.default_rng(g.initial_seed()).standard_normal((n, 24))
            ),
            "one torch.randn(n, 26) split into z and eps": lambda m, b, n, g: (
                lambda r: m.decode(r[:, :2]).detach() + _sd(b) * r[:, 2:]
            )(torch.randn(n, 26, generator=g)),
        },
        reject={
            "the placeholder": (lambda m, b, n, g: torch.zeros(n, 24), "zeros"),
            "decoder means only": (_draw(noise=lambda b, n, g: 0.0), "decoder means"),
            "one eps per polymer (a rigid shift)": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 1, generator=g)),
                "rigid shift",
            ),
            "one eps per bead, shared by x and y": (
                _draw(
                    noise=lambda b, n, g: _sd(b) * torch.randn(n, 12, 1, generator=g).expand(n, 12, 2).reshape(n, 24)
                ),
                "x and y of each bead",
            ),
            "one eps per bead, repeat_interleave": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 12, generator=g).repeat_interleave(2, 1)),
                "x and y of each bead",
            ),
            "eps drawn once for all polymers": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(1, 24, generator=g)),
                "same noise",
            ),
            "sigma_x² as the scale": (_draw(noise=lambda b, n, g: b / 2 * torch.randn(n, 24, generator=g)), "variance"),
            "sqrt(beta) as the scale": (
                _draw(noise=lambda b, n, g: math.sqrt(b) * torch.randn(n, 24, generator=g)),
                "not sqrt(beta)",
            ),
            "beta as the scale": (_draw(noise=lambda b, n, g: b * torch.randn(n, 24, generator=g)), "beta is not"),
            "unit noise": (_draw(noise=lambda b, n, g: torch.randn(n, 24, generator=g)), "multiply eps"),
            "the notebook's beta 0.12 hard-coded": (
                _draw(noise=lambda b, n, g: math.sqrt(0.06) * torch.randn(n, 24, generator=g)),
                "beta = 0.12",
            ),
            "uniform noise of the right variance": (
                _draw(noise=lambda b, n, g: _sd(b) * math.sqrt(12) * (torch.rand(n, 24, generator=g) - 0.5)),
                "not Gaussian",
            ),
            "z = 0 for every draw": (_draw(z=lambda n, g: torch.zeros(n, 2)), "same z"),
            "z uniform on [0, 1)": (_draw(z=lambda n, g: torch.rand(n, 2, generator=g)), "z ~ N(0, I)"),
            "noise on z instead of x": (
                lambda m, b, n, g: m.decode(torch.randn(n, 2, generator=g) * (1 + _sd(b))).detach(),
                "not to z",
            ),
            "not a function": (torch.zeros(5, 24), "write a function"),
            "returns None": (lambda m, b, n, g: None, "None"),
            "torch.distributions, global RNG": (
                lambda m, b, n, g: torch.distributions.Normal(m.decode(torch.randn(n, 2)).detach(), _sd(b)).sample(),
                "generator=generator",
            ),
            "model.sample plus seeded numpy noise": (
                lambda m, b, n, g: (
                    m.sample(n, seed=5).numpy() + _sd(b) * np.random.default_rng(5).standard_normal((n, 24))
                ),
                "ignores `generator`",
            ),
            "randn_like, global RNG": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn_like(torch.empty(n, 24))),
                "generator=generator",
            ),
            "torch.randn without generator": (
                lambda m, b, n, g: m.decode(torch.randn(n, 2)).detach() + _sd(b) * torch.randn(n, 24),
                "generator=generator",
            ),
            "(n, 12, 2)": (lambda m, b, n, g: _draw()(m, b, n, g).reshape(n, 12, 2), "(10000, 24)"),
            "a list of floats": (lambda m, b, n, g: _draw()(m, b, n, g).tolist(), "one tensor"),
            "a list of tensors": (lambda m, b, n, g: list(_draw()(m, b, n, g)), "one tensor"),
            # found by trying the student edition
            "one eps per bead, repeat": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 12, generator=g).repeat(1, 2)),
                "correlated",
            ),
            "one eps per polymer and axis": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 1, 2, generator=g).expand(n, 12, 2).reshape(n, 24)),
                "whole polymers",
            ),
            "beta 3 hard-coded": (
                _draw(noise=lambda b, n, g: math.sqrt(1.5) * torch.randn(n, 24, generator=g)),
                "beta = 3",
            ),
            "torch.rand, not centred": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.rand(n, 24, generator=g)),
                None,
            ),
            "shape (24, n)": (lambda m, b, n, g: _draw()(m, b, n, g).T, "expected shape"),
            "beta converted again": (
                _draw(
                    noise=lambda b, n, g: math.sqrt(helpers.beta_sum_from_mean(b) / 2) * torch.randn(n, 24, generator=g)
                ),
                "already",
            ),
            "multiplicative noise": (
                lambda m, b, n, g: (
                    _draw(noise=lambda b, n, g: 0.0)(m, b, n, g) * (1 + _sd(b) * torch.randn(n, 24, generator=g))
                ),
                None,
            ),
            "sigma_x split over the 24 coordinates": (
                _draw(noise=lambda b, n, g: _sd(b) / math.sqrt(24) * torch.randn(n, 24, generator=g)),
                "times sigma_x",
            ),
            "z scaled by sigma_x": (_draw(z=lambda n, g: 1.5 * torch.randn(n, 2, generator=g)), "z ~ N(0, I)"),
            "z reused as the noise": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 2, generator=g).repeat(1, 12)),
                "whole polymers",
            ),
            "absolute noise": (_draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 24, generator=g).abs()), None),
            # a student's further tries (issue 19, second round)
            "z scaled by sigma_x at beta = 3": (
                _draw(z=lambda n, g: 1.22 * torch.randn(n, 2, generator=g)),
                "z ~ N(0, I)",
            ),
            "one z for all polymers": (_draw(z=lambda n, g: torch.randn(1, 2, generator=g).expand(n, 2)), "same z"),
            "beta / sqrt(2) (operator precedence)": (
                _draw(noise=lambda b, n, g: b / 2**0.5 * torch.randn(n, 24, generator=g)),
                "times sigma_x",
            ),
            "half the noise": (_draw(noise=lambda b, n, g: _sd(b) / 2 * torch.randn(n, 24, generator=g)), None),
            "eps from the global RNG": (
                _draw(noise=lambda b, n, g: _sd(b) * torch.randn(n, 24)),
                "generator=generator",
            ),
            "torch.normal without generator": (
                lambda m, b, n, g: torch.normal(m.decode(torch.randn(n, 2, generator=g)).detach(), _sd(b)),
                "generator=generator",
            ),
            "a fixed seed inside": (
                lambda m, b, n, g: _draw()(m, b, n, torch.Generator().manual_seed(0)),
                "ignores `generator`",
            ),
        },
    )


REFERENCE_EXPRESSIONS = {
    "4.1": ["beta_mean * n_coords / n_latent", "math.sqrt(beta_12 / 2)", "beta_sum_from_mean(1.0)"],
    "4.2": ["math.sqrt(beta / 2) * torch.randn", "torch.randn(means.shape"],
}


test_no_reference_answer_in_the_student_edition = student_edition_test(
    INSTRUCTOR, STUDENT, [e for expressions in REFERENCE_EXPRESSIONS.values() for e in expressions]
)
