"""Where the course keeps its files.

Every path the notebooks print is relative to the repository root (see
:func:`display`), so that committed outputs never show a machine's own paths.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The repository checkout (``utils`` is installed in editable mode).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
#: Committed small data (the land-cover legend) and generated data below it.
DATA_DIR: Path = REPO_ROOT / "data"
#: Sample data made by :mod:`utils.sample_data`; ``COURSE_SAMPLE_DIR`` overrides it.
SAMPLE_DIR: Path = Path(os.environ.get("COURSE_SAMPLE_DIR", DATA_DIR / "sample"))
#: Where notebooks write their stores; every notebook owns one sub-folder.
SCRATCH_DIR: Path = Path(os.environ.get("COURSE_SCRATCH_DIR", DATA_DIR / "scratch"))


def scratch(name: str, *, clean: bool = True) -> Path:
    """Return ``data/scratch/<name>``, emptied first unless ``clean=False``.

    Each notebook writes only below its own scratch folder, so it can run
    twice in a row, or alone, without leftovers from an earlier run.
    """
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"scratch folder name must be a plain name like '03', got {name!r}")
    path = SCRATCH_DIR / name
    if clean and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def display(path: str | os.PathLike[str]) -> str:
    """Show ``path`` as the course names it: relative to the repository root.

    Paths below the scratch and sample folders show as ``data/scratch/...`` and
    ``data/sample/...`` even when the tests moved those folders elsewhere, so a
    notebook's printed output is the same on every machine.
    """
    p = Path(path).resolve()
    for root, name in ((SCRATCH_DIR, "data/scratch"), (SAMPLE_DIR, "data/sample"), (REPO_ROOT, "")):
        try:
            rel = p.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            continue
        return "/".join(part for part in (name, rel) if part and part != ".") or "."
    return Path(path).as_posix()
