"""Generating valid polymers: an internal-coordinate VAE with a sampler, its recipe, and metrics.

``PolymerGenerator`` is a ``PolymerVAE(decoder="internal")`` (every bond at rest length, one
direction per bond: ``layers.InternalDecoder``) that also stores what ``generate`` samples
from. After training, ``fit_generation(model, train)`` fills it: a mixture of the encoder's
Gaussians q_phi(z|x) over ``N_CODES`` training frames (the aggregated posterior) and the noise
of p_theta(x|z): the spread of the data's bond lengths around the decoded ones, and a chosen
spread ``ANGLE_NOISE`` of the bond directions. ``generate`` ends with ``energy.relax`` (settings
``RELAX``), which pushes the beads of overlapping draws apart in the simulator's force field.
``train_generator`` does it all with the shipped models' ``RECIPE``; ``generation_metrics``
measures how much generated polymers look like the data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_array, check_non_negative, check_option, check_positive_int, check_seed
from .energy import polymer_energy
from .energy import relax as relax_in_force_field
from .layers import chain
from .measures import (
    as_coordinates,
    bond_lengths,
    end_to_end_distance,
    internal_coordinates,
    radius_of_gyration,
    validity,
)
from .models import PolymerVAE, check_targets, rg_condition
from .training import train_vae

ANGLE_NOISE = 0.2  # radians: spread of each bond's direction in draws from p_theta(x|z) (see fit_generation)
N_CODES = 1024  # training frames whose q_phi(z|x) make up the stored aggregated posterior
LATENTS = ("posterior", "prior")
# energy.relax settings of generate(relax=True): 40 capped Langevin steps at the force field's kT
RELAX = dict(steps=40, step_size=5e-4, max_step=0.03, temperature=1.0)
# train_vae settings of the shipped "valid_polymer" and "conditional_polymer" models
RECIPE = dict(epochs=240, beta=0.12)


class PolymerGenerator(PolymerVAE):
    """An internal-coordinate ``PolymerVAE`` that stores a sampler and draws new polymers.

    Takes the keyword arguments of ``PolymerVAE`` (``decoder`` is "internal"). Two buffers, filled by
    ``fit_generation`` after training and saved with the weights:

        sampler_codes (N_CODES, 2, latent_dim)  mu and sigma of q_phi(z|x) for N_CODES training frames
        bond_noise    (2,)                      noise of p_theta(x|z) on each bond length (bead
                                                diameters) and each bond direction (radians)

    ``model.generate(n, seed=...)`` is ``generate(model, n, seed=...)``.
    """

    def __init__(self, *, decoder="internal", **config):
        if decoder != "internal":
            raise ValueError(
                f"a PolymerGenerator builds chains from bonds: decoder must be 'internal', got {decoder!r}"
            )
        super().__init__(decoder=decoder, **config)
        self.register_buffer("sampler_codes", torch.zeros(N_CODES, 2, self.latent_dim))
        self.register_buffer("bond_noise", torch.zeros(2))

    def generate(self, n: int, seed: int | None = None, **options) -> np.ndarray:
        """n conformations (n, beads, 2) in bead diameters: see ``generate``."""
        return generate(self, n, seed, **options)


def _check_generator(name: str, model) -> None:
    if not isinstance(model, PolymerGenerator):
        config = getattr(model, "config", {})
        hint = "; a Cartesian PolymerVAE draws with model.sample(n)" if config.get("decoder") == "cartesian" else ""
        raise ValueError(
            f"{name} needs a PolymerGenerator (a PolymerVAE(decoder='internal') with a sampler: train_generator "
            f"or PolymerGenerator(...)), got a {type(model).__name__} with a {config.get('decoder')!r} decoder{hint}"
        )


# ----------------------------------------------------------------------------- sampling


@torch.no_grad()
def encode_all(model, data) -> tuple[torch.Tensor, torch.Tensor]:
    """mu, sigma of q_phi(z|x) for every frame of ``data`` (frames, 2 * beads): float32, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    return model.encode(torch.from_numpy(np.array(data, dtype=np.float32)).to(device))


