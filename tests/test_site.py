"""The rendered site (`./course.sh site`): it builds with warnings as errors, every internal link
and anchor resolves, nothing is fetched from the internet, notebook pages follow the cell tags,
the launch links come from the one setting, and it works in Chromium.

The site is built once per session (``site`` fixture) into ``_build/site-test/`` (ignored by git),
with a stand-in hub so the JupyterHub button is built too; the browser test keeps its screenshots
in ``_build/site-test/screenshots``.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import links  # noqa: E402

ARTIFACTS = ROOT / "_build" / "site-test"
HUB = "https://hub.example.org"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
BOKEH_MIMES = ("application/vnd.holoviews_exec.v0+json", "application/vnd.bokehjs_exec.v0+json")

_spec = importlib.util.spec_from_file_location("course_site_build", ROOT / "site" / "build.py")
site_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site_build)


def expected_pages() -> list[str]:
    """The pages in reading order (the order of next/previous), as paths in the site."""
    guides = {Path(name).stem for name in site_build.GUIDES if (ROOT / name).is_file()}
    before = [g for g in ["SETUP"] if g in guides]
    after = [g for g in ["GLOSSARY", "INSTRUCTORS", "CONTRIBUTING"] if g in guides]
    notebooks = [f"notebooks/{nb.stem}" for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    return [f"{page}.html" for page in ["index", *before, *notebooks, *after]]


def notebook(page: str) -> dict:
    return json.loads((ROOT / page.removesuffix(".html")).with_suffix(".ipynb").read_text())


def cells_tagged(nb: dict, tag: str) -> list[dict]:
    return [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]


def html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


@functools.cache
def soup(path: Path) -> BeautifulSoup:
    """A built page, parsed once per session (the tests only read it)."""
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="session")
def site() -> Path:
    """The site, built from scratch (a warning anywhere fails the build) once per test run.

    With pytest-xdist the workers of one run share it: the first builds, the others wait for it.
    """
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")  # the same in every worker of one run
    out = ARTIFACTS / "site"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = ARTIFACTS / ".built-for-run"
        if not run or not built.is_file() or built.read_text() != run:
            built.unlink(missing_ok=True)
            proc = subprocess.run([sys.executable, str(ROOT / "site" / "build.py"), "--out", str(out),
                                   "-D", f"course_hub={HUB}"], cwd=ROOT, capture_output=True, text=True,
                                  timeout=600)
            assert proc.returncode == 0, f"./course.sh site failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
            built.write_text(run)
    return out


def test_site_builds_every_page(site: Path) -> None:
    missing = [page for page in expected_pages() if not (site / page).is_file()]
    assert not missing, f"pages missing from the site: {missing}"
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()


def test_internal_links_and_anchors_resolve(site: Path) -> None:
    ids: dict[Path, set[str]] = {}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            page = soup(path)
            ids[path] = {t["id"] for t in page.find_all(id=True)} | {t["name"] for t in page.find_all("a", attrs={"name": True})}
        return ids[path]

    broken, checked = [], 0
    for page in html_pages(site):
        for tag in soup(page).find_all(["a", "link", "script", "img", "iframe", "source", "form"]):
            ref = tag.get("href") or tag.get("src") or tag.get("action")
            if not ref or re.match(r"[a-z][\w+.-]*:", ref) or ref.startswith("//"):
                continue  # external, mailto:, data:, javascript:
            checked += 1
            parts = urlsplit(urljoin(page.relative_to(site).as_posix(), ref))
            target = site / unquote(parts.path) if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: {ref}"
            if not target.is_file():
                broken.append(f"{where} (no file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
                broken.append(f"{where} (no anchor)")
    assert checked > 1000
    assert not broken, f"{len(broken)} broken internal link(s) of {checked}:\n" + "\n".join(broken[:30])


def test_nothing_is_fetched_from_the_internet(site: Path) -> None:
    """No page loads a script, style, font, picture or frame from elsewhere (links to elsewhere are fine)."""
    external = []
    for page in html_pages(site):
        for tag in soup(page).find_all(["script", "img", "iframe", "source", "video", "audio", "embed", "object", "link"]):
            if tag.name == "link" and not {"stylesheet", "icon", "preload", "modulepreload", "manifest"} & set(tag.get("rel", [])):
                continue
            ref = tag.get("src") or tag.get("href") or tag.get("data") or ""
            if re.match(r"(https?:)?//", ref):
                external.append(f"{page.relative_to(site)}: <{tag.name}> {ref}")
    for css in site.rglob("*.css"):
        for ref in re.findall(r"""(?:url\(|@import\s+)\s*['"]?((?:https?:)?//[^'")\s]+)""", css.read_text(errors="replace")):
            external.append(f"{css.relative_to(site)}: {ref}")
    assert not external, "the site fetches from the internet:\n" + "\n".join(external[:30])


def test_notebook_pages_follow_the_cell_tags(site: Path) -> None:
    for page in [p for p in expected_pages() if p.startswith("notebooks/")]:
        nb, html = notebook(page), soup(site / page)
        solutions = html.select("div.cell.tag_solution")
        assert len(solutions) == len(cells_tagged(nb, "solution")), page
        for cell in solutions:  # collapsed: the code and its output inside a closed <details>
            details = cell.find("details")
            assert details is not None and not details.has_attr("open") and details.select_one("div.cell_input"), page
        assert not html.select("div.cell.tag_check"), f"{page} shows cells tagged check"
        assert len(html.select("div.cell.tag_parameters")) == len(cells_tagged(nb, "parameters")), page
        widgets = sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                      for c in nb["cells"] for o in c.get("outputs", []))
        assert len(html.select(".widget-note")) == widgets, f"{page}: each widget output becomes a note"
        # its time and objectives (the first markdown cell, CONTRIBUTING's anatomy)
        assert html.find(id="learning-objectives") and html.find(id="time-to-learn"), page


