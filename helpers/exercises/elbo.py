"""Self-checks of notebook 3, the ELBO.

    check_kl_from_logvar    Exercise 3.1: the closed-form KL(N(mu, exp(logvar)) || N(0, I)) per example,
                            for an encoder that outputs the log-variance
    check_kl_to_posterior   Exercise 3.2: the Monte-Carlo estimate of KL(q(z|x) || p(z|x)) from samples
                            of q, given log q, log p(x, z) and log p(x)

Each check calls the student's function on inputs the notebook never uses (other batch sizes,
other numbers of latent dimensions and samples, toy models whose posterior is known), compares
it with its own reference, and names the misconception when the wrong answer looks like a known one.
"""

from __future__ import annotations

import math

import torch

from ._verdict import exercise_check

# ---------------------------------------------------------------- Exercise 3.1


def _kl_reference(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)


def _logvar_cases():
    """(mu, logvar) batches of several shapes, in float64 (batch, J): 50 x 3, 1 x 2, 7 x 8."""
    g = torch.Generator().manual_seed(31)
    cases = []
    for batch, dims in ((50, 3), (1, 2), (7, 8)):
        mu = 1.5 * torch.randn(batch, dims, generator=g, dtype=torch.float64)
        logvar = 4 * torch.rand(batch, dims, generator=g, dtype=torch.float64) - 3  # sigma from 0.22 to 1.6
        cases.append((mu, logvar))
    return cases


# misconception -> (what it computes from mu, logvar: (batch, J) each, and the hint that names it)
_KL_MISTAKES = {
    "logvar taken as log sigma": (
        lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 1 - 2 * lv).sum(-1),
        "that treats logvar as log sigma; it is log sigma², so sigma² = exp(logvar) and log sigma² = logvar",
    ),
    "sigma where sigma^2 belongs": (
        lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - 1 - lv).sum(-1),
        "exp(logvar / 2) is sigma; the formula needs the variance sigma² = exp(logvar)",
    ),
    "no -1": (
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(-1),
        "each latent dimension needs its -1: without it the KL of q = N(0, I) would be J/2, not 0",
    ),
    "no 1/2": (lambda mu, lv: (mu**2 + lv.exp() - 1 - lv).sum(-1), "twice too large: the closed form has a factor 1/2"),
    "sign of log sigma^2": (
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 + lv).sum(-1),
        "check the sign of the log-variance term: -log sigma² (so that t - 1 - log t >= 0)",
    ),
    "no mu^2": (
        lambda mu, lv: 0.5 * (lv.exp() - 1 - lv).sum(-1),
        "the mean mu_j² is missing: a code away from the origin costs KL too",
    ),
    "mean over dimensions": (
        lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).mean(-1),
        "that averages over the latent dimensions; the KL of independent dimensions is their sum",
    ),
    "reverse KL(p || q)": (
        lambda mu, lv: 0.5 * ((1 + mu**2) / lv.exp() - 1 + lv).sum(-1),
        "that is KL(N(0, I) || q), the other direction; the ELBO has KL(q || p), with q first",
    ),
}


