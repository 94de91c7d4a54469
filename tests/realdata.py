"""Where the tests find real files nobody in this project wrote (used by tests only, never committed).

The folder is ``<repo>/../shared/realdata`` unless ``COURSE_REALDATA_DIR`` names another.
Tests that need it skip when it is absent, or fail when ``COURSE_REQUIRE_REALDATA=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from utils.data import REPO


def realdata_dir() -> Path:
    """The real-data folder, or skip (fail with ``COURSE_REQUIRE_REALDATA=1``) when it is absent."""
    folder = Path(os.environ.get("COURSE_REALDATA_DIR", REPO.parent / "shared" / "realdata"))
    if not folder.is_dir():
        reason = (
            f"real-data folder {folder} not found; set COURSE_REALDATA_DIR to the folder that holds "
            "RGB.byte.tif and eraint_uvz.nc"
        )
        if os.environ.get("COURSE_REQUIRE_REALDATA") == "1":
            pytest.fail(reason + " (COURSE_REQUIRE_REALDATA=1)")
        pytest.skip(reason)
    return folder


def realdata_file(name: str) -> Path:
    """One file of the real-data folder (same skip/fail rules when it is missing)."""
    path = realdata_dir() / name
    if not path.is_file():
        reason = f"real-data file {path} not found"
        if os.environ.get("COURSE_REQUIRE_REALDATA") == "1":
            pytest.fail(reason + " (COURSE_REQUIRE_REALDATA=1)")
        pytest.skip(reason)
    return path
