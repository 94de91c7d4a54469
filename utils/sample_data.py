"""Make the course's stand-in sample data, offline, deterministically and quickly.

The default run of every notebook uses files this module writes. They are
**synthetic**: made up by code, shaped like the real products (file names,
folder layout, dtypes, attributes, tiling, compression), and labelled as
stand-ins inside each file (GeoTIFF tags ``SAMPLE_DATA*``, netCDF global
attributes ``sample_data*``).

Layout: every file lives at ``SAMPLE_DIR/<real bucket>/<real object key>``, so
a local S3 server can upload each top-level folder as a bucket and serve the
real keys. ``SAMPLE_DIR/MANIFEST.json`` (a file, not a bucket) records the
SHA-256 of every file written.

Products imitated
-----------------
GLAD GLCLU 2000-2020 v2 land cover
    ``earthenginepartners-hansen/GLCLU2000-2020/v2/{year}/{tile}.tif``: uint8
    class codes, EPSG:4326, one 10x10 degree tile named by its upper-left
    corner (``50N_080W``). The real tiles are 40000x40000 px (0.00025 deg);
    the stand-in covers the same extent at 0.005 deg (2000x2000 px) and is a
    Cloud-Optimized GeoTIFF (512x512 tiles, DEFLATE, internal overviews).
    The default tile ``50N_080W`` (40-50N, 80-70W: the Great Lakes to New
    England) holds forest, farmland, wetlands, lakes, towns and a coast, so
    every family of the legend a temperate tile can show appears in it.
    The map is built from value noise evaluated on *global* coordinates, so
    the tile name fixes both the bounds and the random field, and
    neighbouring tiles join without seams (notebook 07 mosaics several).

    Class codes and colours follow the real legend: Potapov et al. (2022),
    "The Global 2000-2020 Land Cover and Land Use Change Dataset Derived From
    the Landsat Archive: First Results", Front. Remote Sens. 3:856903,
    https://doi.org/10.3389/frsen.2022.856903; data and legend at
    https://glad.umd.edu/dataset/GLCLUC2020 and
    https://storage.googleapis.com/earthenginepartners-hansen/GLCLU2000-2020/v2/download.html.
    Names and colours in ``data/glad_legend.csv`` are those of GLAD's own
    Earth Engine viewer for the annual maps (its class labels and its
    0-255 palette).

NOAA OISST v2.1 AVHRR daily
    ``noaa-cdr-sea-surface-temp-optimum-interpolation-pds/data/v2.1/avhrr/{YYYYMM}/oisst-avhrr-v02r01.{YYYYMMDD}.nc``:
    netCDF4/HDF5, dims ``time`` (unlimited, 1), ``zlev`` (1), ``lat`` (720),
    ``lon`` (1440); ``sst``, ``anom``, ``err``, ``ice`` as int16 with
    ``scale_factor`` 0.01 and ``_FillValue`` -999; one chunk per variable per
    day (1, 1, 720, 1440), zlib level 4 with shuffle, as in the real files.

ERA-Interim monthly extract (netCDF3)
    ``era-interim/eraint_uvz_sample.nc``: a small 64-bit-offset netCDF3 file
    shaped like xarray's ``eraint_uvz`` tutorial file (``z``, ``u``, ``v`` packed
    as int16 with negative scale factors, on month x level x latitude x
    longitude), on a coarser 1.5 degree grid.

Run ``python -m utils.sample_data`` (``--force`` rewrites everything): it makes all of the
above and the ocean-model file sets of :mod:`utils.ocean_model` (:func:`generate_all`).
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils.paths import DATA_DIR, SAMPLE_DIR, display

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.colors import BoundaryNorm, ListedColormap

# --------------------------------------------------------------------------
# Labels and templates
# --------------------------------------------------------------------------

#: Bumped whenever the generator's output changes; a manifest from another
#: version makes :func:`generate` rewrite everything.
GENERATOR_VERSION = 1

#: Written into every file so nobody mistakes it for real data.
STAND_IN_NOTE = (
    "Synthetic sample data made for the cloud-native geospatial course "
    "(utils.sample_data): a stand-in with the structure of the real product, "
    "not real observations."
)

MANIFEST_NAME = "MANIFEST.json"

# GLAD GLCLU 2000-2020 v2 -------------------------------------------------
GLAD_BUCKET = "earthenginepartners-hansen"
#: Object key of one annual tile inside :data:`GLAD_BUCKET`.
GLAD_KEY_TEMPLATE = "GLCLU2000-2020/v2/{year}/{tile}.tif"
#: The real file over HTTPS (public, anonymous).
GLAD_URL_TEMPLATE = "https://storage.googleapis.com/" + GLAD_BUCKET + "/" + GLAD_KEY_TEMPLATE
#: The real object in Google Cloud Storage (public, anonymous).
GLAD_GS_URL_TEMPLATE = "gs://" + GLAD_BUCKET + "/" + GLAD_KEY_TEMPLATE
#: The same bucket and key through an S3-compatible API (the local cloud).
GLAD_S3_URL_TEMPLATE = "s3://" + GLAD_BUCKET + "/" + GLAD_KEY_TEMPLATE
GLAD_YEARS: tuple[int, ...] = (2000, 2005, 2010, 2015, 2020)
DEFAULT_TILE = "50N_080W"
#: Pixels per side of a stand-in tile (0.005 degree); the real tiles have 40000.
GLAD_SIZE = 2000
GLAD_TILE_DEGREES = 10
GLAD_NODATA = 255
GLAD_BLOCKSIZE = 512
LEGEND_PATH: Path = DATA_DIR / "glad_legend.csv"

# NOAA OISST v2.1 ------------------------------------------------------------
OISST_BUCKET = "noaa-cdr-sea-surface-temp-optimum-interpolation-pds"
OISST_BUCKET_REGION = "us-east-1"
#: Object key of one daily file inside :data:`OISST_BUCKET`.
OISST_KEY_TEMPLATE = "data/v2.1/avhrr/{yyyymm}/oisst-avhrr-v02r01.{yyyymmdd}.nc"
#: The real file at NOAA NCEI over HTTPS.
OISST_URL_TEMPLATE = (
    "https://www.ncei.noaa.gov/data/sea-surface-temperature-optimum-interpolation/"
    "v2.1/access/avhrr/{yyyymm}/oisst-avhrr-v02r01.{yyyymmdd}.nc"
)
#: The real object in the NOAA Open Data Dissemination bucket on AWS (public).
OISST_S3_URL_TEMPLATE = "s3://" + OISST_BUCKET + "/" + OISST_KEY_TEMPLATE
OISST_MONTH = "2024-08"

# ERA-Interim (xarray tutorial file) ---------------------------------------
ERA_BUCKET = "era-interim"
ERA_KEY = "eraint_uvz_sample.nc"
#: The real file this imitates (xarray's ``eraint_uvz`` tutorial dataset).
ERA_URL = "https://github.com/pydata/xarray-data/raw/master/eraint_uvz.nc"

#: Salt of every random field; change it and all sample data changes.
_SEED = 20240801


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------


def glad_key(year: int, tile: str = DEFAULT_TILE) -> str:
    """Object key of a GLAD tile, e.g. ``GLCLU2000-2020/v2/2000/50N_080W.tif``."""
    tile_bounds(tile)  # validates the name
    return GLAD_KEY_TEMPLATE.format(year=int(year), tile=tile)


def glad_path(year: int, tile: str = DEFAULT_TILE, root: Path | str = SAMPLE_DIR) -> Path:
    """Local path of the stand-in GLAD tile for ``year`` and ``tile``."""
    return Path(root) / GLAD_BUCKET / glad_key(year, tile)


def glad_url(year: int, tile: str = DEFAULT_TILE) -> str:
    """HTTPS URL of the real GLAD tile."""
    tile_bounds(tile)  # validates the name
    return GLAD_URL_TEMPLATE.format(year=int(year), tile=tile)


def _as_date(date: dt.date | str | np.datetime64) -> dt.date:
    """A ``datetime.date`` from a date, datetime, ``numpy.datetime64`` or ``"YYYY-MM-DD"``."""
    if isinstance(date, dt.datetime):
        return date.date()
    if isinstance(date, dt.date):
        return date
    if isinstance(date, np.datetime64):
        return date.astype("datetime64[D]").item()
    return dt.date.fromisoformat(str(date)[:10])


def oisst_key(date: dt.date | str) -> str:
    """Object key of the OISST daily file for ``date`` (``"2024-08-01"`` or a date)."""
    d = _as_date(date)
    return OISST_KEY_TEMPLATE.format(yyyymm=f"{d:%Y%m}", yyyymmdd=f"{d:%Y%m%d}")


def oisst_path(date: dt.date | str, root: Path | str = SAMPLE_DIR) -> Path:
    """Local path of the stand-in OISST file for ``date``."""
    return Path(root) / OISST_BUCKET / oisst_key(date)


def oisst_url(date: dt.date | str) -> str:
    """HTTPS URL of the real OISST file for ``date`` at NOAA NCEI."""
    d = _as_date(date)
    return OISST_URL_TEMPLATE.format(yyyymm=f"{d:%Y%m}", yyyymmdd=f"{d:%Y%m%d}")


def oisst_dates(month: str = OISST_MONTH) -> list[dt.date]:
    """Every day of ``month`` (``"YYYY-MM"``)."""
    year, mon = (int(part) for part in month.split("-"))
    return [dt.date(year, mon, day) for day in range(1, calendar.monthrange(year, mon)[1] + 1)]


def oisst_paths(month: str = OISST_MONTH, root: Path | str = SAMPLE_DIR) -> list[Path]:
    """Local paths of the stand-in OISST files of ``month``, in date order."""
    return [oisst_path(d, root) for d in oisst_dates(month)]


def era_path(root: Path | str = SAMPLE_DIR) -> Path:
    """Local path of the stand-in ERA-Interim netCDF3 file."""
    return Path(root) / ERA_BUCKET / ERA_KEY


# --------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------

_TILE_RE = re.compile(r"^(\d{2})([NS])_(\d{3})([EW])$")


def tile_bounds(tile: str) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a 10x10 degree tile named like ``50N_080W``."""
    match = _TILE_RE.match(tile)
    if not match:
        raise ValueError(f"tile names look like '50N_080W' (upper-left corner), got {tile!r}")
    lat, ns, lon, ew = match.groups()
    north = int(lat) * (1 if ns == "N" else -1)
    west = int(lon) * (1 if ew == "E" else -1)
    on_grid = north % GLAD_TILE_DEGREES == 0 and west % GLAD_TILE_DEGREES == 0
    if not (on_grid and -80 < north <= 80 and -180 <= west < 180):
        raise ValueError(f"{tile!r} is not a 10x10 degree tile corner between 80S-80N")
    return float(west), float(north - GLAD_TILE_DEGREES), float(west + GLAD_TILE_DEGREES), float(north)


