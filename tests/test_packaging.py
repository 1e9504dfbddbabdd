"""Packaging: the newcomer's commands, and the pins repeated in Binder and conda files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.checkpoints import PRETRAINED_SHA256
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line (comments and options skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def conda_pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*-\s*([A-Za-z0-9_.\-]+)\s*={1,2}\s*([0-9][^\s]*)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_requirements_pin_the_tested_stack():
    req = pins(ROOT / "requirements.txt")
    for name in ("torch", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "jupytext", "nbval", "tqdm", "pytest"):
        assert name in req, f"requirements.txt does not pin {name}"


def test_torch_pins_agree_with_each_other():
    """One torch version everywhere a newcomer might install from (a version bump edits them all)."""
    found = {
        "requirements.txt": pins(ROOT / "requirements.txt")["torch"],
        "binder/requirements.txt": pins(ROOT / "binder" / "requirements.txt")["torch"].removesuffix("+cpu"),
        "environment.yml": conda_pins(ROOT / "environment.yml")["pytorch-cpu"],
    }
    # bootstrap.py reads the pin from requirements.txt; any version it names itself must agree
    for k, version in enumerate(re.findall(r"torch\s*==\s*([0-9][\w.+]*)", (ROOT / "scripts" / "bootstrap.py").read_text())):
        found[f"scripts/bootstrap.py ({k + 1})"] = version.removesuffix("+cpu")
    assert len(set(found.values())) == 1, f"torch pins disagree: {found}"
    Version(found["requirements.txt"])  # a real version number


def test_binder_matches_requirements_with_cpu_torch():
    req, binder = pins(ROOT / "requirements.txt"), pins(ROOT / "binder" / "requirements.txt")
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert binder.pop("torch") == req["torch"] + "+cpu"
    for name, version in binder.items():
        assert req.get(name) == version, f"binder pins {name}=={version}, requirements.txt {req.get(name)}"
    # repo2docker ignores pyproject.toml when binder/ exists: the package must be listed
    assert re.search(r"^\.\s*$", text, re.M), "binder/requirements.txt must install the repository ('.')"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")


def test_environment_yml_matches_requirements():
    req, conda = pins(ROOT / "requirements.txt"), conda_pins(ROOT / "environment.yml")
    assert conda.pop("pytorch-cpu") == req["torch"]
    conda.pop("python")
    for name, version in conda.items():
        assert req.get(name) == version, f"environment.yml pins {name}={version}, requirements.txt {req.get(name)}"
    assert "-e ." in (ROOT / "environment.yml").read_text()


def test_package_dependencies_are_loose_enough_for_colab():
    """Installing helpers on Colab (Python 3.13, ipywidgets 7.7.1, its own torch) upgrades nothing."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {Requirement(d).name.lower(): Requirement(d).specifier for d in project["dependencies"]}
    assert set(deps) >= {"numpy", "torch", "matplotlib", "ipywidgets", "tqdm"}
    colab = {"ipywidgets": "7.7.1", "torch": "2.5.0", "numpy": "1.26.4", "matplotlib": "3.8.0", "tqdm": "4.66.0"}
    for name, version in colab.items():
        assert Version(version) in deps[name], f"{name} {version} (Colab) rejected by {deps[name]}"
    for name, version in pins(ROOT / "requirements.txt").items():
        if name in deps:
            assert Version(version) in deps[name], f"the tested {name}=={version} violates {deps[name]}"
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


def test_pretrained_checkpoints_are_shipped_small():
    files = {p.name: p.stat().st_size for p in (ROOT / "helpers" / "pretrained").glob("*.pt")}
    assert set(files) == set(PRETRAINED_SHA256), "every shipped checkpoint has a published sha256"
    assert max(files.values()) < 2_000_000 and sum(files.values()) < 6_000_000
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "pretrained/*.pt" in project["tool"]["setuptools"]["package-data"]["helpers"]
