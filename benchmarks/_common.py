"""Shared by the benchmark scripts: Markdown tables and the common end of their ``main()``.

Every ``bench_*.py`` ends by printing its section of RESULTS.md: Markdown from a line
``## Title`` to the end of its output (``run_all.py`` collects these). Most also accept
``--json FILE`` for their numbers and end ``main()`` with
``return finish(args, result, markdown(result))``.
"""

from __future__ import annotations

import argparse
import json

from helpers._io import atomic_write


def num(x, digits=2, unit="") -> str:
    """``x`` with ``digits`` decimals and thousands separators, or "n/a" for None."""
    return "n/a" if x is None else f"{x:,.{digits}f}{unit}"


def table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table (lines, ending with a blank line)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]


def verdict(ok) -> str:
    """The status column of a goal: met, not met, or n/a (None: not measured in this run)."""
    return {True: "met", False: "**not met**", None: "n/a"}[ok]


def goals_table(goals: list[list]) -> list[str]:
    """Rows [what, goal, measured, met] as a Markdown table."""
    return table(
        ["goal", "target", "measured", "status"], [[what, goal, got, verdict(ok)] for what, goal, got, ok in goals]
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The ``--json FILE`` option."""
    parser.add_argument("--json", help="also write the numbers to this JSON file")


def finish(args, result: dict, markdown: str) -> int:
    """End a benchmark: write ``result`` to ``--json`` (atomically) if asked, print its Markdown section. Returns 0."""
    if args.json:
        atomic_write(args.json, lambda f: f.write((json.dumps(result, indent=2) + "\n").encode()))
    print("\n" + markdown, flush=True)
    return 0
