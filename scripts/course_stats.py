"""How long each notebook is for a student: words of prose and lines of visible code.

    python scripts/course_stats.py

One notebook is one 90-minute class: at most ~2,200 words of prose and ~300 lines of code that
a student sees. Cells tagged solution, self-check, check or helper are collapsed or removed in
the student edition and are not counted; blank lines are not counted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MAX_WORDS = 2200
MAX_CODE_LINES = 300
NOT_SEEN = {"solution", "self-check", "check", "helper"}


def stats(py: Path) -> tuple[int, int]:
    """(words of prose, visible lines of code) of the notebook source ``py``."""
    words = lines = 0
    for cell in jupytext.read(py).cells:
        if set(cell.metadata.get("tags", [])) & NOT_SEEN:
            continue
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
        elif cell.cell_type == "code":
            lines += sum(1 for line in cell.source.splitlines() if line.strip())
    return words, lines


def report() -> dict[str, tuple[int, int]]:
    return {py.stem: stats(py) for py in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))}


def main() -> int:
    rows = report()
    print(f"{'notebook':32s} {'words':>6s} {'code lines':>10s}   (limits {MAX_WORDS:,} and {MAX_CODE_LINES})")
    over = False
    for name, (words, lines) in rows.items():
        flag = "" if words <= MAX_WORDS and lines <= MAX_CODE_LINES else "  over the limit"
        over |= bool(flag)
        print(f"{name:32s} {words:6,d} {lines:10d}{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
