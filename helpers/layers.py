"""The networks' building blocks: multilayer perceptrons, the encoder, the Cartesian decoder and ``chain``.

Polymer networks work on flattened coordinates (batch, 2 * beads), in bead diameters. All are
small multilayer perceptrons with ReLU. ``models.PolymerVAE`` joins an ``Encoder`` with a
``Decoder`` (Cartesian coordinates) or with ``likelihood.ChainLikelihood`` (internal
coordinates, built with ``chain``).
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_option

SIGMA_PARAMETERISATIONS = ("softplus", "logvar")


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """q_phi(z|x) = N(mu(x), diag sigma(x)^2): (batch, input_dim) -> mu, sigma (batch, latent_dim).

    ``sigma="softplus"``: sigma = softplus(h), as in the dmol.pub code.
    ``sigma="logvar"``: the network outputs log sigma^2 and sigma = exp(log sigma^2 / 2),
    as in the lecture. Both keep sigma > 0.
    """

    def __init__(self, input_dim=24, hidden_dims=(256, 256, 256), latent_dim=2, sigma="softplus"):
        super().__init__()
        check_option("sigma", sigma, SIGMA_PARAMETERISATIONS)
        self.sigma_kind = sigma
        self.body = mlp([input_dim, *hidden_dims])
        self.body.append(nn.ReLU())
        self.to_mu = nn.Linear(hidden_dims[-1], latent_dim)
        self.to_sigma = nn.Linear(hidden_dims[-1], latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        raw = self.to_sigma(h)
        if self.sigma_kind == "softplus":
            sigma = nn.functional.softplus(raw)
        else:
            sigma = torch.exp(0.5 * raw)
        return self.to_mu(h), sigma


class Decoder(nn.Module):
    """p_theta(x|z): the mean of a Gaussian over coordinates. (batch, latent_dim) -> (batch, output_dim)."""

    def __init__(self, latent_dim=2, hidden_dims=(256, 256, 256), output_dim=24):
        super().__init__()
        self.net = mlp([latent_dim, *hidden_dims, output_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def chain(lengths: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Bond lengths (batch, bonds) and unit vectors (batch, bonds, 2) -> centred chain (batch, bonds + 1, 2).

    The inverse of ``measures.internal_coordinates``: a cumulative sum of bond vectors, centred.
    """
    steps = lengths[..., None] * directions
    start = torch.zeros_like(steps[..., :1, :])
    r = torch.cat([start, torch.cumsum(steps, dim=-2)], dim=-2)
    return r - r.mean(-2, keepdim=True)


__all__ = ["Decoder", "Encoder", "chain", "mlp"]
