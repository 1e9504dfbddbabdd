"""The explorers in a real browser: JupyterLab driven by headless Chromium through Playwright.

For each case, the test opens the notebook in JupyterLab, runs all cells, waits for the
kernel to go idle, checks that no cell raised and that the explorer rendered, then presses
an arrow key on the explorer's slider several times. Each press must change the displayed
image (its bytes) and the readout text, with exactly one new image per press (no double
render). The time from key press to the new image is recorded in test-artifacts/ for
benchmarks/bench_widgets.py's readers, never asserted: a busy machine would fail it.

Needs Chromium at /usr/bin/chromium (Debian package ``chromium``; no browser download) and
Playwright for Python. Without Chromium the test is skipped, unless the environment
variable CI is set: then it fails. Screenshots, the latencies (JSON) and the server log go
to test-artifacts/. The notebooks are run from a temporary copy (JupyterLab autosaves
outputs, which must never reach the committed .ipynb files); the JupyterLab server runs
with a random port, a random token and throwaway config/data/runtime directories, and is
stopped by its process id (process group) whatever happens.

    pytest -m browser tests/test_browser.py -p no:xdist -s   # -s shows the latencies

BROWSER_TEST_NOTEBOOKS=DIR runs the cases against the notebooks in DIR instead of
notebooks/ (for developing this test before the course notebooks exist).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser_support import require, require_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PRESSES = 6
RUN_TIMEOUT_S = 110  # one notebook, top to bottom (each must run well under 60 s)

# (notebook, CSS class of the explorer's box, slider description) -- see helpers/widgets.py
CASES = [
    pytest.param("06_polymer_case_study.ipynb", "polymer-latent-explorer", "z₁", id="latent-z1"),
    pytest.param("04_beta.ipynb", "polymer-beta-explorer", "β", id="beta"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of the notebooks.

    Yields (base_url, token). Stops the server and its kernels (its process group) at the end.
    """
    require_chromium()
    tmp = tmp_path_factory.mktemp("lab")
    source = Path(os.environ.get("BROWSER_TEST_NOTEBOOKS", ROOT / "notebooks"))
    served = tmp / "root" / "notebooks"
    shutil.copytree(source, served, ignore=shutil.ignore_patterns("*.py", "jupytext.toml", ".ipynb_checkpoints"))
    settings = tmp / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')

    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp / 'root'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI runners often run as root
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab-server.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base} within 60 s; see {log.name}")
            time.sleep(0.3)
        yield base, token
    finally:
        _stop(server)
        log.close()


def _start_time(pid: int):
    """The start time of process ``pid`` (Linux /proc), or None: tells a process from a later
    one that reuses its id."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _children(pid: int) -> list[tuple[int, str]]:
    """Direct children of ``pid`` with their start times (Linux /proc; empty elsewhere)."""
    try:
        pids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [(c, _start_time(c)) for c in pids if _start_time(c) is not None]


def _stop(server: subprocess.Popen) -> None:
    """Stop the server by its process id and whatever it started.

    SIGTERM to the server's process group (the server shuts its kernels down cleanly), then
    SIGKILL to anything left: the group, and the kernels, which run in sessions of their own.
    """
    kernels = _children(server.pid)
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    for pid, started in kernels:
        if _start_time(pid) == started:  # still the same process: normally already gone
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def browser(lab, chromium):
    """The session's Chromium, once the JupyterLab server is up."""
    return chromium


# ----------------------------------------------------------------------------- page helpers

FIND_PANEL = """(name) => {
    const app = window.jupyterapp;
    if (!app) return null;
    return Array.from(app.shell.widgets('main')).find(
        w => w.context && w.context.path.endsWith(name) && w.content && w.sessionContext) || null;
}"""

NOTEBOOK_STATE = (
    """(name) => {
    const panel = ("""
    + FIND_PANEL
    + """)(name);
    if (!panel) return null;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const cells = panel.content.widgets.filter(c => c.model.type === 'code');
    const errors = [];
    cells.forEach((c, i) => c.model.outputs.toJSON().forEach(o => {
        if (o.output_type === 'error') errors.push(`code cell ${i + 1}: ${o.ename}: ${o.evalue}`);
    }));
    return {
        status: kernel ? kernel.status : 'no kernel',
        total: cells.length,
        executed: cells.filter(c => c.model.executionCount !== null).length,
        pending: cells.filter(c => (c.promptNode ? c.promptNode.textContent : '').includes('*')).length,
        errors,
    };
}"""
)

INSTALL_PROBE = """(img) => {
    const probe = {t0: null, latencies: [], loads: 0};
    document.addEventListener('keydown', () => { probe.t0 = performance.now(); }, true);
    img.addEventListener('load', () => {
        probe.loads += 1;
        if (probe.t0 !== null) { probe.latencies.push(performance.now() - probe.t0); probe.t0 = null; }
    });
    window.__probe = probe;
}"""

IMAGE_BYTES = """async (img) => {
    const buffer = await (await fetch(img.src)).arrayBuffer();
    let s = ''; const bytes = new Uint8Array(buffer);
    for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return btoa(s);
}"""


