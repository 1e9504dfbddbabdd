"""Build the course website: every notebook executed and rendered to static HTML, offline.

    python scripts/build_site.py                # -> _site/ (open _site/index.html)
    python scripts/build_site.py --out DIR      # somewhere else
    python scripts/build_site.py --no-cache     # execute every notebook again

What it does
    1. executes each instructor notebook notebooks/NN_name.ipynb with nbclient, two at a time,
       from notebooks/ with the shipped checkpoints (nothing needs the network; under pytest
       the kernels inherit the test suite's network guard); claims are strict (POLYMER_VAE_STRICT=1), so a cell that
       raises stops the build (``--allow-errors`` renders the error instead);
    2. renders it with nbconvert's "lab" template, extended by site/templates/course/:
       solution cells behind a "Solution" toggle, the source of self-check and helper cells
       collapsed, check cells left out (unless they raised), widget outputs dropped (every
       notebook also draws static figures), progress bars as finished text bars (the build's
       kernels use tqdm's text bar instead of its widget);
    3. renders math at build time with KaTeX (site/node_modules, installed from
       site/package.json by ``scripts/bootstrap.py --site``; needs Node.js), so pages load
       nothing but their own folder: no CDN, no JavaScript;
    4. writes index.html from site/templates/home.html.j2 (the notebook table, how to run the
       course, README's known-mistakes table), the student edition for download (downloads/),
       and pages.json (each page and its number of figures).

Titles, descriptions and the repository of the launch links come from course.toml
(scripts/course_meta.py). The markdown renderer subclasses nbconvert's IPythonRenderer and
MarkdownWithMath (mistune 3): pyproject.toml pins nbconvert and mistune for that reason.

Executed notebooks are cached in .cache/site/ under a hash of the notebook, helpers/ (code and
checkpoints) and this script, so a rebuild executes only what changed.
"""

from __future__ import annotations

import argparse
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

# Runs first in every build kernel (and is removed from the page): tqdm.auto picks the
# ipywidgets bar in a kernel, and a static page can only show that widget's first frame
# (0%). The text bar writes its final state into the output instead (kept on the page even
# where the notebook asks for leave=False; prepare() keeps the last state of each line).
SETUP_CELL = """\
def _site_text_progress_bars():
    import sys, tqdm.auto, tqdm.std
    class SiteTqdm(tqdm.std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("file", sys.stdout)
            kwargs.setdefault("ncols", 80)
            kwargs["leave"] = True  # the page shows the finished bar
            kwargs["mininterval"] = 3600.0  # the page shows only the last state anyway
            super().__init__(*args, **kwargs)
    def trange(*args, **kwargs):
        return SiteTqdm(range(*args), **kwargs)
    tqdm.auto.tqdm, tqdm.auto.trange = SiteTqdm, trange
_site_text_progress_bars()
del _site_text_progress_bars
"""


class BuildError(RuntimeError):
    """The site cannot be built (a notebook raised, math did not parse, a tool is missing)."""


# ----------------------------------------------------------------------------- the plan


def notebook_sources() -> list[Path]:
    """Instructor notebooks to publish: notebooks/NN_name.ipynb that have a .py source."""
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if p.with_suffix(".py").exists()]


def plan(meta: dict | None = None) -> list[dict]:
    """One entry per notebook page: stem, page file name, title ("N · heading" from course.toml),
    number, what you learn, student download (or None)."""
    meta = meta or course_meta.load(ROOT)
    pages = []
    for path in notebook_sources():
        entry = course_meta.notebook(meta, path.stem)
        student = STUDENT / path.name
        pages.append(
            {
                "stem": path.stem,
                "page": f"{path.stem}.html",
                "title": f"{entry['number']} · {entry['heading']}",
                "number": entry["number"],
                "learn": entry["learn"],
                "source": f"notebooks/{path.name}",
                "student": f"downloads/student/{path.name}" if student.exists() else None,
            }
        )
    return pages


# ----------------------------------------------------------------------------- execution


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def cache_key(nb_path: Path, helpers_digest: str) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    cells = [(c.cell_type, c.source, c.get("metadata", {}).get("tags", [])) for c in nb.cells]
    h = hashlib.sha256(json.dumps(cells, sort_keys=True).encode())
    h.update(helpers_digest.encode())
    h.update(f"{EXEC_VERSION} {SETUP_CELL} {sys.version}".encode())
    return h.hexdigest()[:20]


