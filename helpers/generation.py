"""Generating valid polymers: a VAE with its own likelihood and a learned prior, a baseline, and metrics.

``PolymerGenerator`` is a ``PolymerVAE(decoder="internal")``: its decoder is the likelihood
p_theta(x|z) of ``likelihood.ChainLikelihood`` (Gaussian bond lengths, von Mises turns, bond by
bond), trained by ``train_vae`` on the ELBO with ``RECIPE``. After training, ``fit_prior``
fits a learned prior p(z) (``mixture``: a Gaussian mixture over codes drawn from q_phi(z|x))
and stores it in the model. ``generate`` draws z from that prior (or from N(0, I)) and x from
p_theta(x|z): the model's own draws. ``energy.relax`` is a separate, optional step of physics
after the model (``relax=True``). ``worm_like_chain`` is the no-learning baseline;
``generation_metrics`` and ``nearest_rmsd`` measure how much generated polymers look like the
data and how far they are from the training frames.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_array, check_option, check_positive_int, check_seed
from .energy import polymer_energy
from .energy import relax as relax_in_force_field
from .layers import chain
from .likelihood import sample_von_mises
from .measures import as_coordinates, bond_lengths, end_to_end_distance, radius_of_gyration, validity
from .mixture import fit_mixture, mixture_log_prob, mixture_sample
from .models import PolymerVAE, check_targets, rg_condition
from .simulation import DEFAULTS
from .training import train_vae

PRIOR_COMPONENTS = 16  # Gaussians in the learned prior p(z)
LATENTS = ("learned", "standard")  # where z comes from: the fitted mixture, or N(0, I)
# energy.relax settings of generate(relax=True): 40 capped Langevin steps at the force field's kT
RELAX = dict(steps=40, step_size=5e-4, max_step=0.03, temperature=1.0)
# train_vae settings of the shipped "valid_polymer" and "conditional_polymer" models: the ELBO
# (beta = 1: the likelihood is learned, so there is no sigma_x to trade against) with "free bits"
# (each latent dimension is charged at least free_bits nats, so the strong decoder keeps using z)
RECIPE = dict(epochs=40, beta=1.0, free_bits=2.0)
GENERATOR = dict(hidden_dim=256, latent_dim=2)  # PolymerVAE settings of the shipped generators


class PolymerGenerator(PolymerVAE):
    """An internal-coordinate ``PolymerVAE`` that stores a learned prior p(z) and draws new polymers.

    Takes the keyword arguments of ``PolymerVAE`` (``decoder`` is "internal"). Three buffers,
    filled by ``fit_prior`` after training and saved with the weights (K = PRIOR_COMPONENTS):

        prior_weights    (K,)                        mixture weights, summing to 1
        prior_means      (K, latent_dim)             component means
        prior_scale_tril (K, latent_dim, latent_dim) lower Cholesky factors of the covariances

    ``model.generate(n, seed=...)`` is ``generate(model, n, seed=...)``.
    """

    def __init__(self, *, decoder="internal", **config):
        if decoder != "internal":
            raise ValueError(
                f"a PolymerGenerator builds chains from bonds: decoder must be 'internal', got {decoder!r}"
            )
        super().__init__(decoder=decoder, **config)
        k, d = PRIOR_COMPONENTS, self.latent_dim
        self.register_buffer("prior_weights", torch.zeros(k))
        self.register_buffer("prior_means", torch.zeros(k, d))
        self.register_buffer("prior_scale_tril", torch.zeros(k, d, d))

    def generate(self, n: int, seed: int | None = None, **options) -> np.ndarray:
        """n conformations (n, beads, 2) in bead diameters: see ``generate``."""
        return generate(self, n, seed, **options)


def _check_generator(name: str, model) -> None:
    if not isinstance(model, PolymerGenerator):
        config = getattr(model, "config", {})
        hint = "; a Cartesian PolymerVAE draws with model.sample(n)" if config.get("decoder") == "cartesian" else ""
        raise ValueError(
            f"{name} needs a PolymerGenerator (a PolymerVAE(decoder='internal') with a learned prior: "
            f"train_generator or PolymerGenerator(...)), got a {type(model).__name__} with a "
            f"{config.get('decoder')!r} decoder{hint}"
        )


# ----------------------------------------------------------------------------- the learned prior


@torch.no_grad()
def encode_all(model, data) -> tuple[torch.Tensor, torch.Tensor]:
    """mu, sigma of q_phi(z|x) for every frame of ``data`` (frames, 2 * beads): float32, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    return model.encode(torch.from_numpy(np.array(data, dtype=np.float32)).to(device))


