"""Packaging: the lock and the files generated from it, the course set, the newcomer's commands."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from helpers.checkpoints import PRETRAINED_SHA256

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
# what students never use: each must stay out of Binder's and conda's environments
TEST_TOOLS = {"pytest", "pytest-xdist", "hypothesis", "nbval", "playwright", "jupytext", "ruff", "uv"}


def _lock_script():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def requirement_names(path: Path) -> set[str]:
    """Every package named in a requirements file (options, comments and local paths skipped)."""
    lines = [line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return {_name(line) for line in lines if line and not line.startswith(("#", "-", "."))}


def conda_pip_names(path: Path) -> set[str]:
    """Every package that environment.yml installs, conda's and pip's."""
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep["pip"] if not r.startswith("-")}
        else:
            names.add(re.split(r"[=<>\s]", dep, maxsplit=1)[0].lower())
    return names


def groups() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {group: {_name(r) for r in reqs} for group, reqs in project["dependency-groups"].items()}


def test_binder_and_conda_hold_no_test_tools():
    """Binder and conda get the course set: no pytest, xdist, hypothesis, nbval, Playwright..."""
    assert TEST_TOOLS <= groups()["test"], "a test tool moved out of the test group"
    binder = requirement_names(ROOT / "binder" / "requirements.txt")
    conda = conda_pip_names(ROOT / "environment.yml")
    course = {"torch", "numpy", "matplotlib", "ipywidgets", "tqdm", "pillow", "jupyterlab", "ipykernel"}
    for label, names in (("binder/requirements.txt", binder), ("environment.yml", conda)):
        assert course <= names, f"{label} misses {sorted(course - names)}"
        assert not names & TEST_TOOLS, f"{label} installs test tools: {sorted(names & TEST_TOOLS)}"
        assert not names & {"pyee", "greenlet", "execnet", "iniconfig", "pluggy"}, f"{label}: test tools' dependencies"
    # README's setup installs the test tools, so that README's test command works right after it
    assert TEST_TOOLS | groups()["site"] <= requirement_names(ROOT / "requirements.txt")


def test_requirement_files_are_what_the_lock_gives():
    """requirements.txt, binder/requirements.txt and environment.yml are written from uv.lock, and
    uv.lock agrees with pyproject.toml (offline; `python scripts/lock.py` rewrites them)."""
    lock = _lock_script()
    pytest.importorskip("uv", reason="uv is installed by README's setup")
    assert lock.main(["--check"]) == 0


def test_lock_check_fails_on_an_edited_file_or_dependency(tmp_path):
    pytest.importorskip("uv", reason="uv is installed by README's setup")
    for name in (
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "requirements.txt",
        "environment.yml",
        "binder/requirements.txt",
        "binder/runtime.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    lock = _lock_script()
    assert lock.stale(tmp_path) == []
    binder = tmp_path / "binder" / "requirements.txt"
    binder.write_text(binder.read_text(encoding="utf-8") + "pytest==9.2.0\n", encoding="utf-8")
    assert lock.stale(tmp_path) == ["binder/requirements.txt"]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('"tqdm>=4.60",', '"tqdm>=4.60", "rich",'), encoding="utf-8"
    )
    with pytest.raises(SystemExit):  # uv lock --check: pyproject.toml asks for a package the lock lacks
        lock.main(["--check", "--root", str(tmp_path)])


def test_binder_and_bootstrap_install_torchs_cpu_build():
    text = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    torch = re.findall(r"^torch==(\S+)$", text, re.M)
    assert len(torch) == 1 and torch[0].endswith("+cpu"), torch
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    # repo2docker ignores pyproject.toml when binder/ exists: the package must be listed
    assert re.search(r"^\.\s*$", text, re.M), "binder/requirements.txt must install the repository ('.')"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    bootstrap = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(bootstrap)
    bootstrap.loader.exec_module(module)
    assert module.pinned_torch() == "torch==" + torch[0].removesuffix("+cpu")
    assert "-e ." in (ROOT / "environment.yml").read_text(encoding="utf-8")


def test_package_dependencies_are_loose_enough_for_colab():
    """Installing helpers on Colab (Python 3.13, ipywidgets 7.7.1, its own torch) upgrades nothing."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {Requirement(d).name.lower(): Requirement(d).specifier for d in project["dependencies"]}
    assert set(deps) >= {"numpy", "torch", "matplotlib", "ipywidgets", "tqdm", "pillow"}
    colab = {
        "ipywidgets": "7.7.1",
        "torch": "2.5.0",
        "numpy": "1.26.4",
        "matplotlib": "3.8.0",
        "tqdm": "4.66.0",
        "pillow": "11.1.0",
    }
    for name, version in colab.items():
        assert Version(version) in deps[name], f"{name} {version} (Colab) rejected by {deps[name]}"
    locked = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))["package"]
    for package in locked:
        if package["name"] in deps:
            version = Version(package["version"])
            assert version in deps[package["name"]], f"the locked {package['name']} {version} violates its range"
    python = SpecifierSet(project["requires-python"])
    assert all(Version(v) in python for v in ("3.10", "3.11", "3.12", "3.13"))


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    setup, test = "python3 scripts/bootstrap.py", ".venv/bin/python -m pytest"
    head = readme[: readme.index("## ")] if "## " in readme else readme
    assert setup in head and test in head, "README must open with the setup and test commands"
    ci_lines = [line.split("#")[0].strip() for line in ci.splitlines()]
    assert setup in ci_lines and test in ci_lines


def test_readme_quotes_its_numbers_from_the_benchmark_results():
    """Every measurement README states (a time, a size, a ratio or a percentage, outside tables and
    code) is written as benchmarks/RESULTS.md has it, so the two cannot disagree."""
    readme = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    prose = "\n".join(line for line in readme.splitlines() if not line.startswith("|"))
    quoted = [m.group(0) for m in re.finditer(r"(?<![\w.,])\d[\d,]*(?:\.\d+)? ?(?:ms|s|MB|GB|GiB|x|%)(?!\w)", prose)]
    assert len(quoted) >= 20, "README's performance numbers not found: pattern out of date?"
    assert [q for q in quoted if q not in results] == [], "README numbers that benchmarks/RESULTS.md does not give"


def test_pretrained_checkpoints_are_shipped_small():
    files = {p.name: p.stat().st_size for p in (ROOT / "helpers" / "pretrained").glob("*.pt")}
    assert set(files) == set(PRETRAINED_SHA256), "every shipped checkpoint has a published sha256"
    # each under 2 MB, all five under 8 MB (Colab's pip install from git downloads them)
    assert max(files.values()) < 2_000_000 and sum(files.values()) < 8_000_000
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "pretrained/*.pt" in project["tool"]["setuptools"]["package-data"]["helpers"]
