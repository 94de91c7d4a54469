"""Running the course's notebooks: for the tests, `./course.sh execute`, learner copies and the benchmark.

:func:`execute` runs a notebook with papermill (kernel in ``notebooks/``, a scratch folder, the offline
guard). Lessons print plain paths: committed outputs say ``<course>`` for this machine's course folder
(:func:`sanitize_paths`); :func:`sanitize` also hides what changes between runs, as nbval does.

    python -m utils.machinery.notebooks execute [NOTEBOOK ...]   re-execute in place (commit them)
    python -m utils.machinery.notebooks learner [FOLDER]         learner copies (default learner/)
    python -m utils.machinery.notebooks schedule                 the workshop table of INSTRUCTORS.md
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import quote

import nbformat

from utils.data import REPO, SAMPLE_DIR, SCRATCH_DIR

NOTEBOOK_DIR = REPO / "notebooks"
GUARD_DIR = Path(__file__).resolve().parent / "offline"
SANITIZE_CFG = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
TEACHING, RAISES, SOLUTION, EXERCISE, CHECK = "nbval-check-output", "raises-exception", "solution", "exercise", "check"
COURSE = "<course>"


def notebooks() -> list[Path]:
    """The course notebooks, in order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def select(names: list[str]) -> list[Path]:
    """The notebooks named (``03``, ``03_icechunk_versioning``, a file name or a path); all if none."""
    found = [nb for nb in notebooks() if not names or any(Path(n).stem in (nb.stem, nb.stem[:2]) for n in names)]
    if unknown := [n for n in names if not any(Path(n).stem in (nb.stem, nb.stem[:2]) for nb in found)]:
        raise SystemExit(f"no such notebook: {', '.join(unknown)}; the notebooks are {[nb.name for nb in notebooks()]}")
    return found


def tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


read = lambda path: nbformat.read(str(path), as_version=4)  # noqa: E731


# --- what outputs show ------------------------------------------------------------------------


def _folders(scratch: Path | None = None) -> list[tuple[str, str]]:
    """(this machine's folder, how committed outputs name it), longest first, plain and %-encoded."""
    named = [(SCRATCH_DIR, f"{COURSE}/data/scratch"), (SAMPLE_DIR, f"{COURSE}/data/sample"), (REPO, COURSE)]
    if scratch is not None:
        named.insert(0, (scratch, f"{COURSE}/data/scratch"))
    pairs = {}
    for folder, name in named:
        for form in {str(folder), str(Path(folder).resolve())}:
            pairs[form] = pairs[quote(form)] = name
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def sanitize_paths(text: str, scratch: Path | None = None) -> str:
    for folder, name in _folders(scratch):
        text = text.replace(folder, name)
    return text


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The (pattern, replacement) pairs of ``nbval_sanitize.cfg``: what changes between runs."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SANITIZE_CFG)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def sanitize(text: str, scratch: Path | None = None) -> str:
    text = sanitize_paths(text, scratch)
    for pattern, replacement in sanitizers():
        text = pattern.sub(replacement, text)
    return text


def write_sanitize_cfg(target: Path, scratch_root: Path) -> Path:
    """nbval's sanitizers for a test session: this machine's folders (``scratch_root`` holds one
    ``scratch-<stem>`` per notebook), then the fixed patterns."""
    lines = [f"[scratch folders]\nregex: {re.escape(str(scratch_root))}/scratch-[\\w-]+\nreplace: {COURSE}/data/scratch\n"]
    for i, (folder, name) in enumerate(_folders()):
        lines.append(f"[course folder {i}]\nregex: {re.escape(folder)}\nreplace: {name}\n")
    target.write_text("\n".join(lines) + "\n" + SANITIZE_CFG.read_text())
    return target


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
            parts.append(out["ename"])
    return "".join(parts)


def teaching_outputs(nb: Any, scratch: Path | None = None) -> list[tuple[int, str]]:
    """(cell index, sanitized text) of every cell whose output teaches something."""
    return [(i, sanitize(output_text(c), scratch)) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and TEACHING in tags(c)]


# --- executing ----------------------------------------------------------------------------------


