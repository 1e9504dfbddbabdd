"""The networks: encoder q_phi(z|x), decoder p_theta(x|z), and the VAE that joins them.

Polymer models work on flattened coordinates (batch, 2 * beads); protein models on one-hot
sequences (batch, length, 20). All are small multilayer perceptrons with ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from .losses import reparameterize

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


class PolymerVAE(nn.Module):
    """Encoder + reparameterised sampling + decoder for flattened polymer coordinates.

    With the defaults (24 inputs, three hidden layers of 256, 2 latent dimensions) it has
    277,532 parameters.
    """

    def __init__(self, input_dim=24, hidden_dim=256, latent_dim=2, sigma="softplus", n_hidden=3):
        super().__init__()
        for name, value in (("input_dim", input_dim), ("hidden_dim", hidden_dim), ("latent_dim", latent_dim)):
            check_positive_int(name, value)
        check_positive_int("n_hidden", n_hidden)
        check_option("sigma", sigma, SIGMA_PARAMETERISATIONS)
        self.config = dict(
            input_dim=input_dim, hidden_dim=hidden_dim, latent_dim=latent_dim, sigma=sigma, n_hidden=n_hidden
        )
        hidden = (hidden_dim,) * n_hidden
        self.encoder = Encoder(input_dim, hidden, latent_dim, sigma)
        self.decoder = Decoder(latent_dim, hidden, input_dim)

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def _check(self, name: str, t, size: int) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor of shape (batch, {size}), got {type(t).__name__}")
        if t.shape[-1] != size or t.ndim not in (1, 2):
            raise ValueError(f"{name} must have shape (batch, {size}), got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a float tensor, got {t.dtype}")
        dtype = next(self.parameters()).dtype
        if t.dtype != dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but the model's weights are {dtype}: convert it, e.g. {name}.float()")
        return t

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, input_dim) -> mu, sigma, each (batch, latent_dim)."""
        return self.encoder(self._check("x", x, self.config["input_dim"]))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (batch, latent_dim) -> reconstructed coordinates (batch, input_dim)."""
        return self.decoder(self._check("z", z, self.latent_dim))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (batch, input_dim) -> (x_recon, mu, sigma); z is sampled with the reparameterisation."""
        mu, sigma = self.encode(x)
        z = reparameterize(mu, sigma, generator=generator)
        return self.decoder(z), mu, sigma

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """Decode ``n`` draws z ~ N(0, I) from the prior: (n, input_dim)."""
        check_positive_int("n", n)
        device = next(self.parameters()).device
        gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.latent_dim, generator=gen, device=device)
        return self.decoder(z)


class ProteinEncoder(nn.Module):
    """q_phi(z|x) for aligned sequences: one-hot (batch, length, 20) -> mu, sigma (batch, latent_dim).

    ``sigma`` picks the parameterisation inside the network (see ``Encoder``); either way the
    encoder returns the standard deviation sigma itself, not log sigma^2.
    """

    def __init__(self, length: int, latent_dim=2, hidden_dim=128, n_tokens=20, sigma="logvar"):
        super().__init__()
        for name, value in (("length", length), ("latent_dim", latent_dim), ("hidden_dim", hidden_dim), ("n_tokens", n_tokens)):
            check_positive_int(name, value)
        self.length, self.n_tokens = length, n_tokens
        self.encoder = Encoder(length * n_tokens, (hidden_dim, hidden_dim), latent_dim, sigma)

    def forward(self, x_onehot: torch.Tensor):
        if not isinstance(x_onehot, torch.Tensor):
            raise TypeError(f"expected a torch tensor of one-hot sequences, got {type(x_onehot).__name__}")
        if x_onehot.ndim != 3 or x_onehot.shape[1:] != (self.length, self.n_tokens):
            raise ValueError(
                f"expected one-hot sequences of shape (batch, {self.length}, {self.n_tokens}), got {tuple(x_onehot.shape)}"
            )
        return self.encoder(x_onehot.flatten(1))


class ProteinDecoder(nn.Module):
    """p_theta(x|z) for sequences: z (batch, latent_dim) -> logits (batch, length, 20).

    softmax over the last axis gives, at each position, a distribution over the 20 residues;
    the reconstruction loss is the cross-entropy against the true residues.
    """

    def __init__(self, length: int, latent_dim=2, hidden_dim=128, n_tokens=20):
        super().__init__()
        for name, value in (("length", length), ("latent_dim", latent_dim), ("hidden_dim", hidden_dim), ("n_tokens", n_tokens)):
            check_positive_int(name, value)
        self.length, self.n_tokens = length, n_tokens
        self.net = mlp([latent_dim, hidden_dim, hidden_dim, length * n_tokens])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.length, self.n_tokens)
