"""Where the course's files are: the sample data, its real-world twins, and scratch folders.

The sample files are synthetic stand-ins (real names, layout, dtypes, attributes; made-up values) at
``data/sample/<real bucket>/<real key>``: the real data is a change of where a notebook points."""

import calendar
import datetime as dt
import os
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = Path(os.environ.get("COURSE_SAMPLE_DIR") or REPO / "data" / "sample")
SCRATCH_DIR = Path(os.environ.get("COURSE_SCRATCH_DIR") or (REPO / "data" / "scratch" if os.access(REPO / "data", os.W_OK)
                                                           else Path.home() / "course-scratch"))  # read-only: a hub image
if {"#", "?"} & set(str(REPO)):
    raise RuntimeError(f"the course folder {REPO} has '#' or '?' in its path, which file URLs cannot hold: rename or move the folder")


def scratch(notebook: str) -> Path:
    """This notebook's own folder, ``data/scratch/<notebook>``, emptied so the notebook can run again."""
    if not re.fullmatch(r"[\w-]+", str(notebook)):
        raise ValueError(f"a scratch folder is named like '03', got {notebook!r}")
    shutil.rmtree(SCRATCH_DIR / notebook, ignore_errors=True)
    (SCRATCH_DIR / notebook).mkdir(parents=True)
    return SCRATCH_DIR / notebook


def require(*paths: Path) -> None:
    """Fail with what to do when a sample file the notebook needs is not there."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} sample file(s) missing, e.g. {missing[0]}: run `./course.sh setup` "
                                "in the course folder (it makes the sample data), then run this cell again.")


# --- GLAD Global Land Cover and Land Use Change 2000-2020 (Potapov et al. 2022) ---------------
GLAD_BUCKET = "earthenginepartners-hansen"  # public Google Cloud Storage bucket
GLAD_YEARS = (2000, 2005, 2010, 2015, 2020)
GLAD_TILE = "50N_080W"  # 10 x 10 degree tiles, named by their upper-left corner
GLAD_LEGEND = REPO / "data" / "glad_legend.csv"  # value, name, color: one row per class code
GLAD_FAMILIES = REPO / "data" / "glad_families.csv"  # first code, family, colour-blind-safe color


def tile_bounds(tile: str) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a 10 x 10 degree tile such as ``"50N_080W"``."""
    m = re.fullmatch(r"(\d{2})([NS])_(\d{3})([EW])", str(tile))
    north = int(m[1]) * (1 if m[2] == "N" else -1) if m else 1
    west = int(m[3]) * (1 if m[4] == "E" else -1) if m else 1
    if not m or north % 10 or west % 10 or not (-80 < north <= 80 and -180 <= west < 180):
        raise ValueError(f"a GLAD tile is named by its upper-left corner on the 10-degree grid, like "
                         f"'50N_080W' (40-50N, 80-70W); got {tile!r}")
    return float(west), float(north - 10), float(west + 10), float(north)


def tile_name(north: int, west: int) -> str:
    """The tile whose upper-left corner is ``(north, west)``: ``tile_name(50, -80) == "50N_080W"``."""
    name = f"{abs(north):02d}{'N' if north >= 0 else 'S'}_{abs(west):03d}{'E' if west >= 0 else 'W'}"
    tile_bounds(name)
    return name


def glad_key(year: int, tile: str = GLAD_TILE) -> str:
    """The object key of a yearly tile in the GLAD bucket: ``GLCLU2000-2020/v2/2000/50N_080W.tif``."""
    if year not in GLAD_YEARS:
        raise ValueError(f"GLAD land cover exists for {', '.join(map(str, GLAD_YEARS))}; got {year!r}")
    tile_bounds(tile)
    return f"GLCLU2000-2020/v2/{year}/{tile}.tif"


def glad_path(year: int, tile: str = GLAD_TILE) -> Path:  # the sample file standing in for glad_url()
    return SAMPLE_DIR / GLAD_BUCKET / glad_key(year, tile)


def glad_url(year: int, tile: str = GLAD_TILE) -> str:  # the real tile, public over HTTPS
    return f"https://storage.googleapis.com/{GLAD_BUCKET}/{glad_key(year, tile)}"