def tile_name(north: int, west: int) -> str:
    """Tile name from its upper-left corner, e.g. ``tile_name(50, -80) == "50N_080W"``."""
    name = f"{abs(north):02d}{'N' if north >= 0 else 'S'}_{abs(west):03d}{'E' if west >= 0 else 'W'}"
    tile_bounds(name)
    return name


# --------------------------------------------------------------------------
# Legend
# --------------------------------------------------------------------------

#: Class groups of the real legend: (first code, label, code whose colour the group takes).
LEGEND_GROUPS: tuple[tuple[int, str, int], ...] = (
    (0, "Short vegetation", 21),
    (25, "Trees 3-9 m", 28),
    (32, "Trees 10-19 m", 37),
    (42, "Trees 20 m and taller", 46),
    (100, "Wetland short vegetation", 112),
    (125, "Wetland trees", 136),
    (200, "Open surface water", 206),
    (241, "Snow/ice", 241),
    (244, "Cropland", 244),
    (250, "Built-up", 250),
    (254, "Ocean", 254),
    (255, "No data", 255),
)

# Single codes the generator writes (all of them are rows of the legend).
OCEAN, CROPLAND, BUILT_UP, SNOW_ICE, WATER = 254, 244, 250, 241, 207


def read_legend(path: Path | str = LEGEND_PATH) -> pd.DataFrame:
    """The GLAD annual land-cover legend: columns ``value``, ``name``, ``color``, ``group``.

    One row per class code of the real annual maps (``value``), with the
    class name and a hex colour from GLAD's viewer; ``group`` is the coarser
    class family used by :func:`legend_colormap`.
    """
    import pandas as pd

    legend = pd.read_csv(path, dtype={"value": "int64", "name": "string", "color": "string"})
    starts = [start for start, _, _ in LEGEND_GROUPS]
    labels = [label for _, label, _ in LEGEND_GROUPS]
    idx = np.searchsorted(starts, legend["value"].to_numpy(), side="right") - 1
    legend["group"] = pd.array([labels[i] for i in idx], dtype="string")
    return legend


