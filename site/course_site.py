"""Sphinx extension of the course site: notebook pages from cell tags, launch buttons, offline assets.

Everything here works on the committed notebooks as they are, in memory (``source-read``), and
relies on cell tags and output types only, never on what a cell says:

- ``solution`` cells: collapsed (code and output) behind "Show the solution";
- ``check`` cells: left out; ``exercise`` and ``parameters`` cells: shown;
- the JavaScript loaders of Bokeh/HoloViews outputs (which fetch BokehJS and Panel from a CDN) are
  dropped; pages with such plots get the copies bundled with the installed bokeh and panel;
- widget outputs without saved state (ipyleaflet/leafmap maps) become a note saying what the
  reader would see in JupyterLab;
- links to repository files that are not pages of the site point at the repository on GitHub;
- math is drawn at build time by matplotlib's mathtext (no MathJax from a CDN).
"""

from __future__ import annotations

import base64
import html
import io
import json
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

import links  # scripts/links.py, on sys.path through conf.py

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent  # the repository this site is made from

BADGE = "https://mybinder.org/badge_logo.svg"
BOKEH_LOAD = ("application/vnd.holoviews_load.v0+json", "application/vnd.bokehjs_load.v0+json")
BOKEH_EXEC = ("application/vnd.holoviews_exec.v0+json", "application/vnd.bokehjs_exec.v0+json")
WIDGET = "application/vnd.jupyter.widget-view+json"
IMAGE = re.compile(r'!\[([^\[\]]*)\]\(([^()\s]+)((?:\s+"[^"]*")?)\)')
LINK = re.compile(r'(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)((?:\s+"[^"]*")?)\)')
PANEL_CDN = re.compile(r"https://cdn\.holoviz\.org/panel/[^/\"'\\]+/dist/")
PANEL_DIRS = ["css", "bundled/theme", "assets"]  # what Panel's stylesheets in saved plots refer to


# --- notebooks -----------------------------------------------------------------------------

def prepare_notebook(nb: dict, docname: str, pages: set[str]) -> bool:
    """Adapt a notebook for the site in place; True when it has Bokeh plots."""
    cells, has_bokeh = [], False
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        tags = meta.setdefault("tags", [])
        if "check" in tags:
            continue
        if cell["cell_type"] == "markdown":
            cell["source"] = rewrite_links("".join(cell["source"]), docname, pages)
        if "solution" in tags:
            tags.append("hide-cell")
            meta.setdefault("mystnb", {}).update(code_prompt_show="Show the solution", code_prompt_hide="Hide the solution")
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(m in data for m in BOKEH_LOAD):
                continue
            if any(m in data for m in BOKEH_EXEC):  # the plot is in text/html; the rest is for live kernels
                has_bokeh = True
                for mime in BOKEH_EXEC:
                    data.pop(mime, None)
                    out.get("metadata", {}).pop(mime, None)
            if WIDGET in data:
                data = out["data"] = {"text/html": widget_note(data)}
            if "text/html" in data:  # Panel's stylesheets, from the copies in _static/panel
                up = "../" * docname.count("/")
                data["text/html"] = PANEL_CDN.sub(f"{up}_static/panel/", "".join(data["text/html"]))
            outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
        cells.append(cell)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)  # no widget state is committed; never load its CDN manager
    return has_bokeh


def widget_note(data: dict) -> str:
    """What the reader sees instead of a live widget, which needs a running kernel."""
    text = "".join(data.get("text/plain", "widget"))
    kind = re.match(r"\w+", text)
    kind = kind[0] if kind else "widget"
    what = ("an interactive map (zoom, pan, layers) drawn by a tile server in the kernel"
            if kind == "Map" else f"an interactive {html.escape(kind)} widget")
    return (f'<div class="admonition note widget-note"><p class="admonition-title">Interactive output</p>'
            f"<p>In JupyterLab this cell shows {what}. A widget lives in a running kernel and is not "
            "saved in the notebook, so this page cannot show it: open the notebook with the launch "
            "button (the rocket at the top of the page) and run it to see it.</p></div>")


# --- links ---------------------------------------------------------------------------------

def rewrite_links(text: str, docname: str, pages: set[str]) -> str:
    """Links to repository files that are not site pages go to GitHub; the Binder badge is local."""
    repo_dir = posixpath.dirname(source_path(docname))
    up = "../" * docname.count("/")

    def image(m: re.Match) -> str:
        alt, target, title = m.groups()
        if target == BADGE:
            return f"![{alt}]({up}_assets/binder-badge.svg{title})"  # staged by build.py
        return alt if re.match(r"https?://", target) else m[0]  # an external picture is never fetched: its text

    def link(m: re.Match) -> str:
        label, target, title = m.groups()
        if re.match(r"[a-z][\w+.-]*:|#|/", target):
            return m[0]
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(repo_dir, path))
        if repo_path == "README.md":  # the home page is index.md
            home = posixpath.relpath("index.md", repo_dir or ".")
            return f"[{label}]({home}{'#' + anchor if anchor else ''}{title})"
        if repo_path in pages or repo_path.startswith("../") or not (ROOT / repo_path).exists():
            return m[0]  # a page of the site, or a broken link the build reports
        kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
        url = f"{links.repository_url()}/{kind}/{links.settings()['branch']}/{repo_path}"
        return f"[{label}]({url}{'#' + anchor if anchor else ''}{title})"

    return LINK.sub(link, IMAGE.sub(image, text))


