"""Launch links from one setting each: the repository, Binder, and a JupyterHub via nbgitpuller.

The settings are ``[tool.course]`` in ``pyproject.toml``; the repository URL is taken from
``git remote get-url origin`` instead when that is a GitHub URL.

    python scripts/links.py binder           the Binder URL of notebook 00
    python scripts/links.py hub HUB_URL      an nbgitpuller link that opens notebook 00 on a hub
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from urllib.parse import quote, urlencode, urlsplit

from utils.data import REPO

FIRST_NOTEBOOK = "notebooks/00_setup_check.ipynb"


def settings() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["course"]


def repository_url() -> str:
    """``https://github.com/<owner>/<name>``, from the origin remote or the setting."""
    try:
        origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    m = re.fullmatch(r"(?:https://github\.com/|git@github\.com:)([\w.-]+/[\w.-]+?)(?:\.git)?/?", origin)
    return f"https://github.com/{m[1]}" if m else settings()["repository"].rstrip("/")


def github_path() -> str:
    return urlsplit(repository_url()).path.strip("/")


def binder_url(notebook: str = FIRST_NOTEBOOK) -> str:
    return f"https://mybinder.org/v2/gh/{github_path()}/{settings()['branch']}?urlpath={quote('lab/tree/' + notebook)}"


def hub_link(hub: str | None = None, notebook: str = FIRST_NOTEBOOK, repo: str | None = None) -> str:
    """An nbgitpuller link: the hub clones (or updates) the course into the learner's home and opens ``notebook``."""
    hub = (hub or settings()["hub"]).rstrip("/")
    if not re.match(r"https?://[^/]+", hub):
        raise ValueError(f"give the hub's address, like https://hub.example.org; got {hub!r}")
    repo = repo or repository_url()
    folder = repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    # targetpath: the folder, named explicitly (nbgitpuller would keep a ".git" ending of the URL in it).
    query = urlencode({"repo": repo, "targetpath": folder, "branch": settings()["branch"],
                       "urlpath": f"lab/tree/{folder}/{notebook}"})
    return f"{hub}/hub/user-redirect/git-pull?{query}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["binder"]:
        print(binder_url())
    elif argv[:1] == ["hub"] and len(argv) == 2:
        print(hub_link(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
