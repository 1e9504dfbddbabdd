"""A denoising diffusion model of polymer shapes, in internal coordinates (notebook 9).

A conformation of 12 beads is described by its 11 bond lengths and its 10 turning angles (the
change of direction from one bond to the next, radians): a shape, independent of where the
chain sits and how it is turned, that ``conformations`` rebuilds into centred, aligned
coordinates like the data's. Each is mapped onto the whole line (``unbounded``: a logit of the
bond length within ``LENGTH_RANGE``, an atanh of the turn within +-``TURN_LIMIT``) and
standardised: these 21 numbers are the model's x_0.

Forward process (fixed): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I), with the
cosine schedule of Nichol & Dhariwal (2021) over ``STEPS`` = 1000 steps (abar_T ~ 0: pure noise).
The network eps_theta(x_t, t, c), a residual MLP that also sees the inverse bead-bead distances of
the chain x_t describes, predicts the noise; the loss is ||eps - eps_theta||^2 (Ho et al., 2020).
Sampling runs the reverse process from N(0, I): ``sampler="ddpm"`` is ancestral sampling, ``"ddim"``
the deterministic sampler of Song et al. (2021); both on any number of steps up to ``STEPS``
(``timesteps``: a subset, denser near t = 1). The optional condition c is the standardised R_g;
trained with the condition dropped for a fraction of the chains, one network is both conditional
and unconditional, and ``guidance`` w mixes them (classifier-free guidance, Ho & Salimans, 2022):
eps = (1 + w) eps(x, c) - w eps(x, none). ``rg_sigma`` adds the gradient of an explicit R_g
likelihood N(target; R_g(x_0_hat), rg_sigma^2 + ...), evaluated at the clean chain x_0_hat that the
predicted noise implies (reconstruction guidance, Chung et al., 2023).

``negative_log_likelihood`` bounds -log p(x) with the variational bound (Ho et al., eq. 5) in
nats per conformation, as a density over the same 24 aligned coordinates as the VAE's bound.
``train_diffusion`` trains in the style of ``training.train_vae``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
import warnings

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import check_array, check_non_negative, check_option, check_positive, check_positive_int, check_seed
from ._cpu import small_network_cpu
from .data import align_principal
from .layers import chain
from .likelihood import wrap_angle
from .measures import as_coordinates, internal_coordinates, radius_of_gyration
from .models import check_condition, check_targets, rg_condition

STEPS = 1000  # T: the steps of the forward process
SAMPLERS = ("ddpm", "ddim")
DEFAULT_SAMPLE_STEPS = 100  # the steps that generate() takes unless told otherwise
DEFAULT_SAMPLER = "ddpm"
GUIDANCE = 1.0  # the classifier-free guidance weight w of notebook 9's targeted generation
RG_SIGMA = 0.05  # bead diameters: width of the R_g likelihood in notebook 9's targeted generation
GUIDED_DISCRIMINATOR_WEIGHT = 1.5  # the discriminator's weight in notebook 9's targeted generation
LENGTH_RANGE = (0.45, 1.55)  # bead diameters: bond lengths are mapped from this open interval onto the line
TURN_LIMIT = 2.35  # radians: turns are mapped from (-TURN_LIMIT, TURN_LIMIT) onto the line (data: |turn| <= 2.30)
EXACT_STEPS = 20  # variational_bound sums the first steps exactly (there the weights are largest)
CLIP = 5.0  # standardised units: samplers clip the predicted x_0 to +-CLIP (the data's features lie within +-4.5)
# train_diffusion settings of the shipped "diffusion_polymer" model
RECIPE = dict(epochs=200, lr=2e-3, batch_size=256, ema=0.999, condition_dropout=0.2, threads=2)


def cosine_schedule(steps: int = STEPS, s: float = 0.008) -> torch.Tensor:
    """abar_t for t = 1..steps (float64): cos^2 of (t/T + s) / (1 + s) * pi / 2, normalised, betas <= 0.999."""
    check_positive_int("steps", steps)
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    betas = (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


def linear_schedule(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """abar_t for t = 1..steps of the linear beta schedule of Ho et al. (2020) (float64)."""
    check_positive_int("steps", steps)
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, steps, dtype=torch.float64), 0)


def q_sample(x0, eps, abar_t):
    """A draw of the forward process q(x_t | x_0): sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
    return abar_t**0.5 * x0 + (1 - abar_t) ** 0.5 * eps