def aggregated_posterior_sample(mu: torch.Tensor, sigma: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """n draws from the mixture (1 / N) sum_i N(mu_i, diag sigma_i^2): pick a frame, then sample its q_phi(z|x).

    mu, sigma: (N, latent_dim). The random numbers come from ``generator`` (a CPU generator, or
    torch's global one) and are moved to mu's device, so a seed draws the same z on every device.
    """
    pick = torch.randint(len(mu), (n,), generator=generator).to(mu.device)
    return mu[pick] + sigma[pick] * torch.randn(n, mu.shape[-1], generator=generator).to(mu.device)


@torch.no_grad()
def fit_generation(model, train, seed: int = 0, angle_std: float = ANGLE_NOISE) -> dict:
    """Store in ``model`` (a ``PolymerGenerator``) what ``generate`` needs; returns the noise scales.

    * ``sampler_codes`` (N_CODES, 2, latent): mu and sigma of q_phi(z|x) for N_CODES training
      frames drawn with ``seed``: the aggregated posterior that ``latent="posterior"`` samples.
    * ``bond_noise`` (2,): standard deviations of the noise of p_theta(x|z) on each bond length
      (bead diameters: the spread of the data's bonds around the decoded ones) and on each bond
      direction (radians: ``angle_std``). The data's directions scatter far more around the
      decoded ones (``residual_angle_std``, about 0.65), but that scatter is mostly what a 2-D
      code cannot describe; independent noise that large breaks chains into overlaps, so the
      direction noise is a chosen compromise between the spread of R_g and the overlaps that
      ``generate``'s relaxation must repair (measured in the valid-generation notebook).

    Returns {length_std, angle_std, residual_angle_std}: the two stored scales and the measured
    scatter of the data's bond directions around the decoded ones (radians).
    """
    _check_generator("fit_generation", model)
    check_seed("seed", seed)
    check_non_negative("angle_std", angle_std)
    x = np.array(
        check_array("train", train, ndim=2, last_dims=(model.config["input_dim"],), min_len=2), dtype=np.float32
    )
    mu, sigma = encode_all(model, x)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(x), generator=gen)[: min(N_CODES, len(x))]
    pick = pick[torch.arange(N_CODES) % len(pick)].to(mu.device)  # fewer frames than N_CODES: repeat them
    model.sampler_codes.copy_(torch.stack([mu[pick], sigma[pick]], dim=1))
    x = torch.as_tensor(x, device=mu.device)
    c = model.condition_of(x)
    lengths, directions = model.decoder.bonds(mu if c is None else torch.cat([mu, c], -1))
    data_len, data_ang = internal_coordinates(x)
    dec_ang = torch.atan2(directions[..., 1], directions[..., 0])
    turn = torch.remainder(data_ang - dec_ang + math.pi, 2 * math.pi) - math.pi
    model.bond_noise.copy_(torch.tensor([float((data_len - lengths).std()), float(angle_std)]))
    return dict(length_std=float(model.bond_noise[0]), angle_std=float(angle_std), residual_angle_std=float(turn.std()))


@torch.no_grad()
def generate(
    model, n: int, seed=None, *, rg=None, latent: str = "posterior", noise: bool = True, relax: bool = True
) -> np.ndarray:
    """Draw ``n`` conformations (n, beads, 2) in bead diameters from a ``PolymerGenerator``.

    latent: ``"posterior"`` samples z from the stored aggregated posterior, ``"prior"`` from N(0, I).
    noise: add the fitted Gaussian noise to each bond's length and direction (a draw from
    p_theta(x|z)); False returns the decoder's mean chain. rg: the target radius of gyration of
    a conditional model (a number or n numbers inside the training range), None otherwise.
    relax: finish with ``energy.relax`` (``RELAX`` settings: a short capped Langevin run in the
    simulator's force field that pushes overlapping beads apart); False returns the decoded chains.
    The defaults are the final recipe of the valid-generation notebook. The network runs on the
    model's device; the random numbers are drawn on the CPU (seeded by ``seed``, else torch's
    global generator), so a seed draws the same numbers on every device.
    """
    check_positive_int("n", n)
    if seed is not None:
        check_seed("seed", seed)
    check_option("latent", latent, LATENTS)
    _check_generator("generate", model)
    condition = model.config["condition"]
    if condition is None and rg is not None:
        raise ValueError("rg is only for a conditional model (PolymerVAE(condition=...)); this one has none")
    if condition is not None and rg is None:
        raise ValueError(
            f"this conditional model needs a target rg in [{condition['min']:.3g}, {condition['max']:.3g}]"
        )
    if not torch.any(model.bond_noise > 0):
        raise ValueError("the model has no fitted sampler: call fit_generation(model, train) after training")
    model.eval()
    device = model.bond_noise.device
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    if latent == "posterior":
        z = aggregated_posterior_sample(model.sampler_codes[:, 0], model.sampler_codes[:, 1], n, gen)
    else:
        z = torch.randn(n, model.latent_dim, generator=gen).to(device)
    h = z if condition is None else torch.cat([z, check_targets(condition, rg, n).to(device)], -1)
    lengths, directions = model.decoder.bonds(h)
    if noise:
        length_std, angle_std = model.bond_noise
        lengths = lengths + length_std * torch.randn(lengths.shape, generator=gen).to(device)
        angle = torch.atan2(directions[..., 1], directions[..., 0])
        angle = angle + angle_std * torch.randn(lengths.shape, generator=gen).to(device)
        directions = torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    x = chain(lengths, directions).to(torch.float64)
    if relax:
        x = relax_in_force_field(x, seed=gen if gen is not None else torch.default_generator, **RELAX)
    return x.cpu().numpy()


# ----------------------------------------------------------------------------- the recipe


def train_generator(train, test=None, *, conditional: bool = False, seed: int = 0, progress: bool = True):
    """Build, train (``train_vae`` with ``RECIPE``) and fit the sampler of a ``PolymerGenerator``.

    ``train``/``test``: preprocessed frames (frames, 2 * beads). ``conditional=True`` conditions
    on R_g (``rg_condition(train)``). The initial weights are seeded with ``seed`` without
    touching torch's global random state. Returns (model, history); ``model.generate`` is ready.
    """
    check_seed("seed", seed)
    x = check_array("train", train, ndim=2, min_len=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PolymerGenerator(input_dim=x.shape[-1], condition=rg_condition(x) if conditional else None)
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
    "ANGLE_NOISE",
    "N_CODES",
    "RECIPE",
    "RELAX",
    "PolymerGenerator",
    "aggregated_posterior_sample",
    "encode_all",
    "fit_generation",
    "generate",
    "generation_metrics",
    "train_generator",
    "wasserstein_1d",
]
