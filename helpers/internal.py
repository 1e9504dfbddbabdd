"""Generating valid polymers: a decoder in internal coordinates, sampling where the data is, R_g conditions.

Internal coordinates of a chain of ``beads`` beads (aligned frame of ``data.preprocess``):
    lengths (..., beads - 1)  bond lengths |r_{i+1} - r_i|, in bead diameters
    angles  (..., beads - 1)  direction of each bond against the x axis, in radians
The chain is rebuilt from them by a cumulative sum of bond vectors and centred, so a decoder
that outputs them controls every bond length directly, whatever the averaging of the loss does
to the positions.

``PolymerVAE(decoder="internal")`` uses ``InternalDecoder``; ``PolymerVAE(condition=rg_condition(train))``
is a conditional VAE whose encoder and decoder also see c = standardised R_g. After training,
``fit_generation(model, train)`` stores what ``generate`` samples from: a mixture of the encoder's
Gaussians q_phi(z|x) over ``N_CODES`` training frames (the aggregated posterior) and the noise
of p_theta(x|z): the spread of the data's bond lengths around the decoded ones, and a chosen
spread ``ANGLE_NOISE`` of the bond directions. ``generate`` ends with ``energy.relax`` (settings
``RELAX``), which pushes the beads of overlapping draws apart in the simulator's force field.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

from ._checks import check_array, check_non_negative, check_option, check_positive_int, check_seed
from .energy import relax as relax_in_force_field
from .measures import as_coordinates, radius_of_gyration
from .simulation import DEFAULTS

ANGLE_NOISE = 0.2  # radians: spread of each bond's direction in draws from p_theta(x|z) (see fit_generation)
N_CODES = 1024  # training frames whose q_phi(z|x) make up the stored aggregated posterior
LATENTS = ("posterior", "prior")
# energy.relax settings of generate(relax=True): 40 capped Langevin steps at the force field's kT
RELAX = dict(steps=40, step_size=5e-4, max_step=0.03, temperature=1.0)
BOND_LENGTH = DEFAULTS["bond_length"]  # bead diameters: the decoder's bonds (simulated data only)


def internal_coordinates(x):
    """(..., beads, 2) or (..., 2 * beads), numpy or torch -> (lengths, angles), each (..., beads - 1)."""
    r = as_coordinates(x)
    b = r[..., 1:, :] - r[..., :-1, :]
    if isinstance(b, torch.Tensor):
        return torch.linalg.vector_norm(b, dim=-1), torch.atan2(b[..., 1], b[..., 0])
    return np.linalg.norm(b, axis=-1), np.arctan2(b[..., 1], b[..., 0])


def chain(lengths: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Bond lengths (batch, bonds) and unit vectors (batch, bonds, 2) -> centred chain (batch, bonds + 1, 2)."""
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
    averaging that spoils the Cartesian decoder. The bond
    lengths fluctuate in draws from p_theta(x|z) (``generate``), not in the mean.
    ``bonds`` returns lengths and directions; ``forward`` the centred chain in the aligned frame.
    """

    def __init__(self, in_dim: int, hidden_dims, n_beads: int):
        super().__init__()
        from .models import mlp

        self.n_bonds = n_beads - 1
        self.net = mlp([in_dim, *hidden_dims, 2 * self.n_bonds])

    def bonds(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, in_dim) -> lengths (batch, bonds), unit directions (batch, bonds, 2)."""
        out = self.net(h).view(-1, self.n_bonds, 2)
        direction = out / torch.sqrt((out**2).sum(-1, keepdim=True) + 1e-8)
        return torch.full_like(out[..., 0], BOND_LENGTH), direction

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return chain(*self.bonds(h)).flatten(-2)


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
        raise ValueError(f"condition must be None or a dict with keys {list(keys)} (see rg_condition), got {condition!r}")
    values = {k: condition[k] for k in keys}
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in values.values()):
        raise ValueError(f"condition values must be finite numbers, got {condition!r}")
    if values["std"] <= 0 or values["min"] > values["max"]:
        raise ValueError(f"condition needs std > 0 and min <= max, got {condition!r}")
    return {k: float(v) for k, v in sorted(values.items())}