def time_embedding(t: torch.Tensor, dim: int = 64, steps: int = STEPS) -> torch.Tensor:
    """Sinusoidal embedding of the step t (batch,) -> (batch, dim): sin and cos of t / T at geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half).to(t.device)
    angle = (t.float() / steps * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.sin(angle), torch.cos(angle)], -1)


# ----------------------------------------------------------------------------- shapes


def shape_features(x) -> torch.Tensor:
    """Conformations (n, beads, 2) or (n, 2 * beads) -> (n, 2 * beads - 3): bond lengths, then turning angles.

    Turning angle k = direction of bond k + 1 minus direction of bond k, wrapped to (-pi, pi].
    float64 torch tensor, physical units (bead diameters, radians).
    """
    r = as_coordinates(x)
    r = r.detach().cpu().double() if isinstance(r, torch.Tensor) else torch.as_tensor(np.asarray(r, dtype=np.float64))
    lengths, angles = internal_coordinates(r)
    turns = wrap_angle(angles[..., 1:] - angles[..., :-1])
    return torch.cat([lengths, turns], -1)


def chain_from_features(features: torch.Tensor) -> torch.Tensor:
    """Inverse of ``shape_features`` up to a rigid motion: (n, 2 * beads - 3) -> centred beads (n, beads, 2)."""
    n_bonds = (features.shape[-1] + 1) // 2
    lengths, turns = features[..., :n_bonds], features[..., n_bonds:]
    direction = torch.cat([torch.zeros_like(turns[..., :1]), torch.cumsum(turns, -1)], -1)
    return chain(lengths, torch.stack([torch.cos(direction), torch.sin(direction)], -1))


def bead_distances(features: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Distances (n, p), bead diameters, between the bead pairs ``pairs`` (2, p) of the chains that physical
    features (n, dim) describe: what the denoiser and the discriminator see of a noisy chain."""
    r = chain_from_features(features)
    return torch.linalg.vector_norm(r[:, pairs[0]] - r[:, pairs[1]], dim=-1)


def unbounded(features: torch.Tensor) -> torch.Tensor:
    """Physical shape features -> the line: logit of each bond length within ``LENGTH_RANGE``, atanh of each turn / ``TURN_LIMIT``.

    Beads i and i + 2 overlap when the chain turns by more than about 2.17 rad; a hard edge like that is
    what a diffusion model blurs. On the line the edge becomes a tail that any value respects.
    """
    n_bonds = (features.shape[-1] + 1) // 2
    lo, hi = LENGTH_RANGE
    p = ((features[..., :n_bonds] - lo) / (hi - lo)).clamp(1e-6, 1 - 1e-6)
    return torch.cat(
        [torch.log(p / (1 - p)), torch.atanh((features[..., n_bonds:] / TURN_LIMIT).clamp(-0.999999, 0.999999))], -1
    )


def bounded(u: torch.Tensor) -> torch.Tensor:
    """Inverse of ``unbounded``: values on the line -> bond lengths and turning angles."""
    n_bonds = (u.shape[-1] + 1) // 2
    lo, hi = LENGTH_RANGE
    return torch.cat([lo + (hi - lo) * torch.sigmoid(u[..., :n_bonds]), TURN_LIMIT * torch.tanh(u[..., n_bonds:])], -1)


def log_det_unbounded(features: torch.Tensor) -> torch.Tensor:
    """log |d unbounded / d features| per chain (n,): the change of density from the line back to lengths and angles."""
    n_bonds = (features.shape[-1] + 1) // 2
    lo, hi = LENGTH_RANGE
    length, turn = features[..., :n_bonds], features[..., n_bonds:]
    return (torch.log(1 / (length - lo) + 1 / (hi - length)).sum(-1)
            - torch.log(TURN_LIMIT * (1 - (turn / TURN_LIMIT) ** 2)).sum(-1))  # fmt: skip


def conformations(features: torch.Tensor) -> np.ndarray:
    """Shape features -> conformations (n, beads, 2) in the data's frame (centred, principal axis along x)."""
    return align_principal(chain_from_features(features.detach().cpu().double()).numpy())


# ----------------------------------------------------------------------------- the network


