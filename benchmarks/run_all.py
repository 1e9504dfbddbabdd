"""Run every benchmark and write benchmarks/RESULTS.md: one command for all the numbers.

Each ``benchmarks/bench_*.py`` runs in a fresh Python process, one after the other (none
inherits another's caches, threads or memory). Its output is shown as it comes and ends with
its section of RESULTS.md (Markdown from its ``## Title`` line on). RESULTS.md is the machine
description followed by those sections, replaced atomically at the end. A final section headed
``## Measurements by hand`` (one-off comparisons that no script repeats) is carried over.

    python benchmarks/run_all.py                     # everything (about 30 minutes on 2 idle cores)
    python benchmarks/run_all.py --quick             # smoke run with reduced settings
    python benchmarks/run_all.py --only training     # one benchmark, bench_training.py (repeatable)

Machines are noisy and shared: compare the ratios measured within one run, not absolute
times across runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers._io import atomic_write

from _common import table

HANDMADE = "## Measurements by hand"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FULL = {"widgets": ["--events", "200"]}  # extra arguments of a full run (default: none)
QUICK = {
    "simulation": ["--quick"],
    "training": ["--quick"],
    "widgets": ["--events", "20"],
    "notebooks": ["--quick"],
    "robustness": ["--only", "01", "--capabilities", "default", "--offsets", "0"],
    "heldout": ["--seeds", "1"],
}


def run(name: str, args: list[str], timeout: float) -> str:
    """Run bench_<name>.py in a fresh process, echoing its output; return its Markdown section."""
    command = [f"benchmarks/bench_{name}.py", *args]
    shown = shlex.join(["python", *command])
    print(f"\n=== {shown}", flush=True)
    start, lines = time.perf_counter(), []
    # a session of its own, so that a timeout or Ctrl-C also ends the benchmark's kernels
    proc = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        start_new_session=True,
    )
    timer = threading.Timer(timeout, os.killpg, [proc.pid, signal.SIGTERM])
    timer.start()
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    footer = f"`{shown}`: {time.perf_counter() - start:.0f} s in all.\n"
    heading = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    if proc.returncode != 0 or heading is None:
        return f"## {name}\n\n**Failed** (exit code {proc.returncode}): see its output.\n\n{footer}"
    return "".join(lines[heading:]).rstrip() + "\n\n" + footer


def machine() -> list[list[str]]:
    """Rows (what, value) describing the machine and the versions that matter for the numbers."""
    import numpy
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor()
    )
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return [
        ["CPU", f"{cpu}, {os.cpu_count()} logical cores"],
        ["load average at start (1, 5, 15 min)", ", ".join(f"{x:.1f}" for x in os.getloadavg())],
        ["OS, Python", f"{platform.platform()}, {platform.python_version()}"],
        ["torch, numpy", f"{torch.__version__} ({torch.get_num_threads()} threads), {numpy.__version__}"],
        ["repository", git.stdout.strip() or "unknown"],
        ["date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")],
    ]


def main(argv=None) -> int:
    names = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], choices=names, help="repeatable")
    parser.add_argument("--quick", action="store_true", help="smoke run with reduced settings")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per benchmark (default: 3600)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="default: benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    command = shlex.join(["python", "benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    sections = [
        "# Benchmark results",
        "",
        f"Produced by `{command}`. Each benchmark ran in a fresh Python process, "
        "one after the other; the machine may have been shared: compare the ratios within this run rather "
        "than absolute times across runs.",
        "",
    ]
    if args.quick:
        sections += ["> **Smoke run (`--quick`)**: reduced settings; these numbers do not measure the goals.", ""]
    sections += ["## Machine", ""] + table(["", ""], machine())
    for name in names:
        if not args.only or name in args.only:
            sections.append(run(name, (QUICK if args.quick else FULL).get(name, []), args.timeout))
    old = args.output.read_text() if args.output.exists() else ""
    if HANDMADE in old:
        sections.append(old[old.index(HANDMADE) :])
    atomic_write(args.output, lambda f: f.write("\n".join(sections).encode()))
    failed = [s.split("\n")[0] for s in sections if "**Failed**" in s]
    print(f"\nwrote {args.output}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
