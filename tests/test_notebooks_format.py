"""The committed notebooks: both editions generated from the .py source, free of outputs,
structured as a class (objectives, exercises with proven self-checks, takeaways), within one
class's length, with the science checks out of the reader's way.

(Executing the instructor edition is nbval's job: pytest collects notebooks/*.ipynb with
--nbval-lax. tests/test_student_edition.py executes the student edition.)
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
STUDENT = ROOT / "student"
EXPECTED = [
    "01_generation_problem",
    "02_encoder_decoder",
    "03_elbo",
    "04_beta",
    "05_reparameterization",
    "06_polymer_case_study",
    "07_property_optimization",
    "08_valid_generation",
    "09_diffusion",
]
COLAB_MARKER = 'if "google.colab" in sys.modules:'


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _load("sync_notebooks")
course_stats = _load("course_stats")


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def test_every_notebook_has_a_source_and_two_editions():
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")) == EXPECTED
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) == EXPECTED
    assert sorted(p.stem for p in STUDENT.glob("*.ipynb")) == EXPECTED


def test_editions_in_sync():
    """Both editions have exactly the cells their .py source gives (text, tags, collapsed)."""
    assert sync.stale() == [], "run `python scripts/sync_notebooks.py`"


def test_course_metadata_lists_every_notebook_in_order():
    """course.toml: one entry per notebook, with a title, a heading and a one-line description."""
    meta = sync.course_meta.load(ROOT)
    assert [n["stem"] for n in meta["notebooks"]] == EXPECTED
    for n in meta["notebooks"]:
        assert n["title"] and n["heading"] and n["learn"] and "\n" not in n["learn"], n["stem"]


def test_stale_check_notices_metadata_that_the_sources_do_not_follow():
    """A title or repository changed in course.toml but not yet written into the sources and README."""
    meta = sync.course_meta.load(ROOT)
    moved = dict(meta, repository="someone/else")
    retitled = dict(meta, notebooks=[dict(meta["notebooks"][0], heading="Another title")] + meta["notebooks"][1:])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sync.course_meta.with_readme_table(readme, meta) == readme
    assert "someone/else" in sync.course_meta.with_readme_table(readme, moved)
    text = (NOTEBOOKS / f"{EXPECTED[0]}.py").read_text(encoding="utf-8")
    assert sync.stamp(text, EXPECTED[0], meta) == text
    moved_text = sync.stamp(text, EXPECTED[0], moved)
    assert moved_text.count("someone/else") == 3 and meta["repository"] not in moved_text  # Colab, Binder, install
    assert "# # 1 · Another title\n" in sync.stamp(text, EXPECTED[0], retitled)
    with pytest.raises(ValueError, match="launch line"):
        sync.stamp(text.replace("# Run it:", "# Open it:"), EXPECTED[0], meta)


def test_stale_check_notices_an_edited_source(tmp_path):
    src = NOTEBOOKS / f"{EXPECTED[0]}.py"
    copy = tmp_path / src.name
    copy.write_text(src.read_text() + "\n# %%\nprint('an extra cell')\n")
    for path, edited in sync.editions(copy).items():
        committed = nbformat.read(path, as_version=4)
        assert sync.cells(edited) != sync.cells(committed)


@pytest.mark.parametrize("folder", [NOTEBOOKS, STUDENT], ids=["instructor", "student"])
@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs_and_with_kernel(folder, name):
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: a cell carries outputs"
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), "duplicate cell ids"


@pytest.mark.parametrize("name", EXPECTED)
def test_student_edition_has_no_solutions_and_keeps_every_exercise(name):
    instructor = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    student = nbformat.read(STUDENT / f"{name}.ipynb", as_version=4)
    assert not any("solution" in _tags(c) for c in student.cells)
    kept = [c.source for c in instructor.cells if "solution" not in _tags(c)]
    kept[0] = kept[0].replace(f"notebooks/{name}.ipynb", f"student/{name}.ipynb")
    assert kept == [c.source for c in student.cells]
    for c in instructor.cells:
        if _tags(c) & sync.COLLAPSED:
            assert c.metadata["jupyter"]["source_hidden"], "solutions and checks open collapsed"
    assert f"student/{name}.ipynb" in student.cells[0].source, "the student edition's launch links open itself"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_structure(name):
    """Title, objectives, launch links, Colab-only install, takeaways."""
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    first = nb.cells[0]
    entry = sync.course_meta.notebook(sync.course_meta.load(ROOT), name)
    assert first.cell_type == "markdown" and first.source.startswith(f"# {int(name[:2])} · {entry['heading']}\n")
    assert "learning objectives" in first.source.lower()
    assert "colab.research.google.com" in first.source and "mybinder.org" in first.source
    assert f"notebooks/{name}.ipynb" in first.source
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert COLAB_MARKER in install.source, "the first code cell must install the bundle on Colab only"
    assert "-e" not in install.source.split(), "Colab needs a non-editable install"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^## Key takeaways", markdown, re.M), "no key takeaways"
    assert "q_\\phi" in markdown or name in ("01_generation_problem", "05_reparameterization")


@pytest.mark.parametrize("name", EXPECTED)
def test_every_exercise_has_a_placeholder_a_self_check_and_a_proven_solution(name):
    """After each "### Exercise" heading: an exercise cell, a one-line self-check calling its check
    in ``helpers.exercises`` (``exercises.check_...(answer)``), and a solution that calls the same
    check (so nbval proves the check accepts it; tests/test_exercises_NN.py runs its misconception table)."""
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    headings = [
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and re.search(r"^### Exercise", c.source, re.M)
    ]
    assert headings, "no exercise"
    for start, end in zip(headings, headings[1:] + [len(cells)]):
        title = re.search(r"^### (Exercise[^\n]*)", cells[start].source, re.M).group(1)
        block = cells[start + 1 : end]
        kinds = [next(iter(_tags(c) & {"exercise", "self-check", "solution"}), None) for c in block]
        assert "exercise" in kinds, f"{title}: no cell tagged exercise"
        assert "self-check" in kinds, f"{title}: no cell tagged self-check"
        assert "solution" in kinds, f"{title}: no cell tagged solution"
        assert kinds.index("exercise") < kinds.index("self-check") < kinds.index("solution"), title
        check = block[kinds.index("self-check")].source.strip()
        solution = "\n".join(c.source for c, k in zip(block, kinds) if k == "solution")
        called = re.fullmatch(r"exercises\.(check_\w+)\(.*\);?", check)
        assert called and "\n" not in check, f"{title}: the self-check must be one line, exercises.check_...(answer)"
        assert f"exercises.{called.group(1)}(" in solution, f"{title}: the solution must call {called.group(1)}"


def _top_level_names(source: str) -> set[str]:
    """Names a code cell binds at top level (assignments, def, class, import)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _names_read(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("name", EXPECTED)
def test_exercise_cells_define_only_the_answer(name):
    """A student may replace an exercise cell wholesale: apart from the answer its self-check is
    given, nothing it defines may be read by a later cell (the notebook would raise NameError)."""
    cells = [c for c in jupytext.read(NOTEBOOKS / f"{name}.py").cells if c.cell_type == "code"]
    for i, cell in enumerate(cells):
        if "exercise" not in _tags(cell):
            continue
        check = next(c for c in cells[i + 1 :] if "self-check" in _tags(c))
        extra = _top_level_names(cell.source) - _names_read(check.source)
        later = [c for c in cells[i + 1 :] if not _tags(c) & {"exercise", "solution"}]
        read_later = extra & set().union(*(_names_read(c.source) for c in later))
        assert not read_later, (
            f"exercise cell {cell.source[:60]!r}... defines {sorted(read_later)}, read by later cells"
        )


@pytest.mark.parametrize("name", EXPECTED)
def test_science_checks_are_out_of_the_readers_way(name):
    """No visible code cell asserts; the prose claims are checked in collapsed check cells."""
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    for c in cells:
        if c.cell_type == "code" and not _tags(c) & sync.COLLAPSED:
            assert not re.search(r"^\s*assert\b", c.source, re.M), f"a visible cell asserts:\n{c.source}"
    checks = "\n".join(c.source for c in cells if "check" in _tags(c))
    assert len(re.findall(r"\bclaim\(", checks)) >= 3, "too few checks of the text's claims"


@pytest.mark.parametrize("name", EXPECTED)
def test_one_class_per_notebook(name):
    words, lines = course_stats.stats(NOTEBOOKS / f"{name}.py")
    assert words <= course_stats.MAX_WORDS, f"{words} words of prose"
    assert lines <= course_stats.MAX_CODE_LINES, f"{lines} lines of visible code"