class _Block(nn.Module):
    """h + W2 silu(W1 norm(h) + embedding): a residual MLP block that is told the step and condition."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h, emb):
        return h + self.outer(nn.functional.silu(self.inner(self.norm(h)) + emb))


class PolymerDiffusion(nn.Module):
    """eps_theta(x_t, t, c): a residual MLP on the whole chain's 21 shape features, plus the schedule.

    Args:
        n_beads: beads per chain (features: n_beads - 1 lengths, n_beads - 2 turning angles).
        width, blocks: the residual MLP (the defaults: 903,189 parameters with a condition).
        time_dim: size of the sinusoidal step embedding.
        steps: T, the steps of the cosine schedule.
        scale: {"mean": [...], "std": [...]}, the features' standardisation (from the training data:
            ``train_diffusion`` sets it). condition: None, or R_g statistics (``models.rg_condition``)
            for a model that can be guided to a target R_g.
    ``model.generate(n, seed=...)`` draws conformations; see ``generate``.
    """

    def __init__(self, *, n_beads=12, width=256, blocks=4, time_dim=64, steps=STEPS, scale=None, condition=None):
        super().__init__()
        check_positive_int("n_beads", n_beads, minimum=3)
        check_positive_int("width", width)
        check_positive_int("blocks", blocks)
        check_positive_int("time_dim", time_dim, minimum=2)
        check_positive_int("steps", steps, minimum=2)
        self.dim = 2 * n_beads - 3
        if scale is None:
            scale = dict(mean=[0.0] * self.dim, std=[1.0] * self.dim)
        scale = {k: [float(v) for v in scale[k]] for k in ("mean", "std")}
        if any(len(v) != self.dim for v in scale.values()) or min(scale["std"]) <= 0:
            raise ValueError(f"scale needs {self.dim} means and {self.dim} positive stds")
        condition = check_condition(condition)
        self.config = dict(
            kind="diffusion", n_beads=n_beads, width=width, blocks=blocks, time_dim=time_dim, steps=steps,
            scale=scale, condition=condition,
        )  # fmt: skip
        self.steps = steps
        self.register_buffer("abar", cosine_schedule(steps).float())
        self.register_buffer("mean", torch.tensor(scale["mean"]))
        self.register_buffer("std", torch.tensor(scale["std"]))
        self.time_dim = time_dim
        self.embed_time = nn.Sequential(nn.Linear(time_dim, width), nn.SiLU(), nn.Linear(width, width))
        if condition is not None:
            self.embed_condition = nn.Linear(1, width)
            self.no_condition = nn.Parameter(torch.zeros(width))
        n_pairs = n_beads * (n_beads - 1) // 2
        self.register_buffer("pairs", torch.triu_indices(n_beads, n_beads, 1), persistent=False)
        self.inp = nn.Linear(self.dim + n_pairs, width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(blocks))
        self.to_emb = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, self.dim))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise for x_t (batch, dim) at steps t (batch,) or (1,) in 1..T; c (batch, 1) standardised R_g or None.

        A NaN in c marks a chain without a condition (as in training with condition dropout)."""
        emb = self.embed_time(time_embedding(t, self.time_dim, self.steps))
        if self.config["condition"] is not None:
            if c is None:
                emb = emb + self.no_condition
            else:
                emb = emb + torch.where(c.isnan(), self.no_condition, self.embed_condition(torch.nan_to_num(c)))
        emb = nn.functional.silu(emb)
        # the network also sees the chain that x_t describes, as all its bead-bead distances: contacts,
        # R_g and end-to-end distance are then simple functions of its input
        d = bead_distances(self.unstandardise(x_t).float(), self.pairs)
        h = self.inp(torch.cat([x_t, 1 / d.clamp(min=0.25)], -1))
        for block, to_emb in zip(self.blocks, self.to_emb):
            h = block(h, to_emb(emb))
        return self.out(h)

    def standardise(self, x) -> torch.Tensor:
        """Conformations -> standardised features x_0 (n, dim), float32 on the model's device."""
        return self.encode_features(shape_features(x))

    def encode_features(self, features: torch.Tensor) -> torch.Tensor:
        """Physical shape features -> x_0: ``unbounded``, then standardised; float32 on the model's device."""
        u = unbounded(features.double().cpu())
        return ((u - self.mean.double().cpu()) / self.std.double().cpu()).float().to(self.abar.device)

    def unstandardise(self, x0: torch.Tensor) -> torch.Tensor:
        """x_0 (standardised) -> physical features (bond lengths, turning angles), x0's dtype."""
        return bounded(x0 * self.std.to(x0.dtype) + self.mean.to(x0.dtype))

    def generate(self, n: int, seed: int | None = None, **options) -> np.ndarray:
        """n conformations (n, beads, 2): see ``generate``."""
        return generate(self, n, seed, **options)


def _check_diffusion(name: str, model) -> None:
    if not isinstance(model, PolymerDiffusion):
        raise TypeError(
            f"{name} needs a PolymerDiffusion, got a {type(model).__name__}"
            + (": a VAE draws with model.sample(n) or model.generate(n)" if hasattr(model, "encode") else "")
        )


def _condition_targets(model, rg, n: int, device) -> torch.Tensor | None:
    """Target R_g (a number or n numbers) -> standardised c (n, 1); clear errors outside the data's range."""
    condition = model.config["condition"]
    if rg is None:
        return None
    if condition is None:
        raise ValueError("rg needs a model trained with an R_g condition (train_diffusion(..., conditional=True))")
    return check_targets(condition, rg, n).to(device)


