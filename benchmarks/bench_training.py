"""Time-to-quality and sample quality: the code walkthrough's recipe against ``helpers.train_vae``.

Both train the default PolymerVAE (277,532 parameters, same initial weights) on the same
data and the same train/test split, one after the other in this process:

* the recipe, re-implemented here exactly as the walkthrough runs it: a DataLoader over the
  training tensor (batch 256, shuffled), Adam at lr 1e-3, 150 epochs, beta = 0.01 with
  "mean" reductions, and a ``loss.item()`` per batch for its running averages;
* ``helpers.train_vae`` with all its defaults (epochs, batch size, lr, schedule, beta).

Quality = test reconstruction error, ``helpers.reconstruction_error``: the mean squared error
per coordinate of decoding the encoder's mean, on the held-out 10%. The target is the recipe's
final test error. Two speed-ups are reported (training wall time, evaluations excluded):

* the goal's measure: the recipe's whole wall time (150 epochs) divided by the time
  ``train_vae`` needs to first reach the target (>= 4x, with an equal or lower final test
  error): reach the test reconstruction error that the walkthrough's recipe (150 epochs,
  batch 256, Adam 1e-3, beta 0.01) reaches on the same data in at most a quarter of its wall time;
* a stricter one: the time at which the recipe itself *first* reaches its final error
  (its test error wanders, so it often touches that value well before epoch 150) divided by
  the same helpers time.

Both also in process CPU time, which drifts less than wall time on a shared, busy machine.
``--flush-denormals`` turns denormal flushing on for the whole process before torch starts its
threads, which also spares the recipe the slowdown that ``train_vae`` avoids by itself
(see ``helpers/_cpu.py``): it shows how much of the gain is that alone.

Sample quality, for the recipe's model, the helpers-trained model and the shipped pretrained
model (``helpers.load_pretrained()``, trained on the default data and split): 5000 samples
``model.sample(5000, seed=0)`` compared with the test conformations by the 1-D Wasserstein
distance (in bead diameters) of bond lengths, radius of gyration and end-to-end distance, and the
fraction of samples that pass ``helpers.validity`` against the training conformations.
As a baseline, the same numbers for as many real training frames (W1 is not exactly 0 between
two finite samples; about 97% of real frames pass the validity check by construction).

    python benchmarks/bench_training.py                     # the full comparison, 5 seeds (about 4 min on 2 cores)
    python benchmarks/bench_training.py --quick             # smoke run: 5 + 5 epochs
    python benchmarks/bench_training.py --json out.json     # also write the numbers as JSON
    python benchmarks/bench_training.py --data dmol         # the original 2048 frames (cached download)
    python benchmarks/bench_training.py --flush-denormals   # the recipe without the denormal slowdown too
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time

import numpy as np
import torch

import helpers

from _common import add_output_options, finish, goals_table, num, table

RECIPE = dict(batch_size=256, lr=1e-3, epochs=150, beta=0.01, reduction="mean")


def run_recipe(train, test, epochs=RECIPE["epochs"], seed=0):
    """The walkthrough's loop. Returns (model, curve): after each epoch, the training wall
    seconds and CPU seconds so far and the test error, ``[(wall, cpu, test_error), ...]``."""
    torch.manual_seed(seed)
    model = helpers.PolymerVAE()
    loader = torch.utils.data.DataLoader(train, batch_size=RECIPE["batch_size"], shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
    curve, elapsed, cpu = [], 0.0, 0.0
    for _ in range(epochs):
        start, cpu_start = time.perf_counter(), time.process_time()
        model.train()
        total_loss = total_recon = total_kl = 0.0
        for batch in loader:
            optimizer.zero_grad()
            x_recon, mu, sigma = model(batch)
            loss, recon, kl = helpers.vae_loss(batch, x_recon, mu, sigma, beta=RECIPE["beta"], reduction="mean")
            loss.backward()
            optimizer.step()
            total_loss += loss.item()  # the walkthrough's running averages (one sync per batch)
            total_recon += recon.item()
            total_kl += kl.item()
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        curve.append((elapsed, cpu, helpers.reconstruction_error(model, test)))
    return model, curve


def run_helpers(train, test, seed=0, **overrides):
    """``helpers.train_vae`` with its defaults. Returns (model, [(wall, cpu, test_error), ...])."""
    torch.manual_seed(seed)
    model = helpers.PolymerVAE()
    curve, eval_wall, eval_cpu = [], 0.0, 0.0
    cpu_start = time.process_time()

    def record(epoch, m, history):
        nonlocal eval_wall, eval_cpu
        start, cpu = time.perf_counter(), time.process_time()
        error = helpers.reconstruction_error(m, test)
        # the clocks also ran during the evaluations of earlier epochs: subtract them
        curve.append((history.seconds[-1] - eval_wall, cpu - cpu_start - eval_cpu, error))
        eval_wall += time.perf_counter() - start
        eval_cpu += time.process_time() - cpu

    helpers.train_vae(model, train, seed=seed, progress=False, on_epoch_end=record, **overrides)
    return model, curve


def speedups_of(recipe_curve, helpers_curve) -> dict:
    """Speed-ups (wall and CPU) of reaching the recipe's final test error; None if never reached.

    ``speedup``: the recipe's whole training time / helpers' time to that error (the goal's
    measure). ``speedup_first_reach``: the recipe's own first time at that error / helpers'.
    """
    target = recipe_curve[-1][2]
    ours, first = time_to_reach(helpers_curve, target), time_to_reach(recipe_curve, target)
    if ours is None:
        return dict(speedup=None, cpu_speedup=None, speedup_first_reach=None, cpu_speedup_first_reach=None)
    return dict(
        speedup=recipe_curve[-1][0] / ours[0],
        cpu_speedup=recipe_curve[-1][1] / ours[1],
        speedup_first_reach=first[0] / ours[0],
        cpu_speedup_first_reach=first[1] / ours[1],
    )


def time_to_reach(curve, target):
    """(wall, cpu) training seconds at the first epoch whose test error is <= target, or None."""
    return next(((wall, cpu) for wall, cpu, error in curve if error <= target), None)


def wasserstein_1d(a, b) -> float:
    """Exact 1-D Wasserstein-1 distance between two samples: the area between their CDFs."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    points = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, points[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, points[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(points)))


