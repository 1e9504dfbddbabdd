"""The polymer VAE: encoder q_phi(z|x) and decoder p_theta(x|z) joined, and decoding latent points.

``PolymerVAE`` works on flattened coordinates (batch, 2 * beads), in bead diameters; its
networks come from ``layers``. ``PolymerVAE(condition=rg_condition(train))`` is a conditional
VAE: encoder and decoder also see c = the standardised R_g of x, so its decoder needs (z, c)
and the functions that decode z alone (``decode_conformations``, ``validity_grid``, ...)
refuse it with a clear message.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from ._checks import (
    check_array,
    check_non_negative,
    check_option,
    check_positive_int,
    check_positive_ints,
    check_unconditional,
)
from .layers import SIGMA_PARAMETERISATIONS, Decoder, Encoder
from .likelihood import ChainLikelihood
from .losses import kl_divergence, reparameterize, vae_loss
from .measures import radius_of_gyration, validity

DECODERS = ("cartesian", "internal")


# ----------------------------------------------------------------------------- R_g condition


def rg_condition(train) -> dict:
    """R_g statistics of the training frames, the ``condition`` of a conditional ``PolymerVAE``.

    ``train``: (frames, beads, 2) or (frames, 2 * beads). Returns plain floats
    {mean, std, min, max} in bead diameters; the model sees c = (R_g - mean) / std.
    """
    rg = radius_of_gyration(np.asarray(check_array("train", train, min_len=2), dtype=np.float64))
    return dict(mean=float(rg.mean()), std=float(rg.std()), min=float(rg.min()), max=float(rg.max()))


def check_condition(condition):
    """None, or a dict {mean, std > 0, min <= max} of finite numbers (as ``rg_condition`` returns)."""
    if condition is None:
        return None
    keys = ("max", "mean", "min", "std")
    if not isinstance(condition, dict) or sorted(condition) != list(keys):
        raise ValueError(
            f"condition must be None or a dict with keys {list(keys)} (see rg_condition), got {condition!r}"
        )
    values = {k: condition[k] for k in keys}
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in values.values()):
        raise ValueError(f"condition values must be finite numbers, got {condition!r}")
    if values["std"] <= 0 or values["min"] > values["max"]:
        raise ValueError(f"condition needs std > 0 and min <= max, got {condition!r}")
    return {k: float(v) for k, v in sorted(values.items())}


def check_targets(condition: dict, rg, n: int) -> torch.Tensor:
    """Target R_g (a number or n numbers) inside the data's range -> c = standardised, shape (n, 1), on the CPU."""
    rg = np.asarray(rg, dtype=np.float64).reshape(-1)
    if rg.size not in (1, n) or not np.all(np.isfinite(rg)):
        raise ValueError(f"rg must be one finite number or {n} of them, got {rg.size} values")
    lo, hi = condition["min"], condition["max"]
    outside = (rg < lo) | (rg > hi)
    if outside.any():
        raise ValueError(
            f"target R_g {rg[outside][0]:.3g} is outside the training data's range [{lo:.3g}, {hi:.3g}] "
            "bead diameters: the model has never seen such polymers"
        )
    c = (np.broadcast_to(rg, (n,)) - condition["mean"]) / condition["std"]
    return torch.as_tensor(c, dtype=torch.float32)[:, None]


# ----------------------------------------------------------------------------- the VAE


