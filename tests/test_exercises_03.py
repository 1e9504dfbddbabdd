"""Notebook 3's exercise checks: the answers they accept, the misconceptions they reject, and
no reference answer in the student edition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test
from torch.distributions import Normal, kl_divergence

import helpers
from helpers.exercises import elbo as exercises

INSTRUCTOR = Path(__file__).resolve().parent.parent / "notebooks" / "03_elbo.ipynb"
STUDENT = Path(__file__).resolve().parent.parent / "student" / "03_elbo.ipynb"


def test_kl_from_logvar():
    def via_sigma(mu, logvar):
        sigma = torch.exp(0.5 * logvar)
        return 0.5 * (mu**2 + sigma**2 - 1 - 2 * torch.log(sigma)).sum(-1)

    def numpy_inside(mu, logvar):
        mu, logvar = mu.detach().numpy(), logvar.detach().numpy()
        return torch.as_tensor(0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(-1))

    def first_two(mu, logvar):
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
        return kl[:, 0] + kl[:, 1]

    assert_table(
        exercises.check_kl_from_logvar,
        accept={
            "closed form in logvar": lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(-1),
            "through sigma": via_sigma,
            "torch.distributions": lambda mu, lv: kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(-1),
            "the course helper": lambda mu, lv: helpers.kl_divergence(mu, logvar=lv),
            "the lecture's -1/2 form": lambda mu, lv: -0.5 * (1 + lv - mu**2 - lv.exp()).sum(-1),
        },
        reject={
            "placeholder": (lambda mu, lv: torch.zeros(mu.shape[0]), None),
            "logvar taken as log sigma": (
                lambda mu, lv: 0.5 * (mu**2 + lv.exp() ** 2 - 1 - 2 * lv).sum(-1),
                "log sigma²",
            ),
            "sigma where sigma^2 belongs": (lambda mu, lv: 0.5 * (mu**2 + (lv / 2).exp() - 1 - lv).sum(-1), "variance"),
            "no -1": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(-1), "-1"),
            "no 1/2": (lambda mu, lv: (mu**2 + lv.exp() - 1 - lv).sum(-1), "1/2"),
            "sign of the log term": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 + lv).sum(-1), "sign"),
            "no mu^2": (lambda mu, lv: 0.5 * (lv.exp() - 1 - lv).sum(-1), "mu_j²"),
            "mean over dimensions": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean(-1), "sum"),
            "reverse KL": (lambda mu, lv: 0.5 * ((1 + mu**2) / lv.exp() - 1 + lv).sum(-1), "other direction"),
            "no sum": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv), "sum over the latent"),
            "summed over the batch too": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(), "one number"),
            "numpy inside": (numpy_inside, "gradient"),
            "numpy on a tensor with gradients": (lambda mu, lv: torch.as_tensor(np.exp(lv.numpy())), ".numpy()"),
            "two latent dimensions hard-coded": (first_two, "first two"),
            # found by trying the student edition
            "-1/2 form summed over the batch too": (
                lambda mu, lv: -0.5 * (1 + lv - mu**2 - lv.exp()).sum(),
                "one number",
            ),
            "summed over the batch axis": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(0), "expected shape"),
            "exp(logvar) ** 0.5": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() ** 0.5 - 1 - lv).sum(-1), "variance"),
            "log of logvar": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - torch.log(lv)).sum(-1), None),
            "Normal(mu, exp(logvar))": (
                lambda mu, lv: kl_divergence(Normal(mu, lv.exp()), Normal(0.0, 1.0)).sum(-1),
                "log sigma²",
            ),
            "keepdim": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(-1, keepdim=True), "expected shape"),
            "mean over the batch": (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(-1).mean(), "one number"),
            "logvar taken as the variance": (lambda mu, lv: 0.5 * (mu**2 + lv - 1 - torch.log(lv.abs())).sum(-1), None),
            "returns a float": (lambda mu, lv: float(0.5 * (mu**2 + lv.exp() - 1 - lv).sum().detach()), "torch tensor"),
        },
    )


def test_kl_to_posterior():
    assert_table(
        exercises.check_kl_to_posterior,
        accept={
            "mean of log q - log p(z|x)": lambda lq, lj, lp: (lq - (lj - lp)).mean(0),
            "log p(x) minus the ELBO": lambda lq, lj, lp: lp - (lj - lq).mean(0),
            "numpy result": lambda lq, lj, lp: (lq - lj + lp).mean(0).numpy(),
            "explicit dim": lambda lq, lj, lp: torch.mean(lq - lj + lp[None, :], dim=0),
            "-ELBO plus log p(x)": lambda lq, lj, lp: (lq - lj).mean(0) + lp,
        },
        reject={
            "placeholder": (lambda lq, lj, lp: torch.zeros_like(lp), "zeros"),
            "-ELBO": (lambda lq, lj, lp: (lq - lj).mean(0), "-ELBO"),
            "sign flipped": (lambda lq, lj, lp: (lj - lp - lq).mean(0), "sign"),
            "Bayes upside down": (lambda lq, lj, lp: (lq - (lj + lp)).mean(0), "divides"),
            "log q missing": (lambda lq, lj, lp: (lp - lj).mean(0), "log q(z|x) is missing"),
            "sum over samples": (lambda lq, lj, lp: (lq - (lj - lp)).sum(0), "mean"),
            "log of the mean": (
                lambda lq, lj, lp: torch.logsumexp(lq - lj + lp, 0) - np.log(len(lq)),
                "log of the mean",
            ),
            "weighted by q": (lambda lq, lj, lp: (lq.exp() * (lq - lj + lp)).sum(0), "twice"),
            "mean over conformations": (lambda lq, lj, lp: (lq - lj + lp).mean(1), "axis 0"),
            "one number": (lambda lq, lj, lp: (lq - lj + lp).mean(), "shape"),
            "median instead of mean": (lambda lq, lj, lp: (lq - lj + lp).median(0).values, None),
            "absolute values per sample": (lambda lq, lj, lp: (lq - lj + lp).abs().mean(0), "absolute value"),
            "absolute value of the estimate": (lambda lq, lj, lp: (lq - lj + lp).mean(0).abs(), "below 0"),
            # found by trying the student edition
            "ELBO minus log p(x)": (lambda lq, lj, lp: (lj - lq).mean(0) - lp, "sign"),
            "log p(x) minus the mean log joint": (lambda lq, lj, lp: lp - lj.mean(0), "log q(z|x) is missing"),
            "division in log space": (lambda lq, lj, lp: (lq - lj / lp).mean(0), None),
            "mean over axis 1, plus log p(x)": (lambda lq, lj, lp: torch.mean(lq - lj, dim=1) + lp, None),
            "log p(x) broadcast as a column": (lambda lq, lj, lp: (lq - lj + lp[:, None]).mean(0), None),
            "squared": (lambda lq, lj, lp: ((lq - lj + lp) ** 2).mean(0), None),
            "-ELBO minus log p(x)": (lambda lq, lj, lp: (lq - lj).mean(0) - lp, "divides"),
            "exp of log-densities": (lambda lq, lj, lp: (lq.exp() / (lj - lp).exp()).log().mean(0), "underflows"),
        },
    )


REFERENCE_EXPRESSIONS = {
    "3.1": ["logvar.exp() - 1 - logvar", "torch.exp(logvar) - 1 - logvar"],
    "3.2": ["log_q - (log_joint - log_px)", "(log_q - log_joint + log_px).mean(0)"],
}


test_no_reference_answer_in_the_student_edition = student_edition_test(
    INSTRUCTOR, STUDENT, [e for expressions in REFERENCE_EXPRESSIONS.values() for e in expressions]
)
