"""Valid generation: each step of the valid-generation notebook measured on the same 4,000 draws.

Rows (seeded draws, measured against the default simulated data, ``helpers.generation.generation_metrics``):
the shipped Cartesian model's prior draws (decoder mean), the internal-coordinate model's
prior draws (mean), its aggregated-posterior draws (mean), draws from p_theta(x|z), and the
final recipe (``valid_polymer``'s ``generate``: aggregated posterior, a draw from p_theta(x|z),
then ``energy.relax``, a short capped Langevin run in the simulator's force field). Then the
test reconstruction error of both decoders, and targeted generation at R_g = 1.6, 2.0, 2.5, 3.0
bead diameters: the conditional model (1,000 draws per target from the aggregated posterior,
decoder mean, relaxed: the noise of p(x|z) would spread R_g over the window) against the latent search of the
property-optimization notebook on the internal model (64 seeded starts per target).

    python benchmarks/bench_generation.py

Prints Markdown tables (the goals of the valid-generation notebook); writes no file.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import helpers
from helpers.energy import polymer_energy
from helpers.generation import generation_metrics
from helpers.optimization import optimize_latent, target_rg

from _common import goals_table, num, table

N = 4_000
TARGETS = (1.6, 2.0, 2.5, 3.0)
TOLERANCE = 0.15  # bead diameters
SEARCH = dict(prior_weight=0.1, bond_penalty=100.0, contact_penalty=100.0)  # notebook 7's constraints


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def targeted(x, target, reference, threshold):
    """Fractions of x (n, beads, 2) valid, within TOLERANCE of target, both; and low-energy."""
    valid = helpers.validity(x, reference).valid
    near = np.abs(helpers.radius_of_gyration(x) - target) <= TOLERANCE
    return dict(
        valid=valid.mean(),
        near=near.mean(),
        hit=(valid & near).mean(),
        low_energy=(polymer_energy(x) < threshold).mean(),
    )


def main() -> int:
    torch.set_num_threads(1)
    paths = helpers.load_paths()
    data = helpers.unflatten(helpers.preprocess(paths)).astype(np.float64)
    train, test = helpers.train_test_split(helpers.preprocess(paths), seed=42)
    cartesian, _ = helpers.load_pretrained("polymer_vae")
    model, _ = helpers.load_pretrained("valid_polymer")
    conditional, _ = helpers.load_pretrained("conditional_polymer")

    final, seconds = timed(model.generate, N, seed=0)
    rows = {
        "data against itself (4,000 frames)": data[np.random.default_rng(0).permutation(len(data))[:N]],
        "Cartesian decoder, z ~ N(0, I), mean": cartesian.sample(N, seed=0).numpy().reshape(N, -1, 2),
        "internal decoder, z ~ N(0, I), mean": model.generate(N, seed=0, latent="prior", noise=False, relax=False),
        "internal, aggregated posterior, mean": model.generate(N, seed=0, noise=False, relax=False),
        "internal, aggregated posterior, p(x|z)": model.generate(N, seed=0, relax=False),
        "internal, aggregated posterior, p(x|z), relaxed (final)": final,
    }
    metrics = {name: generation_metrics(x, data) for name, x in rows.items()}
    print("## Valid generation\n\n`python benchmarks/bench_generation.py`\n")
    print(
        f"Same {N:,} seeded draws per row, against the default simulated data (10,000 frames); W1 in bead diameters.\n"
    )
    header = ["step", "valid", "energy < data p99", "W1 R_g", "W1 end-to-end", "W1 bond"]
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
                    ]
                    for name, m in metrics.items()
                ],
            )
        )
    )

    seeds = [generation_metrics(model.generate(N, seed=seed), data) for seed in range(5)]
    spread = {k: (min(m[k] for m in seeds), np.mean([m[k] for m in seeds]), max(m[k] for m in seeds)) for k in seeds[0]}
    print(
        "Final recipe over seeds 0-4 (min / mean / max): "
        + "; ".join(f"{k} {lo:.3f} / {mean:.3f} / {hi:.3f}" for k, (lo, mean, hi) in spread.items())
        + ".\n"
    )

    recon_cartesian = helpers.reconstruction_error(cartesian, test)
    recon_internal = helpers.reconstruction_error(model, test)
    recon_conditional = helpers.reconstruction_error(conditional, test)
    print(
        f"Test reconstruction error (MSE per coordinate, (bead diam.)^2): Cartesian {recon_cartesian:.4f}, "
        f"internal {recon_internal:.4f} ({recon_internal / recon_cartesian - 1:+.1%}), "
        f"conditional {recon_conditional:.4f}. Final recipe: {N:,} draws in {seconds:.2f} s.\n"
    )

    reference = helpers.ValidityReference.from_data(data)
    threshold = np.percentile(polymer_energy(data), 99)
    cond_rows, hits, unrelaxed = [], {}, {}
    for i, target in enumerate(TARGETS):
        x, t_cond = timed(conditional.generate, 1_000, seed=i, rg=target, noise=False)
        c = targeted(x, target, reference, threshold)
        hits[target] = c["hit"]
        unrelaxed[target] = targeted(
            conditional.generate(1_000, seed=i, rg=target, noise=False, relax=False), target, reference, threshold
        )["hit"]
        starts = torch.randn(64, 2, generator=torch.Generator().manual_seed(i))
        search, t_search = timed(optimize_latent, model, target_rg(target), starts, reference=reference, **SEARCH)
        s = targeted(search.conformation.reshape(64, -1, 2), target, reference, threshold)
        cond_rows.append(
            [
                num(target, 1),
                f"{c['hit']:.1%}",
                f"{c['valid']:.1%}",
                f"{c['low_energy']:.1%}",
                f"{t_cond * 1e3:.0f} ms",
                f"{s['hit']:.1%}",
                f"{s['valid']:.1%}",
                f"{s['low_energy']:.1%}",
                f"{t_search * 1e3:.0f} ms",
            ]
        )
    print(
        f"Targeted generation: hit = valid and R_g within ±{TOLERANCE} bead diameters of the target; "
        "CVAE: conditional model, aggregated posterior, decoder mean, relaxed; search: optimize_latent on the "
        "internal model with notebook 7's constraints.\n"
    )
    print("Without the relaxation the CVAE hits " + ", ".join(f"{unrelaxed[t]:.1%} at {t}" for t in TARGETS) + ".\n")
    print(
        "\n".join(
            table(
                [
                    "target R_g",
                    "CVAE hit",
                    "CVAE valid",
                    "CVAE low energy",
                    "CVAE time (1,000)",
                    "search hit",
                    "search valid",
                    "search low energy",
                    "search time (64)",
                ],
                cond_rows,
            )
        )
    )

    m = metrics["internal, aggregated posterior, p(x|z), relaxed (final)"]
    goals = [
        ["final recipe: valid", ">= 95%", f"{m['valid']:.1%}", m["valid"] >= 0.95],
        [
            "final recipe: energy below the data's 99th percentile",
            ">= 90%",
            f"{m['low_energy']:.1%}",
            m["low_energy"] >= 0.90,
        ],
        [
            "final recipe: W1 R_g (seed 0; mean of seeds 0-4)",
            "<= 0.05",
            f"{m['w1_rg']:.3f}; {spread['w1_rg'][1]:.3f}",
            spread["w1_rg"][1] <= 0.05,
        ],
        [
            "final recipe: W1 end-to-end (seed 0; mean of seeds 0-4)",
            "<= 0.10",
            f"{m['w1_end_to_end']:.3f}; {spread['w1_end_to_end'][1]:.3f}",
            spread["w1_end_to_end"][1] <= 0.10,
        ],
        ["final recipe: W1 bond length", "<= 0.03", num(m["w1_bond"], 3), m["w1_bond"] <= 0.03],
        [
            "test reconstruction vs Cartesian",
            "<= +10%",
            f"{recon_internal / recon_cartesian - 1:+.1%}",
            recon_internal <= 1.1 * recon_cartesian,
        ],
    ]
    goals += [
        [f"conditional, R_g = {t}: valid and within ±{TOLERANCE}", ">= 80%", f"{h:.1%}", h >= 0.8]
        for t, h in hits.items()
    ]
    print("\n".join(goals_table(goals)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
