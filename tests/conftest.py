"""Test-session set-up shared by every test, including nbval's notebook cells.

- Every process the tests start (notebook kernels, Dask workers, subprocesses) imports the
  offline guard in ``tests/offline_guard`` (through ``PYTHONPATH``), and so does this process.
- Notebooks write below a scratch folder of the test session, never the learner's ``data/scratch``.
- Each notebook's papermill run (run 1, from an empty scratch folder: the notebook alone) is
  placed right before nbval's run of the same notebook (run 2, in the same folder: twice in a
  row), so every notebook is executed exactly twice.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUARD_DIR = Path(__file__).resolve().parent / "offline_guard"
NOTEBOOK_DIR = ROOT / "notebooks"


def notebooks() -> list[Path]:
    """The course notebooks, in order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def pytest_configure(config: pytest.Config) -> None:
    scratch_root = Path(tempfile.mkdtemp(prefix="course-test-scratch-"))
    config.add_cleanup(lambda: shutil.rmtree(scratch_root, ignore_errors=True))
    os.environ["COURSE_SCRATCH_DIR"] = str(scratch_root / "session")
    if os.environ.get("COURSE_NO_OFFLINE_GUARD") == "1":
        return
    paths = [str(GUARD_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    sys.path.insert(0, str(GUARD_DIR))
    import course_offline_guard  # noqa: F401  (installs the guard in this process)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put nbval's cells of each notebook right after that notebook's papermill test."""
    by_notebook: dict[Path, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb":
            by_notebook.setdefault(path.resolve(), []).append(item)
        else:
            rest.append(item)
    if not by_notebook:
        return
    ordered: list[pytest.Item] = []
    placed: set[Path] = set()
    for item in rest:
        ordered.append(item)
        if getattr(item, "originalname", None) != "test_notebook_runs_alone":
            continue
        nb = item.callspec.params.get("notebook")
        if nb is not None and Path(nb).resolve() in by_notebook and Path(nb).resolve() not in placed:
            ordered.extend(by_notebook[Path(nb).resolve()])
            placed.add(Path(nb).resolve())
    for path, cells in by_notebook.items():
        if path not in placed:
            ordered.extend(cells)
    items[:] = ordered
