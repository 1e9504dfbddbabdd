"""The exact marginal likelihood log p_theta(x) and the true posterior p_theta(z|x) of a VAE with a
two-dimensional latent space, by brute-force quadrature on a grid, and the best Gaussian
q(z|x) for one conformation.

Only possible because the latent space is 2-D: the grid would need 100^J points in J dimensions.

    log p_theta(x) = log sum_g p_theta(x|z_g) p(z_g) dA,     p(z) = N(0, I),
    p_theta(x|z) = N(x; f_theta(z), sigma_x^2 I)

Two stages: a coarse grid over the prior (spacing ``spacing``) decoded once and shared by all
conformations locates each posterior; every coarse cell within ``window`` nats of the peak
(and its eight neighbours) is then subdivided into ``subdivide`` x ``subdivide`` points.
Lengths (x, f_theta(z), sigma_x) are in bead diameters, log-densities in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ._checks import check_positive, check_positive_int, check_unconditional
from ._cpu import flush_denormals, one_thread
from .losses import gaussian_log_likelihood, kl_divergence

_LOG_2PI = math.log(2 * math.pi)


def _log_prior(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * _LOG_2PI


def _as_batch(x, device=None) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2:
        raise ValueError(f"x must be conformations (n, 24) or (n, 12, 2), got shape {tuple(x.shape)}")
    return x


def _check_model(name: str, model) -> torch.device:
    """An unconditional model with a 2-D latent space; returns its device."""
    check_unconditional(name, model)
    if getattr(model, "latent_dim", None) != 2:
        raise ValueError(
            f"{name} needs a model with a 2-D latent space, got latent_dim={getattr(model, 'latent_dim', None)}"
        )
    return next(model.parameters()).device


@torch.no_grad()
def log_joint(model, x, z, sigma_x: float) -> torch.Tensor:
    """log p_theta(x|z) + log p(z) for x (N, D) and z (N, G, 2) on the model's device: shape (N, G), nats."""
    check_unconditional("log_joint", model)
    check_positive("sigma_x", sigma_x)
    x = _as_batch(x, z.device)
    decoded = model.decode(z.reshape(-1, z.shape[-1])).reshape(*z.shape[:-1], -1)
    return gaussian_log_likelihood(x[:, None].expand_as(decoded), decoded, sigma_x) + _log_prior(z)


