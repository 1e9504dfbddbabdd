"""Kernel-side cost of one slider event in the latent and beta explorers.

An event is what the front end triggers when a slider moves: the slider's value is set,
the observer decodes, moves the artists, blits them onto the cached background and
encodes the PNG shown in the ``ipywidgets.Image``. We time exactly that (setting
``slider.value``), stepping each slider through its range the way arrow keys do, and
report the median and 95th percentile per slider. The budget is a 40 ms median on a
2-core CPU. "beta (drawing a frame)" times a beta explorer built without prerendering, on
the first visit of each frame.

For comparison, "full redraw" times what an ``interact`` with the inline backend does per
event for the same figure: draw everything (the scatter of thousands of points included)
and save a PNG with ``bbox_inches="tight"``.

    python benchmarks/bench_widgets.py                 # 100 events per slider
    python benchmarks/bench_widgets.py --events 300 --json benchmarks/out/widgets.json
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import helpers
from helpers.widgets import BetaExplorer, LatentExplorer

from _common import add_output_options, finish, goals_table, table

ROOT = Path(__file__).resolve().parent.parent


def timed_events(slider, values) -> list[float]:
    """Set ``slider.value`` to each value in turn; seconds per event."""
    times = []
    for v in values:
        t0 = time.perf_counter()
        slider.value = v
        times.append(time.perf_counter() - t0)
    return times


def back_and_forth(lo, hi, step, n):
    """n slider values stepping by ``step`` from lo to hi and back, as repeated key presses do."""
    ramp = np.arange(lo, hi + step / 2, step)
    return np.resize(np.concatenate([ramp[1:], ramp[-2::-1]]), n).round(6).tolist()


def stats(times) -> dict:
    ms = 1e3 * np.asarray(times)
    return {
        "events": len(ms),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
    }


def full_redraw(fig, n=20) -> list[float]:
    """What inline matplotlib pays per event: draw the whole figure and save a tight PNG."""
    for artist in fig.findobj(lambda a: a.get_animated()):
        artist.set_animated(False)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="events per slider (default 100)")
    add_output_options(parser)
    args = parser.parse_args(argv)
    if args.events < 5:
        parser.error("--events must be at least 5")

    train, test = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
    model, _ = helpers.load_pretrained()
    t0 = time.perf_counter()
    latent = LatentExplorer(model, train)
    latent_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    beta = BetaExplorer(test)
    beta_setup = time.perf_counter() - t0
    first_visits = BetaExplorer(test, prerender=False)

    n = args.events
    results = {
        "z1": stats(timed_events(latent.z1, back_and_forth(latent.z1.min, latent.z1.max, latent.z1.step, n))),
        "z2": stats(timed_events(latent.z2, back_and_forth(latent.z2.min, latent.z2.max, latent.z2.step, n))),
        "alpha": stats(timed_events(latent.alpha, back_and_forth(0.0, 1.0, latent.alpha.step, n))),
        "beta (cached frame)": stats(
            timed_events(beta.slider, np.resize(beta.betas[1:] + beta.betas[-2::-1], n).tolist())
        ),
        "beta (drawing a frame)": stats(
            timed_events(first_visits.slider, [b for b in first_visits.betas if b != first_visits.beta])
        ),
        "full redraw, latent figure": stats(full_redraw(latent.fig)),
        "full redraw, beta figure": stats(full_redraw(beta.fig)),
    }
    report = {
        "results": results,
        "setup_seconds": {"LatentExplorer": latent_setup, "BetaExplorer (prerendered)": beta_setup},
        "image_bytes": {"latent": len(latent.png), "beta": len(beta.png)},
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": os.getloadavg()[0],
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    print(f"{'slider':<28}{'median':>10}{'p95':>10}{'max':>10}   (ms per event, n)")
    for name, r in results.items():
        print(f"{name:<28}{r['median_ms']:>10.1f}{r['p95_ms']:>10.1f}{r['max_ms']:>10.1f}   n={r['events']}")
    print(
        f"setup: LatentExplorer {latent_setup:.2f} s, BetaExplorer {beta_setup:.2f} s; "
        f"PNG {len(latent.png) / 1e3:.0f} kB / {len(beta.png) / 1e3:.0f} kB; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    budget = max(results[k]["median_ms"] for k in ("z1", "z2", "alpha", "beta (cached frame)"))
    print(f"slowest slider median {budget:.1f} ms: {'within' if budget <= 40 else 'OVER'} the 40 ms budget")
    return finish(args, report, markdown(report))


def markdown(d: dict) -> str:
    """The Widget latency section of RESULTS.md (with the browser test's last latencies, if any)."""
    res = d["results"]
    sliders = {k: v for k, v in res.items() if not k.startswith("full redraw") and "drawing" not in k}
    slowest = max(v["median_ms"] for v in sliders.values())
    lines = ["## Widget latency", ""] + goals_table(
        [["kernel-side work per slider event", "median <= 40 ms", f"slowest slider {slowest:.1f} ms", slowest <= 40]]
    )
    lines += [
        "Kernel-side work per event: set the slider, decode, move the artists, encode the PNG. "
        '"Full redraw" is what a plain `interact` with inline matplotlib pays per event for the '
        "same figure.",
        "",
    ]
    lines += table(
        ["slider", "median", "p95", "max", "events"],
        [
            [k, f"{v['median_ms']:.1f} ms", f"{v['p95_ms']:.1f} ms", f"{v['max_ms']:.1f} ms", v["events"]]
            for k, v in res.items()
        ],
    )
    browser = sorted((ROOT / "test-artifacts").glob("*-latency.json"))
    if browser:
        lines += [
            "Key press to new image in headless Chromium, from the last run of `tests/test_browser.py` "
            "(not re-measured by this script; goal: median <= 100 ms):",
            "",
        ]
        rows = []
        for p in browser:
            b = json.loads(p.read_text())
            when = datetime.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            rows.append(
                [b.get("slider", p.stem), b.get("notebook", ""), f"{b['median_ms']:.1f} ms", b.get("presses", ""), when]
            )
        lines += table(["slider", "notebook", "median", "presses", "measured"], rows)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
