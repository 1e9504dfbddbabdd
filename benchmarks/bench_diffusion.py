"""The diffusion model of notebook 9, measured against the goals of issue 23.

* Unguided draws of the shipped ``diffusion_polymer`` model (``load_pretrained``) corrected by the
  shipped ``diffusion_discriminator`` (discriminator guidance), no relaxation, 4,000 per seed for
  seeds 0-4 at the default sampler and step count, measured with
  ``helpers.generation.generation_metrics`` against the default simulated data (10,000 aligned
  frames), plus novelty: the median RMSD (after the best rotation) from each draw to its
  nearest training frame, next to the same for the held-out test frames. Beside them, the
  ablation: the same seeds without the discriminator (the network alone), and a correction that
  learns nothing (a fixed push apart of beads in contact, of three strengths).
* Quality against the number of sampling steps (DDIM and ancestral, the network alone), 1,000 draws, seed 0.
* Sampling time for 4,000 polymers at the default step count, one thread.
* Guided generation at R_g 1.6, 2.0, 2.5, 3.0 (1,000 draws per target and seed, seeds 0-4): valid
  and within +-0.15. The method: classifier-free guidance (w = ``GUIDANCE``), the R_g likelihood
  (``rg_sigma=RG_SIGMA``) and the discriminator (weight ``GUIDED_DISCRIMINATOR_WEIGHT``); beside it,
  its ablations: guidance alone, with the discriminator only (weight 1), with the likelihood only.
* The variational bound on -log p(x) (nats per conformation over the 24 aligned coordinates,
  sigma_x of notebook 3) on the test frames, next to the shipped VAE's importance-weighted bound.
* Training time: the diffusion model's and the discriminator's (wall seconds with their recipes' two
  torch threads, from the checkpoints' metadata); with ``--train`` both are trained from scratch here
  and timed (run it on an otherwise idle machine: the goal is 5 minutes on 2 cores).

    python benchmarks/bench_diffusion.py [--train] [--json FILE]

Prints the Markdown section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import helpers
from helpers import diffusion
from helpers.discriminator import ChainDiscriminator, soft_contact, train_discriminator
from helpers.generation import generation_metrics, nearest_rmsd

from _common import add_output_options, finish, goals_table, num, table

N = 4_000
SEEDS = (0, 1, 2, 3, 4)
TARGETS = (1.6, 2.0, 2.5, 3.0)
TOLERANCE = 0.15
STEP_COUNTS = (10, 20, 50, 100, 200)
CURVE_DRAWS = 1_000
GOALS = dict(valid=0.95, w1_rg=0.03, w1_end_to_end=0.08, w1_bond=0.02)
SIGMA_X = math.sqrt(0.12 / 2)  # the shipped VAE's beta = 2 sigma_x^2 (notebook 3)


def novelty(x, reference):
    """Median RMSD (after the best rotation, as in bench_generation) from x (n, beads, 2) to the nearest frame of reference."""
    return float(np.median(nearest_rmsd(x, reference)))


class FixedRepulsion(ChainDiscriminator):
    """A correction that learns nothing: log-odds -strength * sum over bead pairs of the soft contact."""

    def __init__(self, model, strength: float):
        super().__init__(n_beads=model.config["n_beads"], steps=model.steps, scale=model.config["scale"], width=1)
        self.strength = strength

    def forward(self, x_t, t):
        far = (self.pairs[1] - self.pairs[0]) >= 2  # bonded neighbours are the bonds' business
        return -self.strength * soft_contact(self.distances(x_t)[:, far]).sum(-1)


REPULSION = (10.0, 100.0, 1000.0)
METHOD = "guidance + R_g likelihood + discriminator"


def guided_variants(disc) -> dict:
    """The guided method and its ablations: name -> generate() options beside rg and guidance."""
    return {
        METHOD: dict(rg_sigma=diffusion.RG_SIGMA, discriminator=disc,
                     discriminator_weight=diffusion.GUIDED_DISCRIMINATOR_WEIGHT),
        "guidance alone": {},
        "guidance + discriminator": dict(discriminator=disc),
        "guidance + R_g likelihood": dict(rg_sigma=diffusion.RG_SIGMA),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also train from scratch and time it")
    add_output_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = helpers.load_paths()
    data = helpers.unflatten(helpers.preprocess(paths)).astype(np.float64)
    train, test = helpers.train_test_split(helpers.preprocess(paths), seed=42)
    train_frames, test_frames = helpers.unflatten(train), helpers.unflatten(test)
    model, metadata = helpers.load_pretrained("diffusion_polymer")
    disc, disc_metadata = helpers.load_pretrained("diffusion_discriminator")
    result = dict(steps=diffusion.DEFAULT_SAMPLE_STEPS, sampler=diffusion.DEFAULT_SAMPLER, seeds={}, plain={})
    result["parameters"] = sum(p.numel() for p in model.parameters())
    result["disc_parameters"] = sum(p.numel() for p in disc.parameters())
    result["rounds"] = disc_metadata["recipe"]["rounds"]
    result["test_novelty"] = novelty(test_frames, train_frames)
    for seed in SEEDS:
        start, cpu = time.perf_counter(), time.process_time()
        x = model.generate(N, seed=seed, discriminator=disc)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        metrics = generation_metrics(x, data)
        metrics["novelty"] = novelty(x, train_frames)
        metrics["seconds"], metrics["cpu_seconds"] = seconds, cpu
        result["seeds"][seed] = metrics
        print(seed, {k: round(v, 4) for k, v in metrics.items()}, flush=True)
        start = time.process_time()
        result["plain"][seed] = dict(generation_metrics(model.generate(N, seed=seed), data))
        result["plain"][seed]["cpu_seconds"] = time.process_time() - start
        print("  network alone", {k: round(v, 4) for k, v in result["plain"][seed].items()}, flush=True)
    result["repulsion"] = {}
    for strength in REPULSION:
        x = model.generate(N, seed=SEEDS[0], discriminator=FixedRepulsion(model, strength))
        result["repulsion"][strength] = generation_metrics(x, data)
        print("fixed repulsion", strength, result["repulsion"][strength], flush=True)
    result["curve"] = {}
    for sampler in diffusion.SAMPLERS:
        for steps in STEP_COUNTS:
            start = time.perf_counter()
            x = model.generate(CURVE_DRAWS, seed=0, steps=steps, sampler=sampler)
            seconds = time.perf_counter() - start
            result["curve"][f"{sampler} {steps}"] = dict(generation_metrics(x, data), seconds=seconds)
            print(
                sampler, steps, {k: round(v, 4) for k, v in result["curve"][f"{sampler} {steps}"].items()}, flush=True
            )
    result["guided"] = {}
    for variant, options in guided_variants(disc).items():
        result["guided"][variant] = {}
        for seed in SEEDS:
            for target in TARGETS:
                x = model.generate(1000, seed=seed, rg=target, guidance=diffusion.GUIDANCE, **options)
                valid = helpers.validity(x, data).valid
                near = np.abs(helpers.radius_of_gyration(x) - target) <= TOLERANCE
                result["guided"][variant][f"{seed} {target}"] = dict(
                    valid=float(valid.mean()), near=float(near.mean()), hit=float((valid & near).mean())
                )
            print(variant, seed, {k: v["hit"] for k, v in result["guided"][variant].items() if k.startswith(f"{seed} ")},
                  flush=True)  # fmt: skip
    start = time.perf_counter()
    nll = diffusion.negative_log_likelihood(model, test, sigma_x=SIGMA_X, n_t=200)
    result["nll_diffusion"], result["nll_diffusion_median"] = float(nll.mean()), float(nll.median())
    result["nll_seconds"] = time.perf_counter() - start
    vae, _ = helpers.load_pretrained("polymer_vae")
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        iw = helpers.importance_weighted_log_likelihood(vae, torch.as_tensor(test), SIGMA_X, 1000, generator=gen)
    result["nll_vae_iw1000"], result["nll_vae_median"] = float(-iw.mean()), float(-iw.median())
    if args.train:
        start = time.perf_counter()
        trained, _ = diffusion.train_diffusion(train, progress=False)
        result["train_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        train_discriminator(trained, train, progress=False)
        result["disc_train_seconds"] = time.perf_counter() - start
    else:
        result["train_seconds"] = metadata.get("train_seconds")
        result["disc_train_seconds"] = disc_metadata.get("train_seconds")
    result["train_threads"] = diffusion.RECIPE["threads"]
    return finish(args, result, markdown(result))


def _span(values) -> str:
    """Percentages as "lowest-highest%"."""
    lo, hi = min(values), max(values)
    return f"{lo:.1%}" if f"{lo:.1%}" == f"{hi:.1%}" else f"{100 * lo:.1f}-{hi:.1%}"


def markdown(r: dict) -> str:
    seeds, plain = r["seeds"], r["plain"]
    lines = [
        "## Diffusion model (notebook 9)",
        "",
        f"`python benchmarks/bench_diffusion.py`: the shipped `diffusion_polymer` ({r['parameters']:,} parameters) "
        f"corrected by the shipped `diffusion_discriminator` ({r['disc_parameters']:,} parameters, {r['rounds']} "
        f"rounds; discriminator guidance), {r['sampler'].upper()} with {r['steps']} steps, {N:,} draws per seed, "
        "no relaxation, against the default data. Last two columns: the same seeds without the discriminator "
        "(the network alone).",
        "",
    ]
    rows = []
    for seed, m in seeds.items():
        ok = all(m[k] >= v if k == "valid" else m[k] <= v for k, v in GOALS.items())
        rows.append([seed, f"{m['valid']:.1%}", f"{m['low_energy']:.1%}", num(m["w1_rg"], 3), num(m["w1_end_to_end"], 3),
                     num(m["w1_bond"], 3), num(m["novelty"], 3), num(m["cpu_seconds"], 1, " s"), num(m["seconds"], 1, " s"),
                     "met" if ok else "**not met**", f"{plain[seed]['valid']:.1%}",
                     num(plain[seed]["w1_end_to_end"], 3)])  # fmt: skip
    lines += table(
        ["seed", "valid", "energy ok", "W1 R_g", "W1 e2e", "W1 bond", "novelty", "sampling (CPU)", "(wall)", "goals",
         "alone: valid", "alone: W1 e2e"],
        rows,
    )  # fmt: skip
    lines += [f"Novelty: median RMSD to the nearest training frame; test frames: {r['test_novelty']:.3f}.", ""]
    lines += [
        "A correction that learns nothing, in place of the discriminator (log-odds -strength x the sum of the "
        f"soft contacts 0.05 softplus((1 - d) / 0.05) over beads 2 or more apart), seed {SEEDS[0]}:",
        "",
    ]
    lines += table(
        ["strength", "valid", "W1 R_g", "W1 e2e", "W1 bond"],
        [[num(k, 0), f"{m['valid']:.1%}", num(m["w1_rg"], 3), num(m["w1_end_to_end"], 3), num(m["w1_bond"], 3)]
         for k, m in r["repulsion"].items()],
    )  # fmt: skip
    lines += table(
        ["network alone: sampler, steps (1,000 draws)", "valid", "W1 R_g", "W1 e2e", "W1 bond", "time (1,000)"],
        [[k, f"{m['valid']:.1%}", num(m["w1_rg"], 3), num(m["w1_end_to_end"], 3), num(m["w1_bond"], 3), num(m["seconds"], 1, " s")]
         for k, m in r["curve"].items()],
    )  # fmt: skip
    lines += [
        f"Guided generation, 1,000 draws per target and seed (seeds {SEEDS[0]}-{SEEDS[-1]}), classifier-free guidance "
        f"w = {diffusion.GUIDANCE:g}; R_g likelihood: rg_sigma = {diffusion.RG_SIGMA:g} bead diameters; discriminator "
        f"weight {diffusion.GUIDED_DISCRIMINATOR_WEIGHT:g} in the method, 1 in the ablation. A hit: valid and within "
        "+-0.15 of the target. Ranges over the seeds:",
        "",
    ]
    rows = []
    for variant, cells in r["guided"].items():
        for target in TARGETS:
            per_seed = [cells[f"{seed} {target}"] for seed in SEEDS]
            rows.append([variant if target == TARGETS[0] else "", target]
                        + [_span([m[k] for m in per_seed]) for k in ("valid", "near", "hit")])  # fmt: skip
    lines += table(["guided", "target R_g (bead diam.)", "valid", "within +-0.15", "hits"], rows)
    train_total = None
    if r["train_seconds"] is not None and r["disc_train_seconds"] is not None:
        train_total = r["train_seconds"] + r["disc_train_seconds"]
    lines += [
        f"-log p(x), test frames, nats per conformation over the 24 aligned coordinates (sigma_x = {SIGMA_X:.3f}): "
        f"diffusion bound mean {r['nll_diffusion']:.2f}, median {r['nll_diffusion_median']:.2f} ({r['nll_seconds']:.0f} s); "
        f"VAE importance-weighted (K = 1,000) mean {r['nll_vae_iw1000']:.2f}, median {r['nll_vae_median']:.2f}. "
        "(The bound is the network's own: discriminator guidance changes the sampler, not the model.)",
        "",
        f"Training: diffusion model {num(r['train_seconds'], 0, ' s')}, discriminator "
        f"{num(r['disc_train_seconds'], 0, ' s')} (drawing its chains included): wall seconds with "
        f"{r['train_threads']} torch threads, as the recipes set. Sampling times: CPU seconds of the one thread "
        "(the wall time on an idle core); wall times include the machine's load.",
        "",
    ]
    worst = {k: (min if k == "valid" else max)(m[k] for m in seeds.values()) for k in GOALS}
    speed = max(m["cpu_seconds"] for m in seeds.values())
    hit = min(m["hit"] for m in r["guided"][METHOD].values())
    lines += goals_table([
        ["valid, every seed", ">= 95%", f"{worst['valid']:.1%}", worst["valid"] >= 0.95],
        ["W1 R_g, every seed", "<= 0.03", num(worst["w1_rg"], 3), worst["w1_rg"] <= 0.03],
        ["W1 end-to-end, every seed", "<= 0.08", num(worst["w1_end_to_end"], 3), worst["w1_end_to_end"] <= 0.08],
        ["W1 bond, every seed", "<= 0.02", num(worst["w1_bond"], 3), worst["w1_bond"] <= 0.02],
        ["sampling 4,000 (CPU, one thread)", "<= 10 s", num(speed, 1, " s"), speed <= 10],
        [f"training, both networks (wall, {r['train_threads']} threads)", "<= 300 s", num(train_total, 0, " s"),
         None if train_total is None else train_total <= 300],
        ["guided: valid and within +-0.15, every target and seed", ">= 80%", f"{hit:.1%}", hit >= 0.8],
    ])  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
