"""Apply the course's public repository address to every launch link, from one setting.

    python scripts/set_repository.py                 # apply pyproject.toml's setting to the links
    python scripts/set_repository.py OWNER/NAME      # change the setting, then apply it
    python scripts/set_repository.py --check         # exit 1 if any link disagrees with the setting

The setting is ``[tool.polymer-vae] repository`` (and ``branch``) in pyproject.toml. The
links it governs are in README.md and notebooks/NN_name.py (the first cell's Colab and Binder
links, the Colab install cell's ``git+https://github.com/...``); after rewriting the .py
sources the script runs scripts/sync_notebooks.py, so both notebook editions follow. The
website (scripts/build_site.py) reads the setting directly.

Recognised links: ``colab.research.google.com/github/OWNER/NAME/blob/BRANCH/...``,
``mybinder.org/v2/gh/OWNER/NAME/BRANCH...`` and ``github.com/OWNER/NAME...``. A GitHub link
to another project is allowed only if that project is listed in ``THIRD_PARTY``.
``--root DIR`` works on another copy of the repository (used by the tests).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = {"whitead/dmol-book"}  # other projects' repositories that the course may link to
SECTION = "tool.polymer-vae"
_NAME = r"[A-Za-z0-9_.-]+"
REPO_RE = re.compile(rf"^{_NAME}/{_NAME}$")
BRANCH_RE = re.compile(r"^[A-Za-z0-9_./-]+$")

# (kind, pattern): group "repo" is OWNER/NAME, group "branch" (if any) the branch
LINK_PATTERNS = [
    ("colab", re.compile(rf"colab\.research\.google\.com/github/(?P<repo>{_NAME}/{_NAME})/blob/(?P<branch>[^/\s)\"']+)")),
    ("binder", re.compile(rf"mybinder\.org/v2/gh/(?P<repo>{_NAME}/{_NAME})/(?P<branch>[^/?\s)\"']+)")),
    ("github", re.compile(rf"(?<![\w.])github\.com/(?P<repo>{_NAME}/{_NAME})")),
]


def settings(root: Path = ROOT) -> dict:
    """{"repository": "OWNER/NAME", "branch": "main"} from ``[tool.polymer-vae]`` in pyproject.toml."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
        section = tomllib.loads(text).get("tool", {}).get("polymer-vae", {})
    except ModuleNotFoundError:  # Python 3.10: the two plain string keys, read directly
        body = text.split(f"[{SECTION}]", 1)[1].split("\n[", 1)[0] if f"[{SECTION}]" in text else ""
        section = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', body, re.M))
    repo, branch = section.get("repository"), section.get("branch", "main")
    if not repo or not REPO_RE.match(repo):
        raise SystemExit(f"pyproject.toml: [{SECTION}] repository must be 'OWNER/NAME', got {repo!r}")
    if not BRANCH_RE.match(branch):
        raise SystemExit(f"pyproject.toml: [{SECTION}] branch {branch!r} is not a branch name")
    return {"repository": repo, "branch": branch}


def governed_files(root: Path = ROOT) -> list[Path]:
    """The files whose links follow the setting: README.md and the notebook sources."""
    return [root / "README.md", *sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))]


def links(text: str) -> list[tuple[str, str, str | None]]:
    """Every (kind, "OWNER/NAME", branch or None) link in ``text``; third-party GitHub links excluded."""
    found = []
    for kind, pattern in LINK_PATTERNS:
        for m in pattern.finditer(text):
            repo = m.group("repo").removesuffix(".git")
            if kind == "github" and repo in THIRD_PARTY:
                continue
            found.append((kind, repo, m.groupdict().get("branch")))
    return found


def disagreements(root: Path = ROOT, extra: dict[str, str] | None = None) -> list[str]:
    """Links in the governed files (and in ``extra``, {label: text}) that disagree with the setting."""
    want = settings(root)
    texts = {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in governed_files(root)}
    texts.update(extra or {})
    bad = []
    for label, text in texts.items():
        for kind, repo, branch in links(text):
            if repo != want["repository"] or (branch is not None and branch != want["branch"]):
                bad.append(f"{label}: {kind} link to {repo}" + (f" ({branch})" if branch else ""))
    return bad


def rewrite(text: str, repo: str, branch: str) -> str:
    """``text`` with every recognised course link pointing at ``repo`` and ``branch``."""
    def colab(m):
        return f"colab.research.google.com/github/{repo}/blob/{branch}"

    def binder(m):
        return f"mybinder.org/v2/gh/{repo}/{branch}"

    def github(m):
        old = m.group("repo").removesuffix(".git")
        return m.group(0) if old in THIRD_PARTY else m.group(0).replace(old, repo, 1)

    for (_, pattern), fix in zip(LINK_PATTERNS, (colab, binder, github)):
        text = pattern.sub(fix, text)
    return text


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def set_setting(root: Path, repo: str, branch: str | None) -> None:
    """Write ``repo`` (and ``branch``) into pyproject.toml's ``[tool.polymer-vae]``."""
    if not REPO_RE.match(repo):
        raise SystemExit(f"repository must be 'OWNER/NAME', got {repo!r}")
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition(f"[{SECTION}]")
    if not sep:
        raise SystemExit(f"pyproject.toml has no [{SECTION}] section")
    body, nxt, tail = rest.partition("\n[")
    body, n = re.subn(r'^repository\s*=\s*"[^"]*"', f'repository = "{repo}"', body, flags=re.M)
    if n != 1:
        raise SystemExit(f"pyproject.toml: [{SECTION}] has no 'repository = \"...\"' line")
    if branch is not None:
        if not BRANCH_RE.match(branch):
            raise SystemExit(f"not a branch name: {branch!r}")
        body, n = re.subn(r'^branch\s*=\s*"[^"]*"', f'branch = "{branch}"', body, flags=re.M)
        if n != 1:
            raise SystemExit(f"pyproject.toml: [{SECTION}] has no 'branch = \"...\"' line")
    _write_atomic(path, head + sep + body + nxt + tail)


def apply(root: Path = ROOT, sync: bool = True) -> list[Path]:
    """Rewrite the governed files to the setting; then write both notebook editions. Returns the changed files."""
    want = settings(root)
    changed = []
    for path in governed_files(root):
        old = path.read_text(encoding="utf-8")
        new = rewrite(old, want["repository"], want["branch"])
        if new != old:
            _write_atomic(path, new)
            changed.append(path)
    if sync:
        subprocess.run([sys.executable, str(root / "scripts" / "sync_notebooks.py")], check=True, cwd=root)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", nargs="?", help="new OWNER/NAME (default: keep the setting)")
    parser.add_argument("--branch", help="new branch (default: keep the setting)")
    parser.add_argument("--check", action="store_true", help="only report links that disagree")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository to work on (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        bad = disagreements(root)
        want = settings(root)
        print("\n".join(bad) if bad else f"every link points at {want['repository']} ({want['branch']})")
        return 1 if bad else 0
    if args.repository or args.branch:
        set_setting(root, args.repository or settings(root)["repository"], args.branch)
    changed = apply(root)
    want = settings(root)
    print(f"repository {want['repository']}, branch {want['branch']}: "
          f"{len(changed)} file(s) changed" + "".join(f"\n  {p.relative_to(root)}" for p in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
