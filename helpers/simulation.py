"""A 2-D bead-spring polymer simulated with Langevin dynamics (pure, vectorised numpy).

The model (all quantities in reduced Lennard-Jones units: lengths in bead diameters
sigma, energies in epsilon, masses in bead masses m, time in tau = sigma * sqrt(m / epsilon)):

* harmonic bonds between neighbours      U = k_bond / 2 * (|r_{i+1} - r_i| - b0)^2
* cosine bending between bond vectors    U = k_bend * (1 - cos theta_i)   (theta = 0: straight)
* Lennard-Jones between non-bonded beads  U = 4 eps [(s/r)^12 - (s/r)^6] (shifted to 0 at r_cut),
  for every pair |i - j| >= 2 (excluded volume and a weak attraction that makes compact
  coils possible)
* a Langevin thermostat at temperature kT (friction gamma), integrated with the BAOAB
  splitting of Leimkuhler & Matthews, which samples configurations accurately at large steps.

Many independent replicas are integrated at once (arrays of shape (replicas, beads, 2)).
Each replica starts from a random, non-overlapping chain, is equilibrated, and then
contributes one frame every ``steps_between_frames`` steps. With the defaults, consecutive
frames of one replica keep a correlation of about 0.25 in their radius of gyration (0.07
two frames apart, measured in ``tests/test_simulation.py``): nearly, not fully, independent.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import check_non_negative, check_positive, check_positive_int, check_seed
from ._io import cached_array
from .measures import radius_of_gyration

SIMULATION_VERSION = 1  # bump when the physics or the sampling changes: it keys the cache

DEFAULTS = dict(
    kT=1.0,  # thermal energy, in units of the LJ well depth epsilon
    bond_k=100.0,  # bond spring constant (epsilon / sigma^2): bonds fluctuate by ~0.1 sigma
    bond_length=1.0,  # bond rest length (sigma)
    bend_k=2.0,  # bending stiffness (epsilon): a persistence length of about two bonds
    lj_epsilon=1.2,  # non-bonded attraction (epsilon): enough to fold part of the chains
    lj_sigma=1.0,  # bead diameter (sigma)
    lj_cutoff=2.5,  # LJ interactions vanish beyond 2.5 sigma
    friction=0.2,  # Langevin friction gamma (1 / tau)
    dt=0.02,  # time step (tau)
    equilibration_steps=1000,  # 20 tau before the first frame
    steps_between_frames=500,  # 10 tau between frames of one replica (Rg autocorrelation ~0.25, ~0.07 at 20 tau)
    frames_per_replica=10,
)
_INTEGER_PARAMS = ("equilibration_steps", "steps_between_frames", "frames_per_replica")


def _pair_indices(n_beads: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j) of all non-bonded pairs (j - i >= 2), grouped by separation j - i."""
    i = np.concatenate([np.arange(n_beads - k) for k in range(2, n_beads)])
    j = np.concatenate([np.arange(k, n_beads) for k in range(2, n_beads)])
    return i, j


def _pair_differences(x: np.ndarray) -> np.ndarray:
    """x[i] - x[j] for all non-bonded pairs in ``_pair_indices`` order; x: (beads, replicas).

    Built from shifted slices rather than fancy indexing, which is several times faster.
    """
    n = x.shape[0]
    return np.concatenate([x[: n - k] - x[k:] for k in range(2, n)])


def _scatter_pair_forces(force: np.ndarray, pair_force: np.ndarray) -> None:
    """Add pair forces (pairs, replicas) to ``force`` (beads, replicas): +F on i, -F on j.

    The inverse of ``_pair_differences``: walks the same blocks of equal separation.
    """
    n, start = force.shape[0], 0
    for k in range(2, n):
        block = pair_force[start : start + n - k]
        force[: n - k] += block
        force[k:] -= block
        start += n - k


