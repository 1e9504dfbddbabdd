"""The course's metadata, read from ``course.toml``: repository, branch, each notebook's titles.

Used by scripts/sync_notebooks.py (each notebook's title line, launch links and Colab install
cell; README's notebook table), scripts/build_site.py (the website) and
scripts/set_repository.py. Every link to the course's own repository is built here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = "course.toml"
_NAME = r"[A-Za-z0-9_.-]+"
REPO_RE = re.compile(rf"^{_NAME}/{_NAME}$")
BRANCH_RE = re.compile(r"^[A-Za-z0-9_./-]+$")
README_BEGIN = "<!-- notebook table: written from course.toml by scripts/sync_notebooks.py (edit course.toml) -->"
README_END = "<!-- end of notebook table -->"


def _parse_toml(text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: README's setup installs tomli there
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise SystemExit(f"reading {FILE} on Python 3.10 needs tomli (pip install tomli)") from None
    return tomllib.loads(text)


def load(root: Path = ROOT) -> dict:
    """{"repository", "branch", "notebooks": [{"stem", "number", "title", "heading", "learn"}, ...]}."""
    path = root / FILE
    data = _parse_toml(path.read_text(encoding="utf-8"))
    repo, branch = data.get("repository"), data.get("branch", "main")
    if not isinstance(repo, str) or not REPO_RE.match(repo):
        raise SystemExit(f"{FILE}: repository must be 'OWNER/NAME', got {repo!r}")
    if not isinstance(branch, str) or not BRANCH_RE.match(branch):
        raise SystemExit(f"{FILE}: branch {branch!r} is not a branch name")
    notebooks = []
    for entry in data.get("notebook", []):
        missing = {"file", "title", "heading", "learn"} - set(entry)
        if missing or not re.match(r"^\d\d_[\w-]+$", str(entry.get("file", ""))):
            raise SystemExit(f"{FILE}: a [[notebook]] needs file = 'NN_name', title, heading and learn: {entry}")
        notebooks.append(
            {
                "stem": entry["file"],
                "number": int(entry["file"][:2]),
                "title": entry["title"],
                "heading": entry["heading"],
                "learn": entry["learn"],
            }
        )
    stems = [n["stem"] for n in notebooks]
    if stems != sorted(set(stems)):
        raise SystemExit(f"{FILE}: notebooks must be listed once each, in course order: {stems}")
    return {"repository": repo, "branch": branch, "notebooks": notebooks}


def notebook(meta: dict, stem: str) -> dict:
    for entry in meta["notebooks"]:
        if entry["stem"] == stem:
            return entry
    raise SystemExit(f"{FILE} has no [[notebook]] with file = {stem!r}: add its title, heading and description")


# ----------------------------------------------------------------------------- links


def colab_url(meta: dict, path: str) -> str:
    """Colab's page for ``path`` (e.g. "student/01_generation_problem.ipynb") in the course repository."""
    return f"https://colab.research.google.com/github/{meta['repository']}/blob/{meta['branch']}/{path}"


def binder_url(meta: dict, path: str) -> str:
    """A Binder session of the course repository that opens ``path`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{meta['repository']}/{meta['branch']}?urlpath=lab/tree/{path}"


def github_url(meta: dict) -> str:
    return f"https://github.com/{meta['repository']}"


def install_url(meta: dict) -> str:
    """What the Colab install cell hands to pip (the repository's default branch, non-editable)."""
    return f"git+{github_url(meta)}"


def heading_line(entry: dict) -> str:
    """A notebook's title line (markdown)."""
    return f"# {entry['number']} · {entry['heading']}"


def launch_line(meta: dict, path: str) -> str:
    """The first cell's last line: open ``path`` on Colab or Binder (markdown)."""
    return (
        f"Run it: [Open in Colab]({colab_url(meta, path)}) · [Binder]({binder_url(meta, path)}) · locally: see README"
    )


def readme_table(meta: dict) -> str:
    """README's notebook table (student edition), with the Binder badge, between its markers."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    lines = [README_BEGIN, "| # | notebook | what you learn | launch |", "| --- | --- | --- | --- |"]
    for n in meta["notebooks"]:
        path = f"student/{n['stem']}.ipynb"
        learn = n["learn"].replace("|", "\\|")
        lines.append(
            f"| {n['number']} | [{n['title']}]({path}) | {learn} | [![Colab]({badge})]({colab_url(meta, path)}) |"
        )
    first = f"student/{meta['notebooks'][0]['stem']}.ipynb" if meta["notebooks"] else "student/"
    lines += [
        "",
        "All student notebooks on Binder (CPU image, opens JupyterLab):",
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(meta, first)})",
        README_END,
    ]
    return "\n".join(lines)


def with_readme_table(readme: str, meta: dict) -> str:
    """``readme`` with the text between the table's markers replaced by ``readme_table(meta)``."""
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no notebook table markers ({README_BEGIN} ... {README_END})")
    return readme[:start] + readme_table(meta) + readme[end + len(README_END) :]


# ----------------------------------------------------------------------------- changing the setting


def set_repository(root: Path, repository: str, branch: str | None = None) -> None:
    """Write ``repository`` (and ``branch``) into course.toml, leaving the rest of the file as it is."""
    if not REPO_RE.match(repository):
        raise SystemExit(f"repository must be 'OWNER/NAME', got {repository!r}")
    if branch is not None and not BRANCH_RE.match(branch):
        raise SystemExit(f"not a branch name: {branch!r}")
    path = root / FILE
    text = path.read_text(encoding="utf-8")
    for key, value in (("repository", repository), ("branch", branch)):
        if value is not None:
            text, n = re.subn(rf'^{key}\s*=\s*"[^"]*"', f'{key} = "{value}"', text, count=1, flags=re.M)
            if n != 1:
                raise SystemExit(f"{FILE} has no '{key} = \"...\"' line")
    path.write_text(text, encoding="utf-8", newline="")
