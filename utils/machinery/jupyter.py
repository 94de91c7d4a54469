"""The course's Jupyter configuration: maps, plots and dashboards that work locally and behind a hub.

A browser reaches the kernel's loopback servers (the Dask dashboard, localtileserver's tiles) only
through the Jupyter server, at ``<base URL>proxy/<port>/`` (jupyter-server-proxy) and
``<base URL>localtileserver-proxy/<port>/``; the base URL is ``/`` locally, ``/user/<name>/`` on a hub.
Installing the course package (uv, pip, conda, Binder) copies ``utils/machinery/etc/`` into the
environment's ``etc/`` (``shared-data`` in ``pyproject.toml``): a server-extension config that gives
kernels :func:`kernel_environment`; an IPython config loading this module in every kernel (HoloViews
inlines its JavaScript when Panel is told to); a labconfig turning off JupyterLab's news pop-up.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def kernel_environment(base_url: str) -> dict[str, str]:
    """The variables that point the kernel's browser-facing links through the Jupyter server at ``base_url``."""
    env = {
        # dask.distributed formats this with the dashboard's port: a path on the Jupyter server.
        "DASK_DISTRIBUTED__DASHBOARD__LINK": f"{base_url}proxy/{{port}}/status",
        # localtileserver (leafmap's add_raster) puts this before the tile paths it gives the browser: its own
        # route on the Jupyter server (leafmap would pick jupyter-server-proxy's, and only on a hub).
        "LOCALTILESERVER_CLIENT_PREFIX": f"{base_url}localtileserver-proxy/{{port}}",
    }
    if base_url != "/":
        # Panel's notebook bootstrap checks its Jupyter endpoint at "/panel-preview/", ignoring the base
        # URL (panel 1.10): the check fails behind a prefix and BokehJS then comes from the CDN, which an
        # offline hub cannot reach. So behind a prefix: no endpoint, resources inline (a few MB per page).
        env |= {"PANEL_NOTEBOOK_RESOURCES": "cdn", "PANEL_INLINE": "1"}
    return env


# --- the Jupyter server extension -------------------------------------------------------------------


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "utils.machinery.jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Give the kernels of notebooks and consoles :func:`kernel_environment` (not terminals: tests and
    scripts run there keep the plain defaults). A variable set for the server, e.g. by a hub admin, wins."""
    course_env = kernel_environment(serverapp.base_url)
    sessions = serverapp.session_manager
    server_env = sessions.get_kernel_env

    def get_kernel_env(path: Any, name: Any = None) -> dict[str, str]:
        return {**course_env, **server_env(path, name)}

    sessions.get_kernel_env = get_kernel_env
    serverapp.log.info("cloud-native-geo-course: kernels reach their loopback servers through %s", serverapp.base_url)


# --- the IPython extension ----------------------------------------------------------------------------


def load_ipython_extension(ipython: Any) -> None:
    """With ``PANEL_INLINE`` set, make HoloViews (hvplot's ``import hvplot.xarray``) inline its resources too."""
    if os.environ.get("PANEL_INLINE", "").lower() in {"1", "true"}:
        after_import("holoviews", _inline_holoviews)


def _inline_holoviews(holoviews: ModuleType) -> None:
    holoviews.extension.inline = True


class _AfterImport:
    """A ``sys.meta_path`` finder that runs ``then(module)`` right after ``name`` is first imported."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def run(module: ModuleType) -> None:
                exec_module(module)
                self.then(module)

            spec.loader.exec_module = run  # type: ignore[method-assign]
        return spec


def after_import(name: str, then: Callable[[ModuleType], None]) -> None:
    """Run ``then(module)`` once ``name`` is imported (now, if it already is)."""
    if name in sys.modules:
        then(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))