def run_all(page, name: str) -> dict:
    """Run every cell and wait until the kernel is idle with nothing queued. Returns the state."""
    page.wait_for_function(f"(name) => ({FIND_PANEL})(name) !== null", arg=name, timeout=60_000)
    page.wait_for_function(
        f"""(name) => {{ const s = ({FIND_PANEL})(name).sessionContext;
                               return s.session && s.session.kernel && s.session.kernel.status === 'idle'; }}""",
        arg=name,
        timeout=60_000,
    )
    page.evaluate(
        f"""async (name) => {{ const panel = ({FIND_PANEL})(name);
                      window.jupyterapp.shell.activateById(panel.id);
                      await window.jupyterapp.commands.execute('notebook:run-all-cells'); }}""",
        name,
    )
    deadline, settled = time.monotonic() + RUN_TIMEOUT_S, 0
    while True:
        state = page.evaluate(NOTEBOOK_STATE, name)
        done = (
            state
            and state["status"] == "idle"
            and state["pending"] == 0
            and (state["executed"] == state["total"] or state["errors"])
        )
        settled = settled + 1 if done else 0
        if settled >= 3:  # idle on three polls in a row: no cell still queued
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not finish within {RUN_TIMEOUT_S} s: {state}")
        page.wait_for_timeout(300)


# ----------------------------------------------------------------------------- the test


@pytest.mark.parametrize("notebook, box, description", CASES)
def test_explorer_in_jupyterlab(lab, browser, notebook, box, description, request):
    base, token = lab
    source = Path(os.environ.get("BROWSER_TEST_NOTEBOOKS", ROOT / "notebooks")) / notebook
    if not source.exists():
        require(f"{source} does not exist yet")
    case = request.node.callspec.id
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    try:
        # a workspace of its own, reset: no tab restored from the other case
        page.goto(f"{base}/lab/workspaces/{case}/tree/notebooks/{notebook}?reset&token={token}", timeout=60_000)
        state = run_all(page, notebook)
        assert not state["errors"], f"{notebook} raised: {state['errors']}"
        assert state["executed"] == state["total"], state
        assert page.locator("text=Error displaying widget").count() == 0

        explorer = page.locator(f".{box}")
        assert explorer.count() == 1, f"expected one .{box} in {notebook}, found {explorer.count()}"
        explorer.scroll_into_view_if_needed()
        image = explorer.locator("img.explorer-image")
        readout = explorer.locator(".explorer-readout")
        image.wait_for(state="visible", timeout=20_000)
        assert image.evaluate("img => img.complete && img.naturalWidth > 300"), "explorer image did not load"
        slider = explorer.locator(".widget-slider").filter(
            has=page.locator(".widget-label", has_text=re.compile(f"^{re.escape(description)}$"))
        )
        assert slider.count() == 1, f"no slider described {description!r} in .{box}"
        handle = slider.locator(".noUi-handle, .ui-slider-handle").first
        page.screenshot(path=str(ARTIFACTS / f"{case}-notebook.png"), full_page=False)
        explorer.screenshot(path=str(ARTIFACTS / f"{case}-before.png"))

        first_bytes, first_text = image.evaluate(IMAGE_BYTES), readout.inner_text()
        image.evaluate(INSTALL_PROBE)
        handle.focus()
        key, texts, flipped = "ArrowRight", [first_text], False
        while len(texts) <= PRESSES:
            if handle.get_attribute("aria-valuenow") is not None and handle.get_attribute(
                "aria-valuenow"
            ) == handle.get_attribute("aria-valuemax"):
                key = "ArrowLeft"  # at the end of the range: walk back
            loads = page.evaluate("() => window.__probe.loads")
            page.keyboard.press(key)
            try:
                page.wait_for_function(f"() => window.__probe.loads > {loads}", timeout=5_000)
            except Exception:
                if flipped:
                    raise AssertionError(
                        f"pressing {key} on the {description} slider did not update the image"
                    ) from None
                key, flipped = ("ArrowLeft" if key == "ArrowRight" else "ArrowRight"), True
                page.evaluate("() => { window.__probe.t0 = null; }")
                continue
            page.wait_for_function(
                f"() => document.querySelector('.{box} .explorer-readout').innerText !== {json.dumps(texts[-1])}",
                timeout=5_000,
            )
            texts.append(readout.inner_text())
        latencies = page.evaluate("() => window.__probe.latencies")
        image_loads = page.evaluate("() => window.__probe.loads")
        last_bytes = image.evaluate(IMAGE_BYTES)
        explorer.screenshot(path=str(ARTIFACTS / f"{case}-after.png"))
    finally:
        (ARTIFACTS / f"{case}-console.log").write_text("\n".join(console) + "\n")
        page.close()

    assert base64.b64decode(last_bytes)[:8] == b"\x89PNG\r\n\x1a\n"
    assert last_bytes != first_bytes, "the displayed image did not change"
    assert all(a != b for a, b in zip(texts, texts[1:])), f"readout did not change with every press: {texts}"
    assert len(set(texts)) >= 3, texts
    median = sorted(latencies)[len(latencies) // 2]
    result = {
        "case": case,
        "notebook": notebook,
        "slider": description,
        "presses": len(latencies),
        "latencies_ms": [round(t, 1) for t in latencies],
        "median_ms": round(median, 1),
        "readouts": texts,
    }
    _write_json(ARTIFACTS / f"{case}-latency.json", result)
    print(
        f"\n{case}: key press -> new image, median {median:.1f} ms over {len(latencies)} presses "
        f"({', '.join(f'{t:.0f}' for t in latencies)} ms)"
    )
    assert image_loads == len(texts) - 1 >= 5, (
        f"one new image per key press: {image_loads} images, {len(texts) - 1} presses"
    )
