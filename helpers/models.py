"""The networks: encoder q_phi(z|x), decoder p_theta(x|z), and the VAE that joins them.

Polymer models work on flattened coordinates (batch, 2 * beads); protein models on one-hot
sequences (batch, length, 20). All are small multilayer perceptrons with ReLU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import internal
from ._checks import check_option, check_positive_int, check_positive_ints
from .losses import reparameterize
from .measures import radius_of_gyration

SIGMA_PARAMETERISATIONS = ("softplus", "logvar")
DECODERS = ("cartesian", "internal")


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@torch.no_grad()
def decode_conformations(model, z) -> np.ndarray:
    """Run ``model.decode`` on latent points z (n, latent_dim), numpy or torch, without gradients.

    Returns the decoded means f_theta(z) as numpy (n, beads, 2), in bead diameters.
    """
    z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, model.latent_dim)
    return model.decode(z).reshape(len(z), -1, 2).cpu().numpy()


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

    ``decoder="internal"`` decodes one direction per bond, gives each bond the rest length and
    builds the chain from them (``helpers.internal.InternalDecoder``); such a model also carries the buffers that
    ``fit_generation`` fills and ``generate`` samples from. ``condition=rg_condition(train)``
    makes a conditional VAE: encoder and decoder also see c = standardised R_g of x.
    """

    def __init__(
        self, input_dim=24, hidden_dim=256, latent_dim=2, sigma="softplus", n_hidden=3, decoder="cartesian", condition=None
    ):
        super().__init__()
        check_positive_ints(input_dim=input_dim, hidden_dim=hidden_dim, latent_dim=latent_dim, n_hidden=n_hidden)
        check_option("sigma", sigma, SIGMA_PARAMETERISATIONS)
        check_option("decoder", decoder, DECODERS)
        condition = internal.check_condition(condition)
        self.config = dict(
            input_dim=input_dim, hidden_dim=hidden_dim, latent_dim=latent_dim, sigma=sigma, n_hidden=n_hidden,
            decoder=decoder, condition=condition,
        )
        hidden, n_c = (hidden_dim,) * n_hidden, int(condition is not None)
        self.encoder = Encoder(input_dim + n_c, hidden, latent_dim, sigma)
        if decoder == "internal":
            self.decoder = internal.InternalDecoder(latent_dim + n_c, hidden, input_dim // 2)
            self.register_buffer("sampler_codes", torch.zeros(internal.N_CODES, 2, latent_dim))
            self.register_buffer("bond_noise", torch.zeros(2))
        else:
            self.decoder = Decoder(latent_dim + n_c, hidden, input_dim)

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

    def condition_of(self, x: torch.Tensor) -> torch.Tensor | None:
        """c = (R_g(x) - mean) / std, shape (batch, 1), for a conditional model; None otherwise."""
        cond = self.config["condition"]
        if cond is None:
            return None
        return ((radius_of_gyration(x) - cond["mean"]) / cond["std"]).reshape(-1, 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, input_dim) -> mu, sigma, each (batch, latent_dim)."""
        x = self._check("x", x, self.config["input_dim"])
        c = self.condition_of(x)
        return self.encoder(x if c is None else torch.cat([x, c], -1))

    def decode(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z (batch, latent_dim) -> reconstructed coordinates (batch, input_dim).

        A conditional model also needs c (batch, 1), the standardised R_g (``condition_of``).
        """
        z = self._check("z", z, self.latent_dim)
        if (c is None) != (self.config["condition"] is None):
            raise ValueError("c (batch, 1) is required for a conditional model and refused otherwise")
        return self.decoder(z if c is None else torch.cat([z, c.reshape(-1, 1).to(z.dtype)], -1))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (batch, input_dim) -> (x_recon, mu, sigma); z is sampled with the reparameterisation."""
        mu, sigma = self.encode(x)
        z = reparameterize(mu, sigma, generator=generator)
        return self.decode(z, self.condition_of(x)), mu, sigma

    def generate(self, n: int, seed: int | None = None, **options) -> np.ndarray:
        """n conformations (n, beads, 2) drawn by ``helpers.internal.generate`` (internal decoder only)."""
        return internal.generate(self, n, seed, **options)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """Decode ``n`` draws z ~ N(0, I) from the prior: (n, input_dim)."""
        check_positive_int("n", n)
        if self.config["condition"] is not None:
            raise ValueError("a conditional model needs a target: use generate(n, rg=...)")
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
        check_positive_ints(length=length, latent_dim=latent_dim, hidden_dim=hidden_dim, n_tokens=n_tokens)
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
        check_positive_ints(length=length, latent_dim=latent_dim, hidden_dim=hidden_dim, n_tokens=n_tokens)
        self.length, self.n_tokens = length, n_tokens
        self.net = mlp([latent_dim, hidden_dim, hidden_dim, length * n_tokens])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.length, self.n_tokens)
