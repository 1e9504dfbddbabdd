"""Build the course website: every notebook executed and rendered as a small static book, offline.

    python scripts/build_site.py                # -> _site/ (open _site/index.html)
    python scripts/build_site.py --out DIR      # somewhere else
    python scripts/build_site.py --no-cache     # execute every notebook again
    python scripts/build_site.py --no-pdf       # without the course PDF (it needs Chromium)

What it does
    1. executes each notebook that course.toml lists (the instructor edition
       notebooks/NN_name.ipynb) with nbclient, two at a time, from notebooks/ with the shipped
       checkpoints (nothing needs the network; under pytest the kernels inherit the test
       suite's network guard); claims are strict (POLYMER_VAE_STRICT=1), so a cell that raises
       stops the build (``--allow-errors`` renders the error instead). A first cell (SETUP_CELL)
       makes progress bars one finished text line, figures 2x PNGs and records each figure's
       titles and axis labels; a last cell (IMPORTS_CELL) records what the kernel imported;
    2. prepares each page (prepare()): check and self-check cells left out, exercises as boxes
       (task, starting code, the solution without its proof behind a toggle), a widget's view
       as one line ("interactive in the notebook; static view below"), figures as numbered
       files under figures/ with captions and alt text;
    3. renders it with nbconvert's "lab" template, extended by site/templates/course/, in the
       frame of site/templates/chrome.html.j2 (skip link, search box, chapters with the page's
       contents, previous/next), math rendered at build time with KaTeX, citations linked to
       the bibliography (site/references.toml);
    4. writes index.html (the landing page for a newcomer: site/templates/home.html.j2),
       lecturers.html (the instructor edition, the known mistakes of the lecture texts),
       references.html, the student edition for download (downloads/), print.html (the whole
       course on one page) and course.pdf (Chromium's print of it), Pagefind's search index
       (pagefind/) and pages.json (each page, its figures, the PDF, the citations).

KaTeX and Pagefind come from site/node_modules (``scripts/bootstrap.py --site``, from
site/package.json; needs Node.js). The pages load nothing but their own folder; their one script
(site/static/site.js) runs the search box and makes boxes that scroll sideways reachable by
keyboard: every page reads without it. Titles, descriptions and the repository of the launch
links come from course.toml (scripts/course_meta.py). The markdown renderer subclasses
nbconvert's IPythonRenderer and MarkdownWithMath (mistune 3): pyproject.toml pins nbconvert and
mistune for that reason.

Executed notebooks are cached in .cache/site/ under a hash of the notebook and this script's
execution code; an entry is used while what its kernel imported is unchanged on disk (the
files of every module from outside the Python installation, such as the helpers package and
its checkpoints wherever the kernel found it, and the installed version of every other
package it imported), so a rebuild executes only what changed.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import course_meta  # noqa: E402

SITE = ROOT / "site"
NOTEBOOKS = ROOT / "notebooks"
STUDENT = ROOT / "student"
CACHE = ROOT / ".cache" / "site"
DEFAULT_OUT = ROOT / "_site"
KATEX = SITE / "node_modules" / "katex"
CELL_TIMEOUT_S = 300
EXEC_VERSION = "1"  # bump to invalidate the execution cache when execute() changes
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FIGURE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")

# Runs first in every build kernel (and is removed from the page):
# * progress bars: tqdm.auto picks the ipywidgets bar in a kernel, and a static page can only
#   show that widget's first frame (0%). The text bar writes its final state into the output
#   instead (kept on the page even where the notebook asks for leave=False; prepare() keeps the
#   last state of each line), one short line without the build machine's timings;
# * figures at twice their displayed resolution (matplotlib's "retina" PNG: sharp on
#   high-resolution screens and in the PDF);
# * each figure's output carries "site_figure": {"alt": its titles and axis labels (the page's
#   alt text), "title": its title or its panels' titles (the numbered caption)}.
SETUP_CELL = """\
def _site_setup():
    import re, sys, tqdm.auto, tqdm.std
    import matplotlib_inline.backend_inline as inline
    class SiteTqdm(tqdm.std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("file", sys.stdout)
            kwargs["ncols"] = 60
            kwargs["bar_format"] = "{l_bar}{bar}| {n_fmt}/{total_fmt}"  # no rates or times
            kwargs["leave"] = True  # the page shows the finished bar
            kwargs["mininterval"] = 3600.0  # the page shows only the last state anyway
            super().__init__(*args, **kwargs)
    def trange(*args, **kwargs):
        return SiteTqdm(range(*args), **kwargs)
    tqdm.auto.tqdm, tqdm.auto.trange = SiteTqdm, trange
    get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['retina']")
    inline.set_matplotlib_formats("retina")
    def plain(text):  # the build writes TeX as text (tex_to_text)
        return " ".join(text.split())
    def describe(fig):
        title = getattr(fig, "_suptitle", None)
        title = plain(title.get_text()) if title is not None else ""
        panels = []
        for ax in fig.axes:
            if not ax.get_visible() or not ax.axison and not ax.images:
                continue
            name = "; ".join(plain(ax.get_title(loc)) for loc in ("left", "center", "right") if ax.get_title(loc).strip())
            axes = ", ".join(f"{k}: {plain(v)}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v.strip())
            if name or axes:
                panels.append(f"{name} ({axes})" if name and axes else name or axes)
        if not title and len(panels) == 1:
            return panels[0][:400]
        text = (title + ". " if title else "") + ("Panels: " + "; ".join(panels) if panels else "")
        return text.strip()[:400]
    fetch = inline._fetch_figure_metadata
    def fetch_with_alt(fig):
        metadata = dict(fetch(fig) or {})
        try:
            title = getattr(fig, "_suptitle", None)
            title = plain(title.get_text()) if title is not None else ""
            if not title:
                title = "; ".join(plain(ax.get_title()) for ax in fig.axes if ax.get_visible() and ax.get_title().strip())
            metadata["site_figure"] = {"alt": describe(fig), "title": title[:300]}
        except Exception:
            pass
        return metadata
    inline._fetch_figure_metadata = fetch_with_alt
_site_setup()
del _site_setup
"""

# Runs last in every build kernel (and is removed from the page): what the kernel really imported,
# for the execution cache. The files of every imported module that lives outside the Python
# installation (the helpers package, wherever the kernel found it, with its data files such as
# the shipped checkpoints), and the installed distribution (its dist-info folder, whose name
# holds the version) of every other top-level module.
IMPORTS_CELL = """\
def _site_imports():
    import importlib.metadata, json, os, sys, sysconfig
    system = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    trees, dists = set(), set()
    owners = importlib.metadata.packages_distributions()
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        path = getattr(module, "__file__", None)
        if not path or "." in name:
            continue
        path = os.path.realpath(path)
        if not any(path.startswith(s + os.sep) for s in system):
            trees.add(os.path.dirname(path) if path.endswith("__init__.py") else path)
        for dist in owners.get(top, []):
            try:
                where = importlib.metadata.distribution(dist)._path
            except Exception:
                continue
            if not str(where).endswith(".egg-link"):
                dists.add(os.path.realpath(str(where)))
    print(json.dumps({"trees": sorted(trees), "dists": sorted(dists)}))
_site_imports()
del _site_imports
"""


class BuildError(RuntimeError):
    """The site cannot be built (a notebook raised, math did not parse, a tool is missing)."""


# ----------------------------------------------------------------------------- the plan


def notebook_sources(meta: dict | None = None) -> list[Path]:
    """Instructor notebooks to publish, in course order: course.toml's notebooks (each needs its
    notebooks/NN_name.ipynb: ``python scripts/sync_notebooks.py`` writes it)."""
    meta = meta or course_meta.load(ROOT)
    paths = [NOTEBOOKS / f"{entry['stem']}.ipynb" for entry in meta["notebooks"]]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise BuildError(f"course.toml lists notebooks that do not exist: {missing} (python scripts/sync_notebooks.py)")
    return paths


def _plain(markdown: str) -> str:
    """One line of course.toml markdown as plain text (for a page's description)."""
    return re.sub(r"[`*_]", "", markdown).replace("\\|", "|")


# course.toml's one-line descriptions write math as plain text (they are also README's table):
# the landing page renders the usual symbols as math.
PLAIN_MATH = [
    (re.compile(r"\b([qp])_(phi|theta)\(([a-z])\|([a-z])\)"), r"$\1_\\\2(\3 \\mid \4)$"),
    (re.compile(r"\bR_g\b"), r"$R_g$"),
    (re.compile(r"\blog p\(x\)"), r"$\\log p(x)$"),
    (re.compile(r"\bbeta\b"), r"$\\beta$"),
]


def learn_markdown(text: str) -> str:
    for pattern, math in PLAIN_MATH:
        text = pattern.sub(math, text)
    return text


def plan(meta: dict | None = None) -> list[dict]:
    """One entry per notebook page: stem, page file name, title ("N · heading" from course.toml),
    short title, number, what you learn, student download (or None)."""
    meta = meta or course_meta.load(ROOT)
    pages = []
    for path in notebook_sources(meta):
        entry = course_meta.notebook(meta, path.stem)
        student = STUDENT / path.name
        pages.append(
            {
                "stem": path.stem,
                "page": f"{path.stem}.html",
                "title": f"{entry['number']} · {entry['heading']}",
                "short": entry["title"],
                "number": entry["number"],
                "learn": entry["learn"],
                "learn_plain": _plain(entry["learn"]),
                "source": f"notebooks/{path.name}",
                "student": f"downloads/student/{path.name}" if student.exists() else None,
                "colab": course_meta.colab_url(meta, f"{'student' if student.exists() else 'notebooks'}/{path.name}"),
                "binder": course_meta.binder_url(meta, f"{'student' if student.exists() else 'notebooks'}/{path.name}"),
            }
        )
    return pages


# ----------------------------------------------------------------------------- execution


def _file_digest(path: Path, h) -> None:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(path)).encode() + b"\0" + p.read_bytes() + b"\0")
    elif path.is_file():
        h.update(path.read_bytes())
    else:
        h.update(b"missing")


