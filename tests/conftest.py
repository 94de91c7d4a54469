"""Test-session set-up shared by every test, including nbval's notebook cells.

- Every process the tests start (notebook kernels, Dask workers, subprocesses) imports the offline
  guard in ``utils/machinery/offline`` (through ``PYTHONPATH``), and so does this process.
- Notebooks write below a scratch folder of the test session, never the learner's ``data/scratch``.
- Each notebook's papermill run (run 1, from an empty scratch folder: the notebook alone) is placed
  right before nbval's run of the same notebook (run 2, in the same folder: twice in a row). With
  ``-n`` (pytest-xdist, as ``./course.sh test`` runs) the two runs of a notebook are one group
  that one worker runs in order, and different notebooks run in parallel.
- nbval compares outputs after the sanitizers of ``utils/machinery/nbval_sanitize.cfg``, preceded
  by this machine's folders (written to a session file).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from utils.machinery import notebooks as nbs

SCRATCH_ROOT_VAR = "COURSE_TEST_SCRATCH_ROOT"


def scratch_root() -> Path:
    return Path(os.environ[SCRATCH_ROOT_VAR])


def pytest_configure(config: pytest.Config) -> None:
    # One scratch root per test session; xdist workers inherit the controller's through the environment.
    if SCRATCH_ROOT_VAR not in os.environ:
        root = Path(tempfile.mkdtemp(prefix="course-test-scratch-"))
        os.environ[SCRATCH_ROOT_VAR] = str(root)
        if not hasattr(config, "workerinput"):
            config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
    os.environ["COURSE_SCRATCH_DIR"] = str(scratch_root() / "session")
    cfg = scratch_root() / f"nbval_sanitize-{os.getpid()}.cfg"
    config.option.nbval_sanitize_with = str(nbs.write_sanitize_cfg(cfg, scratch_root()))
    if os.environ.get("COURSE_NO_OFFLINE_GUARD") == "1":
        return
    os.environ["PYTHONPATH"] = nbs.offline_env()["PYTHONPATH"]
    sys.path.insert(0, str(nbs.GUARD_DIR))
    import course_offline_guard  # noqa: F401  (installs the guard in this process)


def notebook_scratch(notebook: Path) -> Path:
    """The scratch folder both runs of ``notebook`` share."""
    return scratch_root() / f"scratch-{notebook.stem}"


def _join_group(item: pytest.Item, group: str, config: pytest.Config) -> None:
    """Mark ``item`` for xdist's ``loadgroup``; give it the ``@group`` node-id suffix xdist schedules by.

    pytest-xdist 3.8 adds the suffix through ``item._nodeid``, which pytest 9.2 no longer reads.
    """
    item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "loadgroup", False) and hasattr(item, "_id") and "@" not in item.nodeid:
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")


@pytest.hookimpl(tryfirst=True)  # before xdist turns the groups into node ids
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put nbval's cells of each notebook right after that notebook's papermill test, as one xdist group."""
    by_notebook: dict[Path, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        path = Path(str(item.fspath))
        (by_notebook.setdefault(path.resolve(), []) if path.suffix == ".ipynb" else rest).append(item)
    ordered: list[pytest.Item] = []
    for item in rest:
        ordered.append(item)
        if marker := item.get_closest_marker("xdist_group"):  # a module's own group (test_sample_data.py)
            _join_group(item, marker.args[0], config)
        nb = getattr(item, "callspec", None) and item.callspec.params.get("notebook")
        if getattr(item, "originalname", None) == "test_notebook_runs_alone" and nb is not None:
            group = [item, *by_notebook.pop(Path(nb).resolve(), [])]
            for member in group:
                _join_group(member, Path(nb).stem, config)
            ordered.extend(group[1:])
    for cells in by_notebook.values():  # nbval run on its own (`pytest notebooks/02_...ipynb`)
        ordered.extend(cells)
    items[:] = ordered