def check_targets(condition: dict, rg, n: int) -> torch.Tensor:
    """Target R_g (a number or n numbers) inside the data's range -> c = standardised, shape (n, 1)."""
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


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def encode_all(model, data) -> tuple[torch.Tensor, torch.Tensor]:
    """mu, sigma of q_phi(z|x) for every frame of ``data`` (frames, 2 * beads), float32 tensors."""
    model.eval()
    return model.encode(torch.from_numpy(np.array(data, dtype=np.float32)))


def aggregated_posterior_sample(mu: torch.Tensor, sigma: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """n draws from the mixture (1 / N) sum_i N(mu_i, diag sigma_i^2): pick a frame, then sample its q_phi(z|x)."""
    pick = torch.randint(len(mu), (n,), generator=generator)
    return mu[pick] + sigma[pick] * torch.randn(n, mu.shape[-1], generator=generator)


@torch.no_grad()
def fit_generation(model, train, seed: int = 0, angle_std: float = ANGLE_NOISE) -> dict:
    """Store in ``model`` what ``generate`` needs; returns the noise scales (and the measured ones).

    * ``sampler_codes`` (N_CODES, 2, latent): mu and sigma of q_phi(z|x) for N_CODES training
      frames drawn with ``seed``: the aggregated posterior that ``latent="posterior"`` samples.
    * ``bond_noise`` (2,): standard deviations of the noise of p_theta(x|z) on each bond length
      (bead diameters: the spread of the data's bonds around the decoded ones) and on each bond
      direction (radians: ``angle_std``). The data's directions scatter far more around the
      decoded ones (``residual_angle_std``, about 0.65), but that scatter is mostly what a 2-D
      code cannot describe; independent noise that large breaks chains into overlaps, so the
      direction noise is a chosen compromise between the spread of R_g and the overlaps that
      ``generate``'s relaxation must repair (measured in the valid-generation notebook).
    """
    if model.config["decoder"] != "internal":
        raise ValueError("fit_generation needs a PolymerVAE(decoder='internal')")
    check_seed("seed", seed)
    check_non_negative("angle_std", angle_std)
    x = np.array(check_array("train", train, ndim=2, last_dims=(model.config["input_dim"],), min_len=2), dtype=np.float32)
    mu, sigma = encode_all(model, x)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(x), generator=gen)[: min(N_CODES, len(x))]
    pick = pick[torch.arange(N_CODES) % len(pick)]  # fewer frames than N_CODES: repeat them
    model.sampler_codes.copy_(torch.stack([mu[pick], sigma[pick]], dim=1))
    c = model.condition_of(torch.as_tensor(x))
    lengths, directions = model.decoder.bonds(mu if c is None else torch.cat([mu, c], -1))
    data_len, data_ang = internal_coordinates(torch.as_tensor(x))
    dec_ang = torch.atan2(directions[..., 1], directions[..., 0])
    turn = torch.remainder(data_ang - dec_ang + math.pi, 2 * math.pi) - math.pi
    model.bond_noise.copy_(torch.tensor([float((data_len - lengths).std()), float(angle_std)]))
    return dict(length_std=float(model.bond_noise[0]), angle_std=float(angle_std), residual_angle_std=float(turn.std()))