@dataclass
class GridPosterior:
    """The result of :func:`quadrature`, for N conformations.

    Attributes:
        log_px: (N,) log p_theta(x) in nats.
        points: N tensors (G_i, 2), the fine latent points used for conformation i.
        log_joint: N tensors (G_i,), log p_theta(x_i|z) + log p(z) at those points.
        spacing: the fine points' lattice spacing (latent units).
        mass_left_out: (N,) share of the coarse grid's posterior mass outside the refined cells.
    """

    log_px: torch.Tensor
    points: list
    log_joint: list
    spacing: float
    mass_left_out: torch.Tensor

    def __len__(self) -> int:
        return len(self.log_px)

    def weights(self, i: int) -> torch.Tensor:
        """Posterior probabilities p(z_g|x_i) dA of the fine points of conformation i: (G_i,), sum 1.

        Normalised in float64: a float32 sum of ~10^5 terms is off by ~1e-5, and by how much
        depends on the CPU's vector kernels.
        """
        return torch.softmax(self.log_joint[i].double(), 0).to(self.log_joint[i].dtype)

    def mean(self) -> torch.Tensor:
        """Posterior means E[z|x]: (N, 2)."""
        return torch.stack([self.weights(i) @ self.points[i] for i in range(len(self))])

    def sd(self) -> torch.Tensor:
        """Posterior standard deviations per latent dimension: (N, 2)."""
        out = []
        for i in range(len(self)):
            w, z = self.weights(i), self.points[i]
            out.append((w @ z**2 - (w @ z) ** 2).clamp_min(0).sqrt())
        return torch.stack(out)

    def log_posterior(self, i: int, z: torch.Tensor, model, x, sigma_x: float) -> torch.Tensor:
        """log p_theta(z|x_i) = log p(x_i, z) - log p(x_i) at any points z (G, 2): shape (G,)."""
        x_i = _as_batch(x)[i : i + 1]
        return log_joint(model, x_i, z[None], sigma_x)[0] - self.log_px[i]

    def image(self, i: int, floor: float = 1e-5):
        """The posterior of conformation i as an image for ``imshow``.

        Returns (image, extent): image (rows = z_2, cols = z_1) of log10 p(z|x) relative to its
        peak, NaN where below ``floor`` times the peak or outside the refined cells;
        extent = (z1_min, z1_max, z2_min, z2_max) for ``imshow(..., origin="lower")``.
        """
        w, z = self.weights(i), self.points[i]
        keep = w > floor * w.max()
        zk, log_w = z[keep], torch.log10(w[keep] / w.max())
        ij = torch.round((zk - zk.min(0).values) / self.spacing).long()
        image = np.full((int(ij[:, 1].max()) + 1, int(ij[:, 0].max()) + 1), np.nan)
        image[ij[:, 1].cpu().numpy(), ij[:, 0].cpu().numpy()] = log_w.cpu().numpy()
        lo, hi = zk.min(0).values - self.spacing / 2, zk.max(0).values + self.spacing / 2
        return image, (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


@torch.no_grad()
def quadrature(
    model, x, sigma_x: float, *, spacing: float = 0.04, extent: float = 4.8, subdivide: int = 6, window: float = 15.0
) -> GridPosterior:
    """log p_theta(x) and the posterior on a grid, for conformations x (N, 24) or (N, 12, 2).

    Args:
        model: an unconditional VAE with ``decode`` and ``latent_dim == 2``; the grids are built on
            the CPU and decoded on the model's device, where the result's tensors stay.
        sigma_x: the decoder's noise (bead diameters).
        spacing, extent: the coarse grid covers [-extent, extent]^2 with this spacing.
        subdivide: each refined coarse cell holds subdivide^2 fine points (spacing / subdivide apart).
        window: coarse cells within this many nats of the peak of log p(x, z) are refined.
    """
    device = _check_model("quadrature", model)
    check_positive("sigma_x", sigma_x)
    check_positive("spacing", spacing)
    check_positive("extent", extent)
    check_positive_int("subdivide", subdivide)
    x = _as_batch(x, device)
    n = len(x)
    axis = torch.arange(-extent, extent + 1e-9, spacing)
    z_coarse = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2).to(device)  # (G, 2)
    decoded = model.decode(z_coarse)  # (G, D)
    d = x.shape[1]
    coarse = (
        -0.5 * torch.cdist(x, decoded) ** 2 / sigma_x**2
        - d * (math.log(sigma_x) + 0.5 * _LOG_2PI)
        + _log_prior(z_coarse)
    )  # (N, G)
    peak = coarse.max(1, keepdim=True).values
    active = (coarse > peak - window).float().reshape(n, 1, len(axis), len(axis))
    active = F.max_pool2d(active, 3, stride=1, padding=1).reshape(n, -1) > 0
    mass_left_out = (torch.softmax(coarse, 1) * ~active).sum(1)

    u = ((torch.arange(subdivide) + 0.5) / subdivide - 0.5) * spacing
    offsets = torch.stack(torch.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2).to(device)  # (S^2, 2)
    counts = (active.sum(1) * subdivide**2).tolist()
    z = torch.cat([(z_coarse[active[i]][:, None] + offsets).reshape(-1, 2) for i in range(n)])
    repeats = torch.tensor(counts, device=device)
    values = gaussian_log_likelihood(torch.repeat_interleave(x, repeats, 0), model.decode(z), sigma_x) + _log_prior(z)
    values, z = list(torch.split(values, counts)), list(torch.split(z, counts))
    fine = spacing / subdivide
    log_px = torch.stack([torch.logsumexp(v, 0) for v in values]) + 2 * math.log(fine)
    return GridPosterior(log_px=log_px, points=z, log_joint=values, spacing=fine, mass_left_out=mass_left_out)


