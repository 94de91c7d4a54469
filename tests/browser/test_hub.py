"""A workshop on a real JupyterHub: log in, follow the nbgitpuller link, run the first notebooks.

JupyterHub with configurable-http-proxy, the dummy authenticator and local single-user servers
from the course environment, all on loopback. The nbgitpuller link (``./course.sh hub-link``)
points at a bare clone of this checkout's current commit (a local git URL: no network), so the
hub clones the course into the learner's home and opens notebook 00, as it would from GitHub.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from jupyter_driver import (
    ROOT, bare_clone, check_run, chromium, jupyterhub, require_hub, run_notebook, shutdown_kernels,
)
sys.path.insert(0, str(ROOT / "scripts"))
from links import FIRST_NOTEBOOK, hub_link  # noqa: E402  (scripts/links.py)
from utils.machinery.notebooks import notebooks  # noqa: E402

COURSE = "cloud-native-geo-course"  # the folder nbgitpuller makes: the repository's name
USER = "learner"


def test_hub_link_command() -> None:
    out = subprocess.run([str(ROOT / "course.sh"), "hub-link", "https://hub.example.org"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out.startswith("https://hub.example.org/hub/user-redirect/git-pull?repo="), out
    assert out == hub_link("https://hub.example.org"), out


@pytest.mark.browser
def test_workshop_on_jupyterhub(tmp_path_factory: pytest.TempPathFactory) -> None:
    require_hub()
    work = tmp_path_factory.mktemp("hub")
    repo = bare_clone(work, COURSE)
    pulled = [nb for nb in notebooks() if nb.name[:2] in {"00", "02"}]
    with jupyterhub(work) as hub, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        # A learner clicks the link, logs in, and lands in JupyterLab on notebook 00 of their copy.
        page.goto(hub_link(hub.url, repo=repo))
        page.fill("#username_input", USER)
        page.fill("#password_input", "any password")
        page.click("#login_submit")
        page.wait_for_url(re.compile(re.escape(f"/user/{USER}/lab/tree/{COURSE}/{FIRST_NOTEBOOK}")), timeout=300_000)
        home = hub.homes / USER / COURSE
        assert (home / ".git").is_dir() and (home / FIRST_NOTEBOOK).is_file()
        lab_url = f"{hub.url}/user/{USER}/"
        try:
            for i, nb in enumerate(pulled):
                path = f"{COURSE}/notebooks/{nb.name}"
                run = run_notebook(page, lab_url, path, f"hub-{nb.stem}", home / "notebooks" / nb.name,
                                   navigate=i > 0 or path != f"{COURSE}/{FIRST_NOTEBOOK}")
                check_run(page, run)
                shutdown_kernels(page, lab_url)
        finally:
            context.close()