def source_path(docname: str) -> str:
    """The repository path a page is made from."""
    return "README.md" if docname == "index" else docname + (".ipynb" if docname.startswith("notebooks/") else ".md")


GUIDES = [("Before you start", ["SETUP"]), ("Reference", ["GLOSSARY"]),
          ("For instructors and contributors", ["INSTRUCTORS", "CONTRIBUTING"])]


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    """Adapt each page as it is read (build.py always reads every page: -E)."""
    pages = {source_path(d) for d in app.env.found_docs}
    if docname.startswith("notebooks/"):
        nb = json.loads(source[0])
        if prepare_notebook(nb, docname, pages):
            app.env.course_bokeh_pages = getattr(app.env, "course_bokeh_pages", set()) | {docname}
        source[0] = json.dumps(nb)
    else:
        source[0] = rewrite_links(source[0], docname, pages)
        if docname == "index":
            source[0] += toctrees(app.env.found_docs)


def toctrees(found: set[str]) -> str:
    """Hidden toctrees on the home page: the sidebar, and the next/previous order."""
    toc = [GUIDES[0], ("Notebooks", sorted(d for d in found if d.startswith("notebooks/"))), *GUIDES[1:]]
    blocks = []
    for caption, docs in toc:
        docs = [d for d in docs if d in found]
        if docs:
            blocks.append("\n```{toctree}\n:hidden:\n:caption: " + caption + "\n\n" + "\n".join(docs) + "\n```\n")
    return "\n" + "".join(blocks)


# --- page furniture ------------------------------------------------------------------------

BOKEH_JS = ["bokeh.min.js", "bokeh-gl.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js", "panel.min.js"]


def copy_bokeh(app: Sphinx, exc: Exception | None) -> None:
    """Put the installed BokehJS and Panel bundles into _static/bokeh (the pages' outputs match their versions)."""
    if exc or app.builder.format != "html" or not getattr(app.env, "course_bokeh_pages", None):
        return
    import bokeh
    import panel

    target = Path(app.outdir, "_static", "bokeh")
    target.mkdir(parents=True, exist_ok=True)
    dist = Path(panel.__file__).parent / "dist"
    for name in BOKEH_JS:
        base = dist if name.startswith("panel") else Path(bokeh.__file__).parent / "server" / "static" / "js"
        shutil.copyfile(base / name, target / name)
    for folder in PANEL_DIRS:
        shutil.copytree(dist / folder, Path(app.outdir, "_static", "panel", folder), dirs_exist_ok=True)


def on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Launch buttons on notebook pages; BokehJS on pages with Bokeh plots."""
    if pagename in getattr(app.env, "course_bokeh_pages", ()):
        for name in BOKEH_JS:
            app.add_js_file(f"bokeh/{name}")  # in this event: for this page only
    if not pagename.startswith("notebooks/"):
        return
    notebook = pagename + ".ipynb"
    buttons = [{"type": "link", "text": "Binder", "tooltip": "Open this notebook on Binder",
                "icon": "_static/images/logo_binder.svg", "url": links.binder_url(notebook), "label": "launch-binder"}]
    if app.config.course_hub:
        buttons.append({"type": "link", "text": "JupyterHub", "tooltip": "Open this notebook on the course's JupyterHub",
                        "icon": "_static/images/logo_jupyterhub.svg",
                        "url": links.hub_link(app.config.course_hub, notebook), "label": "launch-jupyterhub"})
    context["header_buttons"].insert(0, {"type": "group", "tooltip": "Launch this notebook", "icon": "fas fa-rocket",
                                         "buttons": buttons, "label": "launch-buttons"})


# --- math without a CDN --------------------------------------------------------------------

def mathtext_svg(latex: str, display: bool) -> str:
    """An <img> of ``latex`` drawn by matplotlib's mathtext (a TeX subset), baseline-aligned."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    size = 18 if display else 16  # px, like the body text
    with matplotlib.rc_context({"mathtext.fontset": "cm", "svg.hashsalt": "course", "svg.fonttype": "path"}):
        prop = FontProperties(size=size)
        width, height, depth, *_ = MathTextParser("path").parse(f"${latex}$", dpi=72, prop=prop)
        fig = Figure(figsize=(width / 72, height / 72))
        fig.text(0, depth / height, f"${latex}$", fontproperties=prop)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None})
    data = base64.b64encode(buf.getvalue()).decode()
    style = f"vertical-align: -{depth:.1f}px" if not display else "display: block; margin: 0.5em auto"
    return (f'<img class="math{" math-display" if display else ""}" src="data:image/svg+xml;base64,{data}" '
            f'width="{width:.0f}" height="{height:.0f}" style="{style}" alt="{html.escape(latex)}">')


def _math(self, node: nodes.Element, display: bool) -> None:
    latex = node.astext().strip()
    try:
        self.body.append(mathtext_svg(latex, display))
    except Exception as err:  # noqa: BLE001 - mathtext raises ValueError and friends; say which formula
        logger.warning("matplotlib mathtext cannot draw $%s$ (%s): use the TeX subset it supports, "
                       "https://matplotlib.org/stable/users/explain/text/mathtext.html", latex, err, location=node)
        self.body.append(f"<code>{html.escape(latex)}</code>")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_hub", "", "html")
    app.add_html_math_renderer("mathtext", (lambda self, node: _math(self, node, False), None),
                               (lambda self, node: _math(self, node, True), None))
    app.connect("source-read", on_source_read)
    app.connect("html-page-context", on_page_context, priority=600)
    app.connect("build-finished", copy_bokeh)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