def test_launch_buttons_come_from_the_settings(site: Path) -> None:
    for page in [p for p in expected_pages() if p.startswith("notebooks/")]:
        html, path = soup(site / page), page.removesuffix(".html") + ".ipynb"
        assert html.select_one("a.btn-launch-binder")["href"] == links.binder_url(path)
        assert html.select_one("a.btn-launch-jupyterhub")["href"] == links.hub_link(HUB, path)
        download = html.select_one('a.btn-download-source-button[href$=".ipynb"]')["href"]
        assert (site / "notebooks" / download).resolve().read_bytes() == (ROOT / path).read_bytes()


def test_readme_badge_uses_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Binder badge opens the repository of ``[tool.course]`` (a fork's origin does not count)."""
    monkeypatch.setattr(links, "repository_url", lambda: links.settings()["repository"].rstrip("/"))
    readme = (ROOT / "README.md").read_text()
    badges = re.findall(r"\]\((https://mybinder\.org/v2/[^)\s]+)\)", readme)
    assert badges == [links.binder_url()], (
        f"the README's Binder badge should link to {links.binder_url()} (from [tool.course] in pyproject.toml)")
    assert "OWNER/REPO" not in readme


# --- in a browser --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but there is no {CHROMIUM}: apt-get install -y chromium")
        pytest.skip(f"no {CHROMIUM} (install it with `apt-get install -y chromium`) for the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(site: Path):
    """The site over HTTP on a loopback port, as a reader's browser gets it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_site_in_a_browser(site: Path, served: str, browser) -> None:
    shots = ARTIFACTS / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, outside = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

    def route(r) -> None:
        if r.request.url.startswith(served) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(f"{page.url}: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    order = expected_pages()
    page.goto(served + order[0])
    solution_opened = False
    for i, name in enumerate(order):
        if i:  # next/previous: each page is reached with the "next" link of the one before
            page.locator("a.right-next").click()
        page.wait_for_url(served + name)
        page.wait_for_load_state("load")
        prev = page.locator("a.left-prev")
        if i:
            assert urljoin(page.url, prev.get_attribute("href")) == served + order[i - 1]
        images = page.evaluate("""async () => {
            const imgs = [...document.querySelectorAll('main img')];
            await Promise.all(imgs.map(i => i.decode().catch(() => null)));
            return imgs.map(i => [i.currentSrc.slice(0, 80), i.naturalWidth]); }""")
        assert all(width > 0 for _, width in images), f"{name}: pictures that do not show: {images}"
        if name.startswith("notebooks/"):
            nb = notebook(name)
            if any(m in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []) for m in BOKEH_MIMES):
                canvas = page.locator("div.cell_output canvas").first  # inside Bokeh's shadow DOM
                canvas.wait_for(state="visible", timeout=20_000)
                box = canvas.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, f"{name}: the Bokeh plot is {box}"
                canvas.scroll_into_view_if_needed()
                page.screenshot(path=shots / f"{Path(name).stem}-bokeh.png")
            if not solution_opened and cells_tagged(nb, "solution"):
                solution = page.locator("div.cell.tag_solution").first
                code = solution.locator("div.cell_input")
                assert not code.is_visible(), f"{name}: a solution shows before it is opened"
                solution.locator("summary").click()
                assert code.is_visible() and code.inner_text().strip(), f"{name}: the opened solution shows no code"
                page.screenshot(path=shots / f"{Path(name).stem}-solution.png")
                solution_opened = True
        page.screenshot(path=shots / f"{name.replace('/', '-').removesuffix('.html')}.png")
    assert page.locator("a.right-next").count() == 0, "the last page has a next link"
    page.locator("a.left-prev").click()
    page.wait_for_url(served + order[-2])
    assert solution_opened, "no solution dropdown on any page"

    page.goto(served + "search.html?q=manifest")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=20_000)
    page.screenshot(path=shots / "search-manifest.png")
    assert results.count() > 0
    page.close()
    assert not outside, "requests left the machine:\n" + "\n".join(outside[:20])
    assert not errors, "console errors:\n" + "\n".join(errors[:20])
