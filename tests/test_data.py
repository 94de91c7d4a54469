"""utils.data: where the sample files are, and clear errors for names that do not exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import data


@pytest.mark.parametrize("call, message", [
    (lambda: data.glad_key(1999), "GLAD land cover exists for 2000, 2005, 2010, 2015, 2020"),
    (lambda: data.glad_path("2000"), "GLAD land cover exists for"),
    (lambda: data.glad_url(2000, "55N_080W"), "upper-left corner on the 10-degree grid"),
    (lambda: data.tile_bounds("50n_080w"), "like '50N_080W'"),
    (lambda: data.tile_bounds("90N_080W"), "like '50N_080W'"),
    (lambda: data.tile_name(50, -75), "10-degree grid"),
    (lambda: data.oisst_dates("2024-13"), "'YYYY-MM'"),
    (lambda: data.oisst_dates("August"), "'YYYY-MM'"),
    (lambda: data.oisst_key("2024-02-30"), "day is out of range"),
    (lambda: data.ocean_key("TEMP", "2015-01"), "the ocean model has variables"),
    (lambda: data.ocean_key("THETA", "2015-03"), "the ocean model has variables"),
    (lambda: data.scratch("../elsewhere"), "named like '03'"),
    (lambda: data.scratch(""), "named like '03'"),
    (lambda: data.make_glad_tile(2001, data.GLAD_TILE, Path("x.tif")), "2000, 2005"),
])
def test_names_that_do_not_exist_say_what_does(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_paths_and_urls_follow_the_real_layout() -> None:
    assert data.glad_url(2020) == ("https://storage.googleapis.com/earthenginepartners-hansen/"
                                   "GLCLU2000-2020/v2/2020/50N_080W.tif")
    assert data.glad_path(2020) == data.SAMPLE_DIR / data.GLAD_BUCKET / data.glad_key(2020)
    assert data.oisst_url("2024-08-01").endswith("/avhrr/202408/oisst-avhrr-v02r01.20240801.nc")
    assert [d.day for d in data.oisst_dates("2024-02")][-1] == 29  # a leap year
    assert data.tile_bounds("50N_080W") == (-80.0, 40.0, -70.0, 50.0)
    assert data.tile_name(-30, 170) == "30S_170E" and data.tile_bounds("30S_170E") == (170.0, -40.0, 180.0, -30.0)
    assert data.ocean_url("SALT", "2015-02").startswith("s3://ocean-model-archive-protected/OCEAN_MODEL_L4_SALT")


def test_legend_families_cover_every_code() -> None:
    legend = data.read_legend()
    assert legend["family"].notna().all() and legend["family"].nunique() == len(data.legend_colormap()[2])
    cmap, norm, labels = data.legend_colormap()
    assert labels[norm(250)] == "Built-up" and labels[norm(0)] == "Short vegetation"
    assert cmap.N == len(labels) == 12 and labels[int(norm(244))] == "Cropland" and labels[int(norm(37))] == "Trees 10-19 m"


def test_require_names_the_missing_file_and_the_fix(tmp_path: Path) -> None:
    data.require(data.glad_path(2000))
    with pytest.raises(FileNotFoundError, match=r"1 sample file\(s\) missing, e\.g\. .*nope\.nc.*\./course\.sh setup"):
        data.require(data.glad_path(2000), tmp_path / "nope.nc")


def test_scratch_empties_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "SCRATCH_DIR", tmp_path)
    (data.scratch("09") / "left-over").write_text("x")
    assert list(data.scratch("09").iterdir()) == []


def test_scratch_moves_home_when_the_course_is_read_only(tmp_path: Path) -> None:
    # A hub image installs the course read-only: notebooks then write below the learner's home.
    code = "import os; os.access = lambda *a, **k: False; from utils import data; print(data.SCRATCH_DIR)"
    env = {k: v for k, v in os.environ.items() if k != "COURSE_SCRATCH_DIR"} | {"HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == str(tmp_path / "course-scratch")