class PolymerVAE(nn.Module):
    """Encoder + reparameterised sampling + decoder for flattened polymer coordinates.

    With the defaults (24 inputs, three hidden layers of 256, 2 latent dimensions) it has
    277,532 parameters.

    ``decoder="internal"`` makes the decoder a likelihood over internal coordinates, grown bond
    by bond (``likelihood.ChainLikelihood``: Gaussian bond lengths, von Mises turns), trained on
    its own log-likelihood instead of a squared error (see ``loss``);
    ``generation.PolymerGenerator`` is such a model that also stores a learned prior p(z) and
    draws new polymers with ``generate``.
    ``condition=rg_condition(train)`` makes a conditional VAE: encoder and decoder also see
    c = standardised R_g of x.
    """

    def __init__(
        self,
        input_dim=24,
        hidden_dim=256,
        latent_dim=2,
        sigma="softplus",
        n_hidden=3,
        decoder="cartesian",
        condition=None,
    ):
        super().__init__()
        check_positive_ints(input_dim=input_dim, hidden_dim=hidden_dim, latent_dim=latent_dim, n_hidden=n_hidden)
        check_option("sigma", sigma, SIGMA_PARAMETERISATIONS)
        check_option("decoder", decoder, DECODERS)
        condition = check_condition(condition)
        self.config = dict(
            input_dim=input_dim,
            hidden_dim=hidden_dim,
            latent_dim=latent_dim,
            sigma=sigma,
            n_hidden=n_hidden,
            decoder=decoder,
            condition=condition,
        )
        hidden, n_c = (hidden_dim,) * n_hidden, int(condition is not None)
        self.encoder = Encoder(input_dim + n_c, hidden, latent_dim, sigma)
        if decoder == "internal":
            self.decoder = ChainLikelihood(latent_dim + n_c, hidden, input_dim // 2)
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
            raise TypeError(
                f"{name} has dtype {t.dtype} but the model's weights are {dtype}: convert it, e.g. {name}.float()"
            )
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
        if c is None and self.config["condition"] is not None:
            raise ValueError(
                "this model is conditioned on R_g: decode(z, c) needs c (batch, 1), the standardised "
                "R_g (condition_of(x) for data x)"
            )
        if c is not None and self.config["condition"] is None:
            raise ValueError("this model has no condition: decode(z) takes no c")
        return self.decoder(z if c is None else torch.cat([z, c.reshape(-1, 1).to(z.dtype)], -1))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """x (batch, input_dim) -> (x_recon, mu, sigma); z is sampled with the reparameterisation."""
        mu, sigma = self.encode(x)
        z = reparameterize(mu, sigma, generator=generator)
        return self.decode(z, self.condition_of(x)), mu, sigma

    def loss(self, x: torch.Tensor, beta: float, reduction: str = "sum", generator=None, free_bits: float = 0.0):
        """(total, recon, kl) of one batch x (batch, input_dim), one z ~ q_phi(z|x) per frame.

        Cartesian decoder: ``losses.vae_loss`` (squared error; ``free_bits`` must be 0).
        Internal decoder: recon = -log p_theta(x|z) in nats (``ChainLikelihood.log_prob``),
        averaged over the batch, and ``reduction`` must be "sum"; with ``free_bits`` > 0 the total
        charges each latent dimension at least that many nats of KL (batch average; Kingma et
        al. 2016), which keeps a strong decoder from ignoring z. ``kl`` is always the true KL.
        """
        check_non_negative("free_bits", free_bits)
        if self.config["decoder"] == "cartesian":
            if free_bits:
                raise ValueError("free_bits is for the internal-coordinate likelihood; the Cartesian loss has none")
            x_recon, mu, sigma = self(x, generator=generator)
            return vae_loss(x, x_recon, mu, sigma, beta, reduction)
        if reduction != "sum":
            raise ValueError(
                f"the internal decoder's loss is a log-likelihood per frame: reduction must be 'sum', got {reduction!r}"
            )
        mu, sigma = self.encode(x)
        z = reparameterize(mu, sigma, generator=generator)
        c = self.condition_of(x)
        recon = -self.decoder.log_prob(x, z if c is None else torch.cat([z, c], -1)).mean()
        kl_per_dim = kl_divergence(mu[..., None], sigma[..., None]).mean(0)  # (latent_dim,)
        charged = torch.clamp(kl_per_dim, min=free_bits).sum() if free_bits else kl_per_dim.sum()
        return recon + beta * charged, recon, kl_per_dim.sum()

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


# ----------------------------------------------------------------------------- decoding latent points


@torch.no_grad()
def decode_conformations(model, z) -> np.ndarray:
    """Run ``model.decode`` on latent points z (n, latent_dim), numpy or torch, without gradients.

    Computes on the model's device. Returns the decoded means f_theta(z) as numpy (n, beads, 2),
    in bead diameters. Needs an unconditional model.
    """
    check_unconditional("decode_conformations", model)
    device = next(model.parameters()).device
    z = torch.as_tensor(z, dtype=torch.float32, device=device).reshape(-1, model.latent_dim)
    return model.decode(z).reshape(len(z), -1, 2).cpu().numpy()


@torch.no_grad()
def validity_grid(model, reference, *, extent=(-3, 3, -3, 3), n=121):
    """Decode an n x n grid of latent points over ``extent`` and check each decoded polymer.

    ``extent`` = (z1_min, z1_max, z2_min, z2_max); ``reference``: a ``ValidityReference`` or the
    training conformations. Returns (g1, g2, valid): the grid's z1 values (n,), z2 values (n,)
    and a boolean (n, n) array, valid[i, j] for the point (g1[j], g2[i]), as ``plots.validity_map``
    draws it. Needs an unconditional model with a 2-D latent space.
    """
    check_unconditional("validity_grid", model)
    if model.latent_dim != 2:
        raise ValueError(f"validity_grid needs a 2-D latent space, the model has {model.latent_dim}")
    g1, g2 = np.linspace(extent[0], extent[1], n), np.linspace(extent[2], extent[3], n)
    zz = np.stack(np.meshgrid(g1, g2), -1).reshape(-1, 2)
    return g1, g2, validity(decode_conformations(model, zz), reference).valid.reshape(n, n)
