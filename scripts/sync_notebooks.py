"""Write both editions of every notebook from its percent-format .py source (the only source).

    python scripts/sync_notebooks.py           # write notebooks/*.ipynb and student/*.ipynb
    python scripts/sync_notebooks.py --check   # exit 1 if anything below is stale (what the tests check)

From course.toml (scripts/course_meta.py) it first writes what the course's metadata decides:
each .py source's title line (``# N · heading``), the launch links at the end of its first cell
and the repository in its Colab install cell, and README's notebook table (between its markers).

Editions
    instructor  notebooks/NN_name.ipynb: every cell; solutions and checks collapsed.
    student     student/NN_name.ipynb:   cells tagged "solution" removed, launch links to
                itself; no outputs.

Cell tags (on the ``# %%`` line of the .py, e.g. ``# %% tags=["solution"]``):
    exercise     the cell a student edits; it holds a placeholder
    self-check   judges the exercise with helpers.selfcheck.verdict (source collapsed)
    solution     the instructor's solution: only in the instructor edition (source collapsed)
    check        checks a claim of the text with helpers.selfcheck.claim (source collapsed)
    helper       plotting or set-up code that is not the lesson (source collapsed)

Why not ``jupytext --sync``: it picks the newer file by timestamp and can silently overwrite
an edited .py with an older .ipynb. This script always goes .py -> .ipynb, keeps the cell ids
of cells that did not change (so diffs stay small), and writes no outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_meta  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
STUDENT = ROOT / "student"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
COLLAPSED = {"self-check", "solution", "check", "helper"}
INSTRUCTOR_ONLY = {"solution"}
TAGS = {"exercise"} | COLLAPSED


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def cells(nb) -> list[tuple]:
    """What an edition must agree on: each cell's type, source, tags and collapsed state."""
    return [
        (
            c.cell_type,
            c.source.strip(),
            sorted(tags(c)),
            bool(c.get("metadata", {}).get("jupyter", {}).get("source_hidden")),
        )
        for c in nb.cells
    ]


def _keep_ids(nb, old_path: Path) -> None:
    """Reuse the ids of unchanged cells from ``old_path``; give new cells content-derived ids."""
    old_ids = {}
    if old_path.exists():
        for c in nbformat.read(old_path, as_version=4).cells:
            old_ids.setdefault((c.cell_type, c.source), c.get("id"))
    kept = [old_ids.pop((c.cell_type, c.source), None) for c in nb.cells]
    used = {i for i in kept if i}
    for c, cell_id in zip(nb.cells, kept):
        salt = 0
        while not cell_id:
            candidate = hashlib.sha1(f"{salt}:{c.source}".encode()).hexdigest()[:8]
            cell_id = None if candidate in used else candidate
            salt += 1
        used.add(cell_id)
        c.id = cell_id


# what course.toml decides in a .py source: (what, pattern, replacement(meta, entry, stem))
STAMPS = [
    (
        "title line '# # N · heading'",
        re.compile(r"^# # \d+ · .*$", re.M),
        lambda meta, entry, stem: "# " + course_meta.heading_line(entry),
    ),
    (
        "launch line '# Run it: ...'",
        re.compile(r"^# Run it: .*$", re.M),
        lambda meta, entry, stem: "# " + course_meta.launch_line(meta, f"notebooks/{stem}.ipynb"),
    ),
    (
        "Colab install of 'git+https://github.com/OWNER/NAME'",
        re.compile(r"git\+https://github\.com/[^\s\"']+"),
        lambda meta, entry, stem: course_meta.install_url(meta),
    ),
]


def stamp(text: str, stem: str, meta: dict | None = None) -> str:
    """The .py source ``text`` of notebook ``stem`` with its title line, launch links and Colab
    install as course.toml has them (each must occur exactly once)."""
    meta = meta or course_meta.load(ROOT)
    entry = course_meta.notebook(meta, stem)
    for what, pattern, new in STAMPS:
        found = pattern.findall(text)
        if len(found) != 1:
            raise ValueError(f"{stem}.py: expected one {what} (written from course.toml), found {len(found)}")
        replacement = new(meta, entry, stem)
        text = pattern.sub(lambda _, r=replacement: r, text)
    return text


def editions(py: Path) -> dict[Path, nbformat.NotebookNode]:
    """{path: notebook} for the instructor and the student edition of ``py``, without outputs."""
    nb = jupytext.reads(stamp(py.read_text(encoding="utf-8"), py.stem), fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for c in nb.cells:
        unknown = tags(c) - TAGS
        if unknown:
            raise ValueError(f"{py.name}: unknown cell tag(s) {sorted(unknown)}; expected some of {sorted(TAGS)}")
        if tags(c) & COLLAPSED:
            c.metadata.setdefault("jupyter", {})["source_hidden"] = True
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    student = nbformat.reads(nbformat.writes(nb), as_version=4)
    student.cells = [c for c in student.cells if not tags(c) & INSTRUCTOR_ONLY]
    # the launch links of the student edition open the student edition
    student.cells[0].source = student.cells[0].source.replace(f"notebooks/{py.stem}.ipynb", f"student/{py.stem}.ipynb")
    out = {NOTEBOOKS / f"{py.stem}.ipynb": nb, STUDENT / f"{py.stem}.ipynb": student}
    for path, edition in out.items():
        _keep_ids(edition, path)
    return out


def sources() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def stale() -> list[str]:
    """Sources and README out of step with course.toml, editions that are missing or differ from
    their source, and editions without a source."""
    meta = course_meta.load(ROOT)
    bad = [
        f"course.toml: {n['stem']} (no source)"
        for n in meta["notebooks"]
        if not (NOTEBOOKS / f"{n['stem']}.py").exists()
    ]
    for py in sources():
        text = py.read_text(encoding="utf-8")
        if stamp(text, py.stem, meta) != text:
            bad.append(f"{py.relative_to(ROOT)} (title or launch links differ from course.toml)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if course_meta.with_readme_table(readme, meta) != readme:
        bad.append("README.md (notebook table differs from course.toml)")
    expected_paths = set()
    for py in sources():
        for path, expected in editions(py).items():
            expected_paths.add(path)
            if not path.exists() or cells(nbformat.read(path, as_version=4)) != cells(expected):
                bad.append(str(path.relative_to(ROOT)))
    for folder in (NOTEBOOKS, STUDENT):
        bad += [f"{p.relative_to(ROOT)} (no source)" for p in folder.glob("*.ipynb") if p not in expected_paths]
    return bad


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
    print(f"wrote {path.relative_to(ROOT)}")


def write() -> None:
    meta = course_meta.load(ROOT)
    for py in sources():
        text = py.read_text(encoding="utf-8")
        if stamp(text, py.stem, meta) != text:
            _write_text(py, stamp(text, py.stem, meta))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if course_meta.with_readme_table(readme, meta) != readme:
        _write_text(ROOT / "README.md", course_meta.with_readme_table(readme, meta))
    STUDENT.mkdir(exist_ok=True)
    for py in sources():
        for path, nb in editions(py).items():
            nbformat.validate(nb)
            tmp = path.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            tmp.replace(path)
            print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report editions that are stale")
    args = parser.parse_args()
    if not args.check:
        write()
    bad = stale()
    if bad:
        print("out of sync (run python scripts/sync_notebooks.py):", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
