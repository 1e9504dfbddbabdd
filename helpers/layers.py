"""The networks' building blocks: multilayer perceptrons, the encoder and the two decoders.

Polymer networks work on flattened coordinates (batch, 2 * beads), in bead diameters. All are
small multilayer perceptrons with ReLU. ``models.PolymerVAE`` joins an ``Encoder`` with a
``Decoder`` (Cartesian coordinates) or an ``InternalDecoder`` (one direction per bond).
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_option
from .simulation import DEFAULTS

SIGMA_PARAMETERISATIONS = ("softplus", "logvar")
BOND_LENGTH = DEFAULTS["bond_length"]  # bead diameters: the internal decoder's bonds (simulated data only)


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


class InternalDecoder(nn.Module):
    """The mean of p_theta(x|z) built from bonds: (batch, in_dim) -> coordinates (batch, 2 * beads).

    The network outputs a direction (u, v) per bond, normalised to a unit vector; every bond
    has the simulator's rest length ``BOND_LENGTH`` (1 bead diameter), which is also the
    data's mean bond length (0.999). The length is not learned on purpose: a squared error on
    positions rewards shortening bonds wherever the directions are uncertain, the same
    averaging that spoils the Cartesian decoder. The bond lengths fluctuate in draws from
    p_theta(x|z) (``generation.generate``), not in the mean.
    ``bonds`` returns lengths and directions; ``forward`` the centred chain in the aligned frame.
    """

    def __init__(self, in_dim: int, hidden_dims, n_beads: int):
        super().__init__()
        self.n_bonds = n_beads - 1
        self.net = mlp([in_dim, *hidden_dims, 2 * self.n_bonds])

    def bonds(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, in_dim) -> lengths (batch, bonds), unit directions (batch, bonds, 2)."""
        out = self.net(h).view(-1, self.n_bonds, 2)
        direction = out / torch.sqrt((out**2).sum(-1, keepdim=True) + 1e-8)
        return torch.full_like(out[..., 0], BOND_LENGTH), direction

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return chain(*self.bonds(h)).flatten(-2)


__all__ = ["BOND_LENGTH", "Decoder", "Encoder", "InternalDecoder", "chain", "mlp"]
