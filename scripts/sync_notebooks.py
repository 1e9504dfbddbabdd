"""Regenerate the .ipynb notebooks from their percent-format .py sources (the source of truth).

    python scripts/sync_notebooks.py           # write notebooks/*.ipynb from notebooks/*.py
    python scripts/sync_notebooks.py --check   # exit 1 if any pair differs (what the tests check)

Why not ``jupytext --sync``: it picks the newer file by timestamp and can silently overwrite
an edited .py with an older .ipynb. This script always goes .py -> .ipynb, keeps the cell ids
of cells that did not change (so diffs stay small), and writes no outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def cells(nb) -> list[tuple[str, str]]:
    """What a pair must agree on: each cell's type and source."""
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def notebook_from_source(py: Path):
    """The .ipynb content for ``py``: its cells, no outputs, the kernelspec set."""
    nb = jupytext.read(py)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    old = NOTEBOOKS / py.with_suffix(".ipynb").name
    old_ids = {}
    if old.exists():
        for c in nbformat.read(old, as_version=4).cells:
            old_ids.setdefault((c.cell_type, c.source), c.get("id"))
    kept = [old_ids.pop((c.cell_type, c.source), None) for c in nb.cells]
    used = {i for i in kept if i}
    for c, cell_id in zip(nb.cells, kept):
        # a new or edited cell gets a fresh id derived from its content, unique in the notebook
        salt = 0
        while not cell_id:
            candidate = hashlib.sha1(f"{salt}:{c.source}".encode()).hexdigest()[:8]
            cell_id = None if candidate in used else candidate
            salt += 1
        used.add(cell_id)
        c.id = cell_id
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report pairs that differ")
    args = parser.parse_args()
    bad = []
    for py in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")):
        ipynb = py.with_suffix(".ipynb")
        expected = notebook_from_source(py)
        if args.check:
            if not ipynb.exists() or cells(nbformat.read(ipynb, as_version=4)) != cells(expected):
                bad.append(ipynb.name)
            continue
        nbformat.validate(expected)
        tmp = ipynb.with_suffix(".ipynb.tmp")
        nbformat.write(expected, tmp)
        tmp.replace(ipynb)
        print(f"wrote {ipynb.relative_to(NOTEBOOKS.parent)}")
    if bad:
        print("out of sync (run python scripts/sync_notebooks.py):", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