def imports_digest(imports: dict) -> str:
    """A digest of what a kernel imported (``IMPORTS_CELL``'s record) as it is on disk now: the
    content of each module file or package folder outside the Python installation, and whether
    each installed distribution's dist-info folder (named with its version) is still there."""
    h = hashlib.sha256()
    for tree in imports.get("trees", []):
        h.update(tree.encode() + b"\0")
        _file_digest(Path(tree), h)
    for dist in imports.get("dists", []):
        h.update(dist.encode() + (b" present" if Path(dist).exists() else b" missing"))
    return h.hexdigest()


def cache_key(nb_path: Path) -> str:
    """The notebook's cells and this build's execution code (the cache entry then records, and
    checks, what the kernel imported)."""
    nb = nbformat.read(nb_path, as_version=4)
    cells = [(c.cell_type, c.source, c.get("metadata", {}).get("tags", [])) for c in nb.cells]
    h = hashlib.sha256(json.dumps(cells, sort_keys=True).encode())
    h.update(f"{EXEC_VERSION} {SETUP_CELL} {IMPORTS_CELL} {sys.version}".encode())
    return h.hexdigest()[:20]


def cached_notebook(path: Path) -> nbformat.NotebookNode | None:
    """The cache entry ``path`` if what its kernel imported is unchanged on disk, else None."""
    if not path.exists():
        return None
    nb = nbformat.read(path, as_version=4)
    record = nb.metadata.get("site_build", {})
    if "imports" not in record or record.get("digest") != imports_digest(record["imports"]):
        return None
    return nb


