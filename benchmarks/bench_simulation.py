"""Simulation speed and ensemble: ``helpers.simulate_polymer`` and its on-disk cache.

* Speed: frames per second of ``simulate_polymer(n_frames, cache=False)`` at the default
  10,000 frames (goal: 10,000 frames in at most 5 s on a 2-core CPU); best and median of
  ``--repeats`` runs.
* Ensemble of the default data: radius of gyration range (min, max, max/min; goal >= 2.5)
  and mean bond length (rest length 1 bead diameter).
* Cache: ``helpers.load_paths()`` into an empty temporary cache folder (``POLYMER_VAE_CACHE``;
  simulate and write) against the second, cached call (read the .npy file).

    python benchmarks/bench_simulation.py               # 10,000 frames, 3 repeats
    python benchmarks/bench_simulation.py --quick       # 2,000 frames, 1 repeat
    python benchmarks/bench_simulation.py --json out.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import helpers

from _common import add_output_options, finish, goals_table, table


def timed(function, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames per run (default: 10,000, the default data)")
    parser.add_argument("--repeats", type=int, default=3, help="uncached runs to time (default: 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 frames, 1 repeat")
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.repeats = 2_000, 1

    seconds = []
    for _ in range(args.repeats):
        frames, s = timed(helpers.simulate_polymer, args.frames, cache=False)
        seconds.append(s)
    best, median = min(seconds), statistics.median(seconds)
    goal = "goal: 10,000 frames in <= 5 s" if args.frames == 10_000 else "the 5 s goal is for 10,000 frames"
    print(
        f"simulate_polymer({args.frames}, cache=False): best {best:.2f} s, median {median:.2f} s "
        f"of {args.repeats} -> {args.frames / best:,.0f} frames/s ({goal})"
    )

    rg = helpers.radius_of_gyration(frames)
    bonds = helpers.bond_lengths(frames)
    print(
        f"radius of gyration {rg.min():.2f} to {rg.max():.2f} bead diam. (max/min {rg.max() / rg.min():.2f}; goal >= 2.5), "
        f"mean bond length {bonds.mean():.3f} bead diam. (std {bonds.std():.3f})"
    )

    with tempfile.TemporaryDirectory(prefix="polymer-vae-bench-") as cache:
        os.environ["POLYMER_VAE_CACHE"] = cache
        cold_frames, cold = timed(helpers.load_paths, n_frames=args.frames)
        warm_frames, warm = timed(helpers.load_paths, n_frames=args.frames)
        cache_bytes = sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache))
    if not np.array_equal(cold_frames, warm_frames):
        print("ERROR: the cached frames differ from the simulated ones")
        return 1
    print(
        f"load_paths(): cold (simulate + write) {cold:.2f} s, cached {1000 * warm:.1f} ms "
        f"-> {cold / warm:,.0f}x; cache file {cache_bytes / 1e6:.1f} MB"
    )

    result = dict(
        frames=args.frames,
        repeats=args.repeats,
        quick=args.quick,
        seconds=seconds,
        best_seconds=best,
        median_seconds=median,
        frames_per_second=args.frames / best,
        rg_min=float(rg.min()),
        rg_max=float(rg.max()),
        rg_ratio=float(rg.max() / rg.min()),
        bond_mean=float(bonds.mean()),
        bond_std=float(bonds.std()),
        cold_load_seconds=cold,
        cached_load_seconds=warm,
        cache_speedup=cold / warm,
        cache_file_bytes=cache_bytes,
    )
    return finish(args, result, markdown(result))


def markdown(d: dict) -> str:
    """The Simulation section of RESULTS.md."""
    full = d["frames"] == 10_000  # the goals are stated for the default 10,000 frames
    goals = [
        [
            "10,000 frames",
            "<= 5 s",
            f"{d['best_seconds']:.2f} s for {d['frames']:,} frames",
            d["best_seconds"] <= 5 if full else None,
        ],
        [
            "R_g range of the default data",
            "max/min >= 2.5",
            f"{d['rg_ratio']:.3f} ({d['frames']:,} frames)",
            d["rg_ratio"] >= 2.5 if full else None,
        ],
    ]
    lines = (
        ["## Simulation", ""]
        + goals_table(goals)
        + table(
            ["measure", "value"],
            [
                [
                    f"`simulate_polymer({d['frames']:,}, cache=False)`",
                    f"best {d['best_seconds']:.2f} s, median {d['median_seconds']:.2f} s of {d['repeats']}",
                ],
                ["frames per second", f"{d['frames_per_second']:,.0f}"],
                [
                    "radius of gyration",
                    f"{d['rg_min']:.2f} to {d['rg_max']:.2f} bead diam. (max/min {d['rg_ratio']:.3f})",
                ],
                [
                    "bond length",
                    f"mean {d['bond_mean']:.3f} bead diam., std {d['bond_std']:.3f} bead diam. (rest length 1)",
                ],
                ["`load_paths()` cold: simulate + write the cache", f"{d['cold_load_seconds']:.2f} s"],
                [
                    "`load_paths()` cached",
                    f"{1000 * d['cached_load_seconds']:.1f} ms ({d['cache_speedup']:,.0f}x faster; "
                    f"file {d['cache_file_bytes'] / 1e6:.1f} MB)",
                ],
            ],
        )
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
