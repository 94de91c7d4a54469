"""Every notebook runs on its offline defaults, alone, and its teaching outputs hold.

Run 1 is here (papermill, from an empty scratch folder, so no notebook can lean on another's
leftovers). Run 2 is nbval's, placed right after by conftest.py, in the same scratch folder:
twice in a row. Both runs are compared with the committed outputs of the cells tagged
``nbval-check-output``, after the sanitizers (utils/machinery/nbval_sanitize.cfg).
The learner copies (no solutions, no ``check`` cells) run too: no exercise is load-bearing.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import notebook_scratch
from utils.machinery import notebooks as nbs

NOTEBOOKS = nbs.notebooks()
IDS = [p.stem for p in NOTEBOOKS]
WARNING_NAMES = re.compile(r"\b(DeprecationWarning|FutureWarning|PendingDeprecationWarning)\b")


def assert_ran_cleanly(nb, name: str) -> None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if nbs.RAISES in nbs.tags(cell):
            assert errors, f"{name} cell {i} is tagged {nbs.RAISES} but raised nothing"
        else:
            assert not errors, f"{name} cell {i} failed: {errors}"
        text = nbs.output_text(cell)
        assert not WARNING_NAMES.search(text), f"{name} cell {i} shows a deprecation warning:\n{text}"


def test_there_are_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(len(NOTEBOOKS))], NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_runs_alone(notebook: Path, tmp_path: Path) -> None:
    scratch = notebook_scratch(notebook)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    # nbval's run of this notebook comes next in this process, in the same folder (twice in a row).
    os.environ["COURSE_SCRATCH_DIR"] = str(scratch)
    executed = nbs.execute(notebook, tmp_path / notebook.name, scratch=scratch)
    assert_ran_cleanly(executed, notebook.name)

    committed = nbs.teaching_outputs(nbs.read(notebook))
    assert committed, f"{notebook.name} has no cell tagged {nbs.TEACHING}"
    fresh = dict(nbs.teaching_outputs(executed, scratch))
    for index, text in committed:
        assert fresh.get(index) == text, (
            f"{notebook.name} cell {index}: the output differs from the committed one "
            "(re-run `./course.sh execute` if the change is intended)\n"
            f"--- committed\n{text}\n--- now\n{fresh.get(index)}"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_learner_copy_runs_with_exercises_empty(notebook: Path, tmp_path: Path) -> None:
    copy = nbs.learner_copy(notebook, tmp_path / notebook.name)
    assert not any(nbs.tags(c) & {nbs.SOLUTION, nbs.CHECK} for c in copy.cells)
    exercises = [c for c in copy.cells if nbs.EXERCISE in nbs.tags(c)]
    assert all(not re.sub(r"(?m)^\s*#.*$", "", c.source).strip() for c in exercises), "exercise cells hold code"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    executed = nbs.execute(tmp_path / notebook.name, tmp_path / f"run-{notebook.name}", scratch=scratch)
    assert_ran_cleanly(executed, f"learner copy of {notebook.name}")
