"""Look inside a local store: which objects it holds and how big they are.

A Zarr store on a local disk is a folder whose files are the store's *objects*
(``zarr.json`` documents and chunks such as ``c/0/1``). On object storage the
same keys would be object names in a bucket. These helpers list those keys
with their sizes so that notebooks can show what a write actually produced.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["du", "format_bytes", "list_objects"]

_UNITS: tuple[str, ...] = ("B", "kB", "MB", "GB", "TB", "PB")


def _existing_dir(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, failing clearly if it is not a folder."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"no such store or folder: {p.as_posix()!r}; "
            "check the path, or run the cell that writes the store first"
        )
    if not p.is_dir():
        raise NotADirectoryError(
            f"{p.as_posix()!r} is a file, not a folder; a local store is a folder of objects"
        )
    return p


def list_objects(path: str | os.PathLike[str]) -> pd.DataFrame:
    """List every object (file) in a local directory store with its size.

    Args:
        path: The store's root folder, for example ``data/scratch/01/demo.zarr``.

    Returns:
        A :class:`pandas.DataFrame` with columns ``key`` (str, the object's key
        relative to ``path`` with ``/`` separators, e.g. ``"temp/c/0/1"``) and
        ``bytes`` (int, the object's size). Rows are sorted by key as plain
        strings, the order in which object stores list keys (so ``c/0/10``
        comes before ``c/0/2``). Folders themselves are not objects and are not
        listed. An empty folder gives an empty frame with the same columns.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        NotADirectoryError: ``path`` is a file, not a folder.
    """
    root = _existing_dir(path)
    rows = [
        (f.relative_to(root).as_posix(), f.stat().st_size)
        for f in root.rglob("*")
        if f.is_file()
    ]
    rows.sort(key=lambda row: row[0])
    frame = pd.DataFrame(rows, columns=["key", "bytes"])
    return frame.astype({"key": "object", "bytes": "int64"})


def du(path: str | os.PathLike[str]) -> int:
    """Total size in bytes of all files under ``path`` (like ``du -s --apparent-size``).

    Args:
        path: A folder (every file below it is counted) or a single file.

    Returns:
        The sum of the files' sizes in bytes. This is the apparent size, the
        number of bytes an object store would hold, not the filesystem blocks
        allocated, so it is the same on every machine.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"no such file or folder: {p.as_posix()!r}; "
            "check the path, or run the cell that writes it first"
        )
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def format_bytes(n: int | float) -> str:
    """Format a byte count with decimal (SI) units: ``1_500_000 -> "1.5 MB"``.

    Args:
        n: A number of bytes, zero or more.

    Returns:
        ``"<n> B"`` below 1000 bytes, otherwise the value with one decimal and
        the largest unit that keeps it at or above 1: kB, MB, GB, TB or PB
        (powers of 1000, the units of the "1-100 MB per chunk" rule of thumb).

    Raises:
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"a byte count cannot be negative, got {n}")
    if n < 1000:
        return f"{int(n)} B"
    value = float(n)
    unit = _UNITS[0]
    for unit in _UNITS[1:]:
        value /= 1000
        if value < 999.95 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"
