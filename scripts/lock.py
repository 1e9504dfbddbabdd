"""Pin every package in uv.lock, and write the requirement files from it (one command).

    python scripts/lock.py                  # after editing pyproject.toml's dependencies: re-lock
                                            # (other versions stay), then write the files below
    python scripts/lock.py --upgrade        # every package to its newest allowed version
    python scripts/lock.py --upgrade-package numpy
    python scripts/lock.py --check          # offline: exit 1 if uv.lock or a file below is stale

uv.lock is uv's universal lock: every package, direct and indirect, pinned for Linux, macOS
and Windows and every Python from 3.10 on (``[tool.uv]`` in pyproject.toml says why torch's
CUDA packages are left out). The files it writes, each from the lock alone:

    requirements.txt          README's setup (scripts/bootstrap.py): the course set, the test
                              and site tools (every dependency group)
    binder/requirements.txt   Binder: the course set only, torch's CPU build, the package itself
    environment.yml           conda: the course set only (Python from conda-forge, pinned
                              packages with pip)

The course set is the package's dependencies and the ``course`` group (JupyterLab, a kernel).
Needs uv, which README's setup installs (``.venv/bin/python scripts/lock.py``); locking needs
PyPI, ``--check`` nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
GENERATED = (
    "GENERATED from uv.lock by `python scripts/lock.py`: do not edit. To change a dependency, edit\n"
    "pyproject.toml ([project] dependencies, [dependency-groups]) and run that command."
)


def uv() -> list[str]:
    """The uv command: the uv package of this environment, else uv on PATH."""
    try:
        from uv import find_uv_bin

        return [find_uv_bin()]
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return [found]
    raise SystemExit("scripts/lock.py needs uv: run README's setup (python3 scripts/bootstrap.py) or `pip install uv`")


def run_uv(args: list[str], root: Path, capture: bool = False) -> str:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
    result = subprocess.run(
        uv() + args, cwd=root, env=env, text=True, encoding="utf-8", stdout=subprocess.PIPE if capture else None
    )
    if result.returncode != 0:
        raise SystemExit(f"uv {' '.join(args)} failed (exit {result.returncode})")
    return result.stdout or ""


def export(root: Path, groups: list[str]) -> list[str]:
    """Requirement lines ("name==version" and an environment marker where one is needed)."""
    text = run_uv(
        [
            "export",
            "--frozen",
            "--format",
            "requirements.txt",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--no-annotate",
            "--quiet",
            *groups,
        ],
        root,
        capture=True,
    )
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    torch = [line for line in lines if re.match(r"^torch==", line)]
    if len(torch) != 1 or ";" in torch[0]:
        # scripts/bootstrap.py and binder/requirements.txt install torch's CPU build of this one version
        raise SystemExit(f"uv.lock must hold one torch version for every platform and Python, found {torch}")
    return lines


def course_lines(root: Path) -> list[str]:
    return export(root, ["--no-default-groups", "--group", "course"])


def torch_version(lines: list[str]) -> str:
    return next(line.split("==", 1)[1] for line in lines if line.startswith("torch=="))


def requirements_txt(root: Path) -> str:
    return "\n".join(
        [
            *(f"# {line}" for line in GENERATED.splitlines()),
            "# README's setup (python3 scripts/bootstrap.py) installs this: the course set and the test and",
            "# site tools, every package pinned, for Linux, macOS and Windows, Python 3.10 to 3.13.",
            f"# On Linux bootstrap.py first installs torch's CPU build from {CPU_INDEX},",
            "# which satisfies the torch pin (a plain `pip install -r requirements.txt` on Linux would fetch",
            "# PyPI's build and with it gigabytes of CUDA).",
            *export(root, ["--all-groups"]),
            "",
        ]
    )


def binder_requirements(root: Path) -> str:
    lines = course_lines(root)
    version = torch_version(lines)
    return "\n".join(
        [
            *(f"# {line}" for line in GENERATED.splitlines()),
            "# repo2docker (Binder) reads only this folder when it exists: the course set (the package's",
            "# dependencies, JupyterLab, a kernel), no test or site tools; the last line installs the package.",
            "# torch's CPU build from the PyTorch CPU wheel index: PyPI's build for Linux pulls ~3 GB of CUDA.",
            f"--extra-index-url {CPU_INDEX}",
            *(f"torch=={version}+cpu" if line.startswith("torch==") else line for line in lines),
            ".",
            "",
        ]
    )


def environment_yml(root: Path) -> str:
    python = (root / "binder" / "runtime.txt").read_text(encoding="utf-8").strip().removeprefix("python-")
    return "\n".join(
        [
            *(f"# {line}" for line in GENERATED.splitlines()),
            "# Conda alternative to `python3 scripts/bootstrap.py`, with the course set only (no test or",
            "# site tools):  conda env create -f environment.yml && conda activate polymer-vae",
            "# Python from conda-forge; the packages, pinned as in uv.lock, with pip (torch's CPU build",
            "# from the PyTorch CPU wheel index, which pip prefers for the same version).",
            "name: polymer-vae",
            "channels:",
            "  - conda-forge",
            "dependencies:",
            f"  - python={python}",
            "  - pip",
            "  - pip:",
            f"      - --extra-index-url {CPU_INDEX}",
            *(f'      - "{line}"' for line in course_lines(root)),
            "      - -e .",
            "",
        ]
    )


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """{file: its text as the lock gives it}."""
    return {
        root / "requirements.txt": requirements_txt(root),
        root / "binder" / "requirements.txt": binder_requirements(root),
        root / "environment.yml": environment_yml(root),
    }


def stale(root: Path = ROOT) -> list[str]:
    """Files that differ from what uv.lock gives (line endings aside)."""
    return [
        str(path.relative_to(root))
        for path, text in outputs(root).items()
        if not path.exists() or path.read_text(encoding="utf-8").splitlines() != text.splitlines()
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only check (offline) that uv.lock and the files are current"
    )
    parser.add_argument("--upgrade", action="store_true", help="move every package to its newest allowed version")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME", help="upgrade one package")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository to work on (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        run_uv(["lock", "--check", "--offline", "--quiet"], root)  # uv.lock agrees with pyproject.toml
        bad = stale(root)
        if bad:
            print("not what uv.lock gives (run python scripts/lock.py):", ", ".join(bad))
            return 1
        return 0
    upgrade = (["--upgrade"] if args.upgrade else []) + [
        a for name in args.upgrade_package for a in ("--upgrade-package", name)
    ]
    run_uv(["lock", *upgrade], root)
    for path, text in outputs(root).items():
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