def execute(nb_path: Path, threads: int, allow_errors: bool) -> nbformat.NotebookNode:
    """Run ``nb_path`` top to bottom in a fresh kernel (cwd notebooks/); returns the executed
    notebook, with what its kernel imported in ``metadata.site_build``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(nb_path, as_version=4)
    setup = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": ["site-setup"]})
    setup.id = "site-setup"
    imports = nbformat.v4.new_code_cell(IMPORTS_CELL, metadata={"tags": ["site-setup"]})
    imports.id = "site-imports"
    nb.cells = [setup, *nb.cells, imports]
    env = dict(
        os.environ,
        POLYMER_VAE_STRICT="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    )
    try:
        client.execute(env=env, cwd=str(NOTEBOOKS))
    except CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # no terminal colours in the message
        raise BuildError(f"{nb_path.name} raised while building the site:\n{plain}") from None
    record = json.loads("".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream"))
    nb.metadata["site_build"] = {"imports": record, "digest": imports_digest(record)}
    return nb


def executed_notebooks(
    paths: list[Path], use_cache: bool, jobs: int, allow_errors: bool, log=print, threads: int | None = None
) -> dict[Path, nbformat.NotebookNode]:
    """{path: executed notebook}, from the cache where the entry matches (the notebook and this
    build's code by its key; what the kernel imported by its record), else executed (``jobs`` at
    a time, each kernel with ``threads`` math threads; default: the cores shared among the jobs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    result, todo = {}, []
    for path in paths:
        cached = CACHE / f"{path.stem}.{cache_key(path)}.ipynb"
        nb = cached_notebook(cached) if use_cache else None
        if nb is not None:
            result[path] = nb
            log(f"  {path.name}: cached")
        else:
            todo.append((path, cached))
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    lock = threading.Lock()

    def run(item):
        path, cached = item
        t0 = time.monotonic()
        nb = execute(path, threads, allow_errors)
        if not allow_errors or not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", [])):
            for old in CACHE.glob(f"{path.stem}.*.ipynb"):
                old.unlink()
            tmp = cached.with_suffix(".tmp")
            nbformat.write(nb, tmp)
            os.replace(tmp, cached)
        with lock:
            log(f"  {path.name}: executed in {time.monotonic() - t0:.1f} s")
        return path, nb

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for future in concurrent.futures.as_completed([pool.submit(run, item) for item in todo]):
            path, nb = future.result()  # the first notebook that raises stops the build
            result[path] = nb
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {p: result[p] for p in paths}


# ----------------------------------------------------------------------------- preparing a page


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def terminal_text(text: str) -> str:
    """``text`` as a terminal shows it: each line ends with what followed its last carriage return."""
    lines = []
    for line in text.split("\n"):
        parts = [part for part in line.split("\r") if part.strip()]
        lines.append(parts[-1] if parts else line.replace("\r", ""))
    return "\n".join(lines)


TEX_SYMBOLS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "eta": "η",
    "theta": "θ",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "sim": "~",
    "approx": "≈",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "pm": "±",
    "times": "×",
    "cdot": "·",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "infty": "∞",
    "mid": "|",
    "ell": "ℓ",
    "nabla": "∇",
    "partial": "∂",
    "sum": "Σ",
    "prod": "Π",
    "in": "∈",
    "propto": "∝",
    "langle": "⟨",
    "rangle": "⟩",
    "lVert": "‖",
    "rVert": "‖",
    "Vert": "‖",
    "|": "‖",
    ",": " ",
    ";": " ",
    "!": "",
    "quad": " ",
    "qquad": " ",
    "left": "",
    "right": "",
    "big": "",
    "Big": "",
}
SUPERSCRIPTS = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


def tex_to_text(text: str) -> str:
    """A figure title or axis label with matplotlib's TeX ($\\sigma_x^2$) as plain readable text
    (σ_x², for alt text and captions)."""

    def math(m):
        t = m.group(1)
        t = re.sub(
            r"\\(?:mathrm|mathbf|mathit|mathcal|mathbb|operatorname|text|textrm|boldsymbol)\s*\{([^{}]*)\}", r"\1", t
        )
        t = re.sub(r"\\([A-Za-z]+|[|,;!])", lambda c: TEX_SYMBOLS.get(c.group(1), c.group(1)), t)
        t = re.sub(r"\^\{?([0-9+-]+)\}?", lambda c: c.group(1).translate(SUPERSCRIPTS), t)
        t = re.sub(r"_\{([^{}]*)\}", r"_\1", t)
        return t.replace("{", "").replace("}", "")

    return " ".join(re.sub(r"\$([^$]*)\$", math, text).split())


VERDICT = re.compile(r"^\s*(✓ correct|✗ not yet|self-check proven)")
EXERCISE_HEADING = re.compile(r"^#{2,4}\s+Exercise\b.*$", re.M)
CHECK_CALL = re.compile(r"^(prove_check|check_\w+)$")


def _strip_check_calls(source: str) -> str:
    """``source`` without its top-level calls of a self-check (``exercises.check_x(...)``,
    ``prove_check(...)``): the page shows the solution, not its proof."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    drop = set()
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if CHECK_CALL.match(name):
                drop.update(range(node.lineno, node.end_lineno + 1))
    if not drop:
        return source
    lines = [line for i, line in enumerate(source.splitlines(), 1) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _without_verdicts(outputs: list) -> list:
    """Outputs without a self-check's verdict lines (a stream left empty is dropped)."""
    kept = []
    for o in outputs:
        if o.output_type == "stream":
            o.text = "\n".join(line for line in o.text.split("\n") if not VERDICT.match(line))
            if not o.text.strip():
                continue
        kept.append(o)
    return kept


