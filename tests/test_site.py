"""The course website (scripts/build_site.py), the repository setting (course.toml) and the Pages workflow.

The site is built once per session (into a temporary folder, with the execution cache in
.cache/site/), served from 127.0.0.1 and opened page by page in headless Chromium through
Playwright: no console error, every image loaded, all math rendered, no error output, every
internal link resolves, a solution toggle opens, and no request leaves the machine. A
screenshot of each page goes to test-artifacts/site-*.png.

Needs Chromium at /usr/bin/chromium and KaTeX in site/node_modules (``python3
scripts/bootstrap.py --site``; CI installs both). Without them the site tests are skipped,
unless the environment variable CI is set: then they fail.

    .venv/bin/python -m pytest -n 0 tests/test_site.py
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import nbformat
import pytest

from browser_support import require

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import set_repository  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
LOCAL_HOSTS = {"127.0.0.1"}


def _readme_command(pattern: str) -> str:
    """The line of a README code block that matches ``pattern``, without its comment."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if re.search(pattern, command):
                return command
    raise AssertionError(f"README has no command matching {pattern!r} in a code block")


# ----------------------------------------------------------------------------- without a build


def _course_stems() -> list[str]:
    """The notebooks that course.toml lists, in course order (the site publishes these)."""
    return [entry["stem"] for entry in build_site.course_meta.load(ROOT)["notebooks"]]


def test_plan_has_a_page_for_every_notebook():
    sources = _course_stems()
    planned = build_site.plan()
    assert sources, "no notebook sources"
    assert [p["stem"] for p in planned] == sources
    for page in planned:
        assert page["page"] == f"{page['stem']}.html"
        assert re.match(r"^\d+ · \S", page["title"]), f"{page['stem']}: first cell's title {page['title']!r}"
        student = ROOT / "student" / f"{page['stem']}.ipynb"
        assert (page["student"] is not None) == student.exists()


def test_index_page_is_rendered_from_its_template_and_course_metadata():
    """index.html comes from site/templates/home.html.j2: a row per notebook with course.toml's
    description and launch links, README's setup commands (checked without KaTeX or a build)."""
    meta = build_site.course_meta.load(ROOT)
    pages = build_site.plan(meta)
    index = build_site.render_index(
        lambda text, base: f"<p>{html.escape(text)}</p>", pages, {p["stem"]: 1 for p in pages}, meta
    )
    assert index.startswith("<!DOCTYPE html>") and index.rstrip().endswith("</html>")
    for page, entry in zip(pages, meta["notebooks"]):
        assert f'<a href="{page["page"]}">{html.escape(page["title"])}</a>' in index
        assert html.escape(build_site.learn_markdown(entry["learn"])) in index
        # every launch link of the landing page opens the student edition
        assert html.escape(build_site.course_meta.binder_url(meta, f"student/{entry['stem']}.ipynb")) in index
        assert html.escape(build_site.course_meta.colab_url(meta, f"student/{entry['stem']}.ipynb")) in index
    assert "notebooks/" not in index.replace('href="lecturers.html"', ""), (
        "a link to the instructor edition on the landing page"
    )
    assert html.escape(_readme_command(r"scripts/bootstrap\.py")) in index
    assert "jupyter lab student/" in index and "lecturers.html" in index
    assert set_repository.disagreements(extra={"index.html": index}) == []