def _random_chains(rng, n_chains, n_beads, bond_length, kT, k_bend, min_distance):
    """Random chains with Boltzmann-like bending angles and no overlapping beads.

    Shape (n_chains, n_beads, 2). Chains with overlaps are redrawn until none are left
    (at most ``max_rounds`` times: some parameters, e.g. beads much wider than the bonds
    are long, make a non-overlapping chain impossible, and we say so instead of hanging).
    """
    out = np.empty((n_chains, n_beads, 2))
    todo = np.arange(n_chains)
    pi, pj = _pair_indices(n_beads)
    # turning angles ~ N(0, kT / k_bend): the small-angle limit of the cosine potential
    spread = np.sqrt(kT / max(k_bend, 1e-3))
    max_rounds = 1000
    for _ in range(max_rounds):
        if not todo.size:
            break
        turns = rng.normal(0.0, spread, size=(todo.size, n_beads - 1))
        turns[:, 0] = rng.uniform(-np.pi, np.pi, size=todo.size)
        angles = np.cumsum(turns, axis=1)
        steps = bond_length * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        chains = np.concatenate([np.zeros((todo.size, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
        dist = np.linalg.norm(chains[:, pi] - chains[:, pj], axis=-1)
        ok = dist.min(axis=1) >= min_distance
        out[todo[ok]] = chains[ok]
        todo = todo[~ok]
    if todo.size:
        raise ValueError(
            f"could not place {todo.size} of {n_chains} chains without overlapping beads "
            f"(closest allowed distance {min_distance:.3g} sigma with bond length {bond_length:.3g}); "
            "use a smaller lj_sigma, a longer bond_length or fewer beads"
        )
    return out


def polymer_forces(pos, *, bond_k, bond_length, bend_k, lj_epsilon, lj_sigma, lj_cutoff):
    """Forces on every bead for positions ``pos`` of shape (2, beads, replicas).

    The x and y components are handled as separate (beads, replicas) arrays with the
    replicas on the last, contiguous axis: every numpy operation then runs over long rows,
    which makes this about ten times faster than the natural (replicas, beads, 2) layout.
    """
    x, y = pos
    fx, fy = np.zeros_like(x), np.zeros_like(y)

    # bonds: F = -k (|b| - b0) b / |b| on bead i+1 and the opposite on bead i
    bx, by = x[1:] - x[:-1], y[1:] - y[:-1]
    blen = np.sqrt(bx * bx + by * by)
    s = -bond_k * (blen - bond_length) / blen
    fx[1:] += s * bx
    fx[:-1] -= s * bx
    fy[1:] += s * by
    fy[:-1] -= s * by

    # bending: U = k (1 - cos t), cos t = a.c / (|a||c|) for consecutive bonds a = r1 - r0,
    # c = r2 - r1; the force is F = -dU/dr = k dcos/dr.
    if bend_k > 0:
        ax, ay, cx, cy = bx[:-1], by[:-1], bx[1:], by[1:]
        la, lc = blen[:-1], blen[1:]
        inv = 1.0 / (la * lc)
        cos = (ax * cx + ay * cy) * inv
        da_x, da_y = cx * inv - cos * ax / la**2, cy * inv - cos * ay / la**2  # dcos/da
        dc_x, dc_y = ax * inv - cos * cx / lc**2, ay * inv - cos * cy / lc**2  # dcos/dc
        fx[:-2] -= bend_k * da_x
        fy[:-2] -= bend_k * da_y
        fx[1:-1] += bend_k * (da_x - dc_x)
        fy[1:-1] += bend_k * (da_y - dc_y)
        fx[2:] += bend_k * dc_x
        fy[2:] += bend_k * dc_y

    # Lennard-Jones between non-bonded pairs (|i - j| >= 2), cut at lj_cutoff
    if lj_epsilon > 0:
        dx, dy = _pair_differences(x), _pair_differences(y)  # (pairs, replicas)
        r2 = dx * dx + dy * dy
        inv2 = (lj_sigma * lj_sigma) / r2
        inv6 = inv2 * inv2 * inv2
        # force on bead i of a pair: 24 eps (2 (s/r)^12 - (s/r)^6) / r^2 * (r_i - r_j)
        mag = 24.0 * lj_epsilon * (2.0 * inv6 * inv6 - inv6) / r2
        mag *= r2 < lj_cutoff * lj_cutoff
        _scatter_pair_forces(fx, mag * dx)
        _scatter_pair_forces(fy, mag * dy)
    return np.stack([fx, fy])


def thermal_noise(rng: np.random.Generator, shape, dtype, n_steps: int, chunk_steps: int = 64):
    """Yield ``n_steps`` standard-normal arrays of ``shape``: the random kicks of each step.

    The numbers are exactly those of calling ``rng.standard_normal(shape)`` once per step
    (a Generator fills a larger array in the same order), but a background thread draws the
    next ``chunk_steps`` steps while the caller integrates the current ones. numpy releases
    the GIL while it fills an array, so on two cores this hides the random numbers, about a
    quarter of the cost of a step. The caller must not use ``rng`` until the loop is over
    (stopping early leaves ``rng`` up to one chunk further on than per-step drawing would).
    """
    sizes = [min(chunk_steps, n_steps - start) for start in range(0, n_steps, chunk_steps)]
    with ThreadPoolExecutor(max_workers=1) as pool:  # one worker: chunks are drawn in order
        pending = [pool.submit(rng.standard_normal, (n, *shape), dtype) for n in sizes[:1]]
        for i in range(len(sizes)):
            chunk = pending.pop().result()
            if i + 1 < len(sizes):
                pending.append(pool.submit(rng.standard_normal, (sizes[i + 1], *shape), dtype))
            yield from chunk


def langevin(
    x0: np.ndarray,
    n_steps: int,
    rng: np.random.Generator,
    *,
    dt: float,
    kT: float,
    friction: float,
    record_every: int = 0,
    **force_params,
):
    """Integrate ``n_steps`` BAOAB Langevin steps from positions ``x0`` (2, beads, replicas).

    Velocities start from the Maxwell-Boltzmann distribution. Returns the final positions and,
    if ``record_every > 0``, an array (n_records, 2, beads, replicas) of positions taken every
    ``record_every`` steps.
    """
    x = x0.copy()
    v = np.sqrt(kT) * rng.standard_normal(x.shape, dtype=x.dtype)
    c1 = np.exp(-friction * dt)
    c2 = np.sqrt((1.0 - c1**2) * kT)
    f = polymer_forces(x, **force_params)
    records = []
    noise = thermal_noise(rng, x.shape, x.dtype, n_steps)
    for step, kick in enumerate(noise, start=1):
        v += 0.5 * dt * f
        x += 0.5 * dt * v
        v = c1 * v + c2 * kick
        x += 0.5 * dt * v
        f = polymer_forces(x, **force_params)
        v += 0.5 * dt * f
        if record_every and step % record_every == 0:
            records.append(x.copy())
    if not np.all(np.isfinite(x)):
        raise FloatingPointError("the simulation blew up: reduce dt or the force constants")
    return x, (np.stack(records) if records else None)


def simulate_polymer(
    n_frames: int = 10_000,
    n_beads: int = 12,
    seed: int = 0,
    *,
    cache: bool = True,
    verbose: bool = False,
    **params,
) -> np.ndarray:
    """Simulate a 2-D bead-spring polymer and return ``n_frames`` conformations.

    Args:
        n_frames: number of conformations to return.
        n_beads: beads per chain (the course uses 12, i.e. 24 coordinates).
        seed: random seed; the same seed and parameters always give the same array.
        cache: keep the result on disk (keyed by every parameter) so that a second call is instant.
        verbose: print the wall time and the radius-of-gyration range.
        **params: any of ``DEFAULTS`` (physics in reduced LJ units; see the module docstring).

    Returns:
        float64 array of shape (n_frames, n_beads, 2), positions in units of sigma.

    Each of ``ceil(n_frames / frames_per_replica)`` replicas starts from a random
    non-overlapping chain, is equilibrated for ``equilibration_steps`` and then gives a frame
    every ``steps_between_frames`` steps. Frames of one replica are consecutive in the output.
    """
    check_positive_int("n_frames", n_frames)
    check_positive_int("n_beads", n_beads, minimum=3)
    check_seed("seed", seed)  # None would cache one random draw under the key "None"
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown simulation parameter(s) {unknown}; expected some of {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    for name in ("kT", "bond_k", "bond_length", "lj_sigma", "lj_cutoff", "friction", "dt"):
        check_positive(name, p[name])
    for name in _INTEGER_PARAMS:
        check_positive_int(name, p[name], minimum=0 if name == "equilibration_steps" else 1)
    for name in ("bend_k", "lj_epsilon"):
        check_non_negative(name, p[name])

    # plain Python numbers in the key, so that seed=np.int64(0) or kT=1 find the same file
    key = dict(version=SIMULATION_VERSION, n_frames=int(n_frames), n_beads=int(n_beads), seed=int(seed))
    key.update({k: (int(v) if k in _INTEGER_PARAMS else float(v)) for k, v in p.items()})

    def run() -> np.ndarray:
        start = time.perf_counter()
        frames = _simulate(n_frames, n_beads, np.random.default_rng(seed), p)
        if verbose:
            print(f"simulated {n_frames} frames in {time.perf_counter() - start:.1f} s")
        return frames

    frames = cached_array("polymer", key, run) if cache else run()
    if verbose:
        rg = radius_of_gyration(frames)
        print(f"radius of gyration: {rg.min():.2f} to {rg.max():.2f} sigma (max/min {rg.max() / rg.min():.1f})")
    return frames


def _simulate(n_frames: int, n_beads: int, rng: np.random.Generator, p: dict) -> np.ndarray:
    per_replica = p["frames_per_replica"]
    n_replicas = -(-n_frames // per_replica)
    forces = {k: p[k] for k in ("bond_k", "bond_length", "bend_k", "lj_epsilon", "lj_sigma", "lj_cutoff")}
    dynamics = dict(dt=p["dt"], kT=p["kT"], friction=p["friction"], **forces)
    chains = _random_chains(rng, n_replicas, n_beads, p["bond_length"], p["kT"], p["bend_k"], 0.9 * p["lj_sigma"])
    # float32 halves the memory traffic; BAOAB stays accurate at this precision and step size
    x = np.ascontiguousarray(chains.transpose(2, 1, 0), dtype=np.float32)
    x, _ = langevin(x, p["equilibration_steps"], rng, **dynamics)
    stride = p["steps_between_frames"]
    _, records = langevin(x, stride * per_replica, rng, record_every=stride, **dynamics)
    # (records, 2, beads, replicas) -> (replicas, records, beads, 2) -> frames
    frames = records.transpose(3, 0, 2, 1).reshape(-1, n_beads, 2)
    return frames[:n_frames].astype(np.float64)
