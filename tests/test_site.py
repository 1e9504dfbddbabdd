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


def test_plan_has_a_page_for_every_notebook():
    sources = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
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
        assert html.escape(entry["learn"]) in index
        assert html.escape(build_site.course_meta.binder_url(meta, f"notebooks/{entry['stem']}.ipynb")) in index
    assert html.escape(_readme_command(r"scripts/bootstrap\.py")) in index
    assert set_repository.disagreements(extra={"index.html": index}) == []


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
    stems = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert [p.get("stem") for p in manifest["pages"][1:]] == stems
    assert manifest["repository"] == set_repository.settings()["repository"]
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in manifest["pages"]:
        assert (site / page["page"]).is_file(), f"{page['page']} missing"
        if page["page"] != "index.html":
            assert f'href="{page["page"]}"' in index, f"the landing page does not link {page['page']}"
            assert page["figures"] >= 1, f"{page['page']} shows no figure"
            if page["student"]:
                assert (site / page["student"]).is_file()
                assert f'href="{page["student"]}"' in index
    assert set_repository.disagreements(extra={"site index.html": index}) == []
    assert "Known mistakes" in index


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
            .filter(s => !s.closest('details:not([open])') && s.getBoundingClientRect().height < 1).length,
        katexFont: Array.from(document.fonts).some(f => f.family.replace(/"/g, '').startsWith('KaTeX') && f.status === 'loaded'),
        errors: document.querySelectorAll('.course-error, .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').length,
        traceback: /Traceback \\(most recent call last\\)/.test(document.body.innerText),
        checkCells: document.querySelectorAll('.celltag_check').length,
        widgets: document.querySelectorAll('.jupyter-widgets, script').length,
        links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
        ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
        solutions: document.querySelectorAll('details.course-solution').length,
        frozenBars: Array.from(document.querySelectorAll('.jp-OutputArea-output pre'))
            .map(e => e.textContent).filter(t => /(^|\\s)0%\\|/.test(t)).map(t => t.slice(0, 80)),
    };
}"""


def _pages(site: Path) -> list[str]:
    return [p["page"] for p in json.loads((site / "pages.json").read_text())["pages"]]


def test_site_in_a_real_browser(site, server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    pages = _pages(site)
    problems, solution_pages, ids, links = [], [], {}, set()
    outside = []

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
        for name in pages:
            page = context.new_page()
            console, failed = [], []
            # (each handler appends to this page's lists: bound as defaults, not looked up later)
            page.on(
                "console",
                lambda m, console=console: (
                    console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda e, console=console: console.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r, failed=failed: failed.append(f"{r.url}: {r.failure}"))
            page.on(
                "response",
                lambda r, failed=failed: failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None,
            )
            response = page.goto(server + name, wait_until="load")
            assert response is not None and response.status == 200, f"{name}: {response and response.status}"
            state = page.evaluate(PAGE_STATE)
            page.screenshot(path=str(ARTIFACTS / f"site-{Path(name).stem}.png"), full_page=True)
            where = f"{name}:"
            if console:
                problems.append(f"{where} console: {console}")
            if failed:
                problems.append(f"{where} failed requests: {failed}")
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
            if state["checkCells"]:
                problems.append(f"{where} {state['checkCells']} check cells shown")
            if state["widgets"]:
                problems.append(f"{where} {state['widgets']} widget views or scripts on the page")
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

    if outside:
        problems.insert(0, f"requests left the machine (aborted): {sorted(set(outside))}")
    assert not problems, "\n".join(problems)
    has_solutions = any(
        "solution" in c.get("metadata", {}).get("tags", [])
        for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
        for c in nbformat.read(p, as_version=4).cells
    )
    assert bool(solution_pages) == has_solutions, f"pages with a solution toggle: {solution_pages}"