def _cell(kind, source, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    if kind == "code":
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def test_prepare_makes_exercise_boxes_widget_lines_finished_bars_and_numbered_figures():
    """What the page shows of a notebook (checked without executing one)."""
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    stream = lambda text: {"output_type": "stream", "name": "stdout", "text": text}  # noqa: E731
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", "setup", ["site-setup"]),
        _cell("markdown", "## 2. A section\n\nSome text.\n\n### Exercise 2.1 · Do it\n\nWrite `f`."),
        _cell("code", "def f(x):\n    return 0  # replace", ["exercise"]),
        _cell("code", "exercises.check_f(f);", ["self-check"], [stream("✗ not yet: f returns 0\n")]),
        _cell(
            "code",
            "def f_solution(x):\n    return x\n\n\nprove_check(check_f, placeholder=f,\n            solution=f_solution)\nexercises.check_f(f_solution);",
            ["solution"],
            [stream("self-check proven: rejects the placeholder\n✓ correct\n")],
        ),
        _cell("code", "claim(...)", ["check"], [stream("fine\n")]),
        _cell(
            "code",
            "explorer",
            outputs=[
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "Explorer"},
                },
                stream("training:   0%|          | 0/60\rtraining: 100%|██████████| 60/60\n"),
                {
                    "output_type": "display_data",
                    "data": {"image/png": png, "text/plain": "<Figure>"},
                    "metadata": {
                        "site_figure": {
                            "alt": r"Loss ($\beta = 1$) (x: epoch, y: $\sigma_x^2$)",
                            "title": r"Loss ($\beta = 1$)",
                        }
                    },
                },
                {"output_type": "display_data", "data": {"image/png": png}, "metadata": {}},
            ],
        ),
    ]
    shown, figures = build_site.prepare(nb, 4)
    kinds = [(c.cell_type, sorted(c.metadata.get("tags", []))) for c in shown.cells]
    assert kinds == [("markdown", []), ("markdown", []), ("code", ["exercise"]), ("code", ["solution"]), ("code", [])]
    before, task, exercise, solution, explorer = shown.cells
    assert before.source == "## 2. A section\n\nSome text." and task.source.startswith("### Exercise 2.1")
    assert task.metadata["site_box"] == {"open": "Exercise 2.1 · Do it"} and solution.metadata["site_box_close"]
    assert "prove_check" not in solution.source and "check_f" not in solution.source
    assert solution.source == "def f_solution(x):\n    return x" and solution.outputs == []
    outputs = explorer.outputs
    assert "Interactive in the notebook; static view below." in outputs[0]["data"]["text/html"]
    assert outputs[1]["text"] == "training: 100%|██████████| 60/60\n"
    assert [f["file"] for f in figures] == ["figures/04-1.png", "figures/04-2.png"]
    assert (
        figures[0]["alt"] == "Loss (β = 1) (x: epoch, y: σ_x²)" and figures[0]["caption"] == "Figure 4.1. Loss (β = 1)"
    )
    assert (
        figures[1]["alt"] == "Figure 4.2, in the section 'Exercise 2.1 · Do it'"
        and figures[1]["caption"] == "Figure 4.2."
    )
    assert outputs[2]["metadata"]["site"]["src"] == "figures/04-1.png"


def test_the_execution_cache_follows_what_the_kernel_imported(tmp_path):
    """A cache entry holds when the files that the kernel imported are unchanged (wherever the
    kernel found the helpers package) and the distributions it imported are still installed."""
    package = tmp_path / "helpers"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n")
    (package / "model.pt").write_bytes(b"weights")
    dist = tmp_path / "numpy-2.0.0.dist-info"
    dist.mkdir()
    record = {"trees": [str(package)], "dists": [str(dist)]}
    first = build_site.imports_digest(record)
    assert build_site.imports_digest(record) == first
    (package / "model.pt").write_bytes(b"other weights")
    second = build_site.imports_digest(record)
    assert second != first
    dist.rename(tmp_path / "numpy-2.1.0.dist-info")  # an upgrade
    assert build_site.imports_digest(record) != second
    # the kernel's record names the helpers package it imported
    done = subprocess.run(
        [sys.executable, "-c", "import helpers\n" + build_site.IMPORTS_CELL],
        capture_output=True,
        text=True,
        cwd=tmp_path.parent,
        check=True,
    )
    imported = json.loads(done.stdout)
    import helpers

    assert str(Path(helpers.__file__).resolve().parent) in imported["trees"]
    assert any(Path(d).name.startswith("numpy-") for d in imported["dists"])


def test_citations_link_to_the_bibliography():
    bibliography = build_site.Bibliography()
    linked = bibliography.link_citations(
        "(Burda et al., 2016) and Nichol &amp; Dhariwal (2021), Williams, 1992; Smith et al., 2019; Figure, 2016",
        "x.html",
    )
    assert '(<a class="course-cite" href="references.html#burda2016">Burda et al., 2016</a>)' in linked
    assert '<a class="course-cite" href="references.html#nichol2021">Nichol &amp; Dhariwal (2021)</a>' in linked
    assert 'href="references.html#williams1992"' in linked and "Figure, 2016" in linked
    assert bibliography.unknown == {"Smith et al., 2019": {"x.html"}}


def test_every_citation_in_the_notebooks_has_a_bibliography_entry():
    """Checked without a build: a notebook that cites a paper needs its entry in site/references.toml."""
    bibliography = build_site.Bibliography()
    for stem in _course_stems():
        for cell in nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells:
            if cell.cell_type == "markdown":
                bibliography.link_citations(html.escape(cell.source, quote=False), stem)
    assert bibliography.unknown == {}, f"add these papers to site/references.toml: {bibliography.unknown}"


def test_every_link_agrees_with_the_repository_setting():
    want = set_repository.settings()
    assert set_repository.REPO_RE.match(want["repository"])
    texts = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in set_repository.governed_files()}
    assert any(set_repository.links(t) for t in texts.values()), "no course links found: patterns out of date?"
    assert set_repository.disagreements() == []