@torch.no_grad()
def generate(model, n: int, seed=None, *, rg=None, latent: str = "posterior", noise: bool = True,
             relax: bool = True) -> np.ndarray:
    """Draw ``n`` conformations (n, beads, 2) in bead diameters from an internal-coordinate model.

    latent: ``"posterior"`` samples z from the stored aggregated posterior, ``"prior"`` from N(0, I).
    noise: add the fitted Gaussian noise to each bond's length and direction (a draw from
    p_theta(x|z)); False returns the decoder's mean chain. rg: the target radius of gyration of
    a conditional model (a number or n numbers inside the training range), None otherwise.
    relax: finish with ``energy.relax`` (``RELAX`` settings: a short capped Langevin run in the
    simulator's force field that pushes overlapping beads apart); False returns the decoded chains.
    The defaults are the final recipe of the valid-generation notebook.
    """
    check_positive_int("n", n)
    if seed is not None:
        check_seed("seed", seed)
    check_option("latent", latent, LATENTS)
    if model.config["decoder"] != "internal":
        raise ValueError("generate needs a PolymerVAE(decoder='internal'); a Cartesian model has sample()")
    condition = model.config["condition"]
    if condition is None and rg is not None:
        raise ValueError("rg is only for a conditional model (PolymerVAE(condition=...)); this one has none")
    if condition is not None and rg is None:
        raise ValueError(f"this conditional model needs a target rg in [{condition['min']:.3g}, {condition['max']:.3g}]")
    if not torch.any(model.bond_noise > 0):
        raise ValueError("the model has no fitted sampler: call fit_generation(model, train) after training")
    model.eval()
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    if latent == "posterior":
        z = aggregated_posterior_sample(model.sampler_codes[:, 0], model.sampler_codes[:, 1], n, gen)
    else:
        z = torch.randn(n, model.latent_dim, generator=gen)
    h = z if condition is None else torch.cat([z, check_targets(condition, rg, n)], -1)
    lengths, directions = model.decoder.bonds(h)
    if noise:
        length_std, angle_std = model.bond_noise
        lengths = lengths + length_std * torch.randn(lengths.shape, generator=gen)
        angle = torch.atan2(directions[..., 1], directions[..., 0]) + angle_std * torch.randn(lengths.shape, generator=gen)
        directions = torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    x = chain(lengths, directions).to(torch.float64)
    if relax:
        x = relax_in_force_field(x, seed=gen if gen is not None else torch.default_generator, **RELAX)
    return x.numpy()


# ----------------------------------------------------------------------------- the recipe

# train_vae settings of the shipped "valid_polymer" and "conditional_polymer" models
RECIPE = dict(epochs=240, beta=0.12)


def train_generator(train, test=None, *, conditional: bool = False, seed: int = 0, progress: bool = True):
    """Build, train (``train_vae`` with ``RECIPE``) and fit the sampler of an internal-coordinate VAE.

    ``train``/``test``: preprocessed frames (frames, 2 * beads). ``conditional=True`` conditions
    on R_g (``rg_condition(train)``). Returns (model, history); ``model.generate`` is ready.
    """
    from .models import PolymerVAE
    from .training import train_vae

    check_seed("seed", seed)
    torch.manual_seed(seed)
    x = check_array("train", train, ndim=2, min_len=2)
    model = PolymerVAE(input_dim=x.shape[-1], decoder="internal", condition=rg_condition(x) if conditional else None)
    history = train_vae(model, x, test, seed=seed, progress=progress, **RECIPE)
    fit_generation(model, x, seed=seed)
    return model, history


# ----------------------------------------------------------------------------- measuring


def wasserstein_1d(a, b) -> float:
    """Exact 1-D Wasserstein-1 distance between the samples ``a`` and ``b``: integral of |F_a - F_b|."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid)))


def generation_metrics(conformations, data) -> dict:
    """How much ``conformations`` (n, beads, 2) look like ``data`` (frames, beads, 2), bead diameters.

    Returns fractions ``valid`` (``measures.validity`` against the data) and ``low_energy``
    (``polymer_energy`` below the data's 99th percentile), and the 1-D Wasserstein distances
    ``w1_rg``, ``w1_end_to_end`` and ``w1_bond`` (all bonds pooled) to the data's distributions.
    """
    from .energy import polymer_energy
    from .measures import bond_lengths, end_to_end_distance, validity

    x = np.asarray(as_coordinates(conformations), dtype=np.float64)
    d = np.asarray(as_coordinates(data, "data"), dtype=np.float64)
    threshold = np.percentile(polymer_energy(d), 99)
    return dict(
        valid=validity(x, d).fraction_valid,
        low_energy=float(np.mean(polymer_energy(x) < threshold)),
        w1_rg=wasserstein_1d(radius_of_gyration(x), radius_of_gyration(d)),
        w1_end_to_end=wasserstein_1d(end_to_end_distance(x), end_to_end_distance(d)),
        w1_bond=wasserstein_1d(bond_lengths(x), bond_lengths(d)),
    )


__all__ = [
    "InternalDecoder",
    "N_CODES",
    "RECIPE",
    "RELAX",
    "aggregated_posterior_sample",
    "chain",
    "encode_all",
    "fit_generation",
    "generate",
    "generation_metrics",
    "internal_coordinates",
    "rg_condition",
    "train_generator",
    "wasserstein_1d",
]
