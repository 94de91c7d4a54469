"""Drive the course as learners meet it: a real JupyterLab (or JupyterHub) in Debian's Chromium.

The servers run from the course environment (``.venv``) on free loopback ports with token (or
dummy-password) auth, on a scratch copy of the notebooks, writing below a scratch folder
(``COURSE_SCRATCH_DIR``): JupyterLab autosaves, and the committed notebooks must never change.
Screenshots of the key cells go to ``_build/browser-test/`` (ignored by git).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import nbformat
import pytest

from utils.machinery.notebooks import RAISES, output_text, tags

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = ROOT / "_build" / "browser-test"  # screenshots (ignored by git, like the rest of _build)
NOTEBOOK_TIMEOUT = 10 * 60  # seconds for one notebook's Run All (a generous bound on a busy 2-core machine)
TILE_PATH = re.compile(r"/api/tiles/\d+/\d+/\d+\.png")  # localtileserver's map tiles
DASHBOARD_LINK = re.compile(r"(?:https?://[^\s'\"<>]+|/[^\s'\"<>]*)/status\b")  # dask's dashboard link


def require(what: str, ok: bool, how: str) -> None:
    """Skip (or fail, with ``COURSE_REQUIRE_BROWSER=1``, as in CI) when ``what`` is missing."""
    if ok:
        return
    message = f"{what} is not installed: {how}"
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (COURSE_REQUIRE_BROWSER=1 makes the browser tests mandatory)")
    pytest.skip(message)


def require_chromium() -> None:
    require("Chromium (/usr/bin/chromium)", CHROMIUM.exists(),
            "the browser tests need it ('sudo apt-get install chromium' on Debian/Ubuntu)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path, scratch: Path) -> dict[str, str]:
    """The environment of a server: the course's .venv first, its own config and scratch folders."""
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "COURSE_SCRATCH_DIR": str(scratch),
        # The learner's own Jupyter and IPython settings (news pop-up, extensions...) stay out of it.
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / ".jupyter" / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / ".jupyter" / "lab" / "workspaces"),
        "IPYTHONDIR": str(home / ".ipython"),
    })
    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_TOKEN", "JUPYTER_TOKEN"):
        env.pop(name, None)
    return env


def copy_notebooks(target: Path) -> Path:
    """A scratch copy of ``notebooks/`` below ``target`` (JupyterLab may autosave into it)."""
    shutil.copytree(ROOT / "notebooks", target / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


def wait_for_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}; its log:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer from {url} in {timeout:.0f} s; the server's log:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM the server (it shuts down its kernels), then SIGKILL its process group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session=True: the group is this server's
    except ProcessLookupError:
        pass
    proc.wait()


def root_flags() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


@dataclass
class Lab:
    """A running JupyterLab: ``url`` ends with the base URL (``/`` or ``/user/learner/``)."""

    url: str
    token: str
    root_dir: Path
    log: Path

    def login_url(self, path: str) -> str:
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}"


@contextmanager
def jupyter_lab(workdir: Path, base_url: str = "/") -> Iterator[Lab]:
    """Start ``jupyter lab`` from the course environment on a scratch copy of the notebooks.

    With a ``base_url`` other than ``/``, the server runs as a hub's single-user server does:
    under that prefix, with ``JUPYTERHUB_SERVICE_PREFIX`` set to it.
    """
    root_dir = copy_notebooks(workdir / "lab-root")
    env = isolated_env(workdir / "home", workdir / "scratch")
    if base_url != "/":
        env["JUPYTERHUB_SERVICE_PREFIX"] = base_url
    port, token = free_port(), secrets.token_hex(16)
    log = workdir / "jupyter-lab.log"
    cmd = [str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root_dir}", f"--ServerApp.base_url={base_url}", *root_flags()]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}{base_url}", token, root_dir, log)
    try:
        wait_for_http(f"{lab.url}api/status?token={token}", proc, log)
        yield lab
    finally:
        stop(proc)


HUB_CONFIG = """\
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret!r}
c.JupyterHub.pid_file = {hub_pid!r}
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home_template!r}
# The single-user server runs from the course environment, as on a hub image built from environment.yml.
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = c.Spawner.http_timeout = 300
"""


@dataclass
class Hub:
    url: str
    homes: Path
    log: Path


