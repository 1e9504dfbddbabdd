"""Simulation speed and ensemble: ``helpers.simulate_polymer`` and its on-disk cache.

* Speed: frames per second of ``simulate_polymer(n_frames, cache=False)`` at the default
  10,000 frames (goal: 10,000 frames in at most 5 s on a 2-core CPU); best and median of
  ``--repeats`` runs.
* Ensemble of the default data: radius of gyration range (min, max, max/min; goal >= 2.5)
  and mean bond length (rest length 1 σ).
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
from _common import write_json


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
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.repeats = 2_000, 1

    seconds = []
    for _ in range(args.repeats):
        frames, s = timed(helpers.simulate_polymer, args.frames, cache=False)
        seconds.append(s)
    best, median = min(seconds), statistics.median(seconds)
    goal = "goal: 10,000 frames in <= 5 s" if args.frames == 10_000 else "the 5 s goal is for 10,000 frames"
    print(f"simulate_polymer({args.frames}, cache=False): best {best:.2f} s, median {median:.2f} s "
          f"of {args.repeats} -> {args.frames / best:,.0f} frames/s ({goal})")

    rg = helpers.radius_of_gyration(frames)
    bonds = helpers.bond_lengths(frames)
    print(f"radius of gyration {rg.min():.2f} to {rg.max():.2f} σ (max/min {rg.max() / rg.min():.2f}; goal >= 2.5), "
          f"mean bond length {bonds.mean():.3f} σ (std {bonds.std():.3f})")

    with tempfile.TemporaryDirectory(prefix="polymer-vae-bench-") as cache:
        os.environ["POLYMER_VAE_CACHE"] = cache
        cold_frames, cold = timed(helpers.load_paths, n_frames=args.frames)
        warm_frames, warm = timed(helpers.load_paths, n_frames=args.frames)
        cache_bytes = sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache))
    if not np.array_equal(cold_frames, warm_frames):
        print("ERROR: the cached frames differ from the simulated ones")
        return 1
    print(f"load_paths(): cold (simulate + write) {cold:.2f} s, cached {1000 * warm:.1f} ms "
          f"-> {cold / warm:,.0f}x; cache file {cache_bytes / 1e6:.1f} MB")

    result = dict(
        frames=args.frames, repeats=args.repeats, quick=args.quick,
        seconds=seconds, best_seconds=best, median_seconds=median, frames_per_second=args.frames / best,
        rg_min=float(rg.min()), rg_max=float(rg.max()), rg_ratio=float(rg.max() / rg.min()),
        bond_mean=float(bonds.mean()), bond_std=float(bonds.std()),
        cold_load_seconds=cold, cached_load_seconds=warm, cache_speedup=cold / warm, cache_file_bytes=cache_bytes,
    )
    if args.json:
        write_json(args.json, result)
    return 0



if __name__ == "__main__":
    sys.exit(main())