def execute(nb_path: Path, threads: int, allow_errors: bool) -> nbformat.NotebookNode:
    """Run ``nb_path`` top to bottom in a fresh kernel (cwd notebooks/); returns the executed notebook."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(nb_path, as_version=4)
    setup = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": ["site-setup"]})
    setup.id = "site-setup"
    nb.cells.insert(0, setup)
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
    return nb


def executed_notebooks(
    paths: list[Path], use_cache: bool, jobs: int, allow_errors: bool, log=print, threads: int | None = None
) -> dict[Path, nbformat.NotebookNode]:
    """{path: executed notebook}, from the cache where the key matches, else executed (``jobs`` at a
    time, each kernel with ``threads`` math threads; default: the cores shared among the jobs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    digest = _tree_digest(ROOT / "helpers")
    result, todo = {}, []
    for path in paths:
        cached = CACHE / f"{path.stem}.{cache_key(path, digest)}.ipynb"
        if use_cache and cached.exists():
            result[path] = nbformat.read(cached, as_version=4)
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


def prepare(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """The notebook as the page shows it, and its number of figures.

    Drops the build's setup cell, check cells that did not raise, widget outputs and the
    widget state; stream outputs keep the last state of each line (progress bars);
    keeps everything else."""
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
            if "check" in tags and not any(o.output_type == "error" for o in cell.outputs):
                continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    figures = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if any(t in o.get("data", {}) for t in FIGURE_TYPES)
    )
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

    def __init__(self, pages: list[dict], meta: dict):
        self.pages = {p["stem"]: p for p in pages}
        self.blob = f"{course_meta.github_url(meta)}/blob/{meta['branch']}/"

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
            return super().link(text, self.links.resolve(url, self.base), title)

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


# ----------------------------------------------------------------------------- pages


def render_notebook(exporter, nb, page: dict, pages: list[dict], meta: dict) -> str:
    i = pages.index(page)
    resources = {
        "metadata": {"name": page["title"]},
        "course": {
            "page": page,
            "prev": pages[i - 1] if i > 0 else None,
            "next": pages[i + 1] if i + 1 < len(pages) else None,
            "repository": meta["repository"],
            "branch": meta["branch"],
        },
    }
    exporter.katex.where = page["source"]
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def _readme_section(readme: str, heading_start: str) -> str:
    m = re.search(rf"^## {re.escape(heading_start)}.*?$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    return m.group(1).strip() if m else ""


def render_index(render_md, pages: list[dict], figures: dict, meta: dict) -> str:
    """index.html from site/templates/home.html.j2: README's title, introduction, setup commands
    and known-mistakes table, and a row per notebook (course.toml's description, launch links)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", readme, re.M).group(1)
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].split("```", 1)[0].strip()
    setup = re.search(r"```bash\n(.*?)```", readme, re.S)
    rows = []
    for p in pages:
        folder = "student" if p["student"] else "notebooks"
        rows.append(
            {
                "page": p["page"],
                "title": p["title"],
                "learn_html": Markup(render_md(p["learn"], "")),
                "figures": figures[p["stem"]],
                "student": p["student"],
                "colab": course_meta.colab_url(meta, f"{folder}/{p['stem']}.ipynb"),
                "binder": course_meta.binder_url(meta, f"notebooks/{p['stem']}.ipynb"),
            }
        )
    env = Environment(
        loader=FileSystemLoader(str(SITE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("home.html.j2").render(
        title=title,
        intro_html=Markup(render_md(intro, "")),
        rows=rows,
        any_student=any(p["student"] for p in pages),
        clone=course_meta.github_url(meta),
        setup=setup.group(1).strip() if setup else "",
        mistakes_html=Markup(render_md(_readme_section(readme, "Known mistakes"), "")),
    )


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
) -> list[dict]:
    """Build the site into ``out`` (replaced whole at the end). Returns the page list (pages.json)."""
    t0 = time.monotonic()
    out = Path(out).resolve()
    meta = course_meta.load(ROOT)
    pages = plan(meta)
    if not pages:
        raise BuildError(f"no notebooks to publish in {NOTEBOOKS}")
    katex = KaTeX()  # fail early if Node.js or KaTeX is missing
    try:
        log(
            f"executing {len(pages)} notebooks ({'cache in ' + str(CACHE.relative_to(ROOT)) if use_cache else 'no cache'})"
        )
        executed = executed_notebooks(
            [NOTEBOOKS / f"{p['stem']}.ipynb" for p in pages], use_cache, jobs, allow_errors, log, threads
        )
        SiteExporter, Renderer, MarkdownWithMath = exporter_class()
        links = Links(pages, meta)
        exporter = SiteExporter(
            template_name="course",
            extra_template_basedirs=[str(SITE / "templates")],
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.katex, exporter.links = katex, links

        def render_md(text: str, base: str) -> str:
            r = Renderer(escape=False, katex=katex, links=links, base=base)
            return MarkdownWithMath(renderer=r).render(text)

        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        tmp.chmod(0o755)
        try:
            copy_static(tmp)
            copy_downloads(tmp, pages)
            figures = {}
            for page, nb in zip(pages, executed.values()):
                shown, figures[page["stem"]] = prepare(nb)
                (tmp / page["page"]).write_text(render_notebook(exporter, shown, page, pages, meta), encoding="utf-8")
                page["figures"] = figures[page["stem"]]
            katex.where = "README.md"
            (tmp / "index.html").write_text(render_index(render_md, pages, figures, meta), encoding="utf-8")
            (tmp / "pages.json").write_text(
                json.dumps(
                    {
                        "repository": meta["repository"],
                        "branch": meta["branch"],
                        "pages": [{"page": "index.html", "title": "Course home"}] + pages,
                    },
                    indent=2,
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
    args = parser.parse_args(argv)
    try:
        build(args.out, use_cache=not args.no_cache, jobs=args.jobs, allow_errors=args.allow_errors)
    except BuildError as err:
        print(f"build_site: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