def offline_env() -> dict[str, str]:
    """This process's environment with the offline guard on ``PYTHONPATH`` (kernels inherit it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([str(GUARD_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]))
    return env


@contextlib.contextmanager
def _expected_errors_allowed() -> Iterator[None]:
    """Let papermill accept the errors of cells tagged ``raises-exception`` (and only those).

    nbclient goes on after such a cell, but papermill (2.7) then fails the run on *any* error output.
    """
    import papermill.execute

    original = papermill.execute.raise_for_execution_errors

    def check(nb: Any, output_path: str) -> None:
        expected = [cell for cell in nb.cells if RAISES in tags(cell) and "outputs" in cell]
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


@contextlib.contextmanager
def _peak_memory() -> Iterator[list[int]]:
    """Sample the summed RSS of this process's descendants (kernel, local cloud, Dask workers): ``[peak]``."""
    import psutil

    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            total = 0
            for process in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):  # it may end while we look
                    total += process.memory_info().rss
            peak[0] = max(peak[0], total)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def execute(source: Path, target: Path, *, scratch: Path, commit: bool = False, measure: bool = False) -> Any:
    """Run ``source`` on its default parameters into ``target`` (kernel in ``notebooks/``, ``COURSE_SCRATCH_DIR=scratch``).

    ``commit``: outputs fit to commit (``<course>`` paths, solution outputs cleared: they would give the
    answers away where the notebook is read). ``measure``: the peak memory of the kernel and all it
    started in ``nb.metadata["course_peak_bytes"]``, cell times in ``cell.metadata["course_seconds"]``."""
    import papermill

    env = offline_env() | {"COURSE_SCRATCH_DIR": str(scratch)}
    with patch.dict(os.environ, env), _expected_errors_allowed(), (_peak_memory() if measure else contextlib.nullcontext()) as peak:
        papermill.execute_notebook(str(source), str(target), cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                                   progress_bar=False, log_output=False)
    nb = read(target)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)  # saved widget state holds this kernel's URLs, useless without it
    for cell in nb.cells:
        seconds = cell.metadata.get("papermill", {}).get("duration")
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if measure and seconds is not None:
            cell.metadata["course_seconds"] = seconds
        if commit and cell.cell_type == "code":
            if SOLUTION in tags(cell):
                cell.outputs, cell.execution_count = [], None
            for out in cell.get("outputs", []):
                _sanitize_output(out, scratch)
    if measure:
        nb.metadata["course_peak_bytes"] = peak[0]
    nbformat.write(nb, str(target))
    return nb


def _sanitize_output(out: Any, scratch: Path) -> None:
    if "text" in out:
        out["text"] = sanitize_paths(out["text"], scratch)
    if out.get("output_type") == "error":
        out["evalue"] = sanitize_paths(out["evalue"], scratch)
        out["traceback"] = [sanitize_paths(line, scratch) for line in out["traceback"]]
    for key, value in out.get("data", {}).items():
        if isinstance(value, str) and not key.startswith("image/"):
            out["data"][key] = sanitize_paths(value, scratch)


def learner_copy(source: Path, target: Path) -> Any:
    """The learner's notebook: no solutions, no ``check`` cells, no outputs; exercises stay empty."""
    nb = read(source)
    nb.cells = [c for c in nb.cells if not tags(c) & {SOLUTION, CHECK}]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, str(target))
    return nb


SECTION = re.compile(r"^## (\d+)\. (.*?) \((core|optional), (\d+) min\)\s*$", re.M)


def schedule() -> str:
    """The workshop table of INSTRUCTORS.md, from the notebooks' section marks (a test keeps them equal)."""
    rows = ["| notebook | core sections (minutes) | optional sections (minutes) | core | optional |",
            "|---|---|---|---:|---:|"]
    for nb in notebooks():
        text = "\n".join(c.source for c in read(nb).cells if c.cell_type == "markdown")
        parts = {"core": [], "optional": []}
        for number, title, mark, minutes in SECTION.findall(text):
            parts[mark].append((f"{number}. {title.strip()} ({minutes})", int(minutes)))
        rows.append(f"| {nb.stem[:2]} | " + " | ".join("; ".join(t for t, _ in parts[m]) or "-" for m in parts)
                    + " | " + " | ".join(str(sum(n for _, n in parts[m])) for m in parts) + " |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    command, names = (argv[0], argv[1:]) if argv else ("", [])
    if command == "execute":
        total = 0.0
        for nb in select(names):
            with tempfile.TemporaryDirectory(prefix="course-scratch-") as scratch:
                start = time.perf_counter()
                done = execute(nb, Path(scratch) / nb.name, scratch=Path(scratch), commit=True)
                nbformat.write(done, str(nb))  # replaced only once every cell ran
                total += (took := time.perf_counter() - start)
            print(f"{nb.name:45s} {took:6.1f} s", flush=True)
        print(f"{'total':45s} {total:6.1f} s")
    elif command == "schedule":
        print(schedule())
    elif command == "learner":
        folder = Path(names[0]) if names else REPO / "learner"
        folder.mkdir(parents=True, exist_ok=True)
        for nb in notebooks():
            learner_copy(nb, folder / nb.name)
        print(f"{len(notebooks())} learner copies (no solutions, no outputs) in {folder}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