def test_link_check_catches_a_stray_address():
    bad = set_repository.disagreements(
        extra={
            "example": "[Colab](https://colab.research.google.com/github/someone/else/blob/main/x.ipynb) "
            "[Binder](https://mybinder.org/v2/gh/someone/else/main?urlpath=lab) "
            "git+https://github.com/someone/else https://github.com/whitead/dmol-book/raw/main/x"
        }
    )
    assert [b.split(": ", 1)[1] for b in bad] == [
        "colab link to someone/else (main)",
        "binder link to someone/else (main)",
        "github link to someone/else",
    ]


def _copy_for_repository_test(dest: Path) -> None:
    for name in (
        "README.md",
        "course.toml",
        "scripts/course_meta.py",
        "scripts/sync_notebooks.py",
        "scripts/set_repository.py",
        "notebooks/jupytext.toml",
    ):
        if (ROOT / name).exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    for pattern in ("notebooks/[0-9][0-9]_*.py", "notebooks/[0-9][0-9]_*.ipynb", "student/[0-9][0-9]_*.ipynb"):
        for path in ROOT.glob(pattern):
            (dest / path.parent.name).mkdir(exist_ok=True)
            shutil.copy2(path, dest / path.parent.name / path.name)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in {".md", ".py", ".ipynb", ".toml"} and "scripts" not in p.parts
    }


@pytest.mark.slow
def test_set_repository_rewrites_every_link_and_back(tmp_path):
    _copy_for_repository_test(tmp_path)
    script = [sys.executable, str(tmp_path / "scripts" / "set_repository.py"), "--root", str(tmp_path)]
    before = _snapshot(tmp_path)
    old = set_repository.settings(tmp_path)
    # synced editions first, so that "applying the current setting changes nothing" is about the links
    subprocess.run(
        [sys.executable, str(tmp_path / "scripts" / "sync_notebooks.py")], check=True, capture_output=True, cwd=tmp_path
    )
    synced = _snapshot(tmp_path)
    subprocess.run(script, check=True, capture_output=True)
    assert _snapshot(tmp_path) == synced, "applying the current setting changed files"

    subprocess.run(script + ["new-owner/new-course", "--branch", "dev"], check=True, capture_output=True)
    assert set_repository.settings(tmp_path) == {"repository": "new-owner/new-course", "branch": "dev"}
    assert set_repository.disagreements(tmp_path) == []
    changed = _snapshot(tmp_path)
    for name, content in changed.items():
        if name.endswith((".ipynb", ".md")) or name.startswith("notebooks/"):
            text = content.decode()
            assert old["repository"] not in text, f"{name} still names {old['repository']}"
    for name in [n for n in changed if n.endswith(".ipynb")]:  # both editions follow their sources
        assert all(r == "new-owner/new-course" for _, r, _ in set_repository.links(changed[name].decode())), name
    assert subprocess.run(script + ["--check"], capture_output=True).returncode == 0

    subprocess.run(script + [old["repository"], "--branch", old["branch"]], check=True, capture_output=True)
    assert _snapshot(tmp_path) == synced
    assert before.keys() == synced.keys()


def test_pages_workflow_runs_the_readme_commands():
    assert WORKFLOW.exists(), f"{WORKFLOW.relative_to(ROOT)} is missing"
    workflow = WORKFLOW.read_text(encoding="utf-8")
    run_lines = [
        line.strip()[len("run:") :].strip() for line in workflow.splitlines() if line.strip().startswith("run:")
    ]
    run_lines += re.findall(r"^\s{10,}(\S.*)$", workflow, re.M)  # lines of multi-line run blocks
    setup = _readme_command(r"scripts/bootstrap\.py")
    build = _readme_command(r"scripts/build_site\.py")
    assert any(setup in line for line in run_lines), f"the workflow does not run README's setup {setup!r}"
    assert any(build in line for line in run_lines), f"the workflow does not run README's build {build!r}"
    assert "actions/deploy-pages" in workflow and "actions/upload-pages-artifact" in workflow
    out = re.search(r"path:\s*(\S+)", workflow.split("upload-pages-artifact", 1)[1]).group(1)
    assert out.strip("./'\"") == build_site.DEFAULT_OUT.name, (
        "the workflow uploads another folder than the build writes"
    )


