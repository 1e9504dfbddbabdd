"""Valid generation: what the VAE itself contributes, in one factorial ablation, then the goals per seed.

The factorial table crosses, on the same seeded 4,000 draws per row (against the default
simulated data; ``helpers.generation.generation_metrics``):

* the decoder: the Cartesian squared-error model of notebooks 2-7 (``polymer_vae``) or the
  internal-coordinate likelihood of notebook 8 (``valid_polymer``);
* where z comes from: N(0, I), or the learned prior (the mixture stored in ``valid_polymer``;
  for the Cartesian model the same kind of mixture, fitted here to its codes);
* x: the decoder's mean, or a draw from p_theta(x|z) (Cartesian: Gaussian noise with the
  sigma_x = sqrt(beta / 2) that its loss implies);
* relaxation: none, or ``energy.relax`` with ``generation.RELAX`` (physics after the model);

plus the no-learning baseline (``worm_like_chain``) with and without the same relaxation, and
reference rows: freshly simulated frames (seeds 999 and 1234) and the held-out test split.
Novelty: the median RMSD (after the best rotation) from each conformation to its nearest
training frame. Then the goals of issue 21 for the model's own draws (learned prior, draw, no
relaxation) on five seeds that were not used to choose any setting, the test split's ELBO, and
targeted generation: the conditional model against latent search on ``valid_polymer``, both
post-processed alike (a draw from p_theta(x|z), with and without relaxation).

    python benchmarks/bench_generation.py

Prints Markdown tables with the goals met or not; writes no file. About 5 minutes on two cores.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

import helpers
from helpers.energy import polymer_energy, relax
from helpers.generation import RELAX, generation_metrics, nearest_rmsd, wasserstein_1d, worm_like_chain
from helpers.measures import end_to_end_distance
from helpers.mixture import fit_mixture, mixture_sample
from helpers.optimization import optimize_latent, target_rg
from helpers.training import DEFAULT_BETA

from _common import goals_table, num, table

N = 4_000
TABLE_SEED = 100  # the factorial table's draws
GOAL_SEEDS = (100, 101, 102, 103, 104)  # settings were chosen on a validation split with draw seeds 0-2
NOISE_SEEDS = tuple(range(300, 320))  # seeds that only measure the W1's noise (apart from the goal seeds)
TARGETS = (1.6, 2.0, 2.5, 3.0)
VALIDATION_TARGETS = (1.8, 2.2, 2.8)  # the search's prior weight is chosen on these
PRIOR_WEIGHTS = (0.01, 0.1, 1.0)
TOLERANCE = 0.15  # bead diameters
SEARCH = dict(bond_penalty=100.0, contact_penalty=100.0)  # notebook 7's constraints
STARTS = 64
DISTINCT = 0.1  # bead diameters: two hits closer than this (aligned RMSD) count once


def distinct(x) -> int:
    """How many of the conformations x (n, beads, 2) differ from every one kept before by >= DISTINCT."""
    kept = []
    for conformation in x:
        if not kept or nearest_rmsd(conformation[None], np.array(kept))[0] >= DISTINCT:
            kept.append(conformation)
    return len(kept)


def cartesian_draws(model, z, noise, seed):
    """Decode z (n, 2) with the Cartesian model: the mean, or mean + sigma_x * eps."""
    with torch.no_grad():
        x = model.decode(torch.as_tensor(z, dtype=torch.float32)).double()
    if noise:
        sigma_x = math.sqrt(DEFAULT_BETA / 2)  # the loss's beta = 2 sigma_x^2
        x = x + sigma_x * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return x.numpy().reshape(len(z), -1, 2)


def row(name, x, data, train_frames, seconds=None):
    m = generation_metrics(x, data)
    m["novelty"] = float(np.median(nearest_rmsd(x, train_frames)))
    m["seconds"] = seconds
    return name, m


def main() -> int:
    torch.set_num_threads(1)
    flat = helpers.preprocess(helpers.load_paths())
    data = helpers.unflatten(flat).astype(np.float64)
    train, test = helpers.train_test_split(flat, seed=42)
    train_frames, test_frames = helpers.unflatten(train).astype(np.float64), helpers.unflatten(test).astype(np.float64)
    cartesian, _ = helpers.load_pretrained("polymer_vae")
    model, _ = helpers.load_pretrained("valid_polymer")
    conditional, _ = helpers.load_pretrained("conditional_polymer")
    reference = helpers.ValidityReference.from_data(data)
    threshold = np.percentile(polymer_energy(data), 99)

    # the Cartesian model's learned prior: the same kind of mixture, fitted to its codes
    with torch.no_grad():
        mu, sigma = cartesian.encode(torch.as_tensor(train))
    gen = torch.Generator().manual_seed(0)
    codes = mu.double() + sigma.double() * torch.randn(mu.shape, generator=gen, dtype=torch.float64)
    cartesian_prior = fit_mixture(codes, len(model.prior_weights), seed=0)

    rows = []
    for fresh_seed in (999, 1234):
        fresh = helpers.simulate_polymer(N, seed=fresh_seed, cache=False)
        rows.append(row(f"reference: {N:,} freshly simulated frames (seed {fresh_seed})", fresh, data, train_frames))
    rows.append(row("reference: the 1,000 test frames", test_frames, data, train_frames))
    for relaxed in (False, True):
        start = time.perf_counter()
        x = worm_like_chain(N, seed=TABLE_SEED)
        if relaxed:
            x = relax(x, seed=TABLE_SEED, **RELAX)
        rows.append(
            row(
                f"worm-like chain (no learning){', relaxed' if relaxed else ''}",
                x,
                data,
                train_frames,
                time.perf_counter() - start,
            )
        )
    for decoder in ("Cartesian", "internal"):
        for latent in ("standard", "learned"):
            for noise in (False, True):
                for relaxed in (False, True):
                    start = time.perf_counter()
                    if decoder == "internal":
                        x = model.generate(N, seed=TABLE_SEED, latent=latent, noise=noise, relax=relaxed)
                    else:
                        g = torch.Generator().manual_seed(TABLE_SEED)
                        z = (
                            torch.randn(N, 2, generator=g, dtype=torch.float64)
                            if latent == "standard"
                            else mixture_sample(N, *cartesian_prior, g)
                        )
                        x = cartesian_draws(cartesian, z, noise, TABLE_SEED)
                        if relaxed:
                            x = relax(x, seed=g, **RELAX)
                    name = (
                        f"{decoder}, z ~ {'N(0, I)' if latent == 'standard' else 'learned prior'}, "
                        f"{'draw' if noise else 'mean'}, {'relaxed' if relaxed else 'not relaxed'}"
                    )
                    rows.append(row(name, x, data, train_frames, time.perf_counter() - start))

    test_novelty = dict(rows)["reference: the 1,000 test frames"]["novelty"]
    print("## Valid generation\n\n`python benchmarks/bench_generation.py`\n")
    print(
        f"One factorial ablation: {N:,} seeded draws per row (seed {TABLE_SEED}), against the default simulated "
        "data (10,000 frames); W1 in bead diameters; novelty = median RMSD (after the best rotation) to the nearest "
        f"of the 9,000 training frames (the test frames: {test_novelty:.3f}). Relaxation: `energy.relax`, "
        f"{RELAX['steps']} capped Langevin steps.\n"
    )
    header = ["draws", "valid", "energy < data p99", "W1 R_g", "W1 end-to-end", "W1 bond", "novelty", "time"]
    print(
        "\n".join(
            table(
                header,
                [
                    [
                        name,
                        f"{m['valid']:.1%}",
                        f"{m['low_energy']:.1%}",
                        num(m["w1_rg"], 3),
                        num(m["w1_end_to_end"], 3),
                        num(m["w1_bond"], 3),
                        num(m["novelty"], 3),
                        "" if m["seconds"] is None else f"{m['seconds']:.1f} s",
                    ]
                    for name, m in rows
                ],
            )
        )
    )

    # ---------------------------------------------------------------- goals, per seed
    per_seed = {}
    for seed in GOAL_SEEDS:
        x = model.generate(N, seed=seed)
        m = generation_metrics(x, data)
        m["novelty_ratio"] = float(np.median(nearest_rmsd(x, train_frames))) / test_novelty
        per_seed[seed] = m
    tests = [
        ("valid", ">= 90%", lambda m: m["valid"] >= 0.90, lambda m: f"{m['valid']:.1%}"),
        (
            "energy below the data's 99th percentile",
            ">= 90%",
            lambda m: m["low_energy"] >= 0.90,
            lambda m: f"{m['low_energy']:.1%}",
        ),
        ("W1 R_g", "<= 0.05", lambda m: m["w1_rg"] <= 0.05, lambda m: f"{m['w1_rg']:.3f}"),
        ("W1 end-to-end", "<= 0.10", lambda m: m["w1_end_to_end"] <= 0.10, lambda m: f"{m['w1_end_to_end']:.3f}"),
        ("W1 bond", "<= 0.03", lambda m: m["w1_bond"] <= 0.03, lambda m: f"{m['w1_bond']:.3f}"),
        (
            "novelty / test frames' novelty",
            ">= 0.9",
            lambda m: m["novelty_ratio"] >= 0.9,
            lambda m: f"{m['novelty_ratio']:.2f}",
        ),
    ]
    goals = []
    for what, target, ok, shown in tests:
        for seed, m in per_seed.items():
            goals.append([f"model's own draws, no relaxation, seed {seed}: {what}", target, shown(m), ok(m)])

    # ---------------------------------------------------------------- the end-to-end W1's own noise
    # how far 4,000 draws fall from the data by chance: the model on seeds not used for anything
    # else, and random 4,000-frame subsets of a new simulation (the yardstick's floor)
    e2e = end_to_end_distance(data)
    drawn = [end_to_end_distance(model.generate(N, seed=s)) for s in NOISE_SEEDS]
    model_w1 = np.array([wasserstein_1d(d, e2e) for d in drawn])
    model_mean = np.mean([d.mean() for d in drawn[:5]])
    fresh = end_to_end_distance(helpers.simulate_polymer(5 * N, seed=4321, cache=False))
    rng = np.random.default_rng(0)
    fresh_w1 = np.array([wasserstein_1d(rng.choice(fresh, N, replace=False), e2e) for _ in NOISE_SEEDS])
    print(
        f"End-to-end W1 of {N:,} conformations, by chance: the model's own draws on seeds "
        f"{NOISE_SEEDS[0]}-{NOISE_SEEDS[-1]} score {model_w1.min():.3f} to {model_w1.max():.3f} "
        f"(mean {model_w1.mean():.3f}; above 0.10 on {int((model_w1 > 0.10).sum())} of {len(NOISE_SEEDS)}); "
        f"their mean end-to-end distance is {model_mean:.3f} against the data's {e2e.mean():.3f}. "
        f"{len(NOISE_SEEDS)} random {N:,}-frame subsets of a new 20,000-frame simulation (seed 4321) score "
        f"{fresh_w1.min():.3f} to {fresh_w1.max():.3f} (mean {fresh_w1.mean():.3f}; above 0.10 on "
        f"{int((fresh_w1 > 0.10).sum())}).\n"
    )

    # ---------------------------------------------------------------- ELBO on the test split
    x_test = torch.as_tensor(test)
    elbo = {}
    for name, m in (("valid_polymer", model), ("conditional_polymer", conditional)):
        _, recon, kl = helpers.evaluate(m, x_test, beta=1.0, seed=0)
        elbo[name] = (recon, kl)
    print(
        "Test split (1,000 frames), one z per frame: -log p_theta(x|z) "
        + "; ".join(f"{k} {r:.2f} nats, KL {kl:.2f} nats (-ELBO {r + kl:.2f})" for k, (r, kl) in elbo.items())
        + ". Reconstruction error of the mean chain (MSE per coordinate): Cartesian "
        f"{helpers.reconstruction_error(cartesian, test):.4f}, internal {helpers.reconstruction_error(model, test):.4f}.\n"
    )

    # ---------------------------------------------------------------- targeted generation
    def score(x, target):
        valid = helpers.validity(x, reference).valid
        near = np.abs(helpers.radius_of_gyration(x) - target) <= TOLERANCE
        hit = valid & near
        return dict(
            hit=hit.mean(),
            valid=valid.mean(),
            low_energy=(polymer_energy(x) < threshold).mean(),
            distinct=distinct(x[hit]),
            n_hit=int(hit.sum()),
        )

    def search(target, weight, seed):
        starts = torch.randn(STARTS, model.latent_dim, generator=torch.Generator().manual_seed(seed))
        result = optimize_latent(model, target_rg(target), starts, prior_weight=weight, reference=reference, **SEARCH)
        return torch.as_tensor(result.z, dtype=torch.float32)

    def draw_at(z, seed, relaxed):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            x = model.decoder.sample(z, g).double()
        return relax(x, seed=g, **RELAX).numpy() if relaxed else x.numpy()

    tuning = {}
    for weight in PRIOR_WEIGHTS:
        hits = [
            score(draw_at(search(t, weight, 50 + i), 50 + i, False), t)["hit"] for i, t in enumerate(VALIDATION_TARGETS)
        ]
        tuning[weight] = float(np.mean(hits))
    best = max(tuning, key=tuning.get)
    print(
        "Latent search's prior weight, chosen on the validation targets "
        f"{', '.join(map(str, VALIDATION_TARGETS))} (mean hit rate of a draw at each end, unrelaxed): "
        + ", ".join(f"{w}: {h:.1%}" for w, h in tuning.items())
        + f"; chosen {best}.\n"
    )
    targeted_rows, cvae_hits = [], {}
    for i, target in enumerate(TARGETS):
        for relaxed in (False, True):
            start = time.perf_counter()
            x = conditional.generate(1_000, seed=TABLE_SEED + i, rg=target, relax=relaxed)
            t_cvae = time.perf_counter() - start
            c = score(x, target)
            if not relaxed:
                cvae_hits[target] = c
            start = time.perf_counter()
            x = draw_at(search(target, best, TABLE_SEED + i), TABLE_SEED + i, relaxed)
            t_search = time.perf_counter() - start
            s = score(x, target)
            for name, r, t, n in (("CVAE", c, t_cvae, 1_000), ("search", s, t_search, STARTS)):
                per_hit = f"{1e3 * t / r['n_hit']:.1f} ms" if r["n_hit"] else "no hit"
                targeted_rows.append(
                    [
                        num(target, 1),
                        name,
                        "yes" if relaxed else "no",
                        f"{n:,}",
                        f"{r['hit']:.1%}",
                        f"{r['valid']:.1%}",
                        f"{r['low_energy']:.1%}",
                        f"{r['distinct']:,}",
                        per_hit,
                    ]
                )
    print(
        f"Targeted generation: hit = valid and R_g within ±{TOLERANCE} of the target. CVAE: `conditional_polymer`, "
        "z from its learned prior, a draw from p_theta(x|z, c). Search: `optimize_latent` on `valid_polymer`'s mean "
        f"chain from {STARTS} seeded N(0, I) starts with notebook 7's penalties and the chosen prior weight, then one "
        f"draw from p_theta(x|z) at each end. Distinct: hits that differ from each other by >= {DISTINCT} bead "
        "diameters (aligned RMSD). Time per valid hit includes the search or sampling and the relaxation.\n"
    )
    print(
        "\n".join(
            table(
                [
                    "target R_g",
                    "method",
                    "relaxed",
                    "candidates",
                    "hit",
                    "valid",
                    "energy < p99",
                    "distinct hits",
                    "time per hit",
                ],
                targeted_rows,
            )
        )
    )
    goals += [
        [
            f"conditional, no relaxation, R_g = {t}: valid and within ±{TOLERANCE}",
            ">= 80%",
            f"{r['hit']:.1%}",
            r["hit"] >= 0.8,
        ]
        for t, r in cvae_hits.items()
    ]
    print("\n".join(goals_table(goals)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
