"""The committed notebooks: readable with outputs, built to the course's anatomy, nothing leaked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from utils.machinery.notebooks import notebooks
from utils.machinery.notebooks import TEACHING as CHECK_TAG, output_text, read, tags

NOTEBOOKS = notebooks()
IDS = [p.stem for p in NOTEBOOKS]
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(/tmp|/var/folders|/private|/home|/root|/Users|/work|/opt)/[\w.\-]")
URL_ENCODED_PATH = re.compile(r"%2F(tmp|var|private|home|root|Users|work|opt)%2F", re.IGNORECASE)
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
HEADINGS = ["learning objectives", "prerequisites", "time to learn", "key points", "what's next", "further reading"]


# AWS-style secret keys are 40 characters of base64; the local cloud makes new ones at every
# start, so look for their shape: mixed case with digits (a hex digest has no upper case).
SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
SECRET_FIELDS = re.compile(r"(secretAccessKey|secret_access_key|sessionToken|session_token)['\"]?\s*[:=]\s*['\"][^'\"*…]{8,}")


def leaked_secrets(text: str) -> list[str]:
    """Secret-looking values in ``text``: secret keys by shape, and secret fields with a value."""
    found = [m.group(0) for m in SECRET_SHAPE.finditer(text)
             if re.search("[A-Z]", m.group(0)) and re.search("[a-z]", m.group(0)) and re.search("[0-9]", m.group(0))]
    return found + [m.group(0) for m in SECRET_FIELDS.finditer(text)]


def test_secret_detector() -> None:
    assert leaked_secrets("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here")
    assert leaked_secrets("{'secretAccessKey': 'abcdefghijkl'}")
    assert not leaked_secrets("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709")
    assert not leaked_secrets("{'secretAccessKey': '****'}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_outputs_committed_and_clean(notebook: Path) -> None:
    nb = read(notebook)
    raw = notebook.read_text()
    code = [c for c in nb.cells if c.cell_type == "code"]
    not_run = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and "exercise" not in tags(c) and c.source.strip() and c.get("execution_count") is None]
    assert not not_run, f"cells {not_run} have not been executed; run `./course.sh execute {notebook.name}`"
    assert any(c.outputs for c in code), "the notebook is committed without outputs"
    assert not ABSOLUTE_PATH.search(raw), f"absolute path in {notebook.name}: {ABSOLUTE_PATH.search(raw)}"
    assert not URL_ENCODED_PATH.search(raw), f"URL-encoded absolute path in {notebook.name}"
    assert not ADDRESS.search(raw), f"memory address in {notebook.name}: {ADDRESS.search(raw)}"
    outputs = "".join(output_text(c) for c in code)
    assert not leaked_secrets(outputs), f"secret-looking values printed in {notebook.name}: {leaked_secrets(outputs)}"
    assert "papermill" not in json.loads(raw)["metadata"], "volatile papermill metadata is committed"
    assert "widgets" not in json.loads(raw)["metadata"], "saved widget state is committed"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_anatomy(notebook: Path) -> None:
    nb = read(notebook)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "starts with a title"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for heading in HEADINGS:
        assert heading in markdown, f"{notebook.name} lacks a '{heading}' section"
    assert "overview" in markdown
    params = [c for c in nb.cells if "parameters" in tags(c)]
    assert len(params) == 1 and params[0].cell_type == "code", "one code cell tagged 'parameters'"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any(CHECK_TAG in tags(c) for c in nb.cells), f"no cell tagged {CHECK_TAG}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exercises_have_hidden_checked_solutions(notebook: Path) -> None:
    nb = read(notebook)
    for i, cell in enumerate(nb.cells):
        if "exercise" not in tags(cell):
            continue
        body = [line for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert not body, f"exercise cell {i} must be empty for the learner (comments only)"
        assert nb.cells[i - 1].cell_type == "markdown", f"exercise cell {i} needs a prompt before it"
        solution = nb.cells[i + 1]
        assert "solution" in tags(solution), f"exercise cell {i} must be followed by a 'solution' cell"
        assert solution.metadata.get("jupyter", {}).get("source_hidden"), f"solution {i + 1} is not collapsed"
        assert "assert" in solution.source, f"solution {i + 1} checks nothing"
