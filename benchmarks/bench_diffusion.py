"""The diffusion model of notebook 9, measured against the goals of issue 23.

* Unguided draws of the shipped ``diffusion_polymer`` model (``load_pretrained``), no relaxation,
  4,000 per seed for seeds 0-4 at the default sampler and step count, measured with
  ``helpers.generation.generation_metrics`` against the default simulated data (10,000 aligned
  frames), plus novelty: the median RMSD (after the best rotation) from each draw to its
  nearest training frame, next to the same for the held-out test frames.
* Quality against the number of sampling steps (DDIM and ancestral), 1,000 draws, seed 0.
* Sampling time for 4,000 polymers at the default step count, one thread.
* Guided generation at R_g 1.6, 2.0, 2.5, 3.0 (1,000 draws each): valid and within +-0.15.
* The variational bound on -log p(x) (nats per conformation over the 24 aligned coordinates,
  sigma_x of notebook 3) on the test frames, next to the shipped VAE's importance-weighted bound.
* With ``--train``: training from scratch with the shipped recipe (wall time, one thread).

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
    result = dict(steps=diffusion.DEFAULT_SAMPLE_STEPS, sampler=diffusion.DEFAULT_SAMPLER, seeds={})
    result["parameters"] = sum(p.numel() for p in model.parameters())
    result["test_novelty"] = novelty(test_frames, train_frames)
    for seed in SEEDS:
        start, cpu = time.perf_counter(), time.process_time()
        x = model.generate(N, seed=seed)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        metrics = generation_metrics(x, data)
        metrics["novelty"] = novelty(x, train_frames)
        metrics["seconds"], metrics["cpu_seconds"] = seconds, cpu
        result["seeds"][seed] = metrics
        print(seed, {k: round(v, 4) for k, v in metrics.items()}, flush=True)
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
    guidance = diffusion.GUIDANCE
    for target in TARGETS:
        x = model.generate(1000, seed=0, rg=target, guidance=guidance)
        valid = helpers.validity(x, data).valid
        near = np.abs(helpers.radius_of_gyration(x) - target) <= TOLERANCE
        result["guided"][target] = dict(
            valid=float(valid.mean()), near=float(near.mean()), hit=float((valid & near).mean())
        )
        print("guided", target, result["guided"][target], flush=True)
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
        start = time.process_time()
        diffusion.train_diffusion(train, progress=False)
        result["train_cpu_seconds"] = time.process_time() - start
    else:
        result["train_cpu_seconds"] = metadata.get("train_cpu_seconds")
    return finish(args, result, markdown(result))


def markdown(r: dict) -> str:
    seeds = r["seeds"]
    lines = [
        "## Diffusion model (notebook 9)",
        "",
        f"`python benchmarks/bench_diffusion.py`: the shipped `diffusion_polymer` ({r['parameters']:,} parameters), "
        f"{r['sampler'].upper()} with {r['steps']} steps, {N:,} draws per seed, no relaxation, against the default data.",
        "",
    ]
    rows = []
    for seed, m in seeds.items():
        ok = all(m[k] >= v if k == "valid" else m[k] <= v for k, v in GOALS.items())
        rows.append([seed, f"{m['valid']:.1%}", f"{m['low_energy']:.1%}", num(m["w1_rg"], 3), num(m["w1_end_to_end"], 3),
                     num(m["w1_bond"], 3), num(m["novelty"], 3), num(m["cpu_seconds"], 1, " s"), num(m["seconds"], 1, " s"),
                     "met" if ok else "**not met**"])  # fmt: skip
    lines += table(
        ["seed", "valid", "energy ok", "W1 R_g", "W1 e2e", "W1 bond", "novelty", "sampling (CPU)", "(wall)", "goals"],
        rows,
    )
    lines += [f"Novelty: median RMSD to the nearest training frame; test frames: {r['test_novelty']:.3f}.", ""]
    lines += table(
        ["sampler, steps (1,000 draws)", "valid", "W1 R_g", "W1 e2e", "W1 bond", "time (1,000)"],
        [[k, f"{m['valid']:.1%}", num(m["w1_rg"], 3), num(m["w1_end_to_end"], 3), num(m["w1_bond"], 3), num(m["seconds"], 1, " s")]
         for k, m in r["curve"].items()],
    )  # fmt: skip
    lines += table(
        ["target R_g", "valid", "within +-0.15", "both"],
        [[t, f"{m['valid']:.1%}", f"{m['near']:.1%}", f"{m['hit']:.1%}"] for t, m in r["guided"].items()],
    )
    lines += [
        f"-log p(x), test frames, nats per conformation over the 24 aligned coordinates (sigma_x = {SIGMA_X:.3f}): "
        f"diffusion bound mean {r['nll_diffusion']:.2f}, median {r['nll_diffusion_median']:.2f} ({r['nll_seconds']:.0f} s); "
        f"VAE importance-weighted (K = 1,000) mean {r['nll_vae_iw1000']:.2f}, median {r['nll_vae_median']:.2f}.",
        "",
        "Times: CPU seconds of the one thread (the wall time on an idle core); wall times include the machine's load.",
        "",
    ]
    worst = {k: (min if k == "valid" else max)(m[k] for m in seeds.values()) for k in GOALS}
    speed = max(m["cpu_seconds"] for m in seeds.values())
    hit = min(m["hit"] for m in r["guided"].values())
    lines += goals_table([
        ["valid, every seed", ">= 95%", f"{worst['valid']:.1%}", worst["valid"] >= 0.95],
        ["W1 R_g, every seed", "<= 0.03", num(worst["w1_rg"], 3), worst["w1_rg"] <= 0.03],
        ["W1 end-to-end, every seed", "<= 0.08", num(worst["w1_end_to_end"], 3), worst["w1_end_to_end"] <= 0.08],
        ["W1 bond, every seed", "<= 0.02", num(worst["w1_bond"], 3), worst["w1_bond"] <= 0.02],
        ["sampling 4,000 (CPU, one thread)", "<= 10 s", num(speed, 1, " s"), speed <= 10],
        ["training (CPU, one thread)", "<= 300 s", num(r["train_cpu_seconds"], 0, " s"),
         None if r["train_cpu_seconds"] is None else r["train_cpu_seconds"] <= 300],
        ["guided: valid and within +-0.15, every target", ">= 80%", f"{hit:.1%}", hit >= 0.8],
    ])  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