def which(program: str) -> str | None:
    return shutil.which(program, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def hub_can_run() -> bool:
    return which("configurable-http-proxy") is not None and which("git") is not None


def require_hub() -> None:
    require_chromium()
    require("configurable-http-proxy", which("configurable-http-proxy") is not None,
            "JupyterHub needs it ('npm install -g configurable-http-proxy')")
    require("git", which("git") is not None, "nbgitpuller needs it")


@contextmanager
def jupyterhub(workdir: Path) -> Iterator[Hub]:
    """A JupyterHub on loopback as a workshop runs it, scaled down: configurable-http-proxy, the dummy
    authenticator (any user name and password), local single-user servers from the course environment."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, hub_port, api_port = free_port(), free_port(), free_port()
    homes = workdir / "home"
    config = workdir / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(
        bind_url=f"http://127.0.0.1:{port}", hub_bind_url=f"http://127.0.0.1:{hub_port}",
        proxy_api_url=f"http://127.0.0.1:{api_port}", proxy_pid=str(workdir / "proxy.pid"),
        db_url=f"sqlite:///{workdir / 'jupyterhub.sqlite'}", cookie_secret=str(workdir / "cookie_secret"),
        hub_pid=str(workdir / "jupyterhub.pid"), home_template=f"{homes}/{{username}}",
        singleuser=str(VENV_BIN / "jupyterhub-singleuser"), args=root_flags(),
        environment={"COURSE_SCRATCH_DIR": str(workdir / "scratch")},
    ))
    env = isolated_env(workdir / "hub-home", workdir / "scratch")
    log = workdir / "jupyterhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(config)], cwd=workdir, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    hub = Hub(f"http://127.0.0.1:{port}", homes, log)
    try:
        wait_for_http(f"{hub.url}/hub/api/", proc, log)
        yield hub
    finally:
        stop(proc, timeout=60)


def bare_clone(workdir: Path, name: str) -> str:
    """The course's current commit as ``main`` of a bare repository: a local git URL for nbgitpuller."""
    bare = workdir / f"{name}.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "push", "-q", str(bare), "HEAD:refs/heads/main"], cwd=ROOT, check=True)
    return bare.as_uri()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- one notebook, as a learner runs it ------------------------------------------------------------


@dataclass
class Traffic:
    """What the page asked the servers for while a notebook ran."""

    origin: str
    tiles: list[tuple[int, str, str]] = field(default_factory=list)  # (status, content type, url)
    tiles_pending: set[str] = field(default_factory=set)
    http_errors: list[tuple[int, str]] = field(default_factory=list)  # same-origin answers >= 400
    failed: list[tuple[str, str]] = field(default_factory=list)  # requests that got no answer

    def watch(self, page: Any) -> None:
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _request(self, request: Any) -> None:
        if TILE_PATH.search(request.url):
            self.tiles_pending.add(request.url)

    def _response(self, response: Any) -> None:
        if TILE_PATH.search(response.url):
            self.tiles_pending.discard(response.url)
            self.tiles.append((response.status, response.headers.get("content-type", ""), response.url))
        elif response.status >= 400 and response.url.startswith(self.origin):
            self.http_errors.append((response.status, response.url))

    def _failed(self, request: Any) -> None:
        self.tiles_pending.discard(request.url)
        if request.url.startswith(self.origin) or TILE_PATH.search(request.url):
            self.failed.append((request.failure or "failed", request.url))


@dataclass
class Run:
    """The outcome of Run All on one notebook in the browser."""

    notebook: Any  # the notebook as JupyterLab saved it after the run
    traffic: Traffic
    dashboard: tuple[str, int] | None = None  # (URL the browser uses, HTTP status) of a dask dashboard link
    screenshots: list[Path] = field(default_factory=list)


def artifacts_dir(name: str) -> Path:
    path = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def wait_until_ready(page: Any, timeout: float = 180) -> None:
    """The notebook shows its cells and its kernel is idle."""
    page.wait_for_function(
        """() => document.querySelector('.jp-NotebookPanel .jp-Cell') &&
                 [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle/.test(e.textContent))""",
        timeout=timeout * 1000, polling=250)


def menu(page: Any, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


STATE_JS = """() => ({
    dead: [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| (Dead|Unknown)/.test(e.textContent)),
    queued: [...document.querySelectorAll('.jp-InputPrompt')].filter(e => e.textContent.includes('*')).length,
    busy: ![...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle/.test(e.textContent)),
})"""
OUTPUT_TEXT_JS = "() => [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).join('\\n')"


def run_notebook(page: Any, lab_url: str, path: str, name: str, saved_file: Path, *, navigate: bool = True,
                 token: str = "") -> Run:
    """Open ``path`` (relative to the server's root) in JupyterLab, Run All, wait until the kernel is idle.

    ``navigate=False``: the page shows the notebook already (e.g. an nbgitpuller link opened it);
    ``token``: log in with it on the way (it becomes a cookie).

    While it runs, a dask dashboard link that appears in an output is requested at the URL the
    browser resolves it to (the cluster may be closed by the end of the notebook). After the run,
    the notebook is saved and read back, maps and plots are scrolled into view and photographed.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(lab_url))
    traffic = Traffic(origin)
    traffic.watch(page)
    if navigate:
        page.goto(f"{lab_url}lab/tree/{path}?reset" + (f"&token={token}" if token else ""))
    wait_until_ready(page)
    shots = artifacts_dir(name)
    menu(page, "Run", "Run All Cells")
    run = Run(notebook=None, traffic=traffic)
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT
    started, idle_polls = False, 0
    # Done: the kernel has worked, no cell waits ([*]) and the kernel stays idle for 2 s (queued
    # cells follow each other without a pause, so a busy kernel never looks idle for that long).
    while idle_polls < 4:
        state = page.evaluate(STATE_JS)
        if state["dead"]:
            page.screenshot(path=shots / "dead-kernel.png")
            raise RuntimeError(f"{path}: the kernel died (out of memory?); see {shots / 'dead-kernel.png'}")
        started = started or state["busy"] or state["queued"] > 0
        idle_polls = idle_polls + 1 if started and not state["busy"] and state["queued"] == 0 else 0
        if run.dashboard is None:
            match = DASHBOARD_LINK.search(page.evaluate(OUTPUT_TEXT_JS))
            if match:
                run.dashboard = visit_dashboard(page, urljoin(page.url, match.group(0)), shots)
        if time.monotonic() > deadline:
            page.screenshot(path=shots / "timeout.png", full_page=True)
            raise TimeoutError(f"{path}: Run All did not finish in {NOTEBOOK_TIMEOUT} s")
        page.wait_for_timeout(500)
    wait_until_ready(page)
    menu(page, "File", "Save Notebook")
    page.wait_for_function("() => !document.querySelector('.jp-mod-current.jp-mod-dirty')", timeout=60000)
    run.notebook = nbformat.read(str(saved_file), as_version=4)
    run.screenshots += photograph_key_cells(page, traffic, shots)
    page.screenshot(path=shots / "last-view.png")
    if run.dashboard:
        run.screenshots.append(shots / "dask-dashboard.png")
    return run


def visit_dashboard(page: Any, url: str, shots: Path) -> tuple[str, int]:
    """Request a dashboard link as the browser resolves it, and photograph the page it opens."""
    status = page.request.get(url).status
    tab = page.context.new_page()
    try:
        tab.goto(url)
        tab.wait_for_timeout(2000)
        tab.screenshot(path=shots / "dask-dashboard.png")
    finally:
        tab.close()
    return url, status


def photograph_key_cells(page: Any, traffic: Traffic, shots: Path) -> list[Path]:
    """Scroll each map, Bokeh figure and the dashboard link into view (maps then load their tiles)."""
    taken = []
    for kind, locator in (("leaflet-map", page.locator(".jp-Cell", has=page.locator(".leaflet-container"))),
                          ("bokeh-figure", page.locator(".jp-Cell", has=page.locator(".jp-OutputArea-output canvas"))),
                          ("dask-link", page.locator(".jp-Cell", has=page.locator(".jp-OutputArea-output",
                                                                                    has_text=DASHBOARD_LINK)))):
        for i in range(locator.count()):
            cell = locator.nth(i)
            cell.scroll_into_view_if_needed()
            if kind == "leaflet-map":
                wait_for_tiles(page, traffic)
            else:
                page.wait_for_timeout(500)
            target = shots / f"{kind}-{i}.png"
            cell.screenshot(path=target)
            taken.append(target)
    return taken


def wait_for_tiles(page: Any, traffic: Traffic, timeout: float = 60) -> None:
    """Wait until the map asked for tiles and every request has its answer (quiet for a second)."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        settled = traffic.tiles and not traffic.tiles_pending
        quiet_since = (quiet_since or time.monotonic()) if settled else None
        if quiet_since and time.monotonic() - quiet_since > 1:
            return


def bokeh_canvases(page: Any) -> list[dict[str, float]]:
    """The size of every canvas Bokeh drew in an output (Playwright's selectors pierce its shadow DOM)."""
    canvases = page.locator(".jp-OutputArea-output canvas")
    return [canvases.nth(i).bounding_box() or {"width": 0, "height": 0} for i in range(canvases.count())]


HOLOVIEWS_OUTPUT = "application/vnd.holoviews_exec.v0+json"
WIDGET_OUTPUT = "application/vnd.jupyter.widget-view+json"


def displays(nb: Any, mime: str, word: str = "") -> bool:
    """Whether a code cell (whose source mentions ``word``) displayed an output of type ``mime``."""
    return any(mime in o.get("data", {}) for c in nb.cells if c.cell_type == "code" and word in c.source
               for o in c.outputs)


def check_run(page: Any, run: Run) -> None:
    """Assert what a learner must see: every cell ran, errors only where intended, widgets load."""
    problems = []
    for i, cell in enumerate(run.notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        if RAISES in tags(cell):
            if not errors:
                problems.append(f"cell {i} is tagged {RAISES} but raised nothing")
        elif errors:
            problems.append(f"cell {i} failed: {errors}")
        if cell.execution_count is None:
            problems.append(f"cell {i} did not run")
    if displays(run.notebook, HOLOVIEWS_OUTPUT):
        drawn = [c for c in bokeh_canvases(page) if c["width"] > 50 and c["height"] > 50]
        if not drawn:
            problems.append("no Bokeh canvas was drawn for the hvplot figure")
    if displays(run.notebook, WIDGET_OUTPUT, "leafmap"):
        if not run.traffic.tiles:
            problems.append("the map requested no raster tiles")
        bad = [t for t in run.traffic.tiles if t[0] != 200 or t[1] != "image/png"]
        if bad:
            problems.append(f"{len(bad)} of {len(run.traffic.tiles)} raster tiles failed, e.g. {bad[:3]}")
    starts_cluster = any("LocalCluster(" in c.source for c in run.notebook.cells if c.cell_type == "code")
    if run.dashboard is None and (starts_cluster or any(DASHBOARD_LINK.search(output_text(c)) for c in run.notebook.cells)):
        problems.append("no dask dashboard link was seen in the outputs while the cluster ran")
    if run.dashboard is not None and run.dashboard[1] != 200:
        problems.append(f"the dask dashboard link {run.dashboard[0]} answered {run.dashboard[1]}")
    if run.traffic.http_errors:
        problems.append(f"the Jupyter server answered errors: {run.traffic.http_errors[:5]}")
    failed_here = [f for f in run.traffic.failed if TILE_PATH.search(f[1])]
    if failed_here:
        problems.append(f"tile requests got no answer: {failed_here[:3]}")
    assert not problems, "\n".join(problems) + f"\nscreenshots: {[str(p) for p in run.screenshots]}"


def shutdown_kernels(page: Any, lab_url: str) -> None:
    """Stop every kernel of the server (and a notebook's dask cluster with it) before the next notebook."""
    for kernel in json.loads(page.request.get(f"{lab_url}api/kernels").text()):
        response = page.request.delete(f"{lab_url}api/kernels/{kernel['id']}", headers={"X-XSRFToken": xsrf(page)})
        assert response.status == 204, f"could not stop kernel {kernel['id']}: {response.status} {response.text()}"


def xsrf(page: Any) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "_xsrf"), "")


def read_page_config(page: Any) -> dict[str, Any]:
    """JupyterLab's page config, as the server wrote it into the page."""
    page.wait_for_selector("#jupyter-config-data", state="attached")
    return json.loads(page.locator("#jupyter-config-data").text_content())
