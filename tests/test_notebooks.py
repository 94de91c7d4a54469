"""Every notebook runs on its offline defaults, alone, and its teaching outputs hold.

Run 1 is here (papermill, from an empty scratch folder, so no notebook can lean on another's
leftovers). Run 2 is nbval's, placed right after by conftest.py, in the same scratch folder:
twice in a row. Both runs are compared with the committed outputs of the cells tagged
``nbval-check-output``, after the sanitizers in nbval_sanitize.cfg.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import notebooks
from notebook_checks import CHECK_TAG, RAISES_TAG, execute, output_text, read, tags, teaching_outputs

NOTEBOOKS = notebooks()
WARNING_NAMES = re.compile(r"\b(DeprecationWarning|FutureWarning|PendingDeprecationWarning)\b")


def test_there_are_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS][:2] == ["00", "01"], NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_alone(notebook: Path, tmp_path: Path) -> None:
    scratch = Path(os.environ["COURSE_SCRATCH_DIR"]).parent / f"scratch-{notebook.stem}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    executed = execute(notebook, tmp_path / notebook.name, scratch=scratch)
    # nbval's run of this notebook comes next, in the same folder (twice in a row).
    os.environ["COURSE_SCRATCH_DIR"] = str(scratch)

    for i, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if RAISES_TAG in tags(cell):
            assert errors, f"cell {i} is tagged {RAISES_TAG} but raised nothing"
        else:
            assert not errors, f"cell {i} failed: {errors}"
        text = output_text(cell)
        assert not WARNING_NAMES.search(text), f"cell {i} shows a deprecation warning:\n{text}"

    committed = teaching_outputs(read(notebook))
    assert committed, f"{notebook.name} has no cell tagged {CHECK_TAG}"
    fresh = dict(teaching_outputs(executed))
    for index, text in committed:
        assert fresh.get(index) == text, (
            f"{notebook.name} cell {index}: the output differs from the committed one "
            "(re-run `./course.sh execute` if the change is intended)\n"
            f"--- committed\n{text}\n--- now\n{fresh.get(index)}"
        )
