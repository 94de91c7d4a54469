"""The Jupyter configuration the course installs (utils/machinery/jupyter.py), without a browser.

The browser tests (tests/browser) show that it works; these show that it is installed, what it
sets, and that the upstream bug it works around is still there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.machinery import jupyter
from utils.machinery.jupyter import kernel_environment

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "utils" / "machinery" / "etc"


@pytest.mark.parametrize("source", sorted(p.relative_to(SHIPPED) for p in SHIPPED.rglob("*.json")), ids=str)
def test_configuration_is_installed_in_the_environment(source: Path) -> None:
    installed = Path(sys.prefix) / "etc" / source
    assert installed.is_file(), (
        f"{installed} is missing: the course package installs it (shared-data in pyproject.toml). "
        "Run ./course.sh setup again.")
    assert json.loads(installed.read_text()) == json.loads((SHIPPED / source).read_text()), (
        f"{installed} is older than {SHIPPED / source}: run ./course.sh setup again.")


def test_kernel_environment_locally() -> None:
    env = kernel_environment("/")
    assert env == {"DASK_DISTRIBUTED__DASHBOARD__LINK": "/proxy/{port}/status",
                   "LOCALTILESERVER_CLIENT_PREFIX": "/localtileserver-proxy/{port}"}


def test_kernel_environment_behind_a_hub_prefix() -> None:
    env = kernel_environment("/user/learner/")
    assert env["DASK_DISTRIBUTED__DASHBOARD__LINK"] == "/user/learner/proxy/{port}/status"
    assert env["LOCALTILESERVER_CLIENT_PREFIX"] == "/user/learner/localtileserver-proxy/{port}"
    assert env["PANEL_NOTEBOOK_RESOURCES"] == "cdn" and env["PANEL_INLINE"] == "1"


def test_the_server_extension_gives_kernels_the_environment() -> None:
    class Sessions:
        def get_kernel_env(self, path: str, name: str | None = None) -> dict[str, str]:
            return {"JPY_SESSION_NAME": path, "PANEL_INLINE": "0"}  # as if a hub admin had set PANEL_INLINE

    class Log:
        def info(self, *args: object) -> None:
            pass

    class ServerApp:
        base_url, session_manager, log = "/user/learner/", Sessions(), Log()

    server = ServerApp()
    jupyter._load_jupyter_server_extension(server)
    env = server.session_manager.get_kernel_env("notebooks/02.ipynb")
    assert env["JPY_SESSION_NAME"] == "notebooks/02.ipynb" and env["PANEL_INLINE"] == "0"
    assert env["DASK_DISTRIBUTED__DASHBOARD__LINK"] == "/user/learner/proxy/{port}/status"
    assert "DASK_DISTRIBUTED__DASHBOARD__LINK" not in os.environ  # the server's own environment is left alone


def run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_dask_formats_the_dashboard_link() -> None:
    env = kernel_environment("/user/learner/")
    out = run_python("from distributed.utils import format_dashboard_link as f; print(f('127.0.0.1', 8787))", env)
    assert out == "/user/learner/proxy/8787/status"


@pytest.mark.parametrize(("panel_inline", "expected"), [("1", "True"), ("", "False")])
def test_kernels_make_holoviews_inline_when_panel_is(monkeypatch: pytest.MonkeyPatch, panel_inline: str,
                                                      expected: str) -> None:
    """A kernel of this environment loads the course's IPython extension (etc/ipython/ipython_kernel_config.json)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PANEL_INLINE", panel_inline)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import holoviews; print(holoviews.extension.inline)")])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == expected


def test_panel_still_ignores_the_base_url_in_its_notebook_bootstrap() -> None:
    """Fails once Panel's notebook bootstrap stops checking its endpoint at "/panel-preview/" (a path
    without the Jupyter base URL): then drop PANEL_NOTEBOOK_RESOURCES/PANEL_INLINE from kernel_environment
    and the HoloViews part of utils/machinery/jupyter.py, and see if tests/browser still pass."""
    import panel

    template = Path(panel.__file__).parent / "_templates" / "autoload_panel_js.js"
    assert 'const JUPYTER_ENDPOINT = "/panel-preview/";' in template.read_text()
