"""Reading notebooks for the tests: tags, sanitizing, teaching outputs."""

from __future__ import annotations

import configparser
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

SANITIZE_CFG = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
CHECK_TAG = "nbval-check-output"
RAISES_TAG = "raises-exception"


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The (pattern, replacement) pairs nbval uses, read from the same file."""
    parser = configparser.ConfigParser()
    parser.read(SANITIZE_CFG)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def sanitize(text: str) -> str:
    for pattern, replacement in sanitizers():
        text = pattern.sub(replacement, text)
    return text


def tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def output_text(cell: Any) -> str:
    """The text an output shows a reader: streams, text/plain results, error names."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data and not any(k.startswith("image/") for k in data):
                parts.append(data["text/plain"])
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}")
    return "".join(parts)


def teaching_outputs(nb: Any) -> list[tuple[int, str]]:
    """(cell index, sanitized text) of every cell tagged as teaching."""
    return [
        (i, sanitize(output_text(c)))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and CHECK_TAG in tags(c)
    ]


def read(path: Path) -> Any:
    return nbformat.read(str(path), as_version=4)


def execute(source: Path, target: Path, *, scratch: Path | None = None) -> Any:
    """Run ``source`` top to bottom with papermill on its default parameters, write ``target``.

    The kernel runs in the notebooks folder (as in JupyterLab) and writes below ``scratch``
    when given (``COURSE_SCRATCH_DIR``). Timing metadata that would make every run's file
    differ is dropped. Returns the executed notebook.
    """
    import os

    import papermill

    env_before = os.environ.get("COURSE_SCRATCH_DIR")
    if scratch is not None:
        os.environ["COURSE_SCRATCH_DIR"] = str(scratch)
    try:
        with _expected_errors_allowed():
            papermill.execute_notebook(
                str(source), str(target), cwd=str(source.parent), kernel_name="python3",
                progress_bar=False, log_output=False,
            )
    finally:
        if scratch is not None:
            if env_before is None:
                os.environ.pop("COURSE_SCRATCH_DIR", None)
            else:
                os.environ["COURSE_SCRATCH_DIR"] = env_before
    nb = read(target)
    strip_volatile_metadata(nb)
    nbformat.write(nb, str(target))
    return nb


@contextlib.contextmanager
def _expected_errors_allowed() -> Iterator[None]:
    """Let papermill accept the errors of cells tagged ``raises-exception``.

    nbclient keeps executing after such a cell, but papermill (2.7) then fails the whole run
    on *any* error output. Its check runs with the expected errors hidden (and put back after),
    so an error anywhere else still fails the run.
    """
    import papermill.execute

    original = papermill.execute.raise_for_execution_errors

    def check(nb: Any, output_path: str) -> None:
        expected = [cell for cell in nb.cells if RAISES_TAG in tags(cell) and "outputs" in cell]
        kept = [cell.outputs for cell in expected]
        for cell in expected:
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        try:
            original(nb, output_path)
        finally:
            for cell, outputs in zip(expected, kept):
                cell.outputs = outputs

    papermill.execute.raise_for_execution_errors = check
    try:
        yield
    finally:
        papermill.execute.raise_for_execution_errors = original


def strip_volatile_metadata(nb: Any) -> None:
    """Drop papermill/nbclient timestamps and paths so re-executing changes only outputs."""
    nb.metadata.pop("papermill", None)
    # Saved widget state (ipyleaflet maps) holds the kernel's tile-server URLs, with this
    # machine's paths in them; a reader's browser cannot use it without the kernel anyway.
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
