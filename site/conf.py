"""Sphinx configuration of the course site; build it with `./course.sh site` (see build.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))

import links  # noqa: E402  (scripts/links.py)

project = "Cloud-native geospatial data: Zarr, Icechunk and VirtualiZarr"
html_title = "Cloud-native geospatial data"
author = "the course authors"
copyright = "the course authors"

extensions = ["myst_nb", "sphinx_design", "sphinx_copybutton", "course_site"]

root_doc = "index"
language = "en"

# MyST: GitHub-style heading anchors (links like GLOSSARY.md#chunk), math drawn at build time.
myst_heading_anchors = 4
# The guides are written for GitHub too: its alerts, bare links, strikethrough and task lists work.
myst_enable_extensions = ["alert", "gfm_autolink", "strikethrough", "tasklist", "dollarmath", "amsmath",
                          "colon_fence", "deflist", "html_image", "html_admonition"]
html_math_renderer = "mathtext"
# GitHub renders these well, so the site accepts them: strikethrough (MyST says "only in HTML output"
# even when building HTML) and headings that skip a level (a glossary of ### terms under its # title).
suppress_warnings = ["myst.strikethrough", "myst.header", "misc.highlighting_failure"]  # tracebacks of %xmode Minimal: shown plain

# Notebooks are rendered with their committed outputs, never executed here (the tests do that).
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_ipywidgets_js = {}  # no widget state is committed; never load the widget manager from a CDN
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = ["course.js"]
html_context = {"default_mode": "light"}  # notebook figures have white backgrounds
html_copy_source = True  # _sources/ holds the notebooks that the download button serves
html_theme_options = {
    "repository_url": links.repository_url(),
    "repository_branch": links.settings()["branch"],
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
# The hub that nbgitpuller launch links open on; empty: no hub button. Try one with
# `./course.sh site -D course_hub=https://hub.example.org`.
course_hub = links.settings()["hub"]

# `./course.sh site --check-links` (Sphinx's linkcheck builder; needs the internet, never in CI).
linkcheck_ignore = [r"https://mybinder\.org/v2/", r"https://hub\.example\.org"]  # launching starts a build
linkcheck_anchors_ignore_for_url = [r"https://github\.com/"]  # GitHub draws its anchors with JavaScript
linkcheck_timeout = 20
linkcheck_workers = 8