@exercise_check
def check_kl_from_logvar(my_kl):
    """Exercise 3.1: ``my_kl(mu, logvar)`` returns KL(N(mu, diag exp(logvar)) || N(0, I)) per example,
    shape (batch,), as a torch tensor that autograd can differentiate.

    Tried on batches of 50 x 3, 1 x 2 and 7 x 8 (other sizes and numbers of latent dimensions than
    the notebook's), values and gradients. Recognises: logvar taken as log sigma, sigma where sigma²
    belongs, a missing -1, a missing 1/2, the wrong sign of the log term, a missing mu², a mean
    instead of a sum over dimensions, the reverse KL(p || q), no sum (shape (batch, J)) or a sum over
    the batch too (one number), and a result that cannot be differentiated (numpy, .item(), detach).
    """
    if not callable(my_kl):
        return False, "write a function my_kl(mu, logvar) that returns a tensor of shape (batch,)"
    for mu, logvar in _logvar_cases():
        mu32, lv32 = mu.float().requires_grad_(True), logvar.float().requires_grad_(True)
        try:
            out = my_kl(mu32, lv32)
        except RuntimeError as error:
            if "numpy" in str(error):
                return False, (
                    "your function calls .numpy() on a tensor that carries gradients: the KL is part of "
                    "the loss, so compute it with torch operations (torch.exp, **, .sum)"
                )
            raise
        if not isinstance(out, torch.Tensor):
            return False, (
                f"my_kl returned {type(out).__name__}, not a torch tensor: the KL is part of the loss, so "
                f"it must stay in torch (no numpy, no .item()) for the gradients to reach the encoder"
            )
        batch, dims = mu.shape
        if tuple(out.shape) != (batch,):
            if tuple(out.shape) == (batch, dims):
                return (
                    False,
                    f"shape {tuple(out.shape)}: one KL per example, so sum over the latent dimensions (axis -1)",
                )
            if out.numel() == 1:
                return False, (
                    f"one number for a batch of {batch}: return one KL per example (sum over the latent "
                    f"dimensions only, not over the batch)"
                )
            return (
                False,
                f"for a batch of {batch} with {dims} latent dimensions, expected shape ({batch},), got {tuple(out.shape)}",
            )
        want = _kl_reference(mu, logvar)
        if not torch.allclose(out.detach().double(), want, rtol=1e-4, atol=1e-5):
            if not out.detach().any():
                return False, "my_kl still returns zeros: write the closed form in terms of mu and logvar"
            for mistake, hint in _KL_MISTAKES.values():
                if torch.allclose(out.detach().double(), mistake(mu, logvar), rtol=1e-4, atol=1e-5):
                    return False, hint
            if dims != 2 and torch.allclose(
                out.detach().double(), _kl_reference(mu[:, :2], logvar[:, :2]), rtol=1e-4, atol=1e-5
            ):
                return (
                    False,
                    f"with {dims} latent dimensions your function summed only the first two: sum over all of them",
                )
            return False, (
                f"for mu = {mu[0].numpy().round(2)}, logvar = {logvar[0].numpy().round(2)} your KL is "
                f"{float(out[0].detach()):.4f}, expected {float(want[0]):.4f}: start from the closed form of §5 and "
                f"write sigma_j² and log sigma_j² in terms of logvar_j"
            )
        if not out.requires_grad:
            return False, (
                "the values are right, but the result carries no gradient (numpy, .item() or detach "
                "inside?): the KL is part of the loss, keep it in torch"
            )
        grad_mu, grad_lv = torch.autograd.grad(out.sum(), (mu32, lv32), allow_unused=True)
        if (
            grad_mu is None
            or grad_lv is None
            or not (
                torch.allclose(grad_mu.double(), mu, rtol=1e-3, atol=1e-4)
                and torch.allclose(grad_lv.double(), 0.5 * (logvar.exp() - 1), rtol=1e-3, atol=1e-4)
            )
        ):
            return False, (
                "the values are right but the gradients are not (is part of it computed outside torch, "
                "or detached?): dKL/dmu should be mu and dKL/dlogvar (exp(logvar) - 1) / 2"
            )
    return True, ""


# ---------------------------------------------------------------- Exercise 3.2


def _posterior_toys():
    """(log_q, log_joint, log_px, exact KL) for toy models with a 1-D latent z and a known posterior.

    For conformation n: p(x_n, z) = exp(log_px[n]) N(z; m_n, s_n²), so that p(z|x_n) = N(m_n, s_n²)
    and p(x_n) = exp(log_px[n]); q(z|x_n) = N(a_n, b_n²). Samples z ~ q: (K, N), with K != N in
    one toy and K == N in the other (where a mean over the wrong axis has the right shape).
    """
    g = torch.Generator().manual_seed(32)
    toys = []
    for k, n in ((4000, 3), (500, 500)):
        a, b = torch.randn(n, generator=g), 0.5 + torch.rand(n, generator=g)  # q(z|x_n)
        m, s = a + torch.randn(n, generator=g), 0.3 + torch.rand(n, generator=g)  # p(z|x_n)
        log_px = -20 * torch.rand(n, generator=g)  # any values: nats
        z = a + b * torch.randn(k, n, generator=g)
        log_q = torch.distributions.Normal(a, b).log_prob(z)
        log_joint = torch.distributions.Normal(m, s).log_prob(z) + log_px
        exact = torch.log(s / b) + (b**2 + (a - m) ** 2) / (2 * s**2) - 0.5
        toys.append((log_q, log_joint, log_px, exact))
    return toys


def _same(a, b) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def _kl_post_reference(log_q, log_joint, log_px):
    return (log_q - (log_joint - log_px)).mean(0)