# ----------------------------------------------------------------------------- the built site


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built by scripts/build_site.py into a temporary folder (execution cache shared)."""
    if shutil.which("node") is None:
        require("Node.js is not installed (needed for the math)")
    if not (build_site.KATEX / "package.json").exists():
        require("KaTeX is not installed in site/node_modules (python3 scripts/bootstrap.py --site)")
    if build_site.find_chromium() is None:
        require("Chromium is not installed (it prints the course PDF): apt-get install chromium")
    out = tmp_path_factory.mktemp("site") / "_site"
    # beside another pytest worker (xdist), one notebook at a time on one thread, like any other test
    jobs = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    try:
        build_site.build(out, use_cache=True, jobs=jobs, threads=1)
    except build_site.BuildError as err:
        pytest.fail(f"the site does not build: {err}")
    return out


def test_built_site_has_every_page(site):
    manifest = json.loads((site / "pages.json").read_text())
    assert [p["stem"] for p in manifest["pages"] if "stem" in p] == _course_stems()
    assert manifest["repository"] == set_repository.settings()["repository"]
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in manifest["pages"]:
        assert (site / page["page"]).is_file(), f"{page['page']} missing"
        if "stem" in page:
            assert f'href="{page["page"]}"' in index, f"the landing page does not link {page['page']}"
            assert page["figures"] >= 1, f"{page['page']} shows no figure"
            if page["student"]:
                assert (site / page["student"]).is_file()
                assert f'href="{page["student"]}"' in index
    assert set_repository.disagreements(extra={"site index.html": index}) == []
    assert "Known mistakes" in (site / "lecturers.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser(server, chromium):
    """The session's Chromium, once the site is served."""
    return chromium


PAGE_STATE = """async () => {
    await document.fonts.ready;
    const images = Array.from(document.images).map(img => ({
        src: img.src.slice(0, 60), ok: img.complete && img.naturalWidth > 0}));
    const body = document.body.cloneNode(true);
    body.querySelectorAll('.katex-mathml, pre, code, .jp-CodeCell .jp-InputArea').forEach(e => e.remove());
    const text = body.textContent;
    const markdown = Array.from(document.querySelectorAll('.jp-MarkdownOutput')).map(e => {
        const c = e.cloneNode(true); c.querySelectorAll('.katex, pre, code').forEach(x => x.remove()); return c.textContent; });
    return {
        images,
        rawMath: ['$$', '\\\\(', '\\\\[', '\\\\begin{'].filter(s => text.includes(s)),
        inlineDollar: markdown.filter(t => /\\$[^$\\s][^$]*\\$/.test(t)).map(t => t.match(/\\$[^$\\s][^$]*\\$/)[0]),
        katex: document.querySelectorAll('.katex').length,
        katexErrors: document.querySelectorAll('.katex-error').length,
        // KaTeX draws square roots, braces and long arrows as svg: none may be squashed flat
        flatSymbols: Array.from(document.querySelectorAll('.katex svg'))
            .filter(s => !s.closest('details:not([open])') && !s.closest('.course-menu') && s.getBoundingClientRect().height < 1).length,
        katexFont: Array.from(document.fonts).some(f => f.family.replace(/"/g, '').startsWith('KaTeX') && f.status === 'loaded'),
        errors: document.querySelectorAll('.course-error, .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').length,
        traceback: /Traceback \\(most recent call last\\)/.test(document.body.innerText),
        checkCells: document.querySelectorAll('.celltag_check, .celltag_self-check').length,
        widgets: document.querySelectorAll('.jupyter-widgets, script:not([src])').length,
        scripts: Array.from(document.querySelectorAll('script[src]')).map(s => s.getAttribute('src')),
        links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
        ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
        solutions: document.querySelectorAll('details.course-solution').length,
        frozenBars: Array.from(document.querySelectorAll('.jp-OutputArea-output pre'))
            .map(e => e.textContent).filter(t => /(^|\\s)0%\\|/.test(t)).map(t => t.slice(0, 80)),
        // progress bars: one finished line each, without the build machine's rates and times
        bars: Array.from(document.querySelectorAll('.jp-OutputArea-output pre')).flatMap(e => e.textContent.split('\\n'))
            .filter(l => /\\d+%\\|/.test(l)),
        proofs: Array.from(document.querySelectorAll('section.course-exercise'))
            .filter(b => /prove_check|exercises\\.check_|self-check proven/.test(b.textContent)).length,
        verdicts: Array.from(document.querySelectorAll('section.course-exercise'))
            .filter(b => /✓ correct|✗ not yet/.test(b.textContent)).length,
        exercises: Array.from(document.querySelectorAll('section.course-exercise')).map(b => ({
            task: b.querySelectorAll('.jp-MarkdownCell').length,
            code: b.querySelectorAll('.celltag_exercise').length,
            solution: b.querySelectorAll('details.course-solution').length})),
        widgetNotes: Array.from(document.querySelectorAll('.course-widget-note')).map(e => e.textContent.trim()),
        sidebar: Array.from(document.querySelectorAll('nav.course-sidebar .course-chapters > li > a')).map(a => a.getAttribute('href')),
        toc: Array.from(document.querySelectorAll('nav.course-sidebar .course-toc a')).map(a => a.getAttribute('href')),
        prev: (document.querySelector('.course-pager a[rel=prev]') || {}).href || null,
        next: (document.querySelector('.course-pager a[rel=next]') || {}).href || null,
        figures: Array.from(document.querySelectorAll('figure.course-figure')).map(f => {
            const img = f.querySelector('img'), a = f.querySelector('a');
            return {alt: img.alt, src: img.src, link: a ? a.href : null, natural: img.naturalWidth,
                    width: +img.getAttribute('width') || 0, caption: (f.querySelector('figcaption') || {}).textContent || ''};
        }),
        alts: Array.from(document.images).map(i => i.getAttribute('alt')),
        skip: (() => { const a = document.querySelector('a.course-skip');
                       return a ? {href: a.getAttribute('href'), first: document.querySelector('a, button, input, summary, [tabindex]') === a} : null; })(),
    };
}"""

