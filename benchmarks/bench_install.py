"""Install footprint of the course environment that README's setup command creates.

Measures a virtual environment on disk (like ``du``: allocated blocks, hard links counted
once): its total size, the largest installed packages (from each distribution's RECORD),
and whether its PyTorch is the CPU build (``torch.version.cuda is None`` and no ``nvidia-*``
CUDA packages installed), which is what ``scripts/bootstrap.py`` promises on Linux.

By default it measures ``.venv`` at the repository root (what ``python3 scripts/bootstrap.py``
creates); without one, the environment running this script, with a note. ``--fresh`` runs
the setup command into a new temporary folder, times it, measures the result and deletes it
(it needs the package index or a local wheel cache, and minutes of CPU: not run by default).

    python benchmarks/bench_install.py                    # .venv (or the current environment)
    python benchmarks/bench_install.py --venv /path/to/env
    python benchmarks/bench_install.py --fresh            # time python3 scripts/bootstrap.py --venv TMP
    python benchmarks/bench_install.py --json out.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_output_options, finish, goals_table, num, table

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6


def disk_usage(folder: Path) -> int:
    """Bytes allocated on disk under ``folder`` (symlinks not followed, hard links counted once)."""
    seen, total = set(), 0
    for directory, _, files in os.walk(folder):
        for name in files:
            st = os.lstat(os.path.join(directory, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def site_packages(env: Path) -> Path:
    candidates = sorted(env.glob("lib/python3*/site-packages")) + [env / "Lib" / "site-packages"]
    found = [p for p in candidates if p.is_dir()]
    if not found:
        raise SystemExit(f"{env} does not look like a virtual environment (no site-packages)")
    return found[0]


def package_sizes(site: Path) -> list[tuple[str, str, int]]:
    """(name, version, bytes) of every distribution installed in ``site``, largest first."""
    sizes = []
    for dist in importlib.metadata.distributions(path=[str(site)]):
        total = 0
        for f in dist.files or []:
            path = Path(dist.locate_file(f))
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        sizes.append((dist.metadata["Name"], dist.version, total))
    return sorted(sizes, key=lambda s: -s[2])


def torch_build(python: Path) -> dict:
    """torch's version and CUDA version as the environment's own interpreter reports them."""
    code = "import json, torch; print(json.dumps(dict(version=torch.__version__, cuda=torch.version.cuda)))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return dict(version=None, cuda=None, error=(proc.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(env: Path, top: int) -> dict:
    site = site_packages(env)
    packages = package_sizes(site)
    torch = torch_build(env_python(env))
    nvidia = [name for name, _, _ in packages if name.lower().startswith("nvidia-")]
    return dict(
        venv=str(env),
        total_bytes=disk_usage(env),
        site_packages_bytes=disk_usage(site),
        n_packages=len(packages),
        largest=[dict(name=n, version=v, bytes=b) for n, v, b in packages[:top]],
        torch_version=torch["version"],
        torch_cuda=torch["cuda"],
        torch_error=torch.get("error"),
        nvidia_packages=nvidia,
        cpu_only=torch["version"] is not None and torch["cuda"] is None and not nvidia,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", help="environment to measure (default: .venv at the repository root)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="create a new environment with scripts/bootstrap.py, time it, measure it, delete it",
    )
    parser.add_argument("--top", type=int, default=10, help="how many of the largest packages to list")
    add_output_options(parser)
    args = parser.parse_args(argv)

    note, setup_seconds, tmp = None, None, None
    try:
        if args.fresh:
            tmp = Path(tempfile.mkdtemp(prefix="polymer-vae-venv-"))
            env = tmp / "venv"
            command = [sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "--venv", str(env)]
            print("+", " ".join(command), flush=True)
            start = time.perf_counter()
            subprocess.run(command, check=True)
            setup_seconds = time.perf_counter() - start
            note = (
                f"a fresh environment created by scripts/bootstrap.py in {setup_seconds:.0f} s "
                "(pip's download cache may have been warm)"
            )
        elif args.venv:
            env = Path(args.venv).resolve()
        elif (ROOT / ".venv").is_dir():
            env = ROOT / ".venv"
        else:
            env = Path(sys.prefix)
            note = (
                f"no .venv at the repository root (README's setup command not run here): measured the "
                f"running environment {env} instead, which may hold extra development packages"
            )
        result = measure(env, args.top)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result.update(note=note, setup_seconds=setup_seconds, fresh=args.fresh)

    if note:
        print(f"note: {note}")
    print(
        f"environment {env}: {result['total_bytes'] / MB:,.0f} MB on disk "
        f"(site-packages {result['site_packages_bytes'] / MB:,.0f} MB, {result['n_packages']} packages)"
    )
    for p in result["largest"]:
        print(f"  {p['bytes'] / MB:8,.1f} MB  {p['name']} {p['version']}")
    if result["cpu_only"]:
        build = "CPU build"
    else:
        build = f"NOT CPU-only (CUDA {result['torch_cuda']}, nvidia packages {result['nvidia_packages']})"
    error = f" ({result['torch_error']})" if result["torch_error"] else ""
    print(f"torch {result['torch_version']}: {build}{error}")
    return finish(args, result, markdown(result))


def markdown(d: dict) -> str:
    """The Install footprint section of RESULTS.md."""
    goals = [
        [
            "CPU-only torch",
            "no CUDA",
            f"torch {d['torch_version']}, CUDA {d['torch_cuda'] or 'none'}, "
            f"{len(d['nvidia_packages'])} nvidia packages",
            d["cpu_only"],
        ]
    ]
    lines = ["## Install footprint", ""] + goals_table(goals) + ([f"Note: {d['note']}", ""] if d.get("note") else [])
    build = "CPU build" if d["cpu_only"] else "not CPU-only"
    lines += table(
        ["environment", "on disk", "site-packages", "packages", "torch", "setup time"],
        [
            [
                f"`{d['venv']}`",
                f"{d['total_bytes'] / 1e6:,.0f} MB",
                f"{d['site_packages_bytes'] / 1e6:,.0f} MB",
                d["n_packages"],
                f"{d['torch_version']} ({build})",
                num(d.get("setup_seconds"), 0, " s"),
            ]
        ],
    )
    lines += table(
        ["largest packages", "version", "size"],
        [[p["name"], p["version"], f"{p['bytes'] / 1e6:,.1f} MB"] for p in d["largest"]],
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