def legend_colormap(
    grouped: bool = True, path: Path | str = LEGEND_PATH
) -> tuple[ListedColormap, BoundaryNorm, list[str]]:
    """A categorical colormap for GLAD class codes: ``(cmap, norm, labels)``.

    Use it as ``da.plot(cmap=cmap, norm=norm)`` or ``plt.imshow(a, cmap=cmap,
    norm=norm)``. ``norm.boundaries`` are the first codes of each class and
    ``labels[i]`` names the class between ``boundaries[i]`` and
    ``boundaries[i + 1]``; colourbar ticks go in the middle of each interval::

        cbar.set_ticks((norm.boundaries[:-1] + norm.boundaries[1:]) / 2, labels=labels)

    With ``grouped=True`` (default) there are 12 families (short vegetation,
    three tree-height classes, wetland, water, snow/ice, cropland, built-up,
    ocean, no data); with ``grouped=False`` one colour per code (111).
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    legend = read_legend(path)
    if grouped:
        color_of = dict(zip(legend["value"], legend["color"]))
        starts = [start for start, _, _ in LEGEND_GROUPS]
        colors = [color_of[rep] for _, _, rep in LEGEND_GROUPS]
        labels = [label for _, label, _ in LEGEND_GROUPS]
    else:
        starts = legend["value"].tolist()
        colors = legend["color"].tolist()
        labels = legend["name"].tolist()
    boundaries = [*starts, starts[-1] + 1]
    cmap = ListedColormap(colors, name="glad_glclu" + ("_groups" if grouped else ""))
    norm = BoundaryNorm(boundaries, ncolors=len(colors))
    return cmap, norm, labels


# --------------------------------------------------------------------------
# Deterministic value noise on global coordinates
# --------------------------------------------------------------------------

_U64 = np.uint64


def _hash_uniform(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform numbers in [0, 1) from integer lattice coordinates (splitmix64)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.int64).astype(_U64) * _U64(0x9E3779B97F4A7C15)) ^ (
            iy.astype(np.int64).astype(_U64) * _U64(0xC2B2AE3D27D4EB4F)
        )
        h ^= _U64((salt * 0x165667B19E3779F9) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> _U64(30)
        h *= _U64(0xBF58476D1CE4E5B9)
        h ^= h >> _U64(27)
        h *= _U64(0x94D049BB133111EB)
        h ^= h >> _U64(31)
    return (h >> _U64(11)).astype(np.float64) * 2.0**-53


def _value_noise(x: np.ndarray, y: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """Smooth noise in [0, 1] on the grid ``y x x`` (1-D coordinate vectors).

    Random values sit on a global lattice of ``spacing`` degrees and are
    interpolated with a smoothstep, so the field depends only on where a
    pixel is, never on which tile it belongs to. Returns float32.
    """
    gx, gy = x / spacing, y / spacing
    ix0, iy0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    sx, sy = gx - ix0, gy - iy0
    sx, sy = (sx * sx * (3 - 2 * sx)).astype(np.float32), (sy * sy * (3 - 2 * sy)).astype(np.float32)
    xs = np.arange(ix0.min(), ix0.max() + 2)
    ys = np.arange(iy0.min(), iy0.max() + 2)
    lattice = _hash_uniform(xs[None, :], ys[:, None], salt).astype(np.float32)
    cx, cy = ix0 - xs[0], iy0 - ys[0]
    # Interpolate along x on the few lattice rows, then along y on the full grid.
    rows = lattice[:, cx] + (lattice[:, cx + 1] - lattice[:, cx]) * sx
    step = rows[1:] - rows[:-1]
    out = rows[cy]
    out += step[cy] * sy[:, None]
    return out


def _fbm(
    x: np.ndarray, y: np.ndarray, spacing: float, octaves: int, salt: int, gain: float = 0.5
) -> np.ndarray:
    """Fractal value noise, roughly in [-1, 1] (standard deviation about 0.3)."""
    total = np.zeros((y.size, x.size), np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        layer = _value_noise(x, y, spacing / 2**octave, _SEED + 7919 * salt + octave)
        layer *= np.float32(amp)
        total += layer
        norm += amp
        amp *= gain
    total *= np.float32(2 / norm)
    total -= np.float32(1)
    return total


# --------------------------------------------------------------------------
# Crude real geography
# --------------------------------------------------------------------------
# Hand-drawn outlines, accurate to a degree or so: enough that an OISST map
# reads as the Earth and that the default GLAD tile has its coast, lakes,
# river and cities roughly where a basemap shows them. Everything finer is
# random.

# Continents (lon -180..180, lat).
_CONTINENTS: tuple[tuple[tuple[float, float], ...], ...] = (
    # North and Central America
    ((-168, 65), (-162, 70), (-141, 70), (-128, 70), (-110, 68), (-95, 72), (-82, 69), (-80, 63),
     (-94, 59), (-92, 57), (-82, 55), (-79, 52), (-78, 58), (-70, 61), (-64, 60), (-56, 52),
     (-60, 47), (-66, 44.5), (-70.2, 43.7), (-70.8, 42.5), (-70, 41.8), (-71.5, 41.3),
     (-74, 40.6), (-74.2, 39.5), (-76, 35), (-81, 31), (-80, 25), (-82, 27),
     (-84, 30), (-90, 29), (-97, 27), (-97, 22), (-92, 19), (-87, 21), (-88, 16), (-83, 15),
     (-83, 10), (-77, 8), (-80, 7), (-86, 11), (-92, 14), (-105, 20), (-112, 29), (-110, 23),
     (-115, 30), (-117, 33), (-121, 35), (-124, 40), (-124, 47), (-130, 55), (-138, 59),
     (-148, 60), (-152, 58), (-158, 57), (-165, 54), (-158, 59), (-165, 62)),
    # South America
    ((-77, 8), (-72, 12), (-62, 11), (-52, 5), (-50, 0), (-44, -2), (-35, -5), (-35, -9),
     (-39, -15), (-41, -22), (-48, -26), (-53, -34), (-58, -38), (-62, -41), (-65, -45),
     (-68, -50), (-69, -55), (-72, -54), (-75, -48), (-74, -40), (-72, -30), (-71, -18),
     (-76, -14), (-81, -6), (-80, -2), (-78, 2)),
    # Europe, Asia and Africa
    ((-9, 43), (-2, 43.5), (-5, 48), (2, 51), (8, 54), (10, 57), (12, 55.5), (14, 54), (20, 55),
     (22, 58), (30, 60), (22, 60.5), (21, 64), (25, 65.5), (18, 62), (19, 60), (16, 57),
     (13, 56), (11, 58), (5, 58), (5, 62), (15, 69), (25, 71), (40, 67), (60, 69), (70, 73),
     (80, 73), (100, 77), (115, 74), (140, 72), (160, 70), (179.9, 69), (179.9, 65), (170, 60),
     (163, 58), (162, 52), (156, 51), (155, 58), (142, 59), (137, 54), (141, 48), (135, 43),
     (129, 41), (129, 35), (126, 35), (125, 39), (122, 40), (118, 38), (121, 36), (122, 31),
     (120, 26), (116, 22), (110, 21), (109, 12), (105, 9), (100, 13), (103, 1), (100, 4),
     (98, 10), (97, 17), (94, 18), (92, 22), (87, 21), (80, 15), (77, 8), (73, 16), (72, 21),
     (68, 24), (62, 25), (57, 26), (59, 22), (52, 16), (45, 13), (43, 15), (39, 21), (35, 28),
     (32, 30), (35, 24), (38, 18), (43, 12), (51, 11), (48, 4), (42, -1), (40, -6), (40, -11),
     (35, -20), (35, -25), (32, -29), (27, -34), (20, -35), (18, -32), (15, -27), (12, -18),
     (13, -12), (9, -1), (9, 4), (4, 6), (-4, 5), (-8, 4), (-13, 8), (-17, 14), (-17, 21),
     (-13, 27), (-10, 30), (-6, 35.5), (0, 35.5), (10, 37), (11, 33), (20, 31), (30, 31),
     (35, 33), (36, 36), (30, 36.5), (27, 37.5), (23, 37), (21, 39), (19, 41), (14, 45.5),
     (16, 41.5), (18, 40), (16, 38), (15.5, 38), (12, 42), (9, 44), (6, 43), (3, 43), (0, 39),
     (-2, 36.7), (-5.5, 36.1), (-9, 37)),
    # Great Britain, Iceland, Japan, Madagascar
    ((-5, 50), (1.5, 51), (0, 53), (-2, 56), (-3, 58.5), (-6, 58), (-5, 55), (-3, 54), (-4.5, 52)),
    ((-24, 64), (-14, 64), (-15, 66.5), (-22, 66.5)),
    ((130, 31), (135, 34), (141, 36), (142, 40), (141, 45.5), (145, 44), (140, 41), (137, 37), (133, 35)),
    ((44, -25), (47, -25), (50, -15), (49, -12), (44, -16)),
    # Sumatra, Borneo, New Guinea, Australia, New Zealand
    ((95, 5.5), (98, 4), (106, -6), (102, -4)),
    ((109, 2), (117, 7), (119, 1), (116, -4), (110, -3)),
    ((131, -1), (141, -3), (150, -10), (141, -9), (138, -8)),
    ((114, -22), (122, -18), (130, -12), (137, -12), (136, -15), (140, -17), (142, -11),
     (146, -19), (153, -25), (151, -33), (150, -37), (145, -39), (140, -38), (135, -35),
     (131, -31), (124, -34), (115, -34), (113, -26)),
    ((172, -34), (178, -38), (174, -41), (167, -46), (171, -44)),
    # Greenland and the Canadian Arctic islands
    ((-73, 78), (-60, 82), (-30, 83), (-20, 80), (-20, 70), (-32, 68), (-42, 60), (-50, 64), (-55, 70), (-60, 76)),
    ((-120, 74), (-95, 74), (-80, 73), (-62, 82), (-90, 81), (-120, 77)),
    # Antarctica
    ((-180, -90), (180, -90), (180, -78), (150, -70), (100, -66), (60, -67), (20, -70),
     (-10, -71), (-30, -76), (-60, -73), (-58, -64), (-68, -66), (-75, -72), (-100, -74),
     (-140, -75), (-180, -78)),
)  # fmt: skip


# Large lakes (lon, lat) drawn as water on GLAD tiles.
_LAKES: tuple[tuple[tuple[float, float], ...], ...] = (
    # Ontario, Erie, Huron with Georgian Bay, Champlain, Superior, Michigan
    ((-79.8, 43.3), (-79.0, 43.25), (-78.0, 43.35), (-77.0, 43.28), (-76.2, 43.5), (-76.1, 44.1),
     (-76.8, 43.95), (-77.6, 44.0), (-78.5, 43.9), (-79.4, 43.65)),
    ((-83.4, 41.7), (-82.0, 41.5), (-81.0, 41.9), (-80.0, 42.1), (-79.0, 42.6), (-78.9, 42.9),
     (-79.5, 42.85), (-80.5, 42.55), (-81.5, 42.6), (-82.6, 42.0)),
    ((-84.0, 46.0), (-82.5, 45.9), (-81.5, 45.95), (-80.7, 45.9), (-80.0, 45.3), (-79.8, 44.8),
     (-80.3, 44.5), (-81.0, 44.8), (-81.7, 45.2), (-81.6, 44.0), (-82.0, 43.2), (-82.5, 43.1),
     (-82.6, 44.0), (-83.3, 44.3), (-83.5, 45.2), (-84.5, 45.7)),
    ((-73.42, 43.6), (-73.35, 44.2), (-73.38, 44.95), (-73.25, 44.95), (-73.22, 44.2), (-73.38, 43.6)),
    ((-92.1, 46.7), (-90.0, 46.6), (-87.5, 46.5), (-85.0, 46.7), (-84.6, 46.5), (-84.8, 47.3),
     (-85.8, 47.9), (-86.5, 48.7), (-88.3, 48.5), (-89.5, 48.0), (-90.8, 47.3)),
    ((-87.9, 41.6), (-86.8, 41.8), (-86.3, 43.0), (-86.4, 44.3), (-85.5, 45.2), (-85.0, 45.8),
     (-86.5, 45.9), (-87.6, 45.2), (-87.9, 44.5), (-87.7, 43.0)),
)  # fmt: skip

# Big rivers (lon, lat) drawn a few pixels wide: the St. Lawrence.
_RIVERS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((-76.3, 44.1), (-75.5, 44.6), (-75.0, 44.9), (-74.2, 45.2), (-73.6, 45.5), (-72.5, 46.2),
     (-71.2, 46.8), (-70.4, 47.1), (-69.5, 47.8), (-68.0, 48.6)),
)  # fmt: skip

# Cities (name, lon, lat, built-up radius in degrees in 2000).
_CITIES: tuple[tuple[str, float, float, float], ...] = (
    ("New York", -73.95, 40.75, 0.3), ("Toronto", -79.45, 43.72, 0.22),
    ("Montreal", -73.62, 45.52, 0.16), ("Boston", -71.12, 42.36, 0.18),
    ("Ottawa", -75.70, 45.40, 0.1), ("Quebec", -71.27, 46.80, 0.08),
    ("Buffalo", -78.84, 42.90, 0.1), ("Rochester", -77.61, 43.15, 0.08),
    ("Syracuse", -76.15, 43.05, 0.06), ("Albany", -73.78, 42.67, 0.07),
    ("Hartford", -72.68, 41.76, 0.08), ("Providence", -71.42, 41.82, 0.08),
    ("Springfield", -72.59, 42.11, 0.06), ("Worcester", -71.80, 42.27, 0.05),
    ("Detroit", -83.10, 42.38, 0.25), ("Chicago", -87.70, 41.85, 0.3),
    ("Philadelphia", -75.16, 39.98, 0.22), ("Cleveland", -81.68, 41.48, 0.14),
    ("Pittsburgh", -79.98, 40.44, 0.12),
)  # fmt: skip


def _polygon_shapes(polygons: Iterable[tuple[tuple[float, float], ...]]) -> list[tuple[dict, int]]:
    return [({"type": "Polygon", "coordinates": [list(poly) + [poly[0]]]}, 1) for poly in polygons]


# --------------------------------------------------------------------------
# GLAD land cover
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Landscape:
    """Fields of one tile that do not change with the year."""

    lon: np.ndarray
    lat: np.ndarray
    ocean: np.ndarray  # bool
    water: np.ndarray  # uint8 water code or 0
    wetland: np.ndarray  # bool
    agri: np.ndarray  # crop suitability
    forest: np.ndarray  # bool: natural cover is trees
    height: np.ndarray  # tree height code 25..48
    short: np.ndarray  # short-vegetation code 0..24
    snow: np.ndarray  # bool
    loss_year: np.ndarray  # int16 year of a forest disturbance or 9999
    abandon_year: np.ndarray  # int16 year cropland is left or 9999
    detail: np.ndarray  # fine texture in [-1, 1]
    towns: tuple[tuple[float, float, float, float], ...]  # (lon, lat, radius in 2000, growth by 2020)


def _cells(x: np.ndarray, y: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """One uniform random number per ``spacing``-degree cell, on the pixel grid."""
    ix, iy = np.floor(x / spacing).astype(np.int64), np.floor(y / spacing).astype(np.int64)
    xs, ys = np.arange(ix.min(), ix.max() + 1), np.arange(iy.min(), iy.max() + 1)
    values = _hash_uniform(xs[None, :], ys[:, None], _SEED + 7919 * salt).astype(np.float32)
    return values[(iy - ys[0])[:, None], (ix - xs[0])[None, :]]


def _towns(west: float, south: float, east: float, north: float) -> tuple[tuple[float, ...], ...]:
    """Real cities near the tile plus random towns from a global 0.25 degree lattice."""
    margin = 0.5
    towns = [
        (lon, lat, radius, 0.4)
        for _, lon, lat, radius in _CITIES
        if west - margin < lon < east + margin and south - margin < lat < north + margin
    ]
    spacing = 0.25
    xs = np.arange(np.floor((west - margin) / spacing), np.ceil((east + margin) / spacing))
    ys = np.arange(np.floor((south - margin) / spacing), np.ceil((north + margin) / spacing))
    gx, gy = np.meshgrid(xs, ys)
    u = [_hash_uniform(gx, gy, _SEED + 104729 + k) for k in range(4)]
    for i in np.flatnonzero((u[0] < 0.12).ravel()):
        lon = float((gx.flat[i] + u[1].flat[i]) * spacing)
        lat = float((gy.flat[i] + u[2].flat[i]) * spacing)
        towns.append((lon, lat, 0.005 + 0.02 * float(u[3].flat[i]) ** 3, 0.7))
    return tuple(towns)


def _rasterize(shapes: list, lon: np.ndarray, lat: np.ndarray, all_touched: bool = False) -> np.ndarray:
    """Burn shapes onto the (north-up) pixel grid of ``lon`` x ``lat`` centres."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    if not shapes:
        return np.zeros((lat.size, lon.size), bool)
    res_x, res_y = lon[1] - lon[0], lat[0] - lat[1]
    transform = from_origin(lon[0] - res_x / 2, lat[0] + res_y / 2, res_x, res_y)
    shape = (lat.size, lon.size)
    return rasterize(shapes, out_shape=shape, transform=transform, all_touched=all_touched, dtype="uint8") > 0