def prepare(nb: nbformat.NotebookNode, number: int = 0) -> tuple[nbformat.NotebookNode, list[dict]]:
    """The notebook as the page shows it, and its figures.

    Drops the build's setup cells, check cells and self-check cells that did not raise, and the
    widget state; a widget's view becomes one line (the notebook draws the same information as
    static figures below it); stream outputs keep the last state of each line (progress bars).
    Each exercise becomes a box (metadata ``site_box``): its task (the markdown from its
    "### Exercise" heading on), the student's starting code, and the solution without the
    lines that prove the self-check. Each figure gets a number, a file name under figures/, a
    caption and alt text (``metadata.site``); the returned list has one dict per figure
    (file, data, alt, caption)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = []
    for cell in nb.cells:
        tags = _tags(cell)
        if "site-setup" in tags:
            continue
        if cell.cell_type == "code":
            outputs = []
            for o in cell.outputs:
                if WIDGET_VIEW in o.get("data", {}):
                    if not any(x.get("metadata", {}).get("site_widget") for x in outputs):
                        outputs.append(
                            nbformat.v4.new_output(
                                "display_data",
                                data={
                                    "text/html": '<p class="course-widget-note">Interactive in the notebook; static view below.</p>'
                                },
                                metadata={"site_widget": True},
                            )
                        )
                    continue
                if (
                    o.output_type == "stream"
                    and outputs
                    and outputs[-1].output_type == "stream"
                    and outputs[-1].name == o.name
                ):
                    outputs[-1].text += o.text  # one stream, as a notebook front end shows it
                    continue
                outputs.append(o)
            for o in outputs:
                if o.output_type == "stream":
                    o.text = terminal_text(o.text)
            cell.outputs = outputs
            raised = any(o.output_type == "error" for o in cell.outputs)
            if ("check" in tags or "self-check" in tags) and not raised:
                continue
            if "solution" in tags or "exercise" in tags:
                cell.outputs = _without_verdicts(cell.outputs)
            if "solution" in tags:
                cell.source = _strip_check_calls(cell.source)
        cells.append(cell)

    # exercise boxes: task (split off the markdown before the exercise), starting code, solution
    boxed = []
    for i, cell in enumerate(cells):
        tags = _tags(cell)
        if "exercise" in tags and boxed and boxed[-1].cell_type == "markdown":
            task = boxed[-1]
            heading = list(EXERCISE_HEADING.finditer(task.source))
            if heading:
                start = heading[-1].start()
                before = task.source[:start].strip()
                if before:
                    first = nbformat.v4.new_markdown_cell(before)
                    first.id = f"{task.get('id', 'md')}-before"
                    boxed.insert(len(boxed) - 1, first)
                    task.source = task.source[start:]
                title = heading[-1].group(0).lstrip("#").strip()
                task.metadata["site_box"] = {"open": title}
                cell.metadata["site_box_part"] = "start"
        boxed.append(cell)
        following = cells[i + 1] if i + 1 < len(cells) else None
        in_box = "exercise" in tags or "solution" in tags
        if in_box and not (following is not None and "solution" in _tags(following)):
            cell.metadata["site_box_close"] = True
    nb.cells = boxed
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("site_build", None)

    # figures: numbered, as files, with alt text and a caption
    figures, heading = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.findall(r"^#{1,4}\s+(.+)$", cell.source, re.M)
            heading = found[-1].strip() if found else heading
            continue
        if cell.cell_type != "code":
            continue
        for o in cell.outputs:
            mime = next((t for t in ("image/png", "image/jpeg") if t in o.get("data", {})), None)
            if mime is None:
                continue
            k = len(figures) + 1
            label = f"{number}.{k}" if number else str(k)
            described = o.get("metadata", {}).get("site_figure", {})
            title = tex_to_text(described.get("title") or "")
            alt = tex_to_text(described.get("alt") or "")
            where = re.sub(r"[*_`$\\]", "", heading)
            if not alt:
                alt = f"Figure {label}, in the section {where!r}" if where else f"Figure {label}"
            name = f"figures/{number:02d}-{k}.{'png' if mime == 'image/png' else 'jpg'}"
            data = base64.b64decode(o.data[mime])
            o.metadata["site"] = {
                "src": name,
                "alt": alt,
                "caption": f"Figure {label}." + (f" {title}" if title else ""),
                "id": f"figure-{label.replace('.', '-')}",
            }
            figures.append({"file": name, "data": data, "alt": alt, "caption": o.metadata["site"]["caption"]})
    return nb, figures


# ----------------------------------------------------------------------------- math and links


class KaTeX:
    """TeX -> HTML through one long-lived ``node site/katex_render.js`` process."""

    def __init__(self):
        node = shutil.which("node")
        if node is None:
            raise BuildError("Node.js ('node') is needed to render the math (KaTeX); install Node.js 18 or newer")
        if not (KATEX / "package.json").exists():
            raise BuildError(
                f"KaTeX is not installed in {KATEX.parent}: run `python3 scripts/bootstrap.py --site` "
                "(or `npm ci --prefix site`)"
            )
        self.proc = subprocess.Popen(
            [node, str(SITE / "katex_render.js")],
            cwd=SITE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.memo: dict[tuple[str, bool], str] = {}
        self.where = ""

    def __call__(self, tex: str, display: bool) -> str:
        key = (tex, display)
        if key not in self.memo:
            self.proc.stdin.write(json.dumps({"tex": tex, "display": display}) + "\n")
            self.proc.stdin.flush()
            reply = json.loads(self.proc.stdout.readline())
            if "error" in reply:
                raise BuildError(f"{self.where}: math does not render: {reply['error']}\n  in: {tex!r}")
            self.memo[key] = reply["html"]
        return self.memo[key]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Links:
    """Where a relative link of the course points on the site."""

    def __init__(self, pages: list[dict], meta: dict, bibliography=None):
        self.pages = {p["stem"]: p for p in pages}
        self.blob = f"{course_meta.github_url(meta)}/blob/{meta['branch']}/"
        self.bibliography = bibliography
        self.where = ""  # the page being rendered (for the bibliography's "cited in")

    def launch(self, url: str) -> str:
        """A Colab or Binder link to an instructor notebook as the link to its student edition
        (the pages are for students; lecturers.html has the instructor edition's links)."""
        m = re.match(r"^(https://(?:colab\.research\.google\.com|mybinder\.org)/.*?)notebooks/(\d\d_\w+)\.ipynb$", url)
        if m and m.group(2) in self.pages and self.pages[m.group(2)]["student"]:
            return f"{m.group(1)}student/{m.group(2)}.ipynb"
        return url

    def resolve(self, url: str, base: str) -> str:
        """``url`` as written in a file in folder ``base`` ("" for the repository root, "notebooks")."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("#", "mailto:", "data:")):
            return url
        path = os.path.normpath(os.path.join(base, parts.path)).replace(os.sep, "/")
        anchor = f"#{parts.fragment}" if parts.fragment else ""
        name = Path(path).name
        if path.startswith(("notebooks/", "student/")) and name.endswith(".ipynb") and Path(name).stem in self.pages:
            page = self.pages[Path(name).stem]
            if path.startswith("student/") and page["student"]:
                return page["student"]
            return page["page"] + anchor
        if path in ("README.md", "."):
            return "index.html" + anchor
        return self.blob + path + anchor


def exporter_class():
    """nbconvert's HTMLExporter, with KaTeX math and the site's link rules in markdown."""
    from jinja2 import pass_context
    from nbconvert.exporters import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class Renderer(IPythonRenderer):
        def __init__(self, *args, katex, links, base, **kwargs):
            super().__init__(*args, **kwargs)
            self.katex, self.links, self.base = katex, links, base

        def block_math(self, body):
            return self.katex(body, True)

        def inline_math(self, body):
            return self.katex(body, False)

        def latex_environment(self, name, body):
            return self.katex(f"\\begin{{{name}}}{body}\\end{{{name}}}", True)

        def link(self, text, url, title=None):
            return super().link(text, self.links.launch(self.links.resolve(url, self.base)), title)

        def text(self, text):
            html_text = super().text(text)
            if self.links.bibliography is None:
                return html_text
            return self.links.bibliography.link_citations(html_text, self.links.where)

        def image(self, text, url, title=None):
            if urlsplit(url).scheme in ("http", "https"):  # a remote image: a link instead (pages load nothing remote)
                return f'<a href="{html.escape(url)}">{html.escape(text or url)}</a>'
            return super().image(text, url, title)

    class SiteExporter(HTMLExporter):
        katex = None
        links = None
        base = "notebooks"

        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = Renderer(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path="",
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                katex=self.katex,
                links=self.links,
                base=self.base,
                **self.lexer_options,
            )
            return MarkdownWithMath(renderer=renderer).render(source)

    return SiteExporter, Renderer, MarkdownWithMath


# ----------------------------------------------------------------------------- bibliography


class Bibliography:
    """site/references.toml, and the citations found while the pages' markdown is rendered."""

    # "Burda et al., 2016", "Burda et al. (2016)", "Kingma and Welling, 2014", "Kingma & Welling (2014)", "Williams, 1992"
    CITATION = re.compile(
        r"\b(?P<name>[A-Z][\w\-\u00c0-\u017f]+)"
        r"(?P<rest> et al\.?| (?:and|&amp;|&) [A-Z][\w\-\u00c0-\u017f]+)?"
        r"(?P<sep>,? \(?|, )(?P<year>(?:19|20)\d\d)(?P<letter>[a-z]?)\b\)?"
    )

    def __init__(self, path: Path = SITE / "references.toml"):
        self.entries = {e["key"]: e for e in course_meta._parse_toml(path.read_text(encoding="utf-8"))["ref"]}
        self.cited: dict[str, set[str]] = {}
        self.unknown: dict[str, set[str]] = {}

    @staticmethod
    def key(name: str, year: str, letter: str = "") -> str:
        import unicodedata

        name = name.translate(str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "ł": "l", "Ł": "L"}))
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        return re.sub(r"[^a-z]", "", plain) + year + letter

    def link_citations(self, html_text: str, where: str) -> str:
        def replace(m):
            if not m.group("rest") and "(" not in m.group("sep"):  # "Williams, 1992" only for a known entry
                if self.key(m.group("name"), m.group("year"), m.group("letter")) not in self.entries:
                    return m.group(0)
            key = self.key(m.group("name"), m.group("year"), m.group("letter"))
            if key not in self.entries:
                if m.group("rest"):
                    self.unknown.setdefault(m.group(0), set()).add(where)
                return m.group(0)
            self.cited.setdefault(key, set()).add(where)
            text, after = m.group(0), ""
            if text.endswith(")") and "(" not in m.group("sep"):  # "(Burda et al., 2016)": the ")" is the sentence's
                text, after = text[:-1], ")"
            return f'<a class="course-cite" href="references.html#{key}">{text}</a>{after}'

        return self.CITATION.sub(replace, html_text)

    def mentions(self, source: str, where: str) -> None:
        for key, entry in self.entries.items():
            if entry.get("mention") and entry["mention"] in source:
                self.cited.setdefault(key, set()).add(where)


