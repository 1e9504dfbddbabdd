"""Set up the course environment in one command: ``python scripts/bootstrap.py``.

What it does (and nothing else):

1. creates a virtual environment in ``.venv`` next to this repository (or reuses it);
2. on Linux, installs the CPU-only build of PyTorch from the official CPU wheel index
   (the default PyPI wheel for Linux drags in several gigabytes of CUDA libraries);
3. installs ``requirements.txt`` (every package pinned, generated from ``uv.lock`` by
   ``scripts/lock.py``: the course set and the test and site tools, so that README's test
   command works right away) and the ``helpers`` package in editable mode, so changes to
   ``helpers/`` are picked up without reinstalling;
4. with ``--site`` (implied when the environment variable CI is set), also what the course
   website's build needs: KaTeX and Pagefind (and axe-core for the site's test) from the npm
   registry into ``site/node_modules``
   (``npm ci``; needs Node.js). Students do not need it.

Works on Linux, macOS and Windows with Python 3.10-3.13. Pass ``--venv PATH`` to use
another location.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def venv_python(env: Path) -> Path:
    if sys.platform == "win32":
        return env / "Scripts" / "python.exe"
    return env / "bin" / "python"


def pinned_torch() -> str:
    """requirements.txt's "torch==VERSION" (scripts/lock.py writes one, without a marker)."""
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if re.match(r"^torch\s*==", line):
            return line.split("#")[0].split(";")[0].strip()
    raise SystemExit("requirements.txt has no 'torch==' pin")


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="where to create the environment")
    parser.add_argument("--site", action="store_true", help="also install the website build's KaTeX and Pagefind (npm)")
    args = parser.parse_args()
    env = Path(args.venv).resolve()
    if not venv_python(env).exists():
        print(f"creating virtual environment in {env}")
        venv.EnvBuilder(with_pip=True).create(env)
    py = str(venv_python(env))
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    if sys.platform.startswith("linux"):
        # --no-deps: only the torch wheel comes from the CPU index; its dependencies
        # come from PyPI in the next step. --retries 1: fail fast if that index is
        # unreachable and a local wheel (pip's find-links) can serve the pin instead.
        run(pip + ["--no-deps", "--retries", "1", "--index-url", CPU_INDEX, pinned_torch()])
    run(pip + ["-r", str(ROOT / "requirements.txt"), "-e", str(ROOT)])
    if args.site or os.environ.get("CI"):
        npm = shutil.which("npm")
        if npm:
            run([npm, "ci", "--prefix", str(ROOT / "site"), "--no-audit", "--no-fund"])
        elif args.site:
            raise SystemExit("--site needs Node.js and npm (the website needs KaTeX and Pagefind)")
        else:
            print("warning: npm not found, so the website's KaTeX and Pagefind are not installed (its tests will fail)")
    print(f"\nDone. Python of the course environment: {py}")


if __name__ == "__main__":
    main()