# At each width (and in print): what is wider than its box and cannot scroll (clipped), whether
# the page scrolls sideways, body text size and characters per line, scroll boxes that a
# keyboard cannot reach, and tab stops on elements that do nothing.
LAYOUT = """(print) => {
    if (window.courseMarkScrollers) window.courseMarkScrollers();
    const where = el => {
        const c = el.closest('.jp-Cell, figure, table, .katex-display, p, li, section, nav, header');
        const text = (el.textContent || '').trim().slice(0, 50);
        return `${el.tagName.toLowerCase()}.${String(el.className).split(' ')[0]} "${text}"` +
               (c && c !== el ? ` in ${c.tagName.toLowerCase()}.${String(c.className).split(' ')[0]}` : '');
    };
    const visible = el => el.getClientRects().length > 0 && !el.closest('details:not([open]) > :not(summary)');
    const vw = document.documentElement.clientWidth;
    const boxes = document.querySelectorAll(
        'main pre, main table, main .katex-display, main .katex-display > .katex, main .jp-InputArea, main .jp-InputArea-editor, ' +
        'main .cm-editor, main .highlight, main .jp-OutputArea-output, main .jp-OutputArea, main .jp-Cell, main figure, main img, ' +
        'main p, main li, main section, main .jp-RenderedHTMLCommon, main .course-scroll, nav, header');
    const clipped = [], unreachable = [];
    for (const el of boxes) {
        if (!visible(el)) continue;
        const cs = getComputedStyle(el);
        const over = el.scrollWidth > el.clientWidth + 4;  // (KaTeX's 1-pixel MathML box may stick out)
        const scrolls = cs.overflowX === 'auto' || cs.overflowX === 'scroll';
        if (over && (cs.overflowX === 'hidden' || cs.overflowX === 'clip' || (print && scrolls))) clipped.push(where(el));
        if (over && scrolls && !print && el.tabIndex < 0) unreachable.push(where(el));
        const r = el.getBoundingClientRect();
        if (r.right > vw + 1 && el.tagName !== 'HEADER') clipped.push(`${where(el)} ends at ${Math.round(r.right)} px > ${vw}`);
    }
    // body text: size, and characters per line from the paragraph's width and its own glyphs
    const canvas = document.createElement('canvas').getContext('2d');
    const prose = Array.from(document.querySelectorAll('main .jp-MarkdownCell p, .course-plain main p'))
        .filter(p => visible(p) && !p.querySelector('.katex-display') && p.textContent.length > 150);
    const reading = prose.map(p => {
        const cs = getComputedStyle(p);
        canvas.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        const shown = p.cloneNode(true); shown.querySelectorAll('.katex').forEach(m => m.remove());
        const t = shown.textContent.replace(/\\s+/g, ' ');
        const perChar = canvas.measureText(t).width / t.length;
        const width = p.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        return {size: parseFloat(cs.fontSize), chars: width / perChar, text: t.slice(0, 40)};
    });
    const interactive = new Set(['A', 'BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'SUMMARY']);
    const stops = Array.from(document.querySelectorAll('[tabindex]'))
        .filter(e => e.tabIndex >= 0 && !interactive.has(e.tagName) && !e.hasAttribute('data-course-scroller') && visible(e))
        .map(where);
    return {
        pageWide: document.documentElement.scrollWidth > vw + 1 ? document.documentElement.scrollWidth : 0,
        clipped: [...new Set(clipped)], unreachable: [...new Set(unreachable)], stops,
        smallest: reading.length ? Math.min(...reading.map(r => r.size)) : null,
        widest: reading.length ? reading.reduce((a, b) => (b.chars > a.chars ? b : a)) : null,
        sidebar: visible(document.querySelector('nav.course-sidebar') || document.body) && !!document.querySelector('nav.course-sidebar'),
        menu: !!document.querySelector('details.course-menu') && visible(document.querySelector('details.course-menu')),
    };
}"""

