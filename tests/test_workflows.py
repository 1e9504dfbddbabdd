"""The GitHub tests workflow runs README's two commands where README promises they work.

It cannot run here (no GitHub runners); this checks what it would run: `.ci/run` on Linux, and
README's setup and test commands on macOS (Apple silicon) and Windows with Python 3.10 and 3.13.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "tests.yml"


def readme_commands() -> dict[str, str]:
    """README's setup and test commands, for POSIX shells and for Windows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    lines = [line.split("#")[0].strip() for line in block.splitlines()]
    windows = re.search(r"On Windows[^:]*: `([^`]+)`.*?and `([^`]+)`", readme, re.S)
    return {
        "setup": next(line for line in lines if "bootstrap.py" in line),
        "test": next(line for line in lines if "pytest" in line),
        "windows setup": windows.group(1),
        "windows test": windows.group(2),
    }


def run_lines(job: dict, os_name: str | None = None) -> list[str]:
    """The `run:` lines of a job's steps (for one runner OS, when steps are filtered by `if:`)."""
    lines = []
    for step in job["steps"]:
        condition = step.get("if", "")
        if os_name and condition and (("!= 'Windows'" in condition) == (os_name == "Windows")):
            continue
        if "run" in step:
            lines.append(step["run"].strip())
    return lines


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_readme_names_the_commands_the_workflow_must_run():
    commands = readme_commands()
    assert commands["setup"] == "python3 scripts/bootstrap.py"
    assert commands["test"] == ".venv/bin/python -m pytest"
    assert commands["windows setup"] == r"py -3 scripts\bootstrap.py"
    assert commands["windows test"].startswith(".venv\\Scripts\\")


def test_linux_runs_exactly_what_ci_runs(workflow):
    assert run_lines(workflow["jobs"]["linux"]) == ["bash .ci/run"]
    assert "ubuntu" in workflow["jobs"]["linux"]["runs-on"]


def test_macos_and_windows_run_readmes_two_commands_on_the_oldest_and_newest_python(workflow):
    job = workflow["jobs"]["macos-windows"]
    matrix = job["strategy"]["matrix"]
    assert "macos-14" in matrix["os"] and any(o.startswith("windows") for o in matrix["os"])  # macos-14: arm64
    assert {"3.10", "3.13"} <= set(map(str, matrix["python"]))
    commands = readme_commands()
    assert run_lines(job, "macOS") == [commands["setup"], commands["test"]]
    assert run_lines(job, "Windows") == [commands["windows setup"], ".venv\\Scripts\\python -m pytest"]
    # the py launcher must start the matrix's Python, not the newest one installed on the runner
    assert job["env"]["PY_PYTHON3"] == "${{ matrix.python }}"