# misconception -> (what it computes, the hint that names it)
_POSTERIOR_MISTAKES = {
    "-ELBO": (
        lambda lq, lj, lp: (lq - lj).mean(0),
        "that is -ELBO: log p(x, z) is the joint, not the posterior; Bayes' rule relates the two through p(x)",
    ),
    "ELBO - log p(x)": (
        lambda lq, lj, lp: (lj - lp - lq).mean(0),
        "the sign is flipped: that is ELBO - log p(x), never positive; the KL is >= 0",
    ),
    "Bayes upside down": (
        lambda lq, lj, lp: (lq - (lj + lp)).mean(0),
        "Bayes' rule divides by p(x): in logs that is a minus, not a plus",
    ),
    "log q missing": (
        lambda lq, lj, lp: (lp - lj).mean(0),
        "log q(z|x) is missing: the KL compares q with the posterior at each sample",
    ),
    "sum over samples": (
        lambda lq, lj, lp: (lq - (lj - lp)).sum(0),
        "that sums over the K samples; a Monte-Carlo expectation is their mean",
    ),
    "log of the mean": (
        lambda lq, lj, lp: torch.logsumexp(lq - (lj - lp), 0) - math.log(len(lq)),
        "that is the log of the mean of q/p(z|x), not the mean of its log (see the KL's definition in §3)",
    ),
    "weighted by q": (
        lambda lq, lj, lp: (lq.exp() * (lq - (lj - lp))).sum(0),
        "the samples are already drawn from q: weighting them by q(z) again counts q twice; "
        "just average over the samples",
    ),
    "absolute value of the estimate": (
        lambda lq, lj, lp: (lq - (lj - lp)).mean(0).abs(),
        "no absolute value: with finitely many samples an estimate of a small KL can "
        "come out below 0; it is still the right estimate (its average is the KL)",
    ),
    "absolute value per sample": (
        lambda lq, lj, lp: (lq - (lj - lp)).abs().mean(0),
        "no absolute value: log q - log p(z|x) is negative for some samples, and those "
        "count with their sign; only the average is >= 0",
    ),
    "mean over conformations": (
        lambda lq, lj, lp: (lq - (lj - lp)).mean(1),
        "that averages over the conformations (axis 1); average over the K samples (axis 0), one KL per conformation",
    ),
}


@exercise_check
def check_kl_to_posterior(kl_to_posterior):
    """Exercise 3.2: ``kl_to_posterior(log_q, log_joint, log_px)`` returns the Monte-Carlo estimate
    of KL(q(z|x) || p(z|x)) per conformation, shape (N,), from K samples z ~ q (arrays (K, N), (K, N), (N,)).

    Tried on two toy models with a 1-D latent whose posterior is Gaussian and known (3 conformations
    with 4,000 samples each; 500 conformations with 500 samples each, where averaging over the
    wrong axis still gives the right shape). Compared with the estimate on the same samples, and
    with the exact KL. Recognises: -ELBO (the joint taken for the posterior), the flipped sign,
    Bayes' rule upside down, a missing log q, a sum over samples, the log of the mean, weighting
    the samples by q again, and averaging over the conformations.
    """
    if not callable(kl_to_posterior):
        return False, "write a function kl_to_posterior(log_q, log_joint, log_px) that returns a tensor of shape (N,)"
    for log_q, log_joint, log_px, exact in _posterior_toys():
        k, n = log_q.shape
        out = kl_to_posterior(log_q.clone(), log_joint.clone(), log_px.clone())
        try:
            out = torch.as_tensor(out, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return False, f"kl_to_posterior returned {type(out).__name__}, not a tensor of shape (N,)"
        if tuple(out.shape) != (n,):
            if tuple(out.shape) == (k,):
                return False, (
                    f"shape ({k},) for {k} samples of {n} conformations: average over the samples "
                    f"(axis 0), one KL per conformation"
                )
            return False, f"for {k} samples of {n} conformations expected shape ({n},), got {tuple(out.shape)}"
        want = _kl_post_reference(log_q.double(), log_joint.double(), log_px.double())
        if _same(out, want):
            continue
        for mistake, hint in _POSTERIOR_MISTAKES.values():
            if _same(out, mistake(log_q.double(), log_joint.double(), log_px.double())):
                return False, hint
        if _same(out, torch.zeros(n, dtype=torch.float64)):
            return False, "your function returns zeros: you need log p(z|x) at the samples (Bayes' rule)"
        off = int(torch.nan_to_num((out - want).abs(), nan=torch.inf).argmax())
        if (out - want).abs().median() < 1e-3:
            return False, (
                f"right for most conformations, but for one your estimate is {float(out[off]):.3f} instead of "
                f"{float(want[off]):.3f}: work with the log-densities themselves; exp() of a log-density "
                f"far below 0 underflows"
            )
        return False, (
            f"on a toy model (exact KL(q || p(z|x)) = {float(exact[off]):.3f} nats; from these {k} samples "
            f"the estimate is {float(want[off]):.3f}) your function gives {float(out[off]):.3f}: which "
            f"log-density is log p(z|x) (Bayes' rule), and over which axis is the expectation taken?"
        )
    return True, ""
