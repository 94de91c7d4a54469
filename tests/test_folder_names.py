"""The course works from a folder whose name has spaces, non-ASCII letters, commas and parentheses.

A copy of the checkout (its tracked files and the sample data) goes to such a folder, and notebooks
that turn paths into URLs (02 writes and lists stores, 04 makes virtual references to files) run
there top to bottom, with the copy's ``utils`` and scratch folders below the same name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from utils.data import REPO, SAMPLE_DIR
from utils.machinery.notebooks import offline_env

ODD_NAME = "My Course, día 1 (copy)"


@pytest.fixture(scope="module")
def odd_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("folders") / ODD_NAME
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    shutil.copytree(SAMPLE_DIR, root / "data" / "sample")
    (root / "tmp").mkdir()
    return root


@pytest.mark.parametrize("notebooks", [["02", "04"]])
def test_notebooks_run_from_an_odd_folder_name(odd_checkout: Path, notebooks: list[str]) -> None:
    env = offline_env() | {"TMPDIR": str(odd_checkout / "tmp")}
    env["PYTHONPATH"] = os.pathsep.join([str(odd_checkout), env["PYTHONPATH"]])
    env.pop("COURSE_SAMPLE_DIR", None)
    env.pop("COURSE_SCRATCH_DIR", None)
    done = subprocess.run([sys.executable, "-m", "utils.machinery.notebooks", "execute", *notebooks],
                          cwd=odd_checkout, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_hash_and_question_mark_are_refused(tmp_path: Path) -> None:
    for bad in ("course #1", "why?"):
        folder = tmp_path / bad
        shutil.copytree(REPO / "utils", folder / "utils", ignore=shutil.ignore_patterns("__pycache__"))
        done = subprocess.run([sys.executable, "-c", "import utils.data"], cwd=folder, capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=str(folder)))
        assert done.returncode != 0 and "rename or move the folder" in done.stderr, done.stderr
