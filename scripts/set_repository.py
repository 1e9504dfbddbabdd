"""Move the course to another repository, or check that every course link points at it.

    python scripts/set_repository.py OWNER/NAME [--branch BRANCH]   # change the setting, rewrite the links
    python scripts/set_repository.py --check                        # exit 1 if any link points elsewhere

The setting is ``repository`` (and ``branch``) in course.toml, the course's metadata file. The
links are written from it, never by hand: scripts/sync_notebooks.py writes README's notebook
table and each notebook's launch links and Colab install cell (the .py source and both
editions), and scripts/build_site.py the website's. So this script only changes the setting and
runs sync_notebooks.py. ``--check`` also finds a course link written by hand in the prose that
points elsewhere: Colab (``colab.research.google.com/github/OWNER/NAME/blob/BRANCH``), Binder
(``mybinder.org/v2/gh/OWNER/NAME/BRANCH``) and GitHub (``github.com/OWNER/NAME``) links; a
GitHub link to another project is allowed only if that project is listed in ``THIRD_PARTY``.
``--root DIR`` works on another copy of the repository (used by the tests).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_meta  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = {"whitead/dmol-book"}  # other projects' repositories that the course may link to
REPO_RE = course_meta.REPO_RE
_NAME = r"[A-Za-z0-9_.-]+"

# (kind, pattern): group "repo" is OWNER/NAME, group "branch" (if any) the branch
LINK_PATTERNS = [
    (
        "colab",
        re.compile(rf"colab\.research\.google\.com/github/(?P<repo>{_NAME}/{_NAME})/blob/(?P<branch>[^/\s)\"']+)"),
    ),
    ("binder", re.compile(rf"mybinder\.org/v2/gh/(?P<repo>{_NAME}/{_NAME})/(?P<branch>[^/?\s)\"']+)")),
    ("github", re.compile(rf"(?<![\w.])github\.com/(?P<repo>{_NAME}/{_NAME})")),
]


def settings(root: Path = ROOT) -> dict:
    """{"repository": "OWNER/NAME", "branch": "main"} from course.toml."""
    meta = course_meta.load(root)
    return {"repository": meta["repository"], "branch": meta["branch"]}


def governed_files(root: Path = ROOT) -> list[Path]:
    """The files whose course links must agree with the setting: README, the sources, both editions."""
    return [
        root / "README.md",
        *sorted((root / "notebooks").glob("[0-9][0-9]_*.py")),
        *sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")),
        *sorted((root / "student").glob("*.ipynb")),
    ]


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
        course_meta.set_repository(root, args.repository or settings(root)["repository"], args.branch)
    subprocess.run([sys.executable, str(root / "scripts" / "sync_notebooks.py")], check=True, cwd=root)
    want = settings(root)
    print(f"repository {want['repository']}, branch {want['branch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