def _blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Three passes of a box filter along both axes: close to a Gaussian blur."""
    for axis in (0, 1):
        for _ in range(3):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (radius + 1, radius)
            c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
            width, n = 2 * radius + 1, c.shape[axis]
            a = (np.take(c, range(width, n), axis) - np.take(c, range(n - width), axis)) / width
    return a.astype(np.float32)


def _dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Grow a boolean mask by ``iterations`` pixels (4-neighbourhood)."""
    mask = mask.copy()
    for _ in range(iterations):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def _landness(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Smoothed 0..1 land fraction of the crude continents, on the pixel grid."""
    step, margin = 0.02, 1.0
    coarse_lon = np.arange(lon.min() - margin, lon.max() + margin, step)
    coarse_lat = np.arange(lat.max() + margin, lat.min() - margin, -step)
    coarse = _blur(_rasterize(_polygon_shapes(_CONTINENTS), coarse_lon, coarse_lat).astype(np.float32), 5)
    # Bilinear resampling from the coarse grid to pixel centres.
    fx = np.clip((lon - coarse_lon[0]) / step, 0, coarse_lon.size - 1.001)
    fy = np.clip((coarse_lat[0] - lat) / step, 0, coarse_lat.size - 1.001)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    wx, wy = (fx - ix).astype(np.float32), (fy - iy).astype(np.float32)
    rows = coarse[:, ix] * (1 - wx) + coarse[:, ix + 1] * wx
    return rows[iy] * (1 - wy)[:, None] + rows[iy + 1] * wy[:, None]


@lru_cache(maxsize=2)
def _landscape(tile: str, size: int) -> _Landscape:
    west, south, east, north = tile_bounds(tile)
    res = GLAD_TILE_DEGREES / size
    lon = west + (np.arange(size) + 0.5) * res
    lat = north - (np.arange(size) + 0.5) * res
    detail = _fbm(lon, lat, 0.05, 3, salt=9)

    # Coast: the crude continents, roughened by noise.
    land = _landness(lon, lat) + 0.5 * _fbm(lon, lat, 0.5, 5, salt=1) + 0.1 * detail
    ocean = land < 0.5
    coast = land < 0.58

    # Water: real big lakes and river, random small lakes and streams.
    wet = _fbm(lon, lat, 0.6, 5, salt=2)
    water = np.zeros((size, size), np.uint8)
    water[wet > 0.48] = 205
    water[wet > 0.5] = 206
    water[wet > 0.52] = WATER
    stream = _fbm(lon, lat, 1.5, 4, salt=6)
    streams_here = _fbm(lon, lat, 3.0, 2, salt=7) > 0
    water[(np.abs(stream) < 0.005) & streams_here] = WATER
    water[_rasterize(_polygon_shapes(_LAKES), lon, lat)] = WATER
    rivers = [({"type": "LineString", "coordinates": list(line)}, 1) for line in _RIVERS]
    water[_dilate(_rasterize(rivers, lon, lat, all_touched=True), max(1, size // 1000))] = WATER
    wetland = ((wet > 0.33) | coast) & (water == 0)

    agri = _fbm(lon, lat, 1.0, 5, salt=3)
    forest = _fbm(lon, lat, 0.5, 5, salt=4) > -0.3
    warmth = np.clip(1.6 - np.abs(lat) / 60, 0.3, 1.0).astype(np.float32)[:, None]
    height_m = 6 + 14 * warmth + 6 * _fbm(lon, lat, 0.3, 4, salt=5) + 3 * detail
    height = np.clip(np.rint(height_m) + 22, 25, 48).astype(np.uint8)
    short = np.clip(np.rint(20 + 4 * detail), 8, 24).astype(np.uint8)

    if max(abs(south), abs(north)) > 58:
        snow = (np.abs(lat)[:, None] - 62) / 8 + _fbm(lon, lat, 0.4, 5, salt=10) > 0.9
    else:
        snow = np.zeros((size, size), bool)

    # Forest disturbance: clear-cut blocks of 0.03 degree, clustered in logging regions.
    logging = _fbm(lon, lat, 1.0, 3, salt=11) > 0.1
    chance, when = _cells(lon, lat, 0.03, salt=12), _cells(lon, lat, 0.03, salt=13)
    loss_year = np.where(logging & (chance < 0.12), 2001 + np.floor(when * 20), 9999).astype(np.int16)
    # Cropland abandonment: whole farms (0.05 degree blocks) left to grow back.
    chance, when = _cells(lon, lat, 0.05, salt=14), _cells(lon, lat, 0.05, salt=15)
    abandon_year = np.where(chance < 0.02, 2003 + np.floor(when * 17), 9999).astype(np.int16)

    return _Landscape(
        lon=lon, lat=lat, ocean=ocean, water=water, wetland=wetland, agri=agri, forest=forest,
        height=height, short=short, snow=snow, loss_year=loss_year, abandon_year=abandon_year,
        detail=detail, towns=_towns(west, south, east, north),
    )  # fmt: skip


def glad_classes(year: int, tile: str = DEFAULT_TILE, size: int = GLAD_SIZE) -> np.ndarray:
    """The stand-in land-cover map of ``tile`` in ``year`` as a ``(size, size)`` uint8 array.

    Deterministic: the same arguments give the same array. Between years,
    cropland spreads at the edges of farmed land, towns grow, forest blocks
    are cleared and grow back, and a few farms are abandoned.
    """
    year = int(year)
    if not 2000 <= year <= 2020:
        raise ValueError(f"GLAD GLCLU covers 2000-2020, got {year}")
    land = _landscape(tile, size)
    progress = (year - 2000) / 20

    # Natural cover, then disturbance and regrowth of trees (about 0.8 m a year).
    classes = np.where(land.forest, land.height, land.short)
    disturbed = land.forest & (land.loss_year <= year)
    age = (year - land.loss_year).astype(np.float32)
    regrowth = np.minimum(np.rint(age * 0.8) + 22, land.height).astype(np.uint8)
    classes = np.where(disturbed, np.where(regrowth >= 25, regrowth, land.short), classes)

    # Cropland spreads as the suitability threshold falls; abandoned farms regrow.
    crop = land.agri > np.float32(0.2 - 0.03 * progress)
    abandoned = land.abandon_year <= year
    classes = np.where(crop & ~abandoned, CROPLAND, classes)
    since = (year - land.abandon_year).astype(np.float32)
    classes = np.where(crop & abandoned, np.where(since >= 8, np.uint8(25), land.short), classes)

    # Wetlands keep their vegetation, on wetland codes.
    wetland = np.where(land.forest, land.height + 100, land.short + 100)
    classes = np.where(land.wetland & ~crop, wetland, classes)
    classes = classes.astype(np.uint8)

    _paint_towns(classes, land, progress)
    classes[land.snow] = SNOW_ICE
    water = land.water > 0
    classes[water] = land.water[water]
    classes[land.ocean] = OCEAN
    return classes


def _paint_towns(classes: np.ndarray, land: _Landscape, progress: float) -> None:
    """Mark built-up pixels around each town; towns grow with ``progress`` (0..1)."""
    size = classes.shape[0]
    for lon, lat, radius, growth in land.towns:
        grown = radius * (1 + growth * progress)
        reach_x = grown * 1.5 / np.cos(np.radians(lat))
        i0, i1 = np.searchsorted(-land.lat, [-(lat + grown * 1.5), -(lat - grown * 1.5)])
        j0, j1 = np.searchsorted(land.lon, [lon - reach_x, lon + reach_x])
        i0, i1, j0, j1 = max(i0 - 1, 0), min(i1 + 1, size), max(j0 - 1, 0), min(j1 + 1, size)
        if i0 >= i1 or j0 >= j1:
            continue
        dy = (land.lat[i0:i1] - lat)[:, None]
        dx = ((land.lon[j0:j1] - lon) * np.cos(np.radians(lat)))[None, :]
        distance = np.hypot(dx, dy) / grown
        texture = land.detail[i0:i1, j0:j1]
        # A ragged core plus scattered suburbs around it.
        inside = (distance < 1 + 0.5 * texture) | ((distance < 1.5) & (texture > 0.25))
        classes[i0:i1, j0:j1][inside] = BUILT_UP


def make_glad_tile(
    year: int, tile: str = DEFAULT_TILE, path: Path | str | None = None, size: int = GLAD_SIZE
) -> Path:
    """Write the stand-in GLAD tile for ``year`` as a Cloud-Optimized GeoTIFF.

    ``path`` defaults to :func:`glad_path`; ``size`` is the number of pixels
    per side (2000 for the course, smaller in tests). Returns the path.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin

    path = Path(path) if path is not None else glad_path(year, tile)
    classes = glad_classes(year, tile, size)
    west, _, _, north = tile_bounds(tile)
    res = GLAD_TILE_DEGREES / size
    tags = {
        "SAMPLE_DATA": STAND_IN_NOTE,
        "SAMPLE_DATA_IMITATES": (
            "GLAD Global Land Cover and Land Use Change 2000-2020 v2 (Potapov et al. 2022), "
            f"annual map {year}, tile {tile}: {glad_url(year, tile)}"
        ),
        "SAMPLE_DATA_LEGEND": "data/glad_legend.csv",
        "YEAR": str(year),
        "TILE": tile,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    profile = dict(
        driver="GTiff", width=size, height=size, count=1, dtype="uint8", crs="EPSG:4326",
        transform=from_origin(west, north, res, res), nodata=GLAD_NODATA,
    )  # fmt: skip
    with rasterio.Env(GDAL_NUM_THREADS="1"), rasterio.MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(classes, 1)
            src.update_tags(**tags)
            src.set_band_description(1, "land cover class")
        with mem.open() as src:
            rasterio.shutil.copy(
                src, tmp, driver="COG", BLOCKSIZE=GLAD_BLOCKSIZE, COMPRESS="DEFLATE",
                OVERVIEWS="AUTO", OVERVIEW_RESAMPLING="NEAREST", RESAMPLING="NEAREST",
            )  # fmt: skip
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------
# OISST v2.1
# --------------------------------------------------------------------------

OISST_LAT = np.arange(720, dtype=np.float64) * 0.25 - 89.875
OISST_LON = np.arange(1440, dtype=np.float64) * 0.25 + 0.125
_OISST_EPOCH = dt.date(1978, 1, 1)

@lru_cache(maxsize=1)
def oisst_land_mask() -> np.ndarray:
    """Boolean ``(lat, lon)`` mask of the crude continents on the OISST grid."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    shapes = _polygon_shapes(_CONTINENTS)
    # Rasterize north-up on -180..180, then flip to south-up and roll to 0..360.
    transform = from_origin(-180, 90, 0.25, 0.25)
    grid = rasterize(shapes, out_shape=(720, 1440), transform=transform, dtype="uint8")
    return np.roll(grid[::-1], 720, axis=1).astype(bool)


def _bump(lon0: float, lat0: float, wlon: float, wlat: float) -> np.ndarray:
    """A Gaussian blob on the OISST grid (longitude wraps around)."""
    dlon = (OISST_LON - lon0 + 180) % 360 - 180
    return np.exp(-((dlon / wlon) ** 2))[None, :] * np.exp(-(((OISST_LAT - lat0) / wlat) ** 2))[:, None]


@lru_cache(maxsize=1)
def _oisst_static() -> dict[str, np.ndarray]:
    """The parts of the SST fields that do not change from day to day."""
    lat = OISST_LAT[:, None]
    # August climatology: warmest north of the equator, a cold tongue and
    # upwelling off the western coasts, warm western boundary currents.
    shift = np.where(lat > 7, 0.95, 1.15) * (lat - 7)
    clim = -1.8 + 31 * np.clip(np.cos(np.radians(shift)), 0, 1) ** 1.6 + np.zeros((1, OISST_LON.size))
    clim += -3.0 * _bump(255, -1, 35, 5) - 2.5 * _bump(282, -15, 6, 12) - 2.0 * _bump(12, -22, 6, 10)
    clim += 1.0 * _bump(150, 5, 30, 12) + 2.0 * _bump(295, 38, 12, 4) + 1.5 * _bump(140, 35, 10, 4)
    heatwave = 2.0 * _bump(215, 45, 20, 8) - 1.2 * _bump(330, 50, 15, 6)
    # The climatology knows where ice usually is, so anomalies under ice stay small.
    clim_ice = _oisst_ice(day=10, lag=0.0)
    clim = clim * (1 - clim_ice) - 1.8 * clim_ice
    return {"clim": clim, "heatwave": heatwave, "ocean": ~oisst_land_mask()}


def _oisst_ice(day: int, lag: float = 1.0) -> np.ndarray:
    """Sea-ice fraction: the Arctic edge retreats through August, the Antarctic edge advances."""
    lat, lon = OISST_LAT[:, None], np.radians(OISST_LON)
    arctic_edge = 77 + 4 * np.sin(2 * lon + 1) + 2 * np.cos(3 * lon) + lag * 0.06 * (day - 10)
    antarctic_edge = -61 + 3 * np.sin(2 * lon + 0.5) + 1.5 * np.cos(3 * lon) + lag * 0.04 * (day - 10)
    ice = np.clip((lat - arctic_edge) / 6, 0, 1) + np.clip((antarctic_edge - lat) / 5, 0, 1)
    return np.minimum(ice, 0.98)


def _oisst_fields(date: dt.date) -> dict[str, np.ndarray]:
    """Decoded ``sst``, ``anom``, ``err``, ``ice`` (NaN where missing) for one day."""
    static = _oisst_static()
    day = (date - dt.date(2024, 8, 1)).days  # fields drift smoothly from day to day
    lat, lon = np.radians(OISST_LAT)[:, None], np.radians(OISST_LON)
    lat_deg = OISST_LAT[:, None]

    # Anomalies: standing waves whose phases drift slowly, plus a marine heatwave.
    rng = np.random.default_rng(_SEED)
    anom = np.zeros((OISST_LAT.size, OISST_LON.size))
    for _ in range(14):
        m, n = rng.integers(1, 9), rng.integers(1, 6)
        amp, phase_x, phase_y = rng.uniform(0.1, 0.35), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        drift = rng.uniform(-0.02, 0.02) * day
        anom += np.cos(2 * n * lat + phase_y + drift) * (amp * np.cos(m * lon + phase_x - drift))
    anom += (1 + 0.015 * day) * static["heatwave"]
    anom *= np.sqrt(np.cos(lat))
    ice = _oisst_ice(day)

    clim = static["clim"]
    sst = np.clip((clim + anom) * (1 - ice) - 1.8 * ice, -1.8, 34)
    anom = sst - clim
    err = np.clip(0.12 + 0.35 * (np.abs(lat_deg) / 90) ** 2 + 0.3 * ice + 0.08 * np.abs(anom), 0.1, 1.5)
    ocean = static["ocean"]
    return {
        "sst": np.where(ocean, sst, np.nan),
        "anom": np.where(ocean, anom, np.nan),
        "err": np.where(ocean, err, np.nan),
        "ice": np.where(ocean & (ice > 0), ice, np.nan),
    }


_OISST_VARS: dict[str, dict[str, object]] = {
    "sst": {"long_name": "Daily sea surface temperature", "units": "Celsius", "valid_min": -300, "valid_max": 4500},
    "anom": {"long_name": "Daily sea surface temperature anomalies", "units": "Celsius", "valid_min": -1200, "valid_max": 1200},
    "err": {"long_name": "Estimated error standard deviation of analysed_sst", "units": "Celsius", "valid_min": 0, "valid_max": 1000},
    "ice": {"long_name": "Sea ice concentration", "units": "%", "valid_min": 0, "valid_max": 100},
}  # fmt: skip


def _oisst_global_attrs(date: dt.date) -> dict[str, object]:
    name = Path(oisst_key(date)).name
    made = date + dt.timedelta(days=15)
    f32 = np.float32
    return {
        "Conventions": "CF-1.6, ACDD-1.3",
        "title": "NOAA/NCEI 1/4 Degree Daily Optimum Interpolation Sea Surface Temperature (OISST) Analysis, Version 2.1 - Final",
        "references": "Reynolds, et al.(2007) Daily High-Resolution-Blended Analyses for Sea Surface Temperature (available at https://doi.org/10.1175/2007JCLI1824.1). Banzon, et al.(2016) A long-term record of blended satellite and in situ sea-surface temperature for climate monitoring, modeling and environmental studies (available at https://doi.org/10.5194/essd-8-165-2016). Huang et al. (2020) Improvements of the Daily Optimum Interpolation Sea Surface Temperature (DOISST) Version v02r01, submitted.Climatology is based on 1971-2000 OI.v2 SST. Satellite data: Pathfinder AVHRR SST, Navy AVHRR SST, and NOAA ACSPO SST. Ice data: NCEP Ice and GSFC Ice.",
        "source": "ICOADS, NCEP_GTS, GSFC_ICE, NCEP_ICE, Pathfinder_AVHRR, Navy_AVHRR, NOAA_ACSP",
        "id": name,
        "naming_authority": "gov.noaa.ncei",
        "summary": "NOAAs 1/4-degree Daily Optimum Interpolation Sea Surface Temperature (OISST), version v02r01, created by interpolating and extrapolating SST observations from satellites (AVHRR) and in situ platforms (ships and buoys) into a smoothed complete field. This is the AVHRR-ONLY DOISST.",
        "cdm_data_type": "Grid",
        "history": "Final file created using preliminary as first guess, and 3 days of AVHRR data. Preliminary uses only 1 day of AVHRR data.",
        "date_modified": f"{made:%Y-%m-%d}T09:12:00Z",
        "date_created": f"{made:%Y-%m-%d}T09:12:00Z",
        "product_version": "Version v02r01",
        "processing_level": "NOAA Level 4",
        "institution": "NOAA/National Centers for Environmental Information",
        "creator_url": "https://www.ncei.noaa.gov/",
        "creator_email": "oisst-help@noaa.gov",
        "keywords": "Earth Science > Oceans > Ocean Temperature > Sea Surface Temperature",
        "keywords_vocabulary": "Global Change Master Directory (GCMD) Earth Science Keywords",
        "platform": "Ships, buoys, Argo floats, MetOp-A, MetOp-B",
        "platform_vocabulary": "Global Change Master Directory (GCMD) Platform Keywords",
        "instrument": "Earth Remote Sensing Instruments > Passive Remote Sensing > Spectrometers/Radiometers > Imaging Spectrometers/Radiometers > AVHRR > Advanced Very High Resolution Radiometer",
        "instrument_vocabulary": "Global Change Master Directory (GCMD) Instrument Keywords",
        "standard_name_vocabulary": "CF Standard Name Table (v40, 25 January 2017)",
        "geospatial_lat_min": f32(-90),
        "geospatial_lat_max": f32(90),
        "geospatial_lon_min": f32(0),
        "geospatial_lon_max": f32(360),
        "geospatial_lat_units": "degrees_north",
        "geospatial_lat_resolution": f32(0.25),
        "geospatial_lon_units": "degrees_east",
        "geospatial_lon_resolution": f32(0.25),
        "time_coverage_start": f"{date:%Y-%m-%d}T00:00:00Z",
        "time_coverage_end": f"{date:%Y-%m-%d}T23:59:59Z",
        "metadata_link": "https://doi.org/10.25921/RE9P-PT57",
        "ncei_template_version": "NCEI_NetCDF_Grid_Template_v2.0",
        "comment": "Data was converted from NetCDF-3 to NetCDF-4 format with metadata updates in November 2017.",
        "sensor": "Thermometer, AVHRR",
        "sample_data": STAND_IN_NOTE,
        "sample_data_imitates": f"NOAA OISST v2.1 AVHRR daily file {name}: {oisst_url(date)}",
    }  # fmt: skip


def make_oisst_file(date: dt.date | str, path: Path | str | None = None) -> Path:
    """Write the stand-in OISST v2.1 daily file for ``date`` (netCDF4/HDF5, byte-reproducible)."""
    import h5netcdf

    date = _as_date(date)
    path = Path(path) if path is not None else oisst_path(date)
    fields = _oisst_fields(date)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    f32, i16 = np.float32, np.int16
    with h5netcdf.File(tmp, "w") as nc:
        nc.dimensions = {"time": None, "zlev": 1, "lat": 720, "lon": 1440}
        nc.resize_dimension("time", 1)
        coords = {
            "time": (
                np.array([(date - _OISST_EPOCH).days], f32),
                {"long_name": "Center time of the day", "units": "days since 1978-01-01 12:00:00"},
            ),
            "zlev": (
                np.array([0], f32),
                {"long_name": "Sea surface height", "units": "meters", "positive": "down", "actual_range": "0, 0"},
            ),
            "lat": (
                OISST_LAT.astype(f32),
                {"long_name": "Latitude", "units": "degrees_north", "grids": "Uniform grid from -89.875 to 89.875 by 0.25"},
            ),
            "lon": (
                OISST_LON.astype(f32),
                {"long_name": "Longitude", "units": "degrees_east", "grids": "Uniform grid from 0.125 to 359.875 by 0.25"},
            ),
        }
        for name, (values, attrs) in coords.items():
            var = nc.create_variable(name, (name,), f32, chunks=(1,) if name == "time" else None)
            var[:] = values
            var.attrs.update(attrs)
        for name, meta in _OISST_VARS.items():
            packed = np.rint(fields[name] / 0.01)
            packed = np.where(np.isnan(packed), -999, packed).astype(i16)[None, None]
            var = nc.create_variable(
                name, ("time", "zlev", "lat", "lon"), i16, fillvalue=i16(-999),
                chunks=(1, 1, 720, 1440), compression="gzip", compression_opts=4, shuffle=True,
            )  # fmt: skip
            var[...] = packed
            var.attrs["long_name"] = meta["long_name"]
            var.attrs["units"] = meta["units"]
            var.attrs["add_offset"] = f32(0)
            var.attrs["scale_factor"] = f32(0.01)
            var.attrs["valid_min"] = i16(meta["valid_min"])
            var.attrs["valid_max"] = i16(meta["valid_max"])
        nc.attrs.update(_oisst_global_attrs(date))
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------
# ERA-Interim-like netCDF3
# --------------------------------------------------------------------------


def _era_fields() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Plausible monthly means of z (m2 s-2), u, v (m s-1): (month, level, lat, lon)."""
    lat = np.linspace(90, -90, 121)
    lon = np.arange(240) * 1.5 - 180
    months = np.array([1, 7])  # levels are 200, 500 and 850 hPa
    phi = np.radians(lat)[None, None, :, None]
    lam = np.radians(lon)[None, None, None, :]
    winter_north = np.where(months == 1, 1.0, -1.0)[:, None, None, None]
    height = np.array([11800.0, 5650.0, 1450.0])[None, :, None, None]
    drop = np.array([1100.0, 600.0, 130.0])[None, :, None, None]
    strength = np.array([1.0, 0.55, 0.25])[None, :, None, None]
    # Geopotential height falls towards the poles, most in the winter hemisphere.
    hemi_scale = 1 + 0.4 * winter_north * np.sign(phi)
    z_height = height - drop * hemi_scale * np.sin(phi) ** 2
    waves = np.cos(phi) ** 2 * np.sin(2 * phi) ** 2 * (np.cos(2 * lam + 0.6) + 0.6 * np.cos(3 * lam - 1.2))
    z_height = z_height + 90 * strength * hemi_scale * waves
    z = 9.80665 * z_height
    # Jets: subtropical in winter, weaker and poleward in summer; easterlies near the equator.
    def jet(centre: float, width: float) -> np.ndarray:
        return np.exp(-(((np.degrees(phi) - centre) / width) ** 2))
    north = np.where(months == 1, 40.0, 22.0)[:, None, None, None]
    south = np.where(months == 1, 25.0, 42.0)[:, None, None, None]
    u = strength * (north * jet(33, 10) + south * jet(-38, 10)) - 6 * strength * jet(0, 12)
    u = u + 4 * strength * waves
    meridional = np.sin(2 * lam + 0.6) + 0.8 * np.sin(3 * lam - 1.2)
    v = 6 * strength * np.cos(phi) ** 2 * np.sin(2 * phi) ** 2 * meridional
    return {"z": z, "u": u, "v": v}, lat, lon


def _pack_int16(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """ECMWF-style packing: full int16 range, negative scale factor (as the real file)."""
    vmin, vmax = float(values.min()), float(values.max())
    offset = (vmax + vmin) / 2
    scale = -(vmax - vmin) / (2 * 32766)
    return np.rint((values - offset) / scale).astype(np.int16), scale, offset


def make_era_file(path: Path | str | None = None) -> Path:
    """Write the small ERA-Interim-like netCDF3 (64-bit offset) file."""
    from scipy.io import netcdf_file

    path = Path(path) if path is not None else era_path()
    fields, lat, lon = _era_fields()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    nan = np.float64(np.nan)
    meta = {
        "z": (5, "m**2 s**-2", "Geopotential", "geopotential"),
        "u": (2, "m s**-1", "U component of wind", "eastward_wind"),
        "v": (2, "m s**-1", "V component of wind", "northward_wind"),
    }
    # scipy casts the NaN _FillValue to int16 for padding (none is needed here).
    with np.errstate(invalid="ignore"), netcdf_file(tmp, "w", version=2) as nc:
        nc.Conventions = "CF-1.0"
        nc.Info = "Monthly ERA-Interim-like data (u, v, z on three pressure levels, January and July)."
        nc.sample_data = STAND_IN_NOTE
        nc.sample_data_imitates = f"xarray tutorial file eraint_uvz.nc (ERA-Interim monthly means): {ERA_URL}"
        for name, size in (("longitude", lon.size), ("latitude", lat.size), ("level", 3), ("month", 2)):
            nc.createDimension(name, size)
        for name, values, units in (("longitude", lon, "degrees_east"), ("latitude", lat, "degrees_north")):
            var = nc.createVariable(name, "f", (name,))
            var[:] = values.astype(np.float32)
            var._FillValue = nan
            var.units, var.long_name = units, name
        var = nc.createVariable("level", "i", ("level",))
        var[:] = np.array([200, 500, 850], np.int32)
        var.units, var.long_name = "millibars", "pressure_level"
        for name, (digits, units, long_name, standard_name) in meta.items():
            packed, scale, offset = _pack_int16(fields[name])
            var = nc.createVariable(name, "h", ("month", "level", "latitude", "longitude"))
            var[:] = packed
            var.number_of_significant_digits = np.int32(digits)
            var.units = units
            var.scale_factor = np.float64(scale)
            var.long_name = long_name
            var.add_offset = np.float64(offset)
            var._FillValue = nan
            var.standard_name = standard_name
        var = nc.createVariable("month", "i", ("month",))
        var[:] = np.array([1, 7], np.int32)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------
# Generation with a manifest
# --------------------------------------------------------------------------


@dataclass
class GenerationSummary:
    """What :func:`generate` did."""

    root: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes_on_disk: int = 0

    def __str__(self) -> str:
        return (
            f"sample data in {display(self.root)}: wrote {len(self.written)} file(s), "
            f"skipped {len(self.skipped)} up-to-date file(s) in {self.seconds:.1f} s; "
            f"{self.bytes_on_disk / 1e6:.1f} MB on disk"
        )


def sha256(path: Path | str) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _targets(root: Path) -> dict[str, tuple]:
    """Every sample file (path relative to ``root``) and the job that writes it."""
    targets: dict[str, tuple] = {}
    for year in GLAD_YEARS:
        targets[glad_path(year, DEFAULT_TILE, root).relative_to(root).as_posix()] = ("glad", year)
    for day in oisst_dates(OISST_MONTH):
        targets[oisst_path(day, root).relative_to(root).as_posix()] = ("oisst", day)
    targets[era_path(root).relative_to(root).as_posix()] = ("era",)
    return targets


def _run(job: tuple) -> dict[str, str]:
    """Run one job and return ``{relative path: sha256}`` of what it wrote.

    Jobs are ``("glad", root, [(rel, year), ...])``, ``("oisst", root, rel, date)``
    or ``("era", root, rel)``: plain tuples, so worker processes can receive them.
    """
    kind, root = job[0], Path(job[1])
    if kind == "glad":  # one job for all years: they share the same landscape
        for rel, year in job[2]:
            make_glad_tile(year, DEFAULT_TILE, root / rel)
        return {rel: sha256(root / rel) for rel, _ in job[2]}
    rel = job[2]
    if kind == "oisst":
        make_oisst_file(job[3], root / rel)
    else:
        make_era_file(root / rel)
    return {rel: sha256(root / rel)}


def read_manifest(root: Path | str = SAMPLE_DIR) -> dict[str, str]:
    """``{relative path: sha256}`` of the last generation in ``root`` (empty if none or stale)."""
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("version") != GENERATOR_VERSION:
        return {}
    return dict(manifest.get("files", {}))


def generate(
    root: Path | str = SAMPLE_DIR, force: bool = False, *, workers: int | None = None, verbose: bool = False
) -> GenerationSummary:
    """Write every sample file below ``root``; skip files that are already right.

    A file is skipped when it exists and its SHA-256 matches ``MANIFEST.json``
    from an earlier run of the same generator version; otherwise (missing,
    changed, or ``force``) it is written again. The manifest is rewritten at
    the end with the checksum of every file. ``workers`` processes share the
    work (default: up to 2); the bytes written do not depend on it.
    """
    start = time.perf_counter()
    root = Path(root)
    summary = GenerationSummary(root=root)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob("*/**/*.part"):  # left by an interrupted run
        stale.unlink()
    known = {} if force else read_manifest(root)
    files: dict[str, str] = {}
    glad: list[tuple[str, int]] = []
    jobs: list[tuple] = []
    for rel, (kind, *args) in _targets(root).items():
        path = root / rel
        if rel in known and path.is_file() and sha256(path) == known[rel]:
            summary.skipped.append(rel)
            files[rel] = known[rel]
        elif kind == "glad":
            glad.append((rel, args[0]))
        else:
            jobs.append((kind, str(root), rel, *args))
    if glad:
        jobs.insert(0, ("glad", str(root), glad))  # the longest job goes first
    results = _run_all(jobs, workers)
    for written in results:
        files.update(written)
        summary.written.extend(written)
        if verbose:
            for rel in written:
                print(f"  wrote {rel}")
    manifest = {
        "generator": "utils.sample_data",
        "version": GENERATOR_VERSION,
        "note": STAND_IN_NOTE,
        "files": dict(sorted(files.items())),
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    summary.written.sort()
    summary.bytes_on_disk = sum(_disk_usage(root / rel) for rel in files)
    summary.seconds = time.perf_counter() - start
    return summary


def generate_all(
    root: Path | str = SAMPLE_DIR, force: bool = False, *, workers: int | None = None, verbose: bool = False
) -> GenerationSummary:
    """Everything the course reads, made (or verified) by ``utils.machinery.sample_data``, its successor.

    Kept for the notebooks that still call it; ``workers`` and ``verbose`` are ignored.
    """
    from utils.machinery.sample_data import generate as make

    return make(root, force)  # type: ignore[return-value]  # has .root, .written, .skipped, .seconds


def _run_all(jobs: list[tuple], workers: int | None) -> list[dict[str, str]]:
    """Run jobs in up to ``workers`` processes (serially if that fails)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(workers or min(2, available), len(jobs))
    if workers > 1:
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                return list(pool.map(_run, jobs))
        except BrokenProcessPool:  # e.g. a __main__ that child processes cannot import
            pass
    return [_run(job) for job in jobs]


def _disk_usage(path: Path) -> int:
    st = path.stat()
    return getattr(st, "st_blocks", 0) * 512 or st.st_size


def main(argv: Iterable[str] | None = None) -> int:
    """Command line: ``python -m utils.sample_data [--root DIR] [--force]``."""
    parser = argparse.ArgumentParser(description="Make the course's stand-in sample data.")
    parser.add_argument("--root", type=Path, default=SAMPLE_DIR, help="where to write (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rewrite every file")
    parser.add_argument("--workers", type=int, default=None, help="processes to use (default: up to 2)")
    args = parser.parse_args(None if argv is None else list(argv))
    summary = generate_all(args.root, force=args.force, workers=args.workers, verbose=True)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
