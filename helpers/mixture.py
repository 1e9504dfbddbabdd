"""A Gaussian mixture over latent codes, fitted by expectation-maximisation: a learned prior p(z).

The prior N(0, I) of a VAE is only what the KL term pulls the codes towards; the codes
themselves (the aggregated posterior q(z) = mean over frames of q_phi(z|x)) fill it unevenly,
with holes where the decoder was never trained. A mixture of K Gaussians fitted to codes drawn
from q_phi(z|x) follows them, holes included, and is a smooth density (not a list of stored
codes): its draws are new points near the data's codes, not copies of them.

A mixture is three tensors (float64): ``weights`` (K,) summing to 1, ``means`` (K, d) and
``scale_tril`` (K, d, d), the lower Cholesky factors of the K covariance matrices.
"""

from __future__ import annotations

import torch

from ._checks import check_array, check_positive_int, check_seed

COVARIANCE_FLOOR = 1e-6  # added to each covariance's diagonal (codes^2): keeps every component invertible


def _check_codes(z) -> torch.Tensor:
    z = check_array("codes", z, ndim=2, min_len=2)
    return torch.as_tensor(z).detach().to("cpu", torch.float64)


def mixture_log_prob(z, weights, means, scale_tril) -> torch.Tensor:
    """log p(z) under the mixture, in nats: z (n, d) -> (n,), float64 on the CPU."""
    z = _check_codes(z)
    components = torch.distributions.MultivariateNormal(means, scale_tril=scale_tril)
    return torch.logsumexp(components.log_prob(z[:, None, :]) + torch.log(weights), dim=-1)


def fit_mixture(z, k: int, *, iterations: int = 100, seed: int = 0):
    """Fit a mixture of ``k`` full-covariance Gaussians to codes z (n, d) by expectation-maximisation.

    Starts from ``k`` codes picked with ``seed`` as means and the codes' covariance for every
    component, then alternates ``iterations`` times: responsibilities r_ik of each component for
    each code (E step), then weights, means and covariances weighted by them (M step). Returns
    (weights (k,), means (k, d), scale_tril (k, d, d)), float64 tensors on the CPU.
    """
    z = _check_codes(z)
    check_positive_int("k", k)
    check_positive_int("iterations", iterations)
    check_seed("seed", seed)
    n, d = z.shape
    if k > n:
        raise ValueError(f"cannot fit {k} components to {n} codes: use k <= {n}")
    floor = COVARIANCE_FLOOR * torch.eye(d, dtype=z.dtype)
    means = z[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]].clone()
    covariance = torch.cov(z.T).reshape(d, d) + floor
    scale_tril = torch.linalg.cholesky(covariance).expand(k, d, d).clone()
    weights = torch.full((k,), 1.0 / k, dtype=z.dtype)
    for _ in range(iterations):
        log_r = torch.distributions.MultivariateNormal(means, scale_tril=scale_tril).log_prob(z[:, None, :])
        r = torch.softmax(log_r + torch.log(weights), dim=-1)  # (n, k): E step
        nk = r.sum(0) + 1e-12
        weights = nk / n
        means = (r.T @ z) / nk[:, None]
        diff = z[:, None, :] - means[None]
        covariance = torch.einsum("nk,nki,nkj->kij", r, diff, diff) / nk[:, None, None] + floor
        scale_tril = torch.linalg.cholesky(covariance)
    return weights, means, scale_tril


def mixture_sample(n: int, weights, means, scale_tril, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws (n, d) from the mixture: pick component i with probability weights[i], then z ~ N(means[i], L_i L_i^T).

    The random numbers come from ``generator`` (a CPU generator; torch's global one if None).
    Returns float64 on the CPU.
    """
    check_positive_int("n", n)
    pick = torch.multinomial(weights.double().cpu(), n, replacement=True, generator=generator)
    eps = torch.randn(n, means.shape[-1], generator=generator, dtype=torch.float64)
    return means.double().cpu()[pick] + (scale_tril.double().cpu()[pick] @ eps[..., None])[..., 0]


__all__ = ["COVARIANCE_FLOOR", "fit_mixture", "mixture_log_prob", "mixture_sample"]