def check_steps(model, steps) -> None:
    """Raise unless ``steps`` is an integer in 1..T."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an integer, got {type(steps).__name__} {steps!r}")
    if not 1 <= steps <= model.steps:
        raise ValueError(
            f"steps must be between 1 and the schedule's {model.steps} (sampling can skip steps of the forward "
            f"process, not add any), got {steps}"
        )


# ----------------------------------------------------------------------------- sampling


def timesteps(model, steps: int) -> list[int]:
    """The ``steps`` steps (of 1..T, descending, always ending at 1) that a sampler with ``steps`` steps visits."""
    check_steps(model, steps)
    if steps == 1:  # one step: from pure noise straight to the predicted chain
        return [model.steps]
    # quadratic spacing (Song et al., 2021): fine steps near the data, where the details are decided
    ts = np.round(1 + (model.steps - 1) * np.linspace(0, 1, steps) ** 2).astype(int)
    for i in range(1, steps):  # distinct steps: at the fine end the spacing falls below one step
        ts[i] = max(ts[i], ts[i - 1] + 1)
    return [int(v) for v in ts[::-1]]


def _eps(model, x, t, c, guidance):
    tt = torch.full((1,), t, device=x.device, dtype=torch.long)  # one step for all chains: embedded once
    if c is None or guidance == 0:
        return model(x, tt, c)
    both = model(torch.cat([x, x]), tt, torch.cat([c, torch.full_like(c, float("nan"))]))
    conditional, unconditional = both.chunk(2)
    return (1 + guidance) * conditional - guidance * unconditional


def fingerprint(model) -> str:
    """A short sha256 of the model's weights (as float32): tells apart models of equal config."""
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _check_discriminator(discriminator, model, sampler: str, steps: int) -> None:
    """Raise unless ``discriminator`` is a ``discriminator.ChainDiscriminator`` trained on ``model``'s draws;
    warn if it was trained for another sampler or step count (then its correction is approximate)."""
    if isinstance(discriminator, tuple):
        raise TypeError("discriminator is a tuple: load_pretrained returns (model, metadata), so write critic, _ = ...")
    if getattr(discriminator, "config", {}).get("kind") != "discriminator" or not callable(discriminator):
        raise TypeError(
            f"discriminator needs a ChainDiscriminator (helpers.discriminator), got a {type(discriminator).__name__}"
        )
    config = discriminator.config
    if any(config[k] != model.config[k] for k in ("n_beads", "steps", "scale")) or config["model"] not in (
        None, fingerprint(model)
    ):  # fmt: skip
        raise ValueError(
            "this discriminator learned the mistakes of another diffusion model (other weights, beads, schedule "
            "or standardisation): train one for this model with discriminator.train_discriminator(model, train)"
        )
    if (config["sampler"], config["sample_steps"]) != (sampler, steps):
        warnings.warn(
            f"this discriminator was trained on draws of {config['sampler']} with {config['sample_steps']} steps; "
            f"with {sampler} and {steps} steps its correction is only approximate",
            stacklevel=3,
        )


