"""The pieces of the VAE objective: sampling, KL divergence, the (beta-)ELBO, and log p(x).

Conventions (the lecture's notation): encoder q_phi(z|x) = N(mu, diag sigma^2), prior
p(z) = N(0, I), decoder p_theta(x|z) = N(x_recon, sigma_x^2 I) over the 2 * beads coordinates.
"""

from __future__ import annotations

import math

import torch

from ._checks import check_non_negative, check_option, check_positive, check_positive_int

REDUCTIONS = ("sum", "mean")
_MIN_SIGMA = 1e-6  # sigma is clamped here inside the log: the KL stays finite as sigma -> 0


def _check_tensors(**tensors) -> None:
    """Raise TypeError unless every argument is a floating-point torch tensor."""
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(t).__name__} (use torch.as_tensor)")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")


def reparameterize(mu: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample of N(mu, sigma^2) that gradients flow through."""
    _check_tensors(mu=mu, sigma=sigma)
    if mu.shape != sigma.shape:
        raise ValueError(f"mu and sigma must have the same shape, got {tuple(mu.shape)} and {tuple(sigma.shape)}")
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + sigma * eps


def kl_divergence(mu: torch.Tensor, sigma: torch.Tensor | None = None, *, logvar: torch.Tensor | None = None):
    """Closed-form KL(N(mu, sigma^2) || N(0, I)) per example, summed over latent dimensions.

        KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

    Pass either ``sigma`` (softplus parameterisation) or ``logvar`` = log sigma^2. Shapes:
    mu (batch, latent_dim) -> KL (batch,). Always >= 0; zero only for mu = 0, sigma = 1.
    """
    if (sigma is None) == (logvar is None):
        raise TypeError("pass exactly one of sigma= or logvar=")
    _check_tensors(mu=mu, **({"sigma": sigma} if logvar is None else {"logvar": logvar}))
    if logvar is None:
        if mu.shape != sigma.shape:
            raise ValueError(f"mu and sigma must have the same shape, got {tuple(mu.shape)} and {tuple(sigma.shape)}")
        logvar = 2.0 * torch.log(sigma.clamp_min(_MIN_SIGMA))
        var = sigma**2
    else:
        if mu.shape != logvar.shape:
            raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
        var = torch.exp(logvar)
    return 0.5 * (mu**2 + var - 1.0 - logvar).sum(-1)


def vae_loss(x, x_recon, mu, sigma, beta: float = 1.0, reduction: str = "sum"):
    """The beta-VAE loss. Returns (total, recon, kl), three scalars with total = recon + beta * kl.

    ``reduction="sum"`` (default, per example as in the ELBO): recon is the squared error summed
    over the coordinates of an example, kl is summed over latent dimensions; both are then
    averaged over the batch. With beta = 2 sigma_x^2 this is, up to a constant and a factor,
    the negative ELBO of a Gaussian decoder with noise sigma_x.

    ``reduction="mean"`` reproduces the code walkthrough: recon = MSE averaged over
    coordinates and batch, kl averaged over latent dimensions and batch. Its beta = 0.01
    equals beta = 0.01 * input_dim / latent_dim = 0.12 in the "sum" convention (24 inputs,
    2 latent dimensions): see ``beta_sum_from_mean``.
    """
    check_option("reduction", reduction, REDUCTIONS)
    check_non_negative("beta", beta)
    _check_tensors(x=x, x_recon=x_recon, mu=mu, sigma=sigma)
    if x.shape != x_recon.shape:
        raise ValueError(f"x and x_recon must have the same shape, got {tuple(x.shape)} and {tuple(x_recon.shape)}")
    squared_error = (x_recon - x) ** 2
    kl = kl_divergence(mu, sigma)  # (batch,)
    if reduction == "sum":
        recon, kl = squared_error.sum(-1).mean(), kl.mean()
    else:
        recon, kl = squared_error.mean(), kl.mean() / mu.shape[-1]
    return recon + beta * kl, recon, kl


def beta_sum_from_mean(beta_mean: float, input_dim: int = 24, latent_dim: int = 2) -> float:
    """Convert a beta of the walkthrough's "mean" convention into the "sum" convention."""
    check_non_negative("beta_mean", beta_mean)
    return beta_mean * input_dim / latent_dim


def gaussian_log_likelihood(x, x_recon, sigma_x: float):
    """log N(x; x_recon, sigma_x^2 I) per example, summed over coordinates: shape (batch,)."""
    check_positive("sigma_x", sigma_x)
    _check_tensors(x=x, x_recon=x_recon)
    if x.shape != x_recon.shape:
        raise ValueError(f"x and x_recon must have the same shape, got {tuple(x.shape)} and {tuple(x_recon.shape)}")
    d = x.shape[-1]
    return -0.5 * (((x - x_recon) / sigma_x) ** 2).sum(-1) - d * (math.log(sigma_x) + 0.5 * math.log(2 * math.pi))


def _log_normal(z, mu, sigma):
    """log N(z; mu, diag sigma^2), summed over the last axis."""
    return (-0.5 * ((z - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)


def _decode_samples(model, x, mu, sigma, n_samples, generator, chunk_rows=50_000):
    """Draw n_samples z ~ q_phi(z|x) per example and decode them, many per network call.

    Returns z (n_samples, batch, latent_dim) and the decoded means (n_samples, batch,
    input_dim). One decoder call per chunk of about ``chunk_rows`` rows instead of one call
    per sample: much faster for large n_samples. A conditional ``PolymerVAE`` decodes each z
    with its example's c = ``model.condition_of(x)``, as in training.
    """
    condition_of = getattr(model, "condition_of", None)
    c = None if condition_of is None else condition_of(x)  # (batch, 1), or None: decode z alone
    zs, recons = [], []
    per_chunk = max(1, chunk_rows // len(x))
    for start in range(0, n_samples, per_chunk):
        k = min(per_chunk, n_samples - start)
        z = reparameterize(mu.expand(k, *mu.shape), sigma.expand(k, *sigma.shape), generator)
        zs.append(z)
        flat = z.reshape(-1, z.shape[-1])  # sample-major rows: row s * batch + i holds example i
        decoded = model.decode(flat) if c is None else model.decode(flat, c.repeat(k, 1))
        recons.append(decoded.reshape(k, len(x), -1))
    return torch.cat(zs), torch.cat(recons)


@torch.no_grad()
def elbo(model, x, sigma_x: float, n_samples: int = 1, generator: torch.Generator | None = None):
    """Monte-Carlo ELBO per example: E_q[log p_theta(x|z)] - KL(q_phi(z|x) || p(z)). Shape (batch,).

    x: (batch, input_dim); the decoder is N(x_recon, sigma_x^2 I); the KL is exact. For a
    conditional ``PolymerVAE`` it bounds log p_theta(x | c), c = the standardised R_g of x.
    """
    check_positive_int("n_samples", n_samples)
    mu, sigma = model.encode(x)
    _, recon = _decode_samples(model, x, mu, sigma, n_samples, generator)
    rec = gaussian_log_likelihood(x.expand_as(recon), recon, sigma_x).mean(0)
    return rec - kl_divergence(mu, sigma)


@torch.no_grad()
def importance_weighted_log_likelihood(model, x, sigma_x: float, n_samples: int = 100, generator=None):
    """Importance-weighted estimate of log p(x) per example (Burda et al., 2016). Shape (batch,).

        log p(x) ~= log (1/K) sum_k p_theta(x|z_k) p(z_k) / q_phi(z_k|x),   z_k ~ q_phi(z|x)

    With K = 1 this is a one-sample ELBO; it increases (in expectation) with K and tends to
    log p(x): in expectation, ELBO <= IWAE_K <= IWAE_{K+1} <= log p(x) for every K (a single
    noisy estimate can land on either side). For a conditional ``PolymerVAE`` it estimates
    log p_theta(x | c), c = the standardised R_g of x.
    """
    check_positive_int("n_samples", n_samples)
    mu, sigma = model.encode(x)
    sigma = sigma.clamp_min(_MIN_SIGMA)
    z, recon = _decode_samples(model, x, mu, sigma, n_samples, generator)  # (K, batch, ...)
    log_prior = _log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    log_w = gaussian_log_likelihood(x.expand_as(recon), recon, sigma_x) + log_prior - _log_normal(z, mu, sigma)
    return torch.logsumexp(log_w, dim=0) - math.log(n_samples)
