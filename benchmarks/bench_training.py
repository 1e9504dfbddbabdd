"""Time-to-quality: the code walkthrough's training recipe against ``helpers.train_vae``.

Both train the default PolymerVAE (277,532 parameters) on the same data and the same
train/test split, one after the other in this process. The recipe is re-implemented here
exactly as the walkthrough describes it: a DataLoader over the training tensor with
batch 256 and shuffling, Adam at 1e-3, 150 epochs, beta = 0.01 with "mean" reductions.

Quality = test reconstruction error: the mean squared error per coordinate of decoding
the encoder's mean, on the held-out 10%. We record, for each method, the wall time
(training only; evaluation time excluded) at which it first reaches the recipe's final
test error, and report the ratio.

    python benchmarks/bench_training.py            # default simulated data (10,000 frames)
    python benchmarks/bench_training.py --data dmol  # the original 2048-frame file (needs it cached)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

import helpers


@torch.no_grad()
def test_mse(model, test):
    model.eval()
    mu, _ = model.encode(test)
    return float(((model.decode(mu) - test) ** 2).mean())


def run_recipe(train, test, epochs=150, seed=0):
    """The walkthrough's loop; returns (model, [(train_seconds, test_mse) per epoch])."""
    torch.manual_seed(seed)
    model = helpers.PolymerVAE()
    loader = torch.utils.data.DataLoader(train, batch_size=256, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    curve, elapsed = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            x_recon, mu, sigma = model(batch)
            loss, _, _ = helpers.vae_loss(batch, x_recon, mu, sigma, beta=0.01, reduction="mean")
            loss.backward()
            optimizer.step()
        elapsed += time.perf_counter() - start
        curve.append((elapsed, test_mse(model, test)))
    return model, curve


def run_helpers(train, test, seed=0, **kwargs):
    """helpers.train_vae with its defaults; returns (model, [(train_seconds, test_mse)])."""
    torch.manual_seed(seed)
    model = helpers.PolymerVAE()
    curve, eval_time = [], [0.0]

    def record(epoch, m, history):
        start = time.perf_counter()
        mse = test_mse(m, test)
        # history.seconds includes earlier evaluations: subtract them
        curve.append((history.seconds[-1] - eval_time[0], mse))
        eval_time[0] += time.perf_counter() - start

    helpers.train_vae(model, train, seed=seed, progress=False, on_epoch_end=record, **kwargs)
    return model, curve


def time_to_reach(curve, target):
    for seconds, mse in curve:
        if mse <= target:
            return seconds
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="simulate", help="'simulate' (default) or 'dmol' or a path")
    parser.add_argument("--recipe-epochs", type=int, default=150)
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = helpers.preprocess(helpers.load_paths(args.data))
    train, test = (torch.from_numpy(a) for a in helpers.train_test_split(data, seed=42))
    print(f"data: {args.data}, train {len(train)}, test {len(test)}, torch threads {torch.get_num_threads()}")

    _, recipe = run_recipe(train, test, epochs=args.recipe_epochs)
    target = recipe[-1][1]
    recipe_time = time_to_reach(recipe, target)
    print(f"recipe : {len(recipe)} epochs in {recipe[-1][0]:.1f} s, final test MSE {target:.4f}")

    _, ours = run_helpers(train, test)
    ours_time = time_to_reach(ours, target)
    print(f"helpers: {len(ours)} epochs in {ours[-1][0]:.1f} s, final test MSE {ours[-1][1]:.4f}")
    ratio = recipe_time / ours_time
    print(f"time to reach the recipe's final test MSE {target:.4f}: recipe {recipe_time:.1f} s, "
          f"helpers {ours_time:.1f} s -> {ratio:.1f}x faster")
    result = dict(
        data=args.data, recipe_seconds=recipe_time, recipe_total_seconds=recipe[-1][0], recipe_final_test_mse=target,
        helpers_seconds_to_target=ours_time, helpers_total_seconds=ours[-1][0], helpers_final_test_mse=ours[-1][1],
        speedup=ratio,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if np.isfinite(ratio) else 1


if __name__ == "__main__":
    sys.exit(main())
