"""The notebooks in a real JupyterLab, driven in Chromium as a learner runs them: Run All, then look.

Locally (``./course.sh lab``: base URL ``/``) and as a hub's single-user server runs it (base URL
``/user/learner/`` and ``JUPYTERHUB_SERVICE_PREFIX``), with the configuration the course installs
(``utils/machinery/jupyter.py``). Each notebook must run with errors only in cells tagged
``raises-exception``; an hvplot figure must draw a Bokeh canvas, every leafmap raster tile must
come back as a PNG, and a dask dashboard link must answer at the URL the browser uses.

Every notebook runs locally. Behind a prefix, the notebooks whose outputs the browser loads from
the servers run again, whose configuration differs there: 00 and 02 on the real hub of
test_hub.py (here instead when configurable-http-proxy is missing), and 07 (the dashboard link) here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_driver import (
    Lab, check_run, chromium, hub_can_run, jupyter_lab, read_page_config, require_chromium, run_notebook, shutdown_kernels,
)
from utils.machinery.notebooks import notebooks

pytestmark = pytest.mark.browser
NOTEBOOKS = notebooks()
HUB_PREFIX = "/user/learner/"
ON_HUB = {"00", "02"} if hub_can_run() else set()  # test_hub.py runs these through the nbgitpuller link
LOCAL = NOTEBOOKS
# Behind the prefix: the notebooks whose outputs the browser loads from the servers (maps, plots, dashboards).
PREFIXED = [nb for nb in NOTEBOOKS if nb.name[:2] in {"00", "02", "07"} - ON_HUB]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def local_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_chromium()
    with jupyter_lab(tmp_path_factory.mktemp("lab-local")) as lab:
        yield lab


@pytest.fixture(scope="module")
def prefixed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_chromium()
    with jupyter_lab(tmp_path_factory.mktemp("lab-prefixed"), base_url=HUB_PREFIX) as lab:
        yield lab


def run_in(lab: Lab, browser: Any, notebook: Path, name: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        run = run_notebook(page, lab.url, f"notebooks/{notebook.name}", name, lab.root_dir / "notebooks" / notebook.name,
                           token=lab.token)
        check_run(page, run)
    finally:
        shutdown_kernels(page, lab.url)
        context.close()


@pytest.mark.parametrize("notebook", LOCAL, ids=[p.stem for p in LOCAL])
def test_notebook_in_local_lab(local_lab: Lab, browser: Any, notebook: Path) -> None:
    run_in(local_lab, browser, notebook, f"local-{notebook.stem}")


@pytest.mark.parametrize("notebook", PREFIXED, ids=[p.stem for p in PREFIXED])
def test_notebook_behind_hub_prefix(prefixed_lab: Lab, browser: Any, notebook: Path) -> None:
    run_in(prefixed_lab, browser, notebook, f"prefixed-{notebook.stem}")


def test_lab_news_popup_is_off(local_lab: Lab, browser: Any) -> None:
    """The course turns off JupyterLab's "get notified about official Jupyter news?" pop-up."""
    page = browser.new_page()
    try:
        page.goto(local_lab.login_url("lab"))
        disabled = read_page_config(page)["disabledExtensions"]
        assert "@jupyterlab/apputils-extension:announcements" in disabled, disabled
    finally:
        page.close()