MEASURES = {
    "bond_length": helpers.bond_lengths,  # all 11 bonds of every conformation, pooled
    "radius_of_gyration": helpers.radius_of_gyration,
    "end_to_end": helpers.end_to_end_distance,
}


def sample_quality(conformations, test, train_reference) -> dict:
    """W1 distances (bead diameters) to the test data per measure, and the fraction of valid conformations."""
    result = {f"w1_{name}": wasserstein_1d(f(conformations), f(test)) for name, f in MEASURES.items()}
    result["fraction_valid"] = helpers.validity(conformations, train_reference).fraction_valid
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="simulate", help="'simulate' (default), 'dmol' or a .npz/.npy path")
    parser.add_argument(
        "--recipe-epochs", type=int, default=RECIPE["epochs"], help="default: 150, as in the walkthrough"
    )
    parser.add_argument("--helpers-epochs", type=int, help="override train_vae's default epochs (smoke runs only)")
    parser.add_argument("--samples", type=int, default=5000, help="generated conformations per model")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 recipe and 5 helpers epochs, 1000 samples")
    parser.add_argument(
        "--flush-denormals",
        action="store_true",
        help="flush denormal floats process-wide (all torch threads), for the recipe too",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="repeat both trainings with seeds 0..N-1 (default 5): sample quality varies "
        "strongly from seed to seed, so one seed can mislead",
    )
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.recipe_epochs, args.helpers_epochs, args.samples, args.seeds = 5, args.helpers_epochs or 5, 1000, 1
    if args.flush_denormals:  # before the first parallel torch op: worker threads copy the setting
        torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)

    data = helpers.preprocess(helpers.load_paths(args.data))
    train, test = (torch.from_numpy(a) for a in helpers.train_test_split(data, seed=42))
    print(
        f"data: {args.data}, train {len(train)}, test {len(test)}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )

    recipe_model, recipe = run_recipe(train, test, epochs=args.recipe_epochs)
    target = recipe[-1][2]
    recipe_time = time_to_reach(recipe, target)
    print(f"recipe : {len(recipe)} epochs in {recipe[-1][0]:.1f} s, final test error {target:.4f}")

    overrides = {} if args.helpers_epochs is None else {"epochs": args.helpers_epochs}
    helpers_model, ours = run_helpers(train, test, **overrides)
    ours_time = time_to_reach(ours, target)
    print(f"helpers: {len(ours)} epochs in {ours[-1][0]:.1f} s, final test error {ours[-1][2]:.4f}")
    speedups = speedups_of(recipe, ours)
    speedup, cpu_speedup = speedups["speedup"], speedups["cpu_speedup"]
    if ours_time is None:
        print(f"helpers never reached the recipe's final test error {target:.4f}")
    else:
        print(
            f"helpers reached the recipe's final test error {target:.4f} after {ours_time[0]:.1f} s of training:\n"
            f"  recipe's wall time {recipe[-1][0]:.1f} s / {ours_time[0]:.1f} s = {speedup:.1f}x "
            f"(the goal: >= 4x; in CPU time {cpu_speedup:.1f}x)\n"
            f"  stricter, the recipe first reached it after {recipe_time[0]:.1f} s: "
            f"{speedups['speedup_first_reach']:.1f}x (in CPU time {speedups['cpu_speedup_first_reach']:.1f}x)"
        )

    models = {"recipe": recipe_model, "helpers": helpers_model}
    if args.data == "simulate":  # the pretrained model was trained on the default simulated data
        models["pretrained"] = helpers.load_pretrained()[0]

    @torch.no_grad()
    def quality_of(conformations) -> dict:
        """Sample quality of a trained model's samples, or of given conformations."""
        if isinstance(conformations, torch.nn.Module):
            conformations = conformations.eval().sample(args.samples, seed=0)
        return sample_quality(conformations.numpy(), test.numpy(), train.numpy())

    # baseline: real training frames against the test frames (finite-sample noise floor of W1)
    quality = {"training data": quality_of(train[: args.samples])}
    quality.update({name: quality_of(model) for name, model in models.items()})
    print(f"sample quality ({args.samples} samples, W1 to the test data in bead diameters):")
    print(f"  {'model':<14}{'bond':>8}{'Rg':>8}{'end-end':>9}{'valid':>8}")
    for name, q in quality.items():
        print(
            f"  {name:<14}{q['w1_bond_length']:8.4f}{q['w1_radius_of_gyration']:8.4f}"
            f"{q['w1_end_to_end']:9.4f}{q['fraction_valid']:8.1%}"
        )

    by_seed = [
        dict(
            seed=0,
            **speedups,
            recipe_final_test_error=target,
            helpers_final_test_error=ours[-1][2],
            recipe=quality["recipe"],
            helpers=quality["helpers"],
        )
    ]
    for seed in range(1, args.seeds):
        r_model, r_curve = run_recipe(train, test, epochs=args.recipe_epochs, seed=seed)
        h_model, h_curve = run_helpers(train, test, seed=seed, **overrides)
        by_seed.append(
            dict(
                seed=seed,
                **speedups_of(r_curve, h_curve),
                recipe_final_test_error=r_curve[-1][2],
                helpers_final_test_error=h_curve[-1][2],
                recipe=quality_of(r_model),
                helpers=quality_of(h_model),
            )
        )
    if args.seeds > 1:
        print(f"across {args.seeds} training seeds (mean; sample quality W1 in bead diameters):")
        for name in ("recipe", "helpers"):
            mean = {k: np.mean([r[name][k] for r in by_seed]) for k in by_seed[0][name]}
            err = np.mean([r[f"{name}_final_test_error"] for r in by_seed])
            print(
                f"  {name:<8} test error {err:.4f}  W1 bond {mean['w1_bond_length']:.3f}  "
                f"R_g {mean['w1_radius_of_gyration']:.3f}  end-end {mean['w1_end_to_end']:.3f}  "
                f"valid {mean['fraction_valid']:.1%}"
            )
        print(
            "  speed-up per seed (recipe's wall time / helpers' time to its error): "
            + ", ".join(num_or_never(r["speedup"]) for r in by_seed)
        )
        print(
            "  stricter (recipe's first time at that error / helpers'): "
            + ", ".join(num_or_never(r["speedup_first_reach"]) for r in by_seed)
        )

    defaults = {
        k: p.default
        for k, p in inspect.signature(helpers.train_vae).parameters.items()
        if k in ("epochs", "batch_size", "lr", "beta", "reduction", "schedule")
    }
    result = dict(
        data=args.data,
        n_train=len(train),
        n_test=len(test),
        torch_threads=torch.get_num_threads(),
        quick=args.quick,
        samples=args.samples,
        recipe=dict(RECIPE, epochs=args.recipe_epochs),
        helpers=dict(defaults, **overrides),
        helpers_overrides=overrides,
        flush_denormals=args.flush_denormals,
        target_test_error=target,
        **speedups,
        recipe_seconds_to_target=recipe_time[0],
        recipe_cpu_seconds_to_target=recipe_time[1],
        recipe_total_seconds=recipe[-1][0],
        recipe_final_test_error=target,
        helpers_seconds_to_target=ours_time and ours_time[0],
        helpers_cpu_seconds_to_target=ours_time and ours_time[1],
        helpers_total_seconds=ours[-1][0],
        helpers_final_test_error=ours[-1][2],
        sample_quality=quality,
        by_seed=by_seed,
        curve_columns=["train_wall_seconds", "train_cpu_seconds", "test_error"],
        recipe_curve=recipe,
        helpers_curve=ours,
    )
    return finish(args, result, markdown(result))


def num_or_never(speedup) -> str:
    return "never reached" if speedup is None else f"{speedup:.1f}x"


def markdown(d: dict) -> str:
    """The Training section of RESULTS.md: time-to-quality, sample quality, seeds."""
    r, h, speed = d["recipe"], d["helpers"], d["speedup"]
    recipe_error, helpers_error = d["recipe_final_test_error"], d["helpers_final_test_error"]
    q = d["sample_quality"]
    keys = ("w1_bond_length", "w1_radius_of_gyration", "w1_end_to_end")
    as_good = sum(q["helpers"][k] <= q["recipe"][k] for k in keys)
    valid_ok = q["helpers"]["fraction_valid"] >= q["recipe"]["fraction_valid"]
    goals = [
        [
            "reach the recipe's final test error",
            "in <= 1/4 of the recipe's wall time (>= 4x), equal or lower final error",
            f"{num(speed, 1)}x, final error {helpers_error:.4f} vs {recipe_error:.4f}",
            speed is not None and speed >= 4 and helpers_error <= recipe_error,
        ],
        [
            "sample quality (seed 0)",
            "helpers' samples as good as the recipe's",
            f"W1 lower or equal on {as_good}/3 measures; valid {100 * q['helpers']['fraction_valid']:.1f}% "
            f"vs {100 * q['recipe']['fraction_valid']:.1f}%",
            as_good == 3 and valid_ok,
        ],
    ]
    first = d["speedup_first_reach"]
    out = ["## Training time-to-quality and sample quality", ""] + goals_table(goals)
    out += [
        f"Data: `{d['data']}`, {d['n_train']} training / {d['n_test']} test frames "
        f"(`train_test_split(seed=42)`), torch threads {d['torch_threads']}. Test error = "
        "`helpers.reconstruction_error` (MSE per coordinate of decoding the encoder mean, (bead diam.)²). "
        "Times are training only (evaluations excluded). The target is the recipe's final test error; the "
        "goal divides the recipe's whole wall time by the time `train_vae` needs to reach it. The recipe's "
        "test error wanders, so it often touches its final value well before epoch 150: dividing that first "
        "time instead gives the stricter ratio."
        + (
            " Denormal flushing was on for the whole process (`--flush-denormals`), so the recipe "
            "did not pay the slowdown that `train_vae` avoids by itself."
            if d.get("flush_denormals")
            else ""
        ),
        "",
    ]
    overridden = " (epochs overridden)" if d["helpers_overrides"] else ""
    out += table(
        ["", "walkthrough recipe", "`helpers.train_vae` defaults" + overridden, "ratio"],
        [
            [
                "settings",
                f"DataLoader, {r['epochs']} epochs, batch {r['batch_size']}, Adam {r['lr']:g}, "
                f"constant lr, beta {r['beta']:g} ({r['reduction']})",
                f"{h['epochs']} epochs, batch {h['batch_size']}, Adam {h['lr']:g}, {h['schedule']} lr, "
                f"beta {h['beta']:g} ({h['reduction']})",
                "",
            ],
            [
                "whole training run",
                num(d["recipe_total_seconds"], 1, " s"),
                num(d["helpers_total_seconds"], 1, " s"),
                f"{d['recipe_total_seconds'] / d['helpers_total_seconds']:.1f}x (recipe / helpers)",
            ],
            [
                "first reaches the recipe's final test error",
                num(d["recipe_seconds_to_target"], 1, " s"),
                num(d["helpers_seconds_to_target"], 1, " s") if speed else "never reached",
                "",
            ],
            [
                "**recipe's wall time / helpers' time to its error** (the goal)",
                "",
                "",
                f"**{num(speed, 1)}x** (CPU time {num(d['cpu_speedup'], 1)}x)",
            ],
            [
                "recipe's first time / helpers' time (stricter)",
                "",
                "",
                f"{num(first, 1)}x (CPU time {num(d['cpu_speedup_first_reach'], 1)}x)",
            ],
            [
                "final test error",
                f"{recipe_error:.4f}",
                f"{helpers_error:.4f}",
                f"{helpers_error / recipe_error:.2f} (helpers / recipe)",
            ],
        ],
    )
    out += [
        f"Sample quality: {d['samples']} samples `model.sample(n, seed=0)` per model against the test "
        "conformations; 1-D Wasserstein distance W1 (bead diameters, lower is better) and the fraction that pass "
        "`helpers.validity` against the training conformations. The first row, real training frames, is the "
        "floor that finite samples allow.",
        "",
    ]
    out += table(
        ["model", "W1 bond lengths", "W1 R_g", "W1 end-to-end", "valid"],
        [
            [
                name,
                f"{v['w1_bond_length']:.4f}",
                f"{v['w1_radius_of_gyration']:.4f}",
                f"{v['w1_end_to_end']:.4f}",
                f"{100 * v['fraction_valid']:.1f}%",
            ]
            for name, v in q.items()
        ],
    )
    seeds = d.get("by_seed", [])
    if len(seeds) > 1:
        out += [
            f"Across {len(seeds)} training seeds (0..{len(seeds) - 1}) for both methods: sample quality varies "
            "strongly from seed to seed (which corner of N(0, I) the decoder fills badly is chance), so the "
            "single-seed table above can mislead.",
            "",
        ]
        rows = []
        for r in seeds:
            for name in ("recipe", "helpers"):
                v = r[name]
                rows.append(
                    [
                        str(r["seed"]),
                        name,
                        f"{r[name + '_final_test_error']:.4f}",
                        f"{v['w1_bond_length']:.3f}",
                        f"{v['w1_radius_of_gyration']:.3f}",
                        f"{v['w1_end_to_end']:.3f}",
                        f"{100 * v['fraction_valid']:.1f}%",
                        f"{num_or_never(r['speedup'])} ({num_or_never(r['speedup_first_reach'])})"
                        if name == "helpers"
                        else "",
                    ]
                )
        for name in ("recipe", "helpers"):
            mean = {k: np.mean([r[name][k] for r in seeds]) for k in seeds[0][name]}
            err = np.mean([r[name + "_final_test_error"] for r in seeds])
            rows.append(
                [
                    "mean",
                    f"**{name}**",
                    f"{err:.4f}",
                    f"{mean['w1_bond_length']:.3f}",
                    f"{mean['w1_radius_of_gyration']:.3f}",
                    f"{mean['w1_end_to_end']:.3f}",
                    f"{100 * mean['fraction_valid']:.1f}%",
                    "",
                ]
            )
        out += table(
            [
                "seed",
                "method",
                "final test error",
                "W1 bond",
                "W1 R_g",
                "W1 end-to-end",
                "valid",
                "speed-up (stricter)",
            ],
            rows,
        )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