def read_legend():
    """The GLAD legend as a DataFrame: ``value``, ``name``, ``color`` and the class ``family``."""
    import pandas as pd

    legend, families = pd.read_csv(GLAD_LEGEND), pd.read_csv(GLAD_FAMILIES)
    legend["family"] = pd.cut(legend["value"], [*families["first"], 256], right=False, labels=families["family"])
    return legend


def legend_colormap():
    """``(cmap, norm, labels)`` for GLAD codes, one colour-blind-safe colour per family: ``da.plot(cmap=cmap,
    norm=norm)``; ``labels[i]`` names the codes from ``norm.boundaries[i]`` to ``norm.boundaries[i + 1]``."""
    import pandas as pd
    from matplotlib.colors import BoundaryNorm, ListedColormap

    families = pd.read_csv(GLAD_FAMILIES)
    cmap = ListedColormap(list(families["color"]), name="glad_families")
    return cmap, BoundaryNorm([*families["first"], 256], len(families)), list(families["family"])


def make_glad_tile(year: int, tile: str, path: Path, size: int = 2000) -> Path:
    """Write a stand-in tile anywhere, at any size (notebook 07 makes many on its workers)."""
    from utils.machinery.sample_data import write_glad_tile  # the sample-data factory
    return write_glad_tile(year, tile, Path(path), size)


STAC_SCHEMAS = REPO / "data" / "stac-schemas"  # the STAC extension schemas notebook 08 validates with
# --- NOAA OISST v2.1, daily 0.25 degree sea-surface temperature ------------------------------
OISST_BUCKET = "noaa-cdr-sea-surface-temp-optimum-interpolation-pds"  # NOAA open data on AWS
OISST_REGION = "us-east-1"
OISST_MONTH = "2024-08"  # the month the sample data holds


def oisst_dates(month: str = OISST_MONTH) -> list[dt.date]:
    """Every day of ``month`` (``"YYYY-MM"``)."""
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except (TypeError, ValueError):
        raise ValueError(f"a month is written 'YYYY-MM', like '2024-08'; got {month!r}") from None
    return [first.replace(day=day) for day in range(1, calendar.monthrange(first.year, first.month)[1] + 1)]


def oisst_key(date: dt.date | str) -> str:  # one daily file in the OISST bucket
    d = dt.date.fromisoformat(str(date)[:10])
    return f"data/v2.1/avhrr/{d:%Y%m}/oisst-avhrr-v02r01.{d:%Y%m%d}.nc"


def oisst_path(date: dt.date | str) -> Path:  # the sample file (the sample data holds OISST_MONTH)
    return SAMPLE_DIR / OISST_BUCKET / oisst_key(date)


def oisst_url(date: dt.date | str) -> str:  # the real file in NOAA's public bucket
    return f"s3://{OISST_BUCKET}/{oisst_key(date)}"


# --- ERA-Interim extract (netCDF3, as xarray's eraint_uvz tutorial file) ---------------------
ERA_BUCKET = "era-interim"
ERA_KEY = "eraint_uvz_sample.nc"
ERA_URL = "https://github.com/pydata/xarray-data/raw/master/eraint_uvz.nc"  # the real file
ERA_PATH = SAMPLE_DIR / ERA_BUCKET / ERA_KEY

# --- An ocean model's output: one dataset (collection) per variable, monthly files of daily means
OCEAN_BUCKET = "ocean-model-archive-protected"  # protected, like an archive's data bucket
OCEAN_VARIABLES = ("THETA", "SALT", "UVEL", "VVEL")
OCEAN_MONTHS = ("2015-01", "2015-02")


def ocean_key(variable: str, month: str) -> str:
    """``OCEAN_MODEL_L4_THETA_DAILY_V1/THETA_day_mean_2015-01_OCEAN_MODEL_V1.nc``."""
    if variable not in OCEAN_VARIABLES or month not in OCEAN_MONTHS:
        raise ValueError(f"the ocean model has variables {OCEAN_VARIABLES} for months {OCEAN_MONTHS}; "
                         f"got {variable!r}, {month!r}")
    return f"OCEAN_MODEL_L4_{variable}_DAILY_V1/{variable}_day_mean_{month}_OCEAN_MODEL_V1.nc"


def ocean_path(variable: str, month: str) -> Path:
    return SAMPLE_DIR / OCEAN_BUCKET / ocean_key(variable, month)


def ocean_url(variable: str, month: str) -> str:
    return f"s3://{OCEAN_BUCKET}/{ocean_key(variable, month)}"
