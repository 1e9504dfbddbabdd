"""The committed notebooks: paired with their .py source, free of outputs, ready to open.

(Executing them is nbval's job: pytest collects notebooks/*.ipynb with --nbval-lax.)
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_generation_problem",
    "02_encoder_decoder",
    "03_elbo",
    "04_reparameterization",
    "05_polymer_case_study",
    "06_property_optimization",
]
COLAB_MARKER = 'if "google.colab" in sys.modules:'

_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)


def test_all_six_notebooks_exist_as_pairs():
    py = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    ipynb = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert py == EXPECTED
    assert ipynb == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_pair_in_sync(name):
    """The .ipynb has exactly the cells of the .py source (type and text)."""
    expected = sync.notebook_from_source(NOTEBOOKS / f"{name}.py")
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert sync.cells(committed) == sync.cells(expected), (
        f"{name}.ipynb differs from {name}.py: run `python scripts/sync_notebooks.py`"
    )


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs_and_with_kernel(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell carries outputs"
        assert cell.execution_count is None
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), "duplicate cell ids"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_structure(name):
    """Title, objectives, launch links, Colab-only install, exercises, takeaways, asserts."""
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {int(name[:2])} ")
    assert "learning objectives" in first.source.lower()
    assert "colab.research.google.com" in first.source and "mybinder.org" in first.source
    assert f"notebooks/{name}.ipynb" in first.source
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert COLAB_MARKER in install.source, "the first code cell must install the bundle on Colab only"
    assert "-e" not in install.source.split(), "Colab needs a non-editable install"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^### Exercise", markdown, re.M), "no exercise"
    assert re.search(r"^## Key takeaways", markdown, re.M), "no key takeaways"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert len(re.findall(r"^\s*assert ", code, re.M)) >= 3, "too few science checks"
    assert "q_\\phi" in markdown or name == "01_generation_problem" or name == "04_reparameterization"


def test_sync_script_detects_a_difference(tmp_path, monkeypatch):
    """The check the tests rely on must notice an edited source."""
    src = NOTEBOOKS / f"{EXPECTED[0]}.py"
    copy = tmp_path / src.name
    copy.write_text(src.read_text() + "\n# %%\nprint('an extra cell')\n")
    monkeypatch.setattr(sync, "NOTEBOOKS", NOTEBOOKS)
    edited = sync.notebook_from_source(copy)
    committed = nbformat.read(NOTEBOOKS / f"{EXPECTED[0]}.ipynb", as_version=4)
    assert sync.cells(edited) != sync.cells(committed)