AXE = ROOT / "site" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async (rules) => {
    const options = rules ? {runOnly: {type: 'rule', values: rules}} : {};
    // KaTeX's visual layer is aria-hidden and takes the text's colour: left out, to keep the test fast
    const result = await axe.run({exclude: [['.katex-html']]}, Object.assign({resultTypes: ['violations']}, options));
    return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.id} (${v.impact}): ${v.nodes.length}x, e.g. ${v.nodes[0].target.join(' ')}: ${(v.nodes[0].failureSummary || '').slice(0, 160)}`);
}"""
WIDTHS = (1280, 768, 390)
PRINT_WIDTH = 673  # A4 less the print margins (16 mm each side), in CSS pixels
FIGURE_BUDGET_BYTES = 4_000_000  # the figures of one page (2x PNGs), README's "page budget"


def _pages(site: Path) -> list[str]:
    return [p["page"] for p in json.loads((site / "pages.json").read_text())["pages"]]


def _layout_problems(state: dict, where: str, print_mode: bool) -> list[str]:
    problems = []
    if state["pageWide"]:
        problems.append(f"{where} the page scrolls sideways ({state['pageWide']} px)")
    if state["clipped"]:
        problems.append(f"{where} {len(state['clipped'])} clipped: {state['clipped'][:4]}")
    if state["unreachable"]:
        problems.append(
            f"{where} {len(state['unreachable'])} scroll boxes without a tab stop: {state['unreachable'][:3]}"
        )
    if state["stops"]:
        problems.append(f"{where} {len(state['stops'])} tab stops on non-interactive elements: {state['stops'][:3]}")
    if state["smallest"] is not None and state["smallest"] < (14.6 if print_mode else 16):  # 11 pt in print
        problems.append(f"{where} body text {state['smallest']} px")
    if state["widest"] and state["widest"]["chars"] > 85:
        problems.append(f"{where} {state['widest']['chars']:.0f} characters per line: {state['widest']['text']!r}")
    return problems


def test_site_in_a_real_browser(site, server, browser):
    """Every page, at 1280, 768 and 390 px and in print, in one browser: loads nothing from
    outside, renders, clips nothing, reads comfortably, passes axe-core (no serious or critical
    violation, in light and dark mode), navigates (chapters, contents, previous/next, skip link),
    exercises as boxes, widgets as one line, progress bars finished, figures full size at 2x with
    alt text; search works; every page reads without JavaScript; every internal link resolves."""
    assert AXE.exists(), f"{AXE} missing: python3 scripts/bootstrap.py --site"
    ARTIFACTS.mkdir(exist_ok=True)
    manifest = json.loads((site / "pages.json").read_text())
    entries = manifest["pages"]
    pages = [p["page"] for p in entries]
    notebooks = [p for p in entries if "stem" in p]
    problems, solution_pages, ids, links = [], [], {}, set()
    outside, report = [], {}

    def guard(route):
        host = urlsplit(route.request.url).hostname
        if urlsplit(route.request.url).scheme in ("data", "blob") or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", guard)
    try:
        page = context.new_page()
        console, failed = [], []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None)
        for entry in entries:
            name = entry["page"]
            console.clear()
            failed.clear()
            page.set_viewport_size({"width": 1280, "height": 900})
            response = page.goto(server + name, wait_until="load")
            assert response is not None and response.status == 200, f"{name}: {response and response.status}"
            state = page.evaluate(PAGE_STATE)
            page.screenshot(path=str(ARTIFACTS / f"site-{Path(name).stem}.png"))
            where = f"{name}:"
            broken = [i["src"] for i in state["images"] if not i["ok"]]
            if broken:
                problems.append(f"{where} images not loaded: {broken}")
            if state["rawMath"] or state["inlineDollar"] or state["katexErrors"]:
                problems.append(
                    f"{where} math not rendered: {state['rawMath']} {state['inlineDollar'][:5]} "
                    f"({state['katexErrors']} KaTeX errors)"
                )
            if state["flatSymbols"]:
                problems.append(f"{where} {state['flatSymbols']} KaTeX symbols (svg) drawn with no height")
            if state["katex"] and not state["katexFont"]:
                problems.append(f"{where} KaTeX fonts did not load")
            if state["errors"] or state["traceback"]:
                problems.append(f"{where} error output or traceback on the page")
            if state["frozenBars"]:
                problems.append(f"{where} progress bars at 0%: {state['frozenBars']}")
            unfinished = [b for b in state["bars"] if not re.search(r"100%\|", b) or re.search(r"it/s|s/it|\[\d\d:", b)]
            if unfinished:
                problems.append(f"{where} progress bars not one finished line: {unfinished[:3]}")
            if state["checkCells"]:
                problems.append(f"{where} {state['checkCells']} check or self-check cells shown")
            if state["widgets"]:
                problems.append(f"{where} {state['widgets']} widget views or inline scripts on the page")
            if sorted(state["scripts"]) != ["pagefind/pagefind-ui.js", "static/site.js"]:
                problems.append(f"{where} scripts {state['scripts']}")
            if state["proofs"] or state["verdicts"]:
                problems.append(f"{where} self-check proofs or verdicts shown in exercise boxes")
            # exercises: boxes with the task, the starting code and the solution behind its toggle
            if len(state["exercises"]) != entry.get("exercises", 0) or any(
                b["task"] < 1 or b["code"] != 1 or b["solution"] > 1 for b in state["exercises"]
            ):
                problems.append(
                    f"{where} exercise boxes {state['exercises']} for {entry.get('exercises', 0)} exercises"
                )
            if len(state["widgetNotes"]) != entry.get("widgets", 0) or any(
                n != "Interactive in the notebook; static view below." for n in state["widgetNotes"]
            ):
                problems.append(f"{where} widget notes {state['widgetNotes']} for {entry.get('widgets', 0)} widgets")
            # figures: a numbered caption, alt text from the figure, full size on click, 2x pixels
            for f in state["figures"]:
                if not f["alt"].strip() or "No description" in f["alt"]:
                    problems.append(f"{where} figure without alt text: {f['src']}")
                if f["link"] != f["src"]:
                    problems.append(f"{where} figure does not open full size: {f['src']}")
                if not re.match(r"Figure \d+\.\d+\.", f["caption"]):
                    problems.append(f"{where} figure without a numbered caption: {f['src']}")
                if f["width"] and f["natural"] < 1.9 * f["width"]:
                    problems.append(
                        f"{where} figure below 2x resolution ({f['natural']} px for {f['width']}): {f['src']}"
                    )
            if len(state["figures"]) != entry.get("figures", 0):
                problems.append(f"{where} {len(state['figures'])} figures, pages.json says {entry.get('figures', 0)}")
            if any(not a or not a.strip() for a in state["alts"]):
                problems.append(f"{where} images without alt text")
            # navigation: skip link first, chapters, this page's contents, previous and next
            if not state["skip"] or state["skip"]["href"] != "#content" or not state["skip"]["first"]:
                problems.append(f"{where} no skip link as the first tab stop: {state['skip']}")
            if state["sidebar"] != [p["page"] for p in notebooks]:
                problems.append(f"{where} sidebar lists {state['sidebar']}")
            if "stem" in entry and not state["toc"]:
                problems.append(f"{where} no on-page contents")
            order = ["index.html"] + [p["page"] for p in notebooks] + ["references.html"]
            if name in order:
                i = order.index(name)
                want_prev = server + order[i - 1] if i > 0 else None
                want_next = server + order[i + 1] if i + 1 < len(order) else None
                if (state["prev"], state["next"]) != (want_prev, want_next):
                    problems.append(f"{where} previous/next {state['prev']}, {state['next']}")
            page.keyboard.press("Tab")  # the skip link: first tab stop, visible when focused
            if not page.evaluate(
                "() => { const a = document.activeElement; const r = a.getBoundingClientRect();"
                " return a.classList.contains('course-skip') && r.top >= 0 && r.left >= 0 && r.width > 0; }"
            ):
                problems.append(f"{where} the first Tab does not show the skip link")
            ids[server + name] = set(state["ids"])
            links.update((server + name, link) for link in state["links"])
            if state["solutions"]:
                solution_pages.append(name)
                toggle = page.locator("details.course-solution").first
                assert toggle.evaluate("d => !d.open"), f"{name}: a solution is open before the click"
                toggle.locator("summary").click()
                assert toggle.evaluate("d => d.open"), f"{name}: the solution toggle did not open"
                inner = toggle.locator(".jp-Cell").first
                assert inner.is_visible(), f"{name}: the solution is not visible after the click"
                toggle.screenshot(path=str(ARTIFACTS / f"site-{Path(name).stem}-solution.png"))
                toggle.locator("summary").click()
            # accessibility: axe-core, once per page; in dark mode its contrast rule again
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(AXE_RUN, None)
            page.emulate_media(color_scheme="dark")
            violations += [f"dark mode: {v}" for v in page.evaluate(AXE_RUN, ["color-contrast"])]
            page.emulate_media(color_scheme="light")
            report[name] = {"figures": len(state["figures"]), "axe": violations}
            if violations:
                problems.append(f"{where} axe-core: {violations}")
            # layout at each width, then in print
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                layout = page.evaluate(LAYOUT, False)
                problems += _layout_problems(layout, f"{name} at {width} px:", False)
                if width >= 1024 and not layout["sidebar"] or width < 1024 and not layout["menu"]:
                    problems.append(f"{name} at {width} px: chapters not shown ({layout})")
                report[name][f"chars_{width}"] = round(layout["widest"]["chars"]) if layout["widest"] else None
                if width != 1280:
                    page.screenshot(path=str(ARTIFACTS / f"site-{Path(name).stem}-{width}.png"))
            page.set_viewport_size({"width": PRINT_WIDTH, "height": 900})
            page.emulate_media(media="print")
            problems += _layout_problems(page.evaluate(LAYOUT, True), f"{name} in print:", True)
            page.emulate_media(media="screen")
            if console:
                problems.append(f"{where} console: {console}")
            if failed:
                problems.append(f"{where} failed requests: {failed}")
        page.close()

        # search: Pagefind's prebuilt index answers in the browser
        page = context.new_page()
        page.goto(server + "index.html", wait_until="load")
        page.locator(".pagefind-ui__search-input").fill("importance weighted")
        page.wait_for_selector(".pagefind-ui__result-link", timeout=20_000)
        hits = page.locator(".pagefind-ui__result-link").evaluate_all("as => as.map(a => a.href)")
        if not any("03_elbo.html" in h for h in hits):
            problems.append(f"search for 'importance weighted' does not find notebook 3: {hits}")
        links.update((server + "index.html (search)", h) for h in hits)
        page.close()

        # every internal link resolves (the page or file exists; an anchor exists on its page)
        checked = {}
        for source, link in sorted(links):
            url, fragment = urldefrag(link)
            if urlsplit(url).hostname not in LOCAL_HOSTS:
                continue
            if url not in checked:
                checked[url] = context.request.get(url).status
            if checked[url] != 200:
                problems.append(f"{source}: link {link} -> HTTP {checked[url]}")
            elif fragment and url in ids and fragment not in ids[url]:
                problems.append(f"{source}: link {link}: no element with id {fragment!r}")
    finally:
        context.close()

    # without JavaScript every page still reads (search is the only thing missing)
    plain = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 900})
    plain.route("**/*", guard)
    try:
        page = plain.new_page()
        for name in (pages[0], notebooks[0]["page"]):
            page.goto(server + name, wait_until="load")
            shown = page.evaluate("() => document.querySelector('main').innerText.length")
            if shown < 1000 or page.locator("#search").is_visible():
                problems.append(f"{name} without JavaScript: {shown} characters of text, search box shown")
    finally:
        plain.close()

    (ARTIFACTS / "site-report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if outside:
        problems.insert(0, f"requests left the machine (aborted): {sorted(set(outside))}")
    assert not problems, "\n".join(problems)
    has_solutions = any(
        "solution" in c.get("metadata", {}).get("tags", [])
        for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
        for c in nbformat.read(p, as_version=4).cells
    )
    assert bool(solution_pages) == has_solutions, f"pages with a solution toggle: {solution_pages}"


def test_book_pdf_bibliography_and_figure_budget(site):
    """One PDF of the whole course (linked from the landing page), a bibliography entry for
    every citation, the figures of each page within the budget."""
    manifest = json.loads((site / "pages.json").read_text())
    pdf = manifest["pdf"]
    notebooks = [p for p in manifest["pages"] if "stem" in p]
    assert pdf and (site / pdf["file"]).read_bytes()[:5] == b"%PDF-"
    assert pdf["pages"] == build_site.pdf_pages(site / pdf["file"]) >= 3 * len(notebooks)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert f'href="{pdf["file"]}"' in index
    assert manifest["unknown_citations"] == {}, (
        f"citations without an entry in site/references.toml: {manifest['unknown_citations']}"
    )
    references = (site / "references.html").read_text(encoding="utf-8")
    for key, where in manifest["citations"].items():
        assert f'id="{key}"' in references, key
        for page in where:
            if page != "index.html":
                text = (site / page).read_text(encoding="utf-8")
                entry = build_site.Bibliography().entries[key]
                assert f'href="references.html#{key}"' in text or entry.get("mention"), (page, key)
    for p in notebooks:
        assert p["figure_bytes"] <= FIGURE_BUDGET_BYTES, f"{p['page']}: {p['figure_bytes']} bytes of figures"
    assert (site / "pagefind" / "pagefind-ui.js").exists() and list((site / "pagefind").glob("index/*"))