@torch.no_grad()
def fit_prior(model, train, seed: int = 0, components: int = PRIOR_COMPONENTS) -> float:
    """Fit the learned prior p(z) of ``model`` (a ``PolymerGenerator``) and store it; returns its log-likelihood.

    Draws one code z ~ q_phi(z|x) per training frame (a sample of the aggregated posterior, seeded
    with ``seed``) and fits a mixture of ``components`` Gaussians to them (``mixture.fit_mixture``).
    Returns the mean log p(z) of those codes under the fitted mixture (nats per code).
    """
    _check_generator("fit_prior", model)
    check_seed("seed", seed)
    check_positive_int("components", components)
    if components != PRIOR_COMPONENTS:
        raise ValueError(f"a PolymerGenerator stores {PRIOR_COMPONENTS} prior components, got components={components}")
    x = check_array("train", train, ndim=2, last_dims=(model.config["input_dim"],), min_len=components)
    mu, sigma = encode_all(model, x)
    gen = torch.Generator().manual_seed(seed)
    z = mu.double().cpu() + sigma.double().cpu() * torch.randn(mu.shape, generator=gen, dtype=torch.float64)
    weights, means, scale_tril = fit_mixture(z, components, seed=seed)
    for buffer, value in zip(
        (model.prior_weights, model.prior_means, model.prior_scale_tril), (weights, means, scale_tril)
    ):
        buffer.copy_(value.to(buffer))
    return float(mixture_log_prob(z, weights, means, scale_tril).mean())


# ----------------------------------------------------------------------------- drawing


