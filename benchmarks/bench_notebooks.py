"""Notebook execution time: each course notebook headless with a cold kernel, and the nbval run.

* Each ``notebooks/*.ipynb`` is executed top to bottom by nbclient in a fresh ``python3``
  kernel (started for that notebook alone, working directory ``notebooks/``), one after
  the other. The time includes starting the kernel. Goal: each under 60 s.
* The whole nbval run exactly as the test suite runs it, as a subprocess:
  ``python -m pytest notebooks/ --nbval-lax -n 2 --dist loadfile -p no:cacheprovider -o addopts=""``.
  Goal: all notebooks under 3 minutes.

Both run offline, as in the test suite: tests/offline is put on PYTHONPATH, so its
``sitecustomize.py`` makes any network access fail in every kernel.
Notebooks that fail are reported with the error, not hidden; the script itself only fails
when it cannot run at all.

    python benchmarks/bench_notebooks.py                  # every notebook, then nbval
    python benchmarks/bench_notebooks.py --only 05        # notebooks whose name contains "05"
    python benchmarks/bench_notebooks.py --quick          # the first notebook only, no nbval
    python benchmarks/bench_notebooks.py --no-nbval --json out.json
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from _common import add_output_options, finish, goals_table, table

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NBVAL_ARGS = [
    "-m",
    "pytest",
    "notebooks/",
    "--nbval-lax",
    "-n",
    "2",
    "--dist",
    "loadfile",
    "-p",
    "no:cacheprovider",
    "-o",
    "addopts=",
]
NBVAL_SHOWN = 'python -m pytest notebooks/ --nbval-lax -n 2 --dist loadfile -p no:cacheprovider -o addopts=""'
GOAL_EACH, GOAL_TOTAL = 60.0, 180.0
OFFLINE = ROOT / "tests" / "offline"  # sitecustomize.py there blocks the network in each kernel


def run_notebook(path: Path, timeout: float) -> dict:
    """Execute one notebook in a new kernel; return its wall time, cell count and any error."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    error = None
    try:
        client.execute()  # starts a fresh kernel and shuts it down at the end
    except (CellExecutionError, CellTimeoutError) as err:
        lines = [line for line in str(err).splitlines() if line.strip()]
        error = lines[-1] if lines else type(err).__name__
    seconds = time.perf_counter() - start
    n_code = sum(cell.cell_type == "code" for cell in nb.cells)
    return dict(notebook=path.name, seconds=seconds, code_cells=n_code, ok=error is None, error=error)


def run_nbval(timeout: float) -> dict:
    """The test suite's nbval command over notebooks/, timed as one subprocess."""
    command = [sys.executable, *NBVAL_ARGS]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        output, returncode = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired:
        output, returncode = f"timed out after {timeout:.0f} s", None
    seconds = time.perf_counter() - start
    lines = output.strip().splitlines() or [""]
    summary = [line.strip("= ") for line in lines if re.search(r"\b(passed|failed|error|no tests ran)\b", line)]
    return dict(
        command=NBVAL_SHOWN, seconds=seconds, returncode=returncode, ok=returncode == 0, summary=(summary or lines)[-1]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only notebooks whose file name contains this (repeatable); skips nbval",
    )
    parser.add_argument("--no-nbval", action="store_true", help="skip the whole nbval run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per cell (default: 600)")
    parser.add_argument(
        "--nbval-timeout", type=float, default=1200, help="seconds allowed for the nbval run (default: 1200)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: the first notebook only, no nbval")
    add_output_options(parser)
    args = parser.parse_args(argv)
    # inherited by the kernels and by pytest
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(OFFLINE), os.environ.get("PYTHONPATH")) if p)

    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(s in p.name for s in args.only)]
    if args.quick:
        paths = paths[:1]
    if not paths:
        print(f"no notebooks to run in {NOTEBOOKS} (found: {sorted(p.name for p in NOTEBOOKS.glob('*.ipynb'))})")

    notebooks = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        r = run_notebook(path, args.timeout)
        notebooks.append(r)
        status = "ok" if r["ok"] else f"FAILED: {r['error']}"
        print(
            f"  {r['seconds']:6.1f} s  {r['code_cells']} code cells  {status}"
            f"{'  (over the 60 s goal)' if r['seconds'] > GOAL_EACH else ''}",
            flush=True,
        )
    total = sum(r["seconds"] for r in notebooks)
    if notebooks:
        slowest = max(notebooks, key=lambda r: r["seconds"])
        print(
            f"{len(notebooks)} notebook(s) one after the other: {total:.1f} s; slowest {slowest['notebook']} "
            f"{slowest['seconds']:.1f} s (goals: each < {GOAL_EACH:.0f} s, all < {GOAL_TOTAL:.0f} s)"
        )

    nbval = None
    if not (args.no_nbval or args.quick or args.only):
        print("running the nbval suite ...", flush=True)
        nbval = run_nbval(args.nbval_timeout)
        print(f"nbval: {nbval['seconds']:.1f} s, {nbval['summary']}", flush=True)

    result = dict(
        notebooks=notebooks,
        total_seconds=total,
        n_notebooks=len(notebooks),
        all_notebooks=sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")),
        goal_each_seconds=GOAL_EACH,
        goal_total_seconds=GOAL_TOTAL,
        nbval=nbval,
        quick=args.quick,
    )
    return finish(args, result, markdown(result))


def markdown(d: dict) -> str:
    """The Notebook execution section of RESULTS.md."""
    present, goals = len(d["all_notebooks"]), []
    rows = [
        [
            f"`{r['notebook']}`",
            r["code_cells"],
            f"{r['seconds']:.1f} s",
            "ok" if r["ok"] else f"**failed**: {r['error']}",
        ]
        for r in d["notebooks"]
    ]
    lines = [
        "Each notebook top to bottom in a fresh `python3` kernel (nbclient, cwd `notebooks/`, kernel start "
        "included), one after the other.",
        "",
    ]
    lines += table(["notebook", "code cells", "wall time", "status"], rows) if rows else ["No notebooks were run.", ""]
    if d["notebooks"]:
        slowest = max(d["notebooks"], key=lambda r: r["seconds"])
        lines += [
            f"One after the other: {d['total_seconds']:.1f} s for {d['n_notebooks']} of {present} notebook(s).",
            "",
        ]
        ok = all(r["ok"] for r in d["notebooks"]) and slowest["seconds"] < GOAL_EACH
        goals.append(
            [
                "each notebook (cold kernel)",
                f"< {GOAL_EACH:.0f} s",
                f"slowest {slowest['notebook']} {slowest['seconds']:.1f} s",
                ok if d["n_notebooks"] == present else None,
            ]
        )
    nbval = d.get("nbval")
    if nbval:
        lines += [f"Whole nbval run, `{nbval['command']}`: **{nbval['seconds']:.1f} s**, {nbval['summary']}.", ""]
        goals.append(
            [
                "all notebooks through nbval",
                f"< {GOAL_TOTAL / 60:.0f} min",
                f"{nbval['seconds']:.1f} s ({present} notebooks)",
                nbval["ok"] and nbval["seconds"] < GOAL_TOTAL,
            ]
        )
    return "\n".join(["## Notebook execution", ""] + goals_table(goals) + lines)


if __name__ == "__main__":
    sys.exit(main())
