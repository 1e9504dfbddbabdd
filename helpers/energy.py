"""The simulator's potential energy of a conformation, in kT: a physical check of generated polymers.

``polymer_energy`` evaluates exactly the potential whose forces ``simulation.polymer_forces``
integrates (harmonic bonds, cosine bending, Lennard-Jones between non-bonded beads), so minus
its gradient is the simulator's force. Unlike the threshold test ``measures.validity``, it
weighs every defect by what it costs: a slightly short bond a little, two overlapping beads a lot.
``relax`` runs a short, capped Langevin dynamics in the same force field: the final step of
generation, which pushes overlapping beads apart.
"""

from __future__ import annotations

import numpy as np
import torch

from ._checks import check_non_negative, check_positive, check_positive_int, check_seed
from .measures import as_coordinates
from .simulation import DEFAULTS

FORCE_FIELD = ("kT", "bond_k", "bond_length", "bend_k", "lj_epsilon", "lj_sigma", "lj_cutoff")


def _force_field(params: dict) -> dict:
    unknown = sorted(set(params) - set(FORCE_FIELD))
    if unknown:
        raise ValueError(f"unknown force-field parameter(s) {unknown}; expected some of {list(FORCE_FIELD)}")
    p = {k: DEFAULTS[k] for k in FORCE_FIELD}
    p.update(params)
    for name in ("kT", "bond_k", "bond_length", "lj_sigma", "lj_cutoff"):
        check_positive(name, p[name])
    for name in ("bend_k", "lj_epsilon"):
        check_non_negative(name, p[name])
    return {k: float(v) for k, v in p.items()}


def polymer_energy(conformations, **force_field):
    """Potential energy of each conformation in units of kT.

    Args:
        conformations: (..., beads, 2) or flattened (..., 2 * beads), in bead diameters; numpy
            or torch (the torch result is differentiable).
        **force_field: any of ``kT``, ``bond_k``, ``bond_length``, ``bend_k``, ``lj_epsilon``,
            ``lj_sigma``, ``lj_cutoff``; the rest default to ``simulation.DEFAULTS``.

    Returns:
        Shape (...): U / kT with U = sum of
        ``bond_k / 2 (|b_i| - bond_length)^2`` over bonds,
        ``bend_k (1 - cos theta_i)`` over consecutive bond pairs, and the Lennard-Jones
        ``4 eps [(s/r)^12 - (s/r)^6]`` over pairs |i - j| >= 2 closer than ``lj_cutoff``,
        shifted by a constant so that it is 0 at the cutoff (forces are unchanged by the shift).
        Numpy in, numpy out (float64); torch in, torch out.
    """
    p = _force_field(force_field)
    r = as_coordinates(conformations)
    is_torch = isinstance(r, torch.Tensor)
    if not is_torch:
        r = np.asarray(r, dtype=np.float64)
    xp_sum = (lambda a: a.sum(-1)) if is_torch else (lambda a: np.sum(a, axis=-1))
    sqrt = torch.sqrt if is_torch else np.sqrt

    bonds = r[..., 1:, :] - r[..., :-1, :]
    length = sqrt((bonds**2).sum(-1))
    energy = xp_sum(0.5 * p["bond_k"] * (length - p["bond_length"]) ** 2)

    cos = (bonds[..., 1:, :] * bonds[..., :-1, :]).sum(-1) / (length[..., 1:] * length[..., :-1])
    energy = energy + xp_sum(p["bend_k"] * (1.0 - cos))

    n = r.shape[-2]
    i, j = np.triu_indices(n, k=2)
    diff = r[..., i, :] - r[..., j, :]
    r2 = (diff**2).sum(-1)
    s6 = (p["lj_sigma"] ** 2 / r2) ** 3
    cut6 = (p["lj_sigma"] / p["lj_cutoff"]) ** 6
    shift = 4.0 * p["lj_epsilon"] * (cut6 * cut6 - cut6)
    lj = 4.0 * p["lj_epsilon"] * (s6 * s6 - s6) - shift
    inside = r2 < p["lj_cutoff"] ** 2
    lj = torch.where(inside, lj, torch.zeros_like(lj)) if is_torch else np.where(inside, lj, 0.0)
    return (energy + xp_sum(lj)) / p["kT"]


def relax(
    conformations,
    steps: int = 20,
    step_size: float = 5e-4,
    max_step: float = 0.03,
    temperature: float = 1.0,
    seed=0,
    **force_field,
):
    """A short, capped overdamped Langevin run in the force field of ``polymer_energy``.

    Each of ``steps`` updates moves every bead by ``-step_size * grad(U / kT)``, that drift
    shortened per bead to at most ``max_step`` (so overlapping beads, whose forces are huge,
    separate gradually instead of flying apart), plus Gaussian noise of variance
    ``2 * step_size * temperature`` per coordinate. ``temperature=1`` samples at the force
    field's kT (bond lengths keep their thermal spread); ``temperature=0`` is plain capped
    gradient descent, an energy minimisation that lowers every conformation's energy.

    Args:
        conformations: (n, beads, 2) or (n, 2 * beads), numpy or torch, in bead diameters.
        steps: number of updates (positive int).
        step_size: mobility times time step, in (bead diameters)^2 per kT (> 0).
        max_step: largest drift of one bead per update, in bead diameters (> 0).
        temperature: noise temperature in units of the force field's kT (>= 0).
        seed: int seed of the noise, or a CPU ``torch.Generator`` (used as is).
        **force_field: as for ``polymer_energy``.

    Returns:
        The relaxed conformations, centred, shape (n, beads, 2): float64 numpy for numpy input,
        a detached float64 tensor on the input's device for torch input. Deterministic for a given seed.
    """
    check_positive_int("steps", steps)
    check_positive("step_size", step_size)
    check_positive("max_step", max_step)
    check_non_negative("temperature", temperature)
    _force_field(force_field)
    if isinstance(seed, torch.Generator):
        gen = seed
    else:
        check_seed("seed", seed)
        gen = torch.Generator().manual_seed(seed)
    is_torch = isinstance(conformations, torch.Tensor)
    x = as_coordinates(conformations)
    r = x.detach().to(torch.float64).clone() if is_torch else torch.from_numpy(np.array(x, dtype=np.float64))
    if r.ndim != 3 or not torch.isfinite(r).all():
        raise ValueError(f"conformations must be finite, shape (n, beads, 2) or (n, 2 * beads), got {tuple(r.shape)}")
    noise = (2.0 * step_size * temperature) ** 0.5
    with torch.enable_grad():
        for _ in range(steps):
            r.requires_grad_(True)
            (grad,) = torch.autograd.grad(polymer_energy(r, **force_field).sum(), r)
            drift = -step_size * grad.detach()
            norm = torch.linalg.vector_norm(drift, dim=-1, keepdim=True)
            drift = drift * torch.clamp(max_step / (norm + 1e-12), max=1.0)
            r = r.detach() + drift
            if noise > 0:  # drawn on the CPU, like the seed's generator, and moved to r's device
                r = r + noise * torch.randn(r.shape, generator=gen, dtype=r.dtype).to(r.device)
    r = r - r.mean(-2, keepdim=True)
    return r if is_torch else r.numpy()


__all__ = ["FORCE_FIELD", "polymer_energy", "relax"]