def _log_odds_gradient(discriminator, x, t: int) -> torch.Tensor:
    """grad_x of the discriminator's logit at step t, for each chain of x (batch, dim)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logit = discriminator(x, torch.full((1,), t, device=x.device, dtype=torch.long))
        return torch.autograd.grad(logit.sum(), x)[0]


def clean_estimate(x, eps, a_t) -> torch.Tensor:
    """x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t): the clean chain that the predicted noise eps
    implies (standardised features, like x). Near t = T (abar ~ 0) the division amplifies any error in
    eps, so it is clipped to the range of the data (+-CLIP standard deviations)."""
    return ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-CLIP, CLIP)


def _rg_likelihood_gradient(model, x, eps, a_t, target: torch.Tensor, sigma: float) -> torch.Tensor:
    """grad_x log p(target | x_t) for each chain of x (batch, dim), target (batch,) in bead diameters.

    p(target | x_t) ~ N(target; R_g(x0_hat), sigma^2 + (1 - abar_t) / abar_t |grad R_g|^2), with x0_hat =
    (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) the clean chain the predicted noise implies
    (``clean_estimate``) and grad R_g taken with respect to x0_hat's standardised features. The
    second variance term is how uncertain x0_hat still is at step t: it keeps the pull weak while x_t
    is mostly noise. Differentiated with eps and the variance held fixed, so d x0_hat / d x_t =
    1 / sqrt(abar_t): no pass back through the network.
    """
    with torch.enable_grad():
        x0 = clean_estimate(x, eps, a_t).detach().requires_grad_(True)
        rg = radius_of_gyration(chain_from_features(model.unstandardise(x0)))
        grad_rg = torch.autograd.grad(rg.sum(), x0)[0]
    var = sigma**2 + (1 - a_t) / a_t * grad_rg.pow(2).sum(-1)
    return (-(rg.detach() - target) / var)[:, None] * grad_rg / a_t.sqrt()


@torch.no_grad()
def sample_features(
    model, n, seed=None, *, steps=DEFAULT_SAMPLE_STEPS, sampler=DEFAULT_SAMPLER, rg=None, guidance=0.0,
    rg_sigma=None, discriminator=None, discriminator_weight=1.0, trajectory=False, threads=1,
):  # fmt: skip
    """Run the reverse process for n chains: standardised features x_0 (n, dim), float32.

    ``rg_sigma`` (bead diameters, with a target ``rg``): also follow the gradient of the R_g likelihood
    (``_rg_likelihood_gradient``). ``discriminator``: a ``discriminator.ChainDiscriminator`` for this
    model, whose log-odds gradient, times ``discriminator_weight``, corrects the predicted noise at
    every step (discriminator guidance). ``trajectory=True`` also returns the list of x_t (including
    x_T, the start) for each visited t. ``threads``: torch threads (``train_discriminator`` draws its
    thousands of chains on two).
    """
    _check_diffusion("sample_features", model)
    check_positive_int("n", n)
    if seed is not None:
        check_seed("seed", seed)
    check_option("sampler", sampler, SAMPLERS)
    check_non_negative("guidance", guidance)
    check_non_negative("discriminator_weight", discriminator_weight)
    if rg_sigma is not None:
        check_positive("rg_sigma", rg_sigma)
    if discriminator is not None:
        _check_discriminator(discriminator, model, sampler, steps)
    ts = timesteps(model, steps)
    model.eval()
    device = model.abar.device
    c = _condition_targets(model, rg, n, device)
    if (guidance or rg_sigma is not None) and c is None:
        raise ValueError(f"{'guidance' if guidance else 'rg_sigma'} needs a target rg")
    if rg_sigma is not None:
        target = torch.as_tensor(np.asarray(rg, dtype=np.float32)).reshape(-1).expand(n).to(device)  # bead diam.
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    x = torch.randn(n, model.dim, generator=gen).to(device)
    path = [x]
    abar = model.abar
    with small_network_cpu(threads):
        for i, t in enumerate(ts):
            a_t = abar[t - 1]
            a_prev = abar[ts[i + 1] - 1] if i + 1 < len(ts) else torch.ones((), device=device)
            eps = _eps(model, x, t, c, guidance)
            # every correction adds a gradient g to the score, that is eps <- eps - sqrt(1 - abar_t) g
            if discriminator is not None:
                eps = eps - discriminator_weight * (1 - a_t).sqrt() * _log_odds_gradient(discriminator, x, t)
            if rg_sigma is not None:
                eps = eps - (1 - a_t).sqrt() * _rg_likelihood_gradient(model, x, eps, a_t, target, rg_sigma)
            x0 = clean_estimate(x, eps, a_t)
            if sampler == "ddim":  # deterministic: move along the predicted noise
                x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            else:  # ancestral: draw from the Gaussian q(x_prev | x_t, x_0 = predicted x0)
                beta = 1 - a_t / a_prev
                mean = (a_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - a_prev) * x) / (1 - a_t)
                var = beta * (1 - a_prev) / (1 - a_t)
                x = mean + var.sqrt() * torch.randn(n, model.dim, generator=gen).to(device) if i + 1 < len(ts) else mean
            if trajectory:
                path.append(x)
    return (x, path) if trajectory else x


def generate(
    model, n: int, seed=None, *, steps=DEFAULT_SAMPLE_STEPS, sampler=DEFAULT_SAMPLER, rg=None, guidance=0.0,
    rg_sigma=None, discriminator=None, discriminator_weight=1.0,
):  # fmt: skip
    """Draw ``n`` conformations (n, beads, 2), bead diameters, in the data's aligned frame.

    steps: how many steps of the reverse process (1..T; the default 100 of T = 1000).
    sampler: ``"ddim"`` (deterministic given the start noise) or ``"ddpm"`` (ancestral, fresh noise
    each step). rg: a target R_g (a number or n numbers within the training data's range) for a
    model with a condition; guidance: the classifier-free guidance weight w (0: the conditional
    model alone); rg_sigma: the width (bead diameters) of an explicit R_g likelihood whose gradient
    pulls each chain to its target (None: off). discriminator: a ``discriminator.ChainDiscriminator``
    trained for this model, to correct its score (discriminator guidance; None: the network alone),
    with weight ``discriminator_weight``. The random numbers are seeded by ``seed`` (else torch's
    global generator).
    """
    x0 = sample_features(model, n, seed, steps=steps, sampler=sampler, rg=rg, guidance=guidance, rg_sigma=rg_sigma,
                         discriminator=discriminator, discriminator_weight=discriminator_weight)  # fmt: skip
    return conformations(model.unstandardise(x0))


# ----------------------------------------------------------------------------- likelihood


def _gaussian_kl(mean_q, mean_p, var):
    """KL between two Gaussians of equal variance var, summed over features."""
    return ((mean_q - mean_p) ** 2).sum(-1) / (2 * var)


@torch.no_grad()
def variational_bound(model, x, *, n_t: int = 100, seed: int = 0) -> dict:
    """The terms of -log p(x_0) <= L_T + sum_{t >= 2} L_{t-1} + L_0, in nats per chain, standardised features.

    L_T = KL(q(x_T|x_0) || N(0, I)); L_{t-1} = KL(q(x_{t-1}|x_t, x_0) || p_theta(x_{t-1}|x_t)), with the
    reverse variance beta~_t; L_0 = -log N(x_0; mu_theta(x_1, 1), beta_1). The sum over t = 2..T is
    estimated without bias: all of the first ``EXACT_STEPS`` steps, then one random step (seeded) in each of
    ``n_t`` equal strata of the rest; the unconditional model.
    Returns tensors (n,): "prior" (L_T), "diffusion" (the sum), "decoder" (L_0), "total".
    """
    _check_diffusion("variational_bound", model)
    check_positive_int("n_t", n_t)
    model.eval()
    return _bound_terms(model, model.standardise(x), n_t, seed)


def _bound_terms(model, x0: torch.Tensor, n_t: int, seed: int) -> dict:
    """``variational_bound`` for standardised features x0 (n, dim)."""
    n, d = x0.shape
    gen = torch.Generator().manual_seed(seed)
    abar = model.abar.double()
    big_t = model.steps
    prior = 0.5 * (abar[-1] * (x0.double() ** 2) + (1 - abar[-1]) - 1 - torch.log(1 - abar[-1])).sum(-1)
    # the sum over t = 2..T: every one of the first EXACT_STEPS steps (where the weights are largest and
    # vary most), then one random step in each of n_t equal strata of the rest, weighted by its size
    first = list(range(2, min(EXACT_STEPS + 2, big_t + 1)))
    edges = np.linspace(first[-1] + 1, big_t + 1, n_t + 1).astype(int) if big_t > first[-1] else np.array([])
    diffusion = torch.zeros(n, dtype=torch.float64)
    with small_network_cpu():
        plan = [(torch.full((n,), t), 1) for t in first]
        plan += [
            (torch.randint(lo, hi, (n,), generator=gen), hi - lo) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo
        ]
        for t, size in plan:
            eps = torch.randn(n, d, generator=gen)
            a_t, a_prev = abar[t - 1][:, None], abar[t - 2][:, None]
            x_t = (a_t.sqrt() * x0.double() + (1 - a_t).sqrt() * eps).float()
            eps_hat = model(x_t.to(model.abar.device), t.to(model.abar.device)).double().cpu()
            beta = 1 - a_t / a_prev
            var = beta * (1 - a_prev) / (1 - a_t)
            # the two means differ only through eps: mu = (x_t - beta / sqrt(1 - abar_t) eps) / sqrt(1 - beta)
            coef = beta / ((1 - a_t).sqrt() * (1 - beta).sqrt())
            diffusion += size * ((coef * (eps - eps_hat)) ** 2).sum(-1) / (2 * var[:, 0])
    a1 = abar[0]
    eps = torch.randn(n, d, generator=gen)
    x1 = (a1.sqrt() * x0.double() + (1 - a1).sqrt() * eps).float()
    with small_network_cpu():
        eps_hat = model(x1, torch.ones(n, dtype=torch.long)).double()
    mu = (x1.double() - (1 - a1).sqrt() * eps_hat) / a1.sqrt()
    var1 = 1 - a1
    decoder = 0.5 * (((x0.double() - mu) ** 2) / var1 + torch.log(2 * math.pi * var1)).sum(-1)
    return dict(prior=prior, diffusion=diffusion, decoder=decoder, total=prior + diffusion + decoder)


def log_volume(x, h: float = 1e-6) -> torch.Tensor:
    """log sqrt(det J^T J) per conformation, J = d(aligned coordinates) / d(shape features): (n,).

    A density over the shape features, divided by this volume factor, is a density over the
    (2 * beads - 3)-dimensional surface of aligned conformations inside the 2 * beads coordinates.
    J by central differences (step ``h``, float64) of ``conformations``, all frames in one batch.
    """
    f = shape_features(x)
    n, dim = f.shape
    steps = h * torch.eye(dim, dtype=torch.float64)
    shifted = torch.cat([(f[:, None] + steps).reshape(-1, dim), (f[:, None] - steps).reshape(-1, dim)])
    r = torch.as_tensor(conformations(shifted)).reshape(2, n, dim, -1)
    jac = ((r[0] - r[1]) / (2 * h)).transpose(1, 2)  # (n, 2 * beads, dim)
    return 0.5 * torch.linalg.slogdet(jac.transpose(1, 2) @ jac)[1]


def negative_log_likelihood(model, x, *, sigma_x: float, n_t: int = 100, seed: int = 0) -> torch.Tensor:
    """Upper bound on -log p(x) in nats per conformation, as a density over the 2 * beads aligned coordinates.

    The diffusion model's bound over its standardised features, plus: the standardisation's log
    Jacobian (sum log std), the surface's volume factor (``log_volume``), and for the 3 directions
    in which aligned data never varies (centre and rotation) the same Gaussian of spread
    ``sigma_x`` that a VAE decoder N(f(z), sigma_x^2 I) places across them. Comparable with the
    VAE's -log p(x) bounds (``losses.importance_weighted_log_likelihood``) at the same sigma_x.
    """
    check_positive("sigma_x", sigma_x)
    bound = variational_bound(model, x, n_t=n_t, seed=seed)["total"]
    off_surface = 3 * (math.log(sigma_x) + 0.5 * math.log(2 * math.pi))
    jacobian = torch.log(model.std.double().cpu()).sum() - log_det_unbounded(shape_features(x))
    return bound + jacobian + log_volume(x) + off_surface


# ----------------------------------------------------------------------------- training


def symmetric_copies(features: torch.Tensor, n_bonds: int, gen) -> torch.Tensor:
    """Physical features (n, dim) -> for each chain a random one of: itself, its mirror image, its reverse, both."""
    lengths, turns = features[:, :n_bonds], features[:, n_bonds:]
    mirror = torch.rand(len(features), 1, generator=gen) < 0.5
    reverse = torch.rand(len(features), 1, generator=gen) < 0.5
    turns = torch.where(mirror, -turns, turns)
    lengths = torch.where(reverse, lengths.flip(-1), lengths)
    turns = torch.where(reverse, -turns.flip(-1), turns)
    return torch.cat([lengths, turns], -1)


def training_steps(steps: int, n: int, gen) -> torch.Tensor:
    """n steps t in 1..T for a batch: half uniform, half crowded towards t = 1 (t = ceil(T u^2)).

    The small steps decide the fine details, here the hard wall of the beads' excluded volume.
    """
    u = torch.rand(n, generator=gen)
    u = torch.where(torch.rand(n, generator=gen) < 0.5, u, u**2)
    return (u * steps).ceil().long().clamp(1, steps)


def train_diffusion(
    train,
    test=None,
    *,
    conditional: bool = True,
    epochs: int = RECIPE["epochs"],
    lr: float = RECIPE["lr"],
    batch_size: int = RECIPE["batch_size"],
    ema: float = RECIPE["ema"],
    condition_dropout: float = RECIPE["condition_dropout"],
    threads: int = RECIPE["threads"],
    seed: int = 0,
    progress: bool = True,
    model: PolymerDiffusion | None = None,
    **config,
):
    """Build (unless ``model`` is given) and train a ``PolymerDiffusion`` on ``train`` (frames, 2 * beads).

    Each batch: random symmetric copies of the chains (mirror image, read backwards), random steps t,
    the loss ||eps - eps_theta(x_t, t, c)||^2 averaged over features; c (the chain's standardised R_g)
    is dropped in a fraction ``condition_dropout`` of the chains. Adam with a cosine-decayed ``lr``;
    the returned model holds an exponential moving average (``ema``) of the weights, which samples
    better than the last ones. ``config`` goes to ``PolymerDiffusion`` (width, blocks ...). ``threads``:
    torch threads (two: 1.5x faster than one for this network; a fixed count gives the same weights
    on any machine of the same CPU kind).

    Returns (model, history) with history a dict of per-epoch "train_loss" (and "test_loss"), "seconds",
    "interrupted". Seeded (torch's global random state is left alone). Ctrl-C ends training cleanly
    after the current batch with the averaged weights so far; a NaN loss raises ``FloatingPointError``.
    """
    check_positive_int("epochs", epochs)
    check_positive("lr", lr)
    check_positive_int("batch_size", batch_size)
    check_positive_int("threads", threads)
    check_seed("seed", seed)
    if not 0 <= ema < 1:
        raise ValueError(f"ema must be in [0, 1), got {ema}")
    if not 0 <= condition_dropout < 1:
        raise ValueError(f"condition_dropout must be in [0, 1), got {condition_dropout}")
    x = check_array("train", train, min_len=2)
    feats = shape_features(x)
    if model is None:
        n_bonds = (feats.shape[1] + 1) // 2
        u = unbounded(feats)
        scale = {}
        # one scale per kind, so that mirror images and reversed chains standardise alike
        scale["mean"] = [u[:, :n_bonds].mean().item()] * n_bonds + [0.0] * (n_bonds - 1)
        scale["std"] = [u[:, :n_bonds].std().item()] * n_bonds + [u[:, n_bonds:].std().item()] * (n_bonds - 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = PolymerDiffusion(
                n_beads=as_coordinates(x).shape[-2], scale=scale,
                condition=rg_condition(np.asarray(x, dtype=np.float64)) if conditional else None, **config,
            )  # fmt: skip
    _check_diffusion("train_diffusion", model)
    if feats.shape[1] != model.dim:
        raise ValueError(f"the model has {model.dim} shape features, the data {feats.shape[1]}")
    device = model.abar.device
    rg = torch.as_tensor(radius_of_gyration(np.asarray(as_coordinates(x), dtype=np.float64)))
    cond = model.config["condition"]
    c_all = None if cond is None else ((rg - cond["mean"]) / cond["std"]).float()[:, None]
    test_x0 = None if test is None else model.standardise(test)
    averaged = copy.deepcopy(model).eval()
    for p in averaged.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(feats)
    per_epoch = -(-n // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * per_epoch, pct_start=0.05
    )
    history = dict(train_loss=[], test_loss=[], seconds=[], interrupted=False)
    n_bonds = model.config["n_beads"] - 1
    step = 0
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
    try:
        with small_network_cpu(threads):
            for epoch in bar:
                model.train()
                order = torch.randperm(n, generator=gen)
                total = 0.0
                for i in range(0, n, batch_size):
                    idx = order[i : i + batch_size]
                    x0 = model.encode_features(symmetric_copies(feats[idx], n_bonds, gen))
                    t = training_steps(model.steps, len(idx), gen)
                    eps = torch.randn(x0.shape, generator=gen)
                    a = model.abar.cpu()[t - 1][:, None]
                    x_t = q_sample(x0, eps, a)
                    c = None
                    if c_all is not None:
                        c = c_all[idx].clone()
                        c[torch.rand(len(idx), generator=gen) < condition_dropout] = float("nan")
                        c = c.to(device)
                    loss = ((model(x_t.to(device), t.to(device), c) - eps.to(device)) ** 2).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    step += 1
                    decay = min(ema, (1 + step) / (10 + step))  # short memory at first: forget the initial weights
                    with torch.no_grad():
                        for pa, pm in zip(averaged.parameters(), model.parameters()):
                            pa.lerp_(pm, 1 - decay)
                    total += float(loss.detach()) * len(idx)
                mean_loss = total / n
                if not math.isfinite(mean_loss):
                    raise FloatingPointError(
                        f"training diverged in epoch {epoch + 1} (loss {mean_loss}): try a lower lr (lr={lr})"
                    )
                history["train_loss"].append(mean_loss)
                if test_x0 is not None:
                    history["test_loss"].append(noise_prediction_loss(averaged, test_x0, seed=epoch))
                history["seconds"].append(time.perf_counter() - start)
                bar.set_postfix(loss=f"{mean_loss:.4f}")
    except KeyboardInterrupt:
        history["interrupted"] = True
        print(
            f"training interrupted after {len(history['train_loss'])} complete epoch(s); keeping the averaged weights"
        )
    finally:
        bar.close()
    averaged.eval()
    return averaged, history


@torch.no_grad()
def noise_prediction_loss(model, x0: torch.Tensor, seed: int = 0) -> float:
    """Mean ||eps - eps_theta(x_t, t)||^2 per feature over x0 (standardised), random t (seeded), no condition."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.randint(1, model.steps + 1, (len(x0),), generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    a = model.abar.cpu()[t - 1][:, None]
    x_t = q_sample(x0.cpu(), eps, a)
    with small_network_cpu():
        return float(((model(x_t.to(model.abar.device), t.to(model.abar.device)).cpu() - eps) ** 2).mean())


__all__ = [
    "DEFAULT_SAMPLER",
    "DEFAULT_SAMPLE_STEPS",
    "RECIPE",
    "SAMPLERS",
    "STEPS",
    "PolymerDiffusion",
    "bead_distances",
    "chain_from_features",
    "conformations",
    "cosine_schedule",
    "fingerprint",
    "generate",
    "linear_schedule",
    "log_volume",
    "negative_log_likelihood",
    "noise_prediction_loss",
    "q_sample",
    "sample_features",
    "shape_features",
    "symmetric_copies",
    "time_embedding",
    "timesteps",
    "train_diffusion",
    "training_steps",
    "variational_bound",
]