def gaussian_elbo(model, x, mu, sigma, sigma_x: float, eps: torch.Tensor) -> torch.Tensor:
    """ELBO of q_i = N(mu_i, diag sigma_i^2) for each conformation x_i, with the given standard normal draws.

    x: (N, D); mu, sigma: (N, 2); eps: (K, 2), shared by all i. Returns (N,) nats, differentiable
    in mu and sigma: the mean over k of log p_theta(x_i | mu_i + sigma_i eps_k), minus the
    closed-form KL(q_i || N(0, I)).
    """
    check_unconditional("gaussian_elbo", model)
    z = mu[None] + sigma[None] * eps[:, None]  # (K, N, 2)
    decoded = model.decode(z.reshape(-1, 2)).reshape(*z.shape[:2], -1)  # (K, N, D)
    rec = gaussian_log_likelihood(x.expand_as(decoded), decoded, sigma_x).mean(0)
    return rec - kl_divergence(mu, sigma)


def fit_gaussian(
    model, x, sigma_x: float, mu0, sigma0, *, steps: int = 150, n_samples: int = 64, lr: float = 0.01, seed: int = 0
):
    """The best Gaussian q_i = N(mu_i, diag sigma_i^2) for each conformation on its own, by gradient
    ascent on its ELBO: what an encoder serving only x_i could output (no amortization).

    x: (N, D) or (D,); mu0, sigma0: starting points, (N, 2) or (2,). Optimises (mu, log sigma)
    with Adam on one fixed set of ``n_samples`` draws (common random numbers: a smooth objective).
    The decoder is not changed, so log p_theta(x) stays what it is.

    Returns (mu, sigma, trace): final parameters (N, 2) each, and a dict of numpy arrays over the
    steps 0..steps: "mu" and "sigma" (steps + 1, N, 2), "elbo" (steps + 1, N) in nats.
    """
    check_positive("sigma_x", sigma_x)
    check_positive_int("steps", steps)
    check_positive_int("n_samples", n_samples)
    check_positive("lr", lr)
    device = _check_model("fit_gaussian", model)
    x = torch.as_tensor(x, dtype=torch.float32, device=device)
    x = _as_batch(x[None] if x.ndim == 1 else x)
    mu = (
        torch.as_tensor(mu0, dtype=torch.float32, device=device)
        .detach()
        .clone()
        .reshape(len(x), 2)
        .requires_grad_(True)
    )
    sigma0 = torch.as_tensor(sigma0, dtype=torch.float32).detach().reshape(len(x), 2)
    if torch.any(sigma0.cpu() <= 0):
        raise ValueError("sigma0 must be positive")
    log_sigma = sigma0.log().to(device).clone().requires_grad_(True)
    eps = torch.randn(n_samples, 2, generator=torch.Generator().manual_seed(seed)).to(device)  # CPU draws: any device
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    optimizer = torch.optim.Adam([mu, log_sigma], lr=lr)
    trace = {"mu": [], "sigma": [], "elbo": []}
    try:
        with one_thread(), flush_denormals():
            for step in range(steps + 1):
                value = gaussian_elbo(model, x, mu, log_sigma.exp(), sigma_x, eps)
                trace["mu"].append(mu.detach().cpu().numpy().copy())
                trace["sigma"].append(log_sigma.detach().exp().cpu().numpy())
                trace["elbo"].append(value.detach().cpu().numpy())
                if step == steps:
                    break
                optimizer.zero_grad()
                (-value.sum()).backward()  # the conformations are independent: N separate ascents
                optimizer.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return mu.detach(), log_sigma.detach().exp(), {k: np.stack(v) for k, v in trace.items()}


__all__ = ["GridPosterior", "fit_gaussian", "gaussian_elbo", "log_joint", "quadrature"]