@torch.no_grad()
def generate(
    model, n: int, seed=None, *, rg=None, latent: str = "learned", noise: bool = True, relax: bool = False
) -> np.ndarray:
    """Draw ``n`` conformations (n, beads, 2) in bead diameters from a ``PolymerGenerator``.

    latent: ``"learned"`` draws z from the fitted prior (``fit_prior``), ``"standard"`` from N(0, I).
    noise: True draws x from p_theta(x|z) (the model's own draw); False returns the most likely
    chain for each z (``ChainLikelihood.forward``). rg: the target radius of gyration of a
    conditional model (a number or n numbers inside the training range), None otherwise.
    relax: False (the default) returns the model's own draws; True adds ``energy.relax`` with
    ``RELAX`` (a short capped Langevin run in the simulator's force field: physics after the
    model, not part of it). The random numbers are drawn on the CPU (seeded by ``seed``, else
    torch's global generator), so a seed draws the same polymers on every device.
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
    if latent == "learned" and not torch.any(model.prior_weights > 0):
        raise ValueError("the model has no learned prior: call fit_prior(model, train) after training")
    model.eval()
    device = model.prior_weights.device
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    if latent == "learned":
        z = mixture_sample(n, model.prior_weights, model.prior_means, model.prior_scale_tril, gen)
    else:
        z = torch.randn(n, model.latent_dim, generator=gen, dtype=torch.float64)
    z = z.to(device, torch.float32)
    h = z if condition is None else torch.cat([z, check_targets(condition, rg, n).to(device)], -1)
    x = model.decoder.sample(h, gen, mean=not noise).to(torch.float64)
    if relax:
        x = relax_in_force_field(x, seed=gen if gen is not None else torch.default_generator, **RELAX)
    return x.cpu().numpy()


def worm_like_chain(n: int, seed: int = 0, beads: int = 12) -> np.ndarray:
    """The no-learning baseline: n chains (n, beads, 2) from the force field's bonded terms alone.

    Bond lengths ~ N(bond_length, kT / bond_k) and turning angles ~ von Mises(0, bend_k / kT),
    independently (the Boltzmann distribution of the harmonic bonds and the bending term of
    ``simulation.DEFAULTS``, without the Lennard-Jones beads: nothing stops overlaps); the first
    bond points in a uniformly random direction. Centred, in bead diameters, float64.
    """
    check_positive_int("n", n)
    check_seed("seed", seed)
    check_positive_int("beads", beads, minimum=3)
    gen = torch.Generator().manual_seed(seed)
    p = DEFAULTS
    bonds = beads - 1
    lengths = p["bond_length"] + math.sqrt(p["kT"] / p["bond_k"]) * torch.randn(
        n, bonds, generator=gen, dtype=torch.float64
    )
    turns = sample_von_mises(torch.zeros(n, bonds - 1), torch.full((n, bonds - 1), p["bend_k"] / p["kT"]), gen)
    first = 2 * math.pi * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    angle = torch.cumsum(torch.cat([first, turns], 1), 1)
    return chain(lengths, torch.stack([torch.cos(angle), torch.sin(angle)], -1)).numpy()


# ----------------------------------------------------------------------------- the recipe


def train_generator(train, test=None, *, conditional: bool = False, seed: int = 0, progress: bool = True):
    """Build (``GENERATOR``), train (``train_vae`` with ``RECIPE``) and fit the prior of a ``PolymerGenerator``.

    ``train``/``test``: preprocessed frames (frames, 2 * beads). ``conditional=True`` conditions
    on R_g (``rg_condition(train)``). The initial weights are seeded with ``seed`` without
    touching torch's global random state. Returns (model, history); ``model.generate`` is ready.
    """
    check_seed("seed", seed)
    x = check_array("train", train, ndim=2, min_len=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PolymerGenerator(input_dim=x.shape[-1], condition=rg_condition(x) if conditional else None, **GENERATOR)
    history = train_vae(model, x, test, seed=seed, progress=progress, **RECIPE)
    fit_prior(model, x, seed=seed)
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


def nearest_rmsd(conformations, reference, batch: int = 512) -> np.ndarray:
    """RMSD (bead diameters) from each conformation to its nearest reference frame, after the best rotation.

    conformations (n, beads, 2), reference (m, beads, 2): both are centred here; for each pair
    the rotation that minimises the RMSD is found in closed form (in 2-D, from the sums
    a = sum_i x_i . y_i and b = sum_i x_i cross y_i: min RMSD^2 = (|x|^2 + |y|^2 - 2 sqrt(a^2 + b^2)) / beads).
    Mirror images are not aligned (a reflection is a different conformation here). Returns (n,).
    """
    x = np.asarray(as_coordinates(conformations), dtype=np.float64)
    y = np.asarray(as_coordinates(reference, "reference"), dtype=np.float64)
    if x.ndim != 3 or y.ndim != 3 or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"need (n, beads, 2) and (m, beads, 2) with the same beads, got {x.shape} and {y.shape}")
    check_positive_int("batch", batch)
    x, y = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    y_flat, y_turned = y.reshape(len(y), -1), np.stack([-y[..., 1], y[..., 0]], -1).reshape(len(y), -1)
    y_norm = (y_flat**2).sum(1)
    out = []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch].reshape(-1, y_flat.shape[1])
        a, b = xb @ y_flat.T, xb @ y_turned.T
        d2 = ((xb**2).sum(1)[:, None] + y_norm[None] - 2 * np.sqrt(a**2 + b**2)) / x.shape[1]
        out.append(np.sqrt(np.maximum(d2.min(1), 0.0)))
    return np.concatenate(out)


__all__ = [
    "LATENTS",
    "GENERATOR",
    "PRIOR_COMPONENTS",
    "RECIPE",
    "RELAX",
    "PolymerGenerator",
    "encode_all",
    "fit_prior",
    "generate",
    "generation_metrics",
    "nearest_rmsd",
    "train_generator",
    "wasserstein_1d",
    "worm_like_chain",
]