# ----------------------------------------------------------------------------- pages

EXTRA_PAGES = [
    {"page": "references.html", "title": "Bibliography"},
    {"page": "lecturers.html", "title": "For lecturers: the instructor edition"},
    {"page": "course.pdf", "title": "The whole course as a PDF"},
]
PDF_NAME = "course.pdf"


def templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(str(SITE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def page_contents(body: str) -> list[dict]:
    """The page's sections (its h2 headings) for the on-page contents: [{id, text (HTML)}]."""
    from markupsafe import Markup

    contents = []
    for m in re.finditer(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', body, re.S):
        inner = re.sub(r'<a class="anchor-link".*?</a>', "", m.group(2), flags=re.S).strip()
        contents.append({"id": html.unescape(m.group(1)), "text": Markup(inner)})
    return contents


class Chrome:
    """The frame of every page (site/templates/chrome.html.j2): header, chapters, previous/next."""

    def __init__(self, env, site_title: str, pages: list[dict], pdf: bool = True):
        self.macros = env.get_template("chrome.html.j2").module
        self.site_title = site_title
        self.pages = pages
        self.extra = [e for e in EXTRA_PAGES if pdf or e["page"] != PDF_NAME]
        self.order = [{"page": "index.html", "title": "Course home"}] + pages + [EXTRA_PAGES[0]]

    def header(self):
        return str(self.macros.header(self.site_title))

    def sidebar(self, current: str, toc: list[dict]):
        return str(self.macros.sidebar(self.pages, current, toc, self.extra))

    def pager(self, current: str):
        names = [p["page"] for p in self.order]
        if current not in names:
            return ""
        i = names.index(current)
        prev = self.order[i - 1] if i > 0 else None
        nxt = self.order[i + 1] if i + 1 < len(self.order) else None
        return str(self.macros.pager(prev, nxt))

    def scripts(self):
        return str(self.macros.scripts())


def finish_page(body: str, chrome: Chrome, current: str) -> str:
    """Puts the chapters and this page's contents into a rendered page; no tab stops on cells;
    math in headings keeps its MathML (nbconvert's heading anchors write it as "ns0:math")."""
    body = body.replace(' xmlns:ns0="http://www.w3.org/1998/Math/MathML"', "")
    body = re.sub(r"(</?)ns0:", r"\1", body)
    body = body.replace("<!--course-sidebar-->", chrome.sidebar(current, page_contents(body)), 1)
    return re.sub(r'(<div class="jp-[^"]*"[^>]*?)\s+tabindex="0"', r"\1", body)


def render_notebook(exporter, nb, page: dict, chrome: Chrome) -> str:
    from markupsafe import Markup

    resources = {
        "metadata": {"name": page["title"]},
        "course": {
            "page": page,
            "header_html": Markup(chrome.header()),
            "sidebar_html": Markup("<!--course-sidebar-->"),
            "pager_html": Markup(chrome.pager(page["page"])),
            "scripts_html": Markup(chrome.scripts()),
        },
    }
    exporter.katex.where = page["source"]
    exporter.links.where = page["page"]
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return finish_page(body, chrome, page["page"])


def _readme_section(readme: str, heading_start: str) -> str:
    m = re.search(rf"^## {re.escape(heading_start)}.*?$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    return m.group(1).strip() if m else ""


def readme_parts() -> dict:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = re.search(r"```bash\n(.*?)```", readme, re.S)
    setup_line = next(
        (
            line.split("#", 1)[0].strip()
            for line in (setup.group(1) if setup else "").splitlines()
            if "bootstrap" in line
        ),
        "python3 scripts/bootstrap.py",
    )
    return {
        "title": re.search(r"^# (.+)$", readme, re.M).group(1),
        "intro": readme.split("\n## ", 1)[0].split("\n", 1)[1].split("```", 1)[0].strip(),
        "setup": setup_line,
        "mistakes": _readme_section(readme, "Known mistakes"),
    }


def render_index(
    render_md, pages: list[dict], figures: dict, meta: dict, chrome: Chrome | None = None, pdf: dict | None = None
) -> str:
    """index.html from site/templates/home.html.j2: what the course is, for whom, how long, where
    to start; a card per notebook (course.toml's description; the student edition's download,
    Colab and Binder links); how to run a download; the instructor edition is on lecturers.html."""
    from markupsafe import Markup

    parts = readme_parts()
    chrome = chrome or Chrome(templates(), parts["title"], pages)
    rows = []
    for p in pages:
        student = f"student/{p['stem']}.ipynb"
        rows.append(
            {
                "page": p["page"],
                "title": p["title"],
                "number": p["number"],
                "learn_html": Markup(render_md(learn_markdown(p["learn"]), "")),
                "figures": figures[p["stem"]],
                "student": p["student"],
                "colab": course_meta.colab_url(meta, student),
                "binder": course_meta.binder_url(meta, student),
            }
        )
    body = (
        templates()
        .get_template("home.html.j2")
        .render(
            title=parts["title"],
            intro_html=Markup(render_md(parts["intro"], "")),
            rows=rows,
            first=pages[0],
            any_student=any(p["student"] for p in pages),
            clone=course_meta.github_url(meta),
            setup=parts["setup"],
            pdf=pdf,
            binder_all=course_meta.binder_url(meta, f"student/{pages[0]['stem']}.ipynb"),
            header_html=Markup(chrome.header()),
            sidebar_html=Markup("<!--course-sidebar-->"),
            pager_html=Markup(chrome.pager("index.html")),
            scripts_html=Markup(chrome.scripts()),
        )
    )
    return finish_page(body, chrome, "index.html")


def render_lecturers(render_md, pages: list[dict], meta: dict, chrome: Chrome) -> str:
    """lecturers.html: the instructor edition (solutions) and the known mistakes of the lecture texts."""
    from markupsafe import Markup

    parts = readme_parts()
    rows = [
        {
            "title": p["title"],
            "page": p["page"],
            "github": f"{course_meta.github_url(meta)}/blob/{meta['branch']}/{p['source']}",
            "colab": course_meta.colab_url(meta, p["source"]),
            "binder": course_meta.binder_url(meta, p["source"]),
        }
        for p in pages
    ]
    body = (
        templates()
        .get_template("lecturers.html.j2")
        .render(
            title=parts["title"],
            rows=rows,
            repository=course_meta.github_url(meta),
            mistakes_html=Markup(render_md(parts["mistakes"], "")),
            header_html=Markup(chrome.header()),
            sidebar_html=Markup("<!--course-sidebar-->"),
            pager_html=Markup(chrome.pager("lecturers.html")),
            scripts_html=Markup(chrome.scripts()),
        )
    )
    return finish_page(body, chrome, "lecturers.html")


def render_references(bibliography: Bibliography, pages: list[dict], chrome: Chrome) -> str:
    from markupsafe import Markup

    titles = {p["page"]: p for p in pages}
    cited, reading = [], []
    for key, entry in sorted(bibliography.entries.items()):  # by key: first author's surname, year
        where = [titles[w] for w in sorted(bibliography.cited.get(key, ())) if w in titles]
        item = dict(entry, cited_in=where)
        if where:
            cited.append(item)
        elif entry.get("reading"):
            reading.append(item)
    body = (
        templates()
        .get_template("references.html.j2")
        .render(
            title=chrome.site_title,
            cited=cited,
            reading=reading,
            header_html=Markup(chrome.header()),
            sidebar_html=Markup("<!--course-sidebar-->"),
            pager_html=Markup(chrome.pager("references.html")),
            scripts_html=Markup(chrome.scripts()),
        )
    )
    return finish_page(body, chrome, "references.html")


def render_book(out: Path, pages: list[dict], chrome: Chrome, meta: dict) -> str:
    """print.html: the whole course on one page, for the PDF (each notebook page's text between
    its content markers, after a title page with the contents; the bibliography at the end)."""
    chapters = []
    head = None
    for p in pages:
        text = (out / p["page"]).read_text(encoding="utf-8")
        if head is None:
            head = text.split("</head>", 1)[0]
            head = re.sub(r"<script[^>]*>.*?</script>", "", head, flags=re.S)
            head = re.sub(r'<link rel="stylesheet" href="pagefind/[^"]*">', "", head)
            head = re.sub(r"<title>.*?</title>", f"<title>{html.escape(chrome.site_title)}</title>", head, flags=re.S)
        content = text.split("<!--course-content-start-->", 1)[1].split("<!--course-content-end-->", 1)[0]
        # ids stay unique in the book: each chapter's anchors get its number
        n = p["number"]
        content = re.sub(r'\bid="([^"]+)"', lambda m, n=n: f'id="c{n}-{m.group(1)}"', content)
        content = re.sub(r'href="#([^"]+)"', lambda m, n=n: f'href="#c{n}-{m.group(1)}"', content)
        chapters.append(
            f'<section class="course-chapter" id="chapter-{n}" aria-label="{html.escape(p["title"])}">\n{content}\n</section>'
        )
    refs = (out / "references.html").read_text(encoding="utf-8")
    refs = refs.split("<!--course-content-start-->", 1)[1].split("<!--course-content-end-->", 1)[0]
    contents = "\n".join(f'<li><a href="#chapter-{p["number"]}">{html.escape(p["title"])}</a></li>' for p in pages)
    today = time.strftime("%Y-%m-%d")
    return (
        f'{head}</head>\n<body class="jp-Notebook course-book" data-jp-theme-light="true">\n'
        f'<main id="content">\n<section class="course-title-page">\n<h1>{html.escape(chrome.site_title)}</h1>\n'
        f"<p>{len(pages)} notebooks, executed, with every figure ({html.escape(course_meta.github_url(meta))}, "
        f"built {today}). Solutions and the code that only checks are folded away here; "
        f"the notebooks themselves have them.</p>\n"
        f'<h2 id="book-contents">Contents</h2>\n<ol class="course-book-contents">\n{contents}\n'
        f'<li><a href="#bibliography">Bibliography</a></li>\n</ol>\n</section>\n'
        + "\n".join(chapters)
        + f'\n<section class="course-chapter" id="bibliography" aria-label="Bibliography">\n{refs}\n</section>\n</main>\n</body>\n</html>\n'
    )


def find_chromium() -> str | None:
    """A Chromium or Chrome for printing the PDF: $CHROMIUM, Debian's chromium, or one on PATH."""
    candidates = [os.environ.get("CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")]
    return next((c for c in candidates if c and Path(c).exists()), None)


PRINT_SCRIPT = """
import sys
from playwright.sync_api import sync_playwright
chromium, source, target = sys.argv[1:4]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True)
    page = browser.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
    page.goto(source, wait_until="load", timeout=300_000)
    page.evaluate("document.fonts.ready")
    page.pdf(path=target, format="A4", print_background=True, outline=True, tagged=True,
             margin={"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
             display_header_footer=True, header_template="<span></span>",
             footer_template='<div style="font-size:9px;width:100%;text-align:center;color:#444">'
                             '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
    browser.close()
"""


def print_pdf(source: Path, target: Path) -> int:
    """Chromium's print of ``source`` (the print stylesheet) to ``target``; returns the page count."""
    chromium = find_chromium()
    if chromium is None:
        raise BuildError(
            "the course PDF is printed with Chromium: install it (Debian: apt-get install chromium), "
            "set CHROMIUM=/path/to/chrome, or build without the PDF (--no-pdf)"
        )
    done = subprocess.run(
        [sys.executable, "-c", PRINT_SCRIPT, chromium, source.as_uri(), str(target)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not target.exists():
        raise BuildError(f"printing the PDF failed:\n{done.stderr[-2000:]}")
    return pdf_pages(target)


def pdf_pages(path: Path) -> int:
    """The number of pages of a PDF (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def pagefind_index(folder: Path) -> None:
    """Pagefind's search index of the pages' text (data-pagefind-body) into folder/pagefind/."""
    exe = SITE / "node_modules" / ".bin" / ("pagefind.cmd" if os.name == "nt" else "pagefind")
    if not exe.exists():
        raise BuildError(
            f"Pagefind is not installed in {SITE / 'node_modules'}: run `python3 scripts/bootstrap.py --site`"
        )
    done = subprocess.run([str(exe), "--site", str(folder), "--silent"], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise BuildError(f"Pagefind failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def copy_static(out: Path) -> None:
    static = out / "static"
    shutil.copytree(SITE / "static", static)
    katex_out = static / "katex"
    katex_out.mkdir()
    shutil.copy2(KATEX / "dist" / "katex.min.css", katex_out / "katex.min.css")
    shutil.copytree(KATEX / "dist" / "fonts", katex_out / "fonts")
    shutil.copy2(KATEX / "LICENSE", katex_out / "LICENSE")


def copy_downloads(out: Path, pages: list[dict]) -> None:
    student = [STUDENT / f"{p['stem']}.ipynb" for p in pages if p["student"]]
    if not student:
        return
    folder = out / "downloads" / "student"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(out / "downloads" / "student-notebooks.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for path in student:
            shutil.copy2(path, folder / path.name)
            info = zipfile.ZipInfo(f"student/{path.name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes())


# ----------------------------------------------------------------------------- the build


def build(
    out: Path = DEFAULT_OUT,
    use_cache: bool = True,
    jobs: int = 2,
    allow_errors: bool = False,
    log=print,
    threads: int | None = None,
    pdf: bool = True,
) -> list[dict]:
    """Build the site into ``out`` (replaced whole at the end). Returns the page list (pages.json)."""
    t0 = time.monotonic()
    out = Path(out).resolve()
    meta = course_meta.load(ROOT)
    pages = plan(meta)
    if not pages:
        raise BuildError(f"no notebooks to publish in {NOTEBOOKS}")
    if pdf and find_chromium() is None:
        print_pdf(Path("missing"), Path("missing"))  # fail early, with the message
    katex = KaTeX()  # fail early if Node.js or KaTeX is missing
    try:
        log(
            f"executing {len(pages)} notebooks ({'cache in ' + str(CACHE.relative_to(ROOT)) if use_cache else 'no cache'})"
        )
        executed = executed_notebooks(
            [NOTEBOOKS / f"{p['stem']}.ipynb" for p in pages], use_cache, jobs, allow_errors, log, threads
        )
        t_exec = time.monotonic() - t0
        SiteExporter, Renderer, MarkdownWithMath = exporter_class()
        bibliography = Bibliography()
        links = Links(pages, meta, bibliography)
        exporter = SiteExporter(
            template_name="course",
            extra_template_basedirs=[str(SITE / "templates")],
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.katex, exporter.links = katex, links
        chrome = Chrome(templates(), readme_parts()["title"], pages, pdf)

        def render_md(text: str, base: str) -> str:
            r = Renderer(escape=False, katex=katex, links=links, base=base)
            return MarkdownWithMath(renderer=r).render(text)

        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        tmp.chmod(0o755)
        try:
            copy_static(tmp)
            copy_downloads(tmp, pages)
            (tmp / "figures").mkdir()
            figures = {}
            for page, nb in zip(pages, executed.values()):
                shown, figs = prepare(nb, page["number"])
                for fig in figs:
                    (tmp / fig["file"]).write_bytes(fig["data"])
                for cell in shown.cells:
                    if cell.cell_type == "markdown":
                        bibliography.mentions(cell.source, page["page"])
                (tmp / page["page"]).write_text(render_notebook(exporter, shown, page, chrome), encoding="utf-8")
                figures[page["stem"]] = page["figures"] = len(figs)
                page["widgets"] = sum(
                    1
                    for c in shown.cells
                    if c.cell_type == "code"
                    for o in c.outputs
                    if o.get("metadata", {}).get("site_widget")
                )
                page["exercises"] = sum(1 for c in shown.cells if "exercise" in _tags(c))
                page["figure_bytes"] = sum(len(f["data"]) for f in figs)
            katex.where, links.where = "README.md", "index.html"
            (tmp / "references.html").write_text(render_references(bibliography, pages, chrome), encoding="utf-8")
            (tmp / "lecturers.html").write_text(render_lecturers(render_md, pages, meta, chrome), encoding="utf-8")
            (tmp / "print.html").write_text(render_book(tmp, pages, chrome, meta), encoding="utf-8")
            t_pdf = time.monotonic()
            pdf_info = None
            if pdf:
                pdf_info = {"file": PDF_NAME, "pages": print_pdf(tmp / "print.html", tmp / PDF_NAME)}
                pdf_info["megabytes"] = round((tmp / PDF_NAME).stat().st_size / 1e6, 1)
                log(
                    f"  {PDF_NAME}: {pdf_info['pages']} pages, {pdf_info['megabytes']} MB in {time.monotonic() - t_pdf:.1f} s"
                )
            (tmp / "index.html").write_text(
                render_index(render_md, pages, figures, meta, chrome, pdf_info), encoding="utf-8"
            )
            pagefind_index(tmp)
            if bibliography.unknown:
                log(f"  citations without an entry in site/references.toml: {sorted(bibliography.unknown)}")
            (tmp / "pages.json").write_text(
                json.dumps(
                    {
                        "repository": meta["repository"],
                        "branch": meta["branch"],
                        "pages": [{"page": "index.html", "title": "Course home"}]
                        + pages
                        + [
                            {"page": e["page"], "title": e["title"]} for e in EXTRA_PAGES if e["page"].endswith(".html")
                        ],
                        "pdf": pdf_info,
                        "citations": {k: sorted(v) for k, v in sorted(bibliography.cited.items())},
                        "unknown_citations": {k: sorted(v) for k, v in sorted(bibliography.unknown.items())},
                        "seconds": {"execute": round(t_exec, 1), "total": round(time.monotonic() - t0, 1)},
                    },
                    indent=2,
                    ensure_ascii=False,
                )
                + "\n"
            )
            (tmp / ".nojekyll").write_text("")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        katex.close()
    log(
        f"built {out} in {time.monotonic() - t0:.1f} s: index.html + "
        + ", ".join(f"{p['page']} ({p['figures']} figures)" for p in pages)
    )
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: _site/)")
    parser.add_argument("--no-cache", action="store_true", help="execute every notebook, ignoring .cache/site/")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at the same time (default 2)")
    parser.add_argument("--allow-errors", action="store_true", help="render cells that raise instead of stopping")
    parser.add_argument("--no-pdf", action="store_true", help="leave out the course PDF (it needs Chromium)")
    args = parser.parse_args(argv)
    try:
        build(
            args.out, use_cache=not args.no_cache, jobs=args.jobs, allow_errors=args.allow_errors, pdf=not args.no_pdf
        )
    except BuildError as err:
        print(f"build_site: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
