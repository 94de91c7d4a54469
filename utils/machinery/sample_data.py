"""The sample-data factory: deterministic synthetic stand-ins for the course's real products.

``python -m utils.machinery.sample_data [--force] [--root DIR]`` (run by ``./course.sh setup``) writes
each file to ``<root>/<real bucket>/<real key>`` (names from :mod:`utils.data`) and ``<root>/MANIFEST.json``
with the sha256 of every file; a rerun verifies them and rewrites only what is missing or damaged.
Reruns write the same bytes. The values are made up; the structure is the real products':

- GLAD GLCLU 2000-2020 v2 land cover (Potapov et al. 2022, https://doi.org/10.3389/frsen.2022.856903):
  10 x 10 degree COGs (512 px tiles, DEFLATE, overviews) of uint8 classes of the real legend, EPSG:4326,
  2000 px instead of 40000. Value noise on *global* coordinates: neighbouring tiles join without seams;
  ``data/sample_landscape.json`` puts coast, lakes, river and cities where a basemap has them.
- NOAA OISST v2.1 AVHRR daily netCDF4: time (unlimited), zlev, lat, lon; sst, anom, err, ice int16
  with scale_factor 0.01 and _FillValue -999, one chunk per variable and day, zlib 4 with shuffle.
- ERA-Interim monthly means shaped like xarray's ``eraint_uvz`` tutorial file: netCDF3 64-bit
  offset, z, u, v int16 with negative scale factors and the real file's NaN ``_FillValue``.
- An ocean model's archive (like ECCO at NASA PO.DAAC), one dataset per variable, monthly files of
  daily means ``(time, depth, lat, lon)``: THETA and SALT int16 packed, UVEL and VVEL float32 rounded
  to 7 mantissa bits (BitRound); one chunk per day and depth, zlib with shuffle.
The real products' attributes are in ``data/sample_products.json``."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from utils import data

GENERATOR_VERSION = 2  # bump when the bytes written change: a rerun then rewrites every file
MANIFEST = "MANIFEST.json"
LANDSCAPE = data.REPO / "data" / "sample_landscape.json"  # crude real geography
PRODUCTS = data.REPO / "data" / "sample_products.json"  # the real products' attributes
STAND_IN_NOTE = (
    "Synthetic sample data made for the cloud-native geospatial course (utils/machinery/sample_data.py): "
    "a stand-in with the structure of the real product, not real observations."
)
GLAD_SIZE, GLAD_NODATA, GLAD_BLOCKSIZE = 2000, 255, 512
OCEAN, CROPLAND, BUILT_UP, SNOW_ICE, WATER = 254, 244, 250, 241, 207  # GLAD class codes
_SEED = 20240801  # salt of every random field: change it and all the sample data changes


# --- value noise on global coordinates -------------------------------------------------------
def _hash_uniform(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Uniform numbers in [0, 1) from integer lattice coordinates (splitmix64)."""
    u64 = np.uint64
    with np.errstate(over="ignore"):
        h = (ix.astype(np.int64).astype(u64) * u64(0x9E3779B97F4A7C15)) ^ (iy.astype(np.int64).astype(u64) * u64(
            0xC2B2AE3D27D4EB4F)) ^ u64((salt * 0x165667B19E3779F9) & 0xFFFFFFFFFFFFFFFF)  # fmt: skip
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            h ^= h >> u64(shift)
            h *= u64(mult)
        h ^= h >> u64(31)
    return (h >> u64(11)).astype(np.float64) * 2.0**-53


def _value_noise(x: np.ndarray, y: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """Smooth float32 noise in [0, 1] on the grid ``y x x``, from a global lattice of ``spacing`` degrees.

    The field depends only on where a pixel is, never on which tile it belongs to.
    """
    gx, gy = x / spacing, y / spacing
    ix0, iy0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    sx, sy = gx - ix0, gy - iy0
    sx, sy = (sx * sx * (3 - 2 * sx)).astype(np.float32), (sy * sy * (3 - 2 * sy)).astype(np.float32)
    xs, ys = np.arange(ix0.min(), ix0.max() + 2), np.arange(iy0.min(), iy0.max() + 2)
    lattice = _hash_uniform(xs[None, :], ys[:, None], salt).astype(np.float32)
    cx, cy = ix0 - xs[0], iy0 - ys[0]
    rows = lattice[:, cx] + (lattice[:, cx + 1] - lattice[:, cx]) * sx  # along x on the lattice rows
    out = rows[cy]
    out += (rows[1:] - rows[:-1])[cy] * sy[:, None]  # then along y on the full grid
    return out


def _fbm(x: np.ndarray, y: np.ndarray, spacing: float, octaves: int, salt: int) -> np.ndarray:
    """Fractal value noise, roughly in [-1, 1] (standard deviation about 0.3)."""
    total = np.zeros((y.size, x.size), np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        layer = _value_noise(x, y, spacing / 2**octave, _SEED + 7919 * salt + octave)
        layer *= np.float32(amp)
        total += layer
        norm += amp
        amp *= 0.5
    total *= np.float32(2 / norm)
    total -= np.float32(1)
    return total


def _cells(x: np.ndarray, y: np.ndarray, spacing: float, salt: int) -> np.ndarray:
    """One uniform random number per ``spacing``-degree cell, on the pixel grid."""
    ix, iy = np.floor(x / spacing).astype(np.int64), np.floor(y / spacing).astype(np.int64)
    xs, ys = np.arange(ix.min(), ix.max() + 1), np.arange(iy.min(), iy.max() + 1)
    values = _hash_uniform(xs[None, :], ys[:, None], _SEED + 7919 * salt).astype(np.float32)
    return values[(iy - ys[0])[:, None], (ix - xs[0])[None, :]]


# --- crude real geography (data/sample_landscape.json) ----------------------------------------
@lru_cache(maxsize=2)
def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _features(kind: str) -> list[dict]:
    """The features of ``data/sample_landscape.json`` of one kind: ``land``, ``lake``, ``river`` or ``city``."""
    return [f for f in _load(LANDSCAPE)["features"] if f["properties"]["kind"] == kind]


def _meta(product: str, part: str, **fields: object) -> dict:
    """Attributes from ``data/sample_products.json``: ``{"float32": 0.25}`` typed, ``{name}`` fields filled in."""

    def value(v: object) -> object:
        if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("int16", "int32", "float32", "float64"):
            return getattr(np, next(iter(v)))(next(iter(v.values())))
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return v.format(note=STAND_IN_NOTE, **fields) if isinstance(v, str) and "{" in v else v

    return value(_load(PRODUCTS)[product][part])


def _rasterize(kind: str, lon: np.ndarray, lat: np.ndarray, all_touched: bool = False) -> np.ndarray:
    """Burn the features of ``kind`` onto the north-up grid of pixel centres ``lon`` x ``lat``."""
    import rasterio.features

    res_x, res_y = lon[1] - lon[0], lat[0] - lat[1]
    transform = rasterio.transform.from_origin(lon[0] - res_x / 2, lat[0] + res_y / 2, res_x, res_y)
    shapes = [(f["geometry"], 1) for f in _features(kind)]
    return rasterio.features.rasterize(shapes, (lat.size, lon.size), transform=transform, all_touched=all_touched,
                                       dtype="uint8") > 0  # fmt: skip


def _landness(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Smoothed 0..1 land fraction of the crude outlines, on the pixel grid."""
    from scipy import ndimage

    step, margin = 0.02, 1.0
    coarse_lon = np.arange(lon.min() - margin, lon.max() + margin, step)
    coarse_lat = np.arange(lat.max() + margin, lat.min() - margin, -step)
    coarse = _rasterize("land", coarse_lon, coarse_lat).astype(np.float64)
    for axis in (0, 1):  # three box filters along each axis: close to a Gaussian blur
        for _ in range(3):
            coarse = ndimage.uniform_filter1d(coarse, 11, axis=axis, mode="nearest")
    coarse = coarse.astype(np.float32)
    fx = np.clip((lon - coarse_lon[0]) / step, 0, coarse_lon.size - 1.001)  # bilinear, separable
    fy = np.clip((coarse_lat[0] - lat) / step, 0, coarse_lat.size - 1.001)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    wx, wy = (fx - ix).astype(np.float32), (fy - iy).astype(np.float32)
    rows = coarse[:, ix] * (1 - wx) + coarse[:, ix + 1] * wx
    return rows[iy] * (1 - wy)[:, None] + rows[iy + 1] * wy[:, None]


# --- GLAD land cover ---------------------------------------------------------------------------
def _towns(west: float, south: float, east: float, north: float) -> tuple[tuple[float, ...], ...]:
    """The real cities near the tile, plus random towns from a global 0.25 degree lattice."""
    margin, spacing = 0.5, 0.25
    towns = []
    for city in _features("city"):
        lon, lat = city["geometry"]["coordinates"]
        if west - margin < lon < east + margin and south - margin < lat < north + margin:
            towns.append((lon, lat, city["properties"]["radius_deg"], 0.4))
    xs = np.arange(np.floor((west - margin) / spacing), np.ceil((east + margin) / spacing))
    ys = np.arange(np.floor((south - margin) / spacing), np.ceil((north + margin) / spacing))
    gx, gy = np.meshgrid(xs, ys)
    u = [_hash_uniform(gx, gy, _SEED + 104729 + k) for k in range(4)]
    for i in np.flatnonzero((u[0] < 0.12).ravel()):
        lon, lat = float((gx.flat[i] + u[1].flat[i]) * spacing), float((gy.flat[i] + u[2].flat[i]) * spacing)
        towns.append((lon, lat, 0.005 + 0.02 * float(u[3].flat[i]) ** 3, 0.7))
    return tuple(towns)


@lru_cache(maxsize=2)
def _landscape(tile: str, size: int) -> SimpleNamespace:
    """The fields of one tile that do not change with the year."""
    from scipy import ndimage

    west, south, east, north = data.tile_bounds(tile)
    lon = west + (np.arange(size) + 0.5) * (10 / size)
    lat = north - (np.arange(size) + 0.5) * (10 / size)
    detail = _fbm(lon, lat, 0.05, 3, salt=9)
    land = _landness(lon, lat) + 0.5 * _fbm(lon, lat, 0.5, 5, salt=1) + 0.1 * detail  # a rough coast
    ocean, coast = land < 0.5, land < 0.58

    # Water: the real big lakes and river, random small lakes and streams.
    wet = _fbm(lon, lat, 0.6, 5, salt=2)
    water = np.zeros((size, size), np.uint8)
    water[wet > 0.48] = 205
    water[wet > 0.5] = 206
    water[wet > 0.52] = WATER
    streams_here = _fbm(lon, lat, 3.0, 2, salt=7) > 0
    water[(np.abs(_fbm(lon, lat, 1.5, 4, salt=6)) < 0.005) & streams_here] = WATER
    water[_rasterize("lake", lon, lat)] = WATER
    rivers = _rasterize("river", lon, lat, all_touched=True)
    water[ndimage.binary_dilation(rivers, iterations=max(1, size // 1000))] = WATER
    wetland = ((wet > 0.33) | coast) & (water == 0)
    agri = _fbm(lon, lat, 1.0, 5, salt=3)
    forest = _fbm(lon, lat, 0.5, 5, salt=4) > -0.3
    warmth = np.clip(1.6 - np.abs(lat) / 60, 0.3, 1.0).astype(np.float32)[:, None]
    height_m = 6 + 14 * warmth + 6 * _fbm(lon, lat, 0.3, 4, salt=5) + 3 * detail
    height = np.clip(np.rint(height_m) + 22, 25, 48).astype(np.uint8)
    short = np.clip(np.rint(20 + 4 * detail), 8, 24).astype(np.uint8)
    polar = max(abs(south), abs(north)) > 58
    snow = (np.abs(lat)[:, None] - 62) / 8 + _fbm(lon, lat, 0.4, 5, salt=10) > 0.9 if polar else np.zeros((size, size), bool)
    # Forest disturbance: clear-cut blocks of 0.03 degree, clustered in logging regions.
    logging = _fbm(lon, lat, 1.0, 3, salt=11) > 0.1
    chance, when = _cells(lon, lat, 0.03, salt=12), _cells(lon, lat, 0.03, salt=13)
    loss_year = np.where(logging & (chance < 0.12), 2001 + np.floor(when * 20), 9999).astype(np.int16)
    # Cropland abandonment: whole farms (0.05 degree blocks) left to grow back.
    chance, when = _cells(lon, lat, 0.05, salt=14), _cells(lon, lat, 0.05, salt=15)
    abandon_year = np.where(chance < 0.02, 2003 + np.floor(when * 17), 9999).astype(np.int16)
    towns = _towns(west, south, east, north)  # (lon, lat, radius in 2000, growth by 2020)
    return SimpleNamespace(lon=lon, lat=lat, ocean=ocean, water=water, wetland=wetland, agri=agri, forest=forest,
                           height=height, short=short, snow=snow, loss_year=loss_year, abandon_year=abandon_year,
                           detail=detail, towns=towns)  # fmt: skip


def glad_classes(year: int, tile: str = data.GLAD_TILE, size: int = GLAD_SIZE) -> np.ndarray:
    """The stand-in land-cover map of ``tile`` in ``year``: a ``(size, size)`` uint8 array.

    Between years cropland spreads, towns grow, forest blocks are cleared and grow back, and a
    few farms are abandoned.
    """
    data.glad_key(year, tile)  # a clear error for a year or tile that does not exist
    land = _landscape(tile, size)
    progress = (year - 2000) / 20
    # Natural cover, then disturbance and regrowth of trees (about 0.8 m a year).
    classes = np.where(land.forest, land.height, land.short)
    disturbed = land.forest & (land.loss_year <= year)
    regrowth = np.minimum(np.rint((year - land.loss_year).astype(np.float32) * 0.8) + 22, land.height).astype(np.uint8)
    classes = np.where(disturbed, np.where(regrowth >= 25, regrowth, land.short), classes)
    # Cropland spreads as the suitability threshold falls; abandoned farms regrow.
    crop = land.agri > np.float32(0.2 - 0.03 * progress)
    abandoned = land.abandon_year <= year
    classes = np.where(crop & ~abandoned, CROPLAND, classes)
    since = (year - land.abandon_year).astype(np.float32)
    classes = np.where(crop & abandoned, np.where(since >= 8, np.uint8(25), land.short), classes)
    # Wetlands keep their vegetation, on wetland codes.
    wetland = np.where(land.forest, land.height + 100, land.short + 100)
    classes = np.where(land.wetland & ~crop, wetland, classes).astype(np.uint8)
    _paint_towns(classes, land, progress)
    classes[land.snow] = SNOW_ICE
    water = land.water > 0
    classes[water] = land.water[water]
    classes[land.ocean] = OCEAN
    return classes


def _paint_towns(classes: np.ndarray, land: SimpleNamespace, progress: float) -> None:
    """Mark built-up pixels around each town: a ragged core and scattered suburbs, growing with ``progress``."""
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
        inside = (distance < 1 + 0.5 * texture) | ((distance < 1.5) & (texture > 0.25))
        classes[i0:i1, j0:j1][inside] = BUILT_UP


def write_glad_tile(year: int, tile: str, path: Path | str, size: int = GLAD_SIZE) -> Path:
    """Write the stand-in GLAD tile of ``year`` as a Cloud-Optimized GeoTIFF at ``path``; return the path.

    ``size`` is the number of pixels a side (2000 for the course; any size from 16 to 40000).
    """
    import rasterio.shutil
    from rasterio.transform import from_origin

    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 40000:
        raise ValueError(f"a tile is 16 to 40000 pixels a side (the real ones 40000); got size={size!r}")
    classes = glad_classes(year, tile, size)
    west, _, _, north = data.tile_bounds(tile)
    tags = _meta("glad", "tags", year=year, tile=tile, url=data.glad_url(year, tile))
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="uint8", crs="EPSG:4326",
                   transform=from_origin(west, north, 10 / size, 10 / size), nodata=GLAD_NODATA)  # fmt: skip
    with _atomic(Path(path)) as tmp, rasterio.Env(GDAL_NUM_THREADS="1"), rasterio.MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(classes, 1)
            src.update_tags(**tags)
            src.set_band_description(1, "land cover class")
        with mem.open() as src:
            rasterio.shutil.copy(src, tmp, driver="COG", BLOCKSIZE=GLAD_BLOCKSIZE, COMPRESS="DEFLATE",
                                 OVERVIEWS="AUTO", OVERVIEW_RESAMPLING="NEAREST", RESAMPLING="NEAREST")  # fmt: skip
    return Path(path)


# --- OISST v2.1 --------------------------------------------------------------------------------

OISST_LAT = np.arange(720) * 0.25 - 89.875
OISST_LON = np.arange(1440) * 0.25 + 0.125


def _bump(lon0: float, lat0: float, wlon: float, wlat: float) -> np.ndarray:
    """A Gaussian blob on the OISST grid (longitude wraps around)."""
    dlon = (OISST_LON - lon0 + 180) % 360 - 180
    return np.exp(-((dlon / wlon) ** 2))[None, :] * np.exp(-(((OISST_LAT - lat0) / wlat) ** 2))[:, None]


def _oisst_ice(day: int, lag: float = 1.0) -> np.ndarray:
    """Sea-ice fraction: the Arctic edge retreats through August, the Antarctic edge advances."""
    lat, lon = OISST_LAT[:, None], np.radians(OISST_LON)
    arctic_edge = 77 + 4 * np.sin(2 * lon + 1) + 2 * np.cos(3 * lon) + lag * 0.06 * (day - 10)
    antarctic_edge = -61 + 3 * np.sin(2 * lon + 0.5) + 1.5 * np.cos(3 * lon) + lag * 0.04 * (day - 10)
    ice = np.clip((lat - arctic_edge) / 6, 0, 1) + np.clip((antarctic_edge - lat) / 5, 0, 1)
    return np.minimum(ice, 0.98)


@lru_cache(maxsize=1)
def _oisst_static() -> dict[str, np.ndarray]:
    """What does not change from day to day: an August climatology, a heatwave, the ocean mask."""
    lat = OISST_LAT[:, None]
    # Warmest north of the equator, a cold tongue and upwelling off western coasts, warm western boundary currents.
    shift = np.where(lat > 7, 0.95, 1.15) * (lat - 7)
    clim = -1.8 + 31 * np.clip(np.cos(np.radians(shift)), 0, 1) ** 1.6 + np.zeros((1, OISST_LON.size))
    clim += -3.0 * _bump(255, -1, 35, 5) - 2.5 * _bump(282, -15, 6, 12) - 2.0 * _bump(12, -22, 6, 10)
    clim += 1.0 * _bump(150, 5, 30, 12) + 2.0 * _bump(295, 38, 12, 4) + 1.5 * _bump(140, 35, 10, 4)
    heatwave = 2.0 * _bump(215, 45, 20, 8) - 1.2 * _bump(330, 50, 15, 6)
    clim_ice = _oisst_ice(day=10, lag=0.0)  # anomalies under the usual ice stay small
    clim = clim * (1 - clim_ice) - 1.8 * clim_ice
    land = _rasterize("land", OISST_LON - 180, OISST_LAT[::-1])  # north-up on -180..180
    return {"clim": clim, "heatwave": heatwave, "ocean": ~np.roll(land[::-1], 720, axis=1)}  # south-up on 0..360


def _oisst_fields(date: dt.date) -> dict[str, np.ndarray]:
    """Decoded ``sst``, ``anom``, ``err``, ``ice`` of one day, NaN where missing."""
    static = _oisst_static()
    day = (date - dt.date(2024, 8, 1)).days  # the fields drift smoothly from day to day
    lat, lon = np.radians(OISST_LAT)[:, None], np.radians(OISST_LON)
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
    ice, clim, ocean = _oisst_ice(day), static["clim"], static["ocean"]
    sst = np.clip((clim + anom) * (1 - ice) - 1.8 * ice, -1.8, 34)
    anom = sst - clim
    err = np.clip(0.12 + 0.35 * (np.abs(OISST_LAT[:, None]) / 90) ** 2 + 0.3 * ice + 0.08 * np.abs(anom), 0.1, 1.5)
    return {"sst": np.where(ocean, sst, np.nan), "anom": np.where(ocean, anom, np.nan),
            "err": np.where(ocean, err, np.nan), "ice": np.where(ocean & (ice > 0), ice, np.nan)}  # fmt: skip


def write_oisst_file(date: dt.date | str, path: Path | str) -> Path:
    """Write the stand-in OISST v2.1 daily file of ``date`` (netCDF4) at ``path``."""
    import xarray as xr

    date = dt.date.fromisoformat(str(date)[:10])
    name, f32, dims = Path(data.oisst_key(date)).name, np.float32, ("time", "zlev", "lat", "lon")
    attrs = _meta("oisst", "variables")
    fields = _oisst_fields(date)
    ds = xr.Dataset({
        "time": ("time", [f32((date - dt.date(1978, 1, 1)).days)], attrs["time"]),
        "zlev": ("zlev", [f32(0)], attrs["zlev"]),
        "lat": ("lat", OISST_LAT.astype(f32), attrs["lat"]),
        "lon": ("lon", OISST_LON.astype(f32), attrs["lon"]),
        **{v: (dims, fields[v][None, None], attrs[v]) for v in fields},
    }, attrs=_meta("oisst", "attrs", file_name=name, url=data.oisst_url(date), date=date,
                   made=date + dt.timedelta(days=15)))  # fmt: skip
    encoding = {v: {"dtype": "int16", "scale_factor": f32(0.01), "add_offset": f32(0), "_FillValue": np.int16(-999),
                    "chunksizes": (1, 1, 720, 1440), "zlib": True, "complevel": 4, "shuffle": True}
                for v in fields} | {c: {"_FillValue": None} for c in ("zlev", "lat", "lon")}  # fmt: skip
    encoding["time"] = {"_FillValue": None, "chunksizes": (1,)}
    return _to_netcdf(ds, path, engine="h5netcdf", encoding=encoding, unlimited_dims=["time"])


# --- ERA-Interim-like netCDF3 -----------------------------------------------------------------
def write_era_file(path: Path | str) -> Path:
    """Write the small ERA-Interim-like netCDF3 file: z, u, v in January and July at 200, 500, 850 hPa."""
    import xarray as xr

    lat, lon, months = np.linspace(90, -90, 121), np.arange(240) * 1.5 - 180, np.array([1, 7])
    phi, lam = np.radians(lat)[None, None, :, None], np.radians(lon)[None, None, None, :]
    winter_north = np.where(months == 1, 1.0, -1.0)[:, None, None, None]
    level = lambda *values: np.array(values)[None, :, None, None]  # noqa: E731
    height, drop, strength = level(11800.0, 5650.0, 1450.0), level(1100.0, 600.0, 130.0), level(1.0, 0.55, 0.25)
    # Geopotential falls towards the poles, most in the winter hemisphere; planetary waves on top.
    hemi_scale = 1 + 0.4 * winter_north * np.sign(phi)
    waves = np.cos(phi) ** 2 * np.sin(2 * phi) ** 2 * (np.cos(2 * lam + 0.6) + 0.6 * np.cos(3 * lam - 1.2))
    z = 9.80665 * (height - drop * hemi_scale * np.sin(phi) ** 2 + 90 * strength * hemi_scale * waves)
    # Jets: subtropical in winter, weaker and poleward in summer; easterlies near the equator.
    jet = lambda centre, width: np.exp(-(((np.degrees(phi) - centre) / width) ** 2))  # noqa: E731
    north = np.where(months == 1, 40.0, 22.0)[:, None, None, None]
    south = np.where(months == 1, 25.0, 42.0)[:, None, None, None]
    u = strength * (north * jet(33, 10) + south * jet(-38, 10)) - 6 * strength * jet(0, 12) + 4 * strength * waves
    v = 6 * strength * np.cos(phi) ** 2 * np.sin(2 * phi) ** 2 * (np.sin(2 * lam + 0.6) + 0.8 * np.sin(3 * lam - 1.2))
    attrs, encoding, dims = _meta("era", "variables"), {}, ("month", "level", "latitude", "longitude")
    variables = {"longitude": ("longitude", lon.astype("f4")), "latitude": ("latitude", lat.astype("f4")),
                 "level": ("level", np.array([200, 500, 850], "i4"))}  # fmt: skip
    for name, values in (("z", z), ("u", u), ("v", v)):
        vmin, vmax = float(values.min()), float(values.max())  # ECMWF packing: the full int16 range
        encoding[name] = {"dtype": "int16", "scale_factor": -(vmax - vmin) / 65532, "add_offset": (vmax + vmin) / 2}
        variables[name] = (dims, np.broadcast_to(values, (2, 3, 121, 240)))
    variables["month"] = ("month", months.astype("i4"))
    variables = {name: (*spec, attrs[name]) for name, spec in variables.items()}
    ds = xr.Dataset(variables, attrs=_meta("era", "attrs", url=data.ERA_URL))
    with np.errstate(invalid="ignore"):  # scipy casts the NaN _FillValue to int16 (never used: no gaps)
        return _to_netcdf(ds, path, engine="scipy", format="NETCDF3_64BIT", encoding=encoding)


# --- the ocean model ---------------------------------------------------------------------------

OCEAN_DEPTHS = np.array([5, 15, 30, 50, 75, 110, 160, 230, 330, 470], dtype=np.float32)  # metres, cell centres
OCEAN_LAT = np.arange(100) * 0.25 + 50.125
OCEAN_LON = np.arange(140) * 0.25 - 44.875
_OCEAN_PACKING = {"THETA": (0.001, 10.0), "SALT": (0.0005, 35.0)}  # (scale_factor, add_offset)


@lru_cache(maxsize=1)
def _ocean_static() -> dict[str, np.ndarray]:
    """Land, sea floor and the eddies: what does not change with time."""
    from scipy import ndimage

    lat, lon = OCEAN_LAT[:, None], OCEAN_LON[None, :]
    greenland = (lat > 59.7) & (lon < -43.0 + (lat - 60.0) * 1.6)
    iceland = ((lat - 65.0) / 1.4) ** 2 + ((lon + 18.5) / 4.2) ** 2 < 1
    faroe = ((lat - 62.0) / 0.3) ** 2 + ((lon + 7.0) / 0.6) ** 2 < 1
    land = greenland | iceland | faroe
    # A shelf near the coasts, deep basins offshore, a ridge from Greenland to Iceland.
    kernel = np.concatenate([np.arange(1, 9), np.arange(9, 0, -1)]) / 81.0  # triangular, 8 cells
    near_land = ndimage.convolve1d(ndimage.convolve1d(land.astype(float), kernel, 0, mode="nearest"),
                                   kernel, 1, mode="nearest")  # fmt: skip
    floor = 40.0 + 2900.0 * np.clip(1 - 3.0 * near_land, 0, 1) ** 2
    ridge = np.exp(-((((lat - 66.0) - 0.12 * (lon + 26.0)) / 0.9) ** 2))
    floor = np.minimum(floor, 3000.0 - 2400.0 * ridge)
    rng, n = np.random.default_rng(20150101), 18
    return {
        "wet": ~land[None] & (OCEAN_DEPTHS[:, None, None] < floor[None]),  # (depth, lat, lon)
        "lat0": rng.uniform(51, 74, n), "lon0": rng.uniform(-44, -11, n),
        "radius": rng.uniform(0.6, 1.4, n),  # degrees of latitude
        "amp": rng.choice([-1.0, 1.0], n) * rng.uniform(0.08, 0.25, n),  # sea-surface height, m
        "dlat": rng.uniform(-0.03, 0.03, n), "dlon": rng.uniform(-0.12, -0.02, n),  # drift a day, westward
    }  # fmt: skip


def _ocean_fields(days: np.ndarray) -> dict[str, np.ndarray]:
    """Daily means of every variable on ``days`` (since 2015-01-01): ``(time, depth, lat, lon)`` float32, NaN where dry."""
    s = _ocean_static()
    lat, lon, t = OCEAN_LAT[None, :, None], OCEAN_LON[None, None, :], days[:, None, None]
    # Dynamic height (m) of a meandering subpolar front plus drifting eddies.
    eta = -0.35 * np.tanh((lat - (58.0 + 1.5 * np.sin(np.radians(lon) * 9.0 + 0.05 * t))) / 1.5)
    for i in range(s["lat0"].size):
        lat_c, lon_c = s["lat0"][i] + s["dlat"][i] * t, s["lon0"][i] + s["dlon"][i] * t
        r2 = ((lat - lat_c) ** 2 + ((lon - lon_c) * np.cos(np.radians(lat))) ** 2) / s["radius"][i] ** 2
        eta = eta + s["amp"][i] * np.exp(-r2)
    storms, rng = np.zeros((days.size, lat.size, lon.size)), np.random.default_rng(20150102)
    for _ in range(5):  # surface temperature anomalies of passing weather systems
        amp, period = rng.uniform(0.1, 0.3), rng.uniform(4.0, 11.0)
        kx, ky, phase = rng.uniform(0.15, 0.4), rng.uniform(-0.3, 0.3), rng.uniform(0, 2 * np.pi)
        storms = storms + amp * np.sin(kx * lon + ky * lat - 2 * np.pi * t / period + phase)
    depth = OCEAN_DEPTHS.astype(np.float64)  # float32 exp varies with numpy's SIMD level (AVX2, AVX-512, none)
    z, lat2, dry = depth[:, None, None], OCEAN_LAT[:, None], ~s["wet"]

    def to4d(mean: np.ndarray, per_day: np.ndarray, *terms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        # mean (depth, lat, lon) + per_day (time, depth) + sum of field (time, lat, lon) x weight (depth,)
        out = mean.astype(np.float32)[None] + per_day.astype(np.float32)[:, :, None, None]
        for field3d, weight in terms:
            out += field3d.astype(np.float32)[:, None] * weight.astype(np.float32)[None, :, None, None]
        out[:, dry] = np.nan
        return out

    # Cold fresh north, warm salty south, a surface layer cooling through the winter, eddies.
    surface = 11.5 - 0.42 * (lat2 - 50.0) + 0 * OCEAN_LON[None, :]
    cooling = -0.025 * days[:, None] * np.exp(-depth / 120.0)[None, :]
    theta = to4d(3.0 + (surface[None] - 3.0) * np.exp(-z / 350.0), cooling,
                 (eta, 8.0 * np.exp(-depth / 500.0)), (storms, np.exp(-depth / 60.0)))  # fmt: skip
    np.maximum(theta, np.float32(-1.8), out=theta, where=~np.isnan(theta))  # sea water freezes at -1.8 C
    salt_mean = 34.92 + (0.011 * (58.0 - lat2) + 0 * OCEAN_LON[None, :])[None] * np.exp(-z / 400.0)
    salt = to4d(salt_mean, np.zeros((days.size, OCEAN_DEPTHS.size)), (eta, 0.9 * np.exp(-depth / 500.0)))
    # Geostrophic currents of the height field, decaying with depth.
    f = 2 * 7.2921e-5 * np.sin(np.radians(OCEAN_LAT))[None, :, None]
    dy = 0.25 * 111_195.0
    dx = dy * np.cos(np.radians(OCEAN_LAT))[None, :, None]
    decay = np.exp(-depth / 400.0).astype(np.float32)[None, :, None, None]
    out = {"THETA": theta, "SALT": salt}
    for name, surf in (("UVEL", -(9.81 / f) * np.gradient(eta, axis=1) / dy),
                       ("VVEL", (9.81 / f) * np.gradient(eta, axis=2) / dx)):  # fmt: skip
        out[name] = surf.astype(np.float32)[:, None] * decay
        out[name][np.abs(out[name]) < 1e-6] = 0  # below 1 um/s: float noise whose last bits differ between CPUs
        out[name][:, dry] = np.nan
    return out


def write_ocean_month(month: str, paths: dict[str, Path]) -> list[Path]:
    """Write the ocean model's files of ``month``, ``{variable: path}`` (all variables share one computation)."""
    import xarray as xr
    from numcodecs import BitRound

    dates = data.oisst_dates(month)  # every day of the month
    days = np.array([(d - dt.date(2015, 1, 1)).days + 0.5 for d in dates])
    fields, attrs, written = _ocean_fields(days), _meta("ocean", "variables"), []
    coords = {"time": ("time", days, attrs["time"]), "depth": ("depth", OCEAN_DEPTHS, attrs["depth"]),
              "lat": ("lat", OCEAN_LAT.astype("f4"), attrs["lat"]), "lon": ("lon", OCEAN_LON.astype("f4"), attrs["lon"])}
    for variable, path in paths.items():
        values, var_attrs = fields[variable], dict(attrs[variable])
        encoding = {"chunksizes": (1, 1, OCEAN_LAT.size, OCEAN_LON.size), "zlib": True, "complevel": 1, "shuffle": True}
        if variable in _OCEAN_PACKING:
            scale, offset = _OCEAN_PACKING[variable]
            encoding |= {"dtype": "int16", "scale_factor": np.float32(scale), "add_offset": np.float32(offset),
                         "_FillValue": np.int16(-32767)}  # fmt: skip
        else:  # keep 7 mantissa bits: the rest is noise, and noise does not compress
            values = BitRound(keepbits=7).encode(values).view(np.float32).reshape(values.shape)
            encoding["_FillValue"] = np.float32(9.969209968386869e36)  # netCDF's default float fill value
            var_attrs["_QuantizeBitRoundNumberOfSignificantBits"] = np.int32(7)
        dataset_id = f"OCEAN_MODEL_L4_{variable}_DAILY_V1"
        ds = xr.Dataset(coords | {variable: (("time", "depth", "lat", "lon"), values, var_attrs)}, attrs=_meta(
            "ocean", "attrs", variable=variable, long_name=var_attrs["long_name"].lower(), dataset=dataset_id,
            file_name=Path(data.ocean_key(variable, month)).name, first=dates[0], last=dates[-1]))  # fmt: skip
        encoding = {variable: encoding} | {c: {"_FillValue": None} for c in ("depth", "lat", "lon")}
        encoding["time"] = {"_FillValue": None, "chunksizes": (days.size,)}
        written.append(_to_netcdf(ds, path, engine="h5netcdf", encoding=encoding, unlimited_dims=["time"]))
    return written


# --- writing, the manifest, the command line ---------------------------------------------------
@contextlib.contextmanager
def _atomic(path: Path):  # noqa: ANN202
    """Yield a hidden temporary name beside ``path`` that becomes ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")  # hidden: the local cloud never uploads it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _to_netcdf(ds, path: Path | str, **kwargs) -> Path:  # noqa: ANN001
    """``ds.to_netcdf`` to a temporary name, renamed to ``path`` when complete."""
    with _atomic(Path(path)) as tmp:
        ds.to_netcdf(tmp, **kwargs)
    return Path(path)


def sha256(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _plan() -> list[tuple[str, str, list[tuple[str, object]]]]:
    """Every job: ``(kind, argument, [(file relative to the root, year or variable), ...])``, longest first."""
    glad = [("glad", data.GLAD_TILE, [(f"{data.GLAD_BUCKET}/{data.glad_key(y)}", y) for y in data.GLAD_YEARS])]
    ocean = [("ocean", m, [(f"{data.OCEAN_BUCKET}/{data.ocean_key(v, m)}", v) for v in data.OCEAN_VARIABLES])
             for m in data.OCEAN_MONTHS]  # fmt: skip
    era = [("era", "", [(f"{data.ERA_BUCKET}/{data.ERA_KEY}", None)])]
    oisst = [("oisst", d.isoformat(), [(f"{data.OISST_BUCKET}/{data.oisst_key(d)}", None)]) for d in data.oisst_dates()]
    return glad + ocean + era + oisst


def _run(kind: str, arg: str, items: list[tuple[str, object]], root: str) -> dict[str, str]:
    """Write the files of one job below ``root``; return ``{relative path: sha256}``."""
    base = Path(root)
    if kind == "glad":
        for rel, year in items:
            write_glad_tile(year, arg, base / rel)
    elif kind == "ocean":
        write_ocean_month(arg, {variable: base / rel for rel, variable in items})
    elif kind == "era":
        write_era_file(base / items[0][0])
    else:
        write_oisst_file(arg, base / items[0][0])
    return {rel: sha256(base / rel) for rel, _ in items}


def _run_all(jobs: list[tuple], workers: int | None) -> list[dict[str, str]]:
    """Run jobs in up to ``workers`` processes (default: up to 2); the bytes written do not depend on it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(workers or min(2, cpus), len(jobs))
    if workers < 2:
        return [_run(*job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_run, *zip(*jobs)))


def read_manifest(root: Path | str) -> dict[str, str]:
    """``{relative path: sha256}`` of the sample files in ``root``; empty if none, or from another generator version."""
    try:
        manifest = json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("version") != GENERATOR_VERSION:
        return {}
    return dict(manifest.get("files") or {})


@dataclass
class Summary:
    """What :func:`generate` did; ``str()`` is one line."""

    root: Path
    written: list[str]
    skipped: list[str]
    seconds: float
    size: int  # bytes of all the sample files

    def __str__(self) -> str:
        return (f"sample data in {self.root}: wrote {len(self.written)} file(s), skipped {len(self.skipped)} "
                f"verified file(s) in {self.seconds:.1f} s; {self.size / 1e6:.1f} MB")  # fmt: skip


def generate(root: Path | str | None = None, force: bool = False, workers: int | None = None) -> Summary:
    """Make every sample file below ``root`` (default ``data/sample``) that is missing or damaged.

    A file is kept when its sha256 matches ``MANIFEST.json`` (written by the same generator version);
    ``force`` rewrites everything. The manifest is rewritten when anything changed.
    """
    start = time.perf_counter()
    root = Path(root if root is not None else data.SAMPLE_DIR).absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()  # can we write here at all?
    except OSError as error:
        raise OSError(f"cannot write the sample data to {root} ({error.strerror or error}): pass a folder you "
                      "can write to (--root DIR, or set COURSE_SAMPLE_DIR)") from error  # fmt: skip
    for stale in root.glob("*/**/.*.part"):  # left by a run that was killed (not by one still running)
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    known = {} if force else read_manifest(root)
    files, skipped, jobs = {}, [], []
    for kind, arg, items in _plan():
        todo = []
        for rel, item in items:
            if rel in known and (root / rel).is_file() and sha256(root / rel) == known[rel]:
                files[rel] = known[rel]
                skipped.append(rel)
            else:
                todo.append((rel, item))
        if todo:
            jobs.append((kind, arg, todo, str(root)))
    for result in _run_all(jobs, workers):
        files.update(result)
    files = dict(sorted(files.items()))
    if files != known or force:
        manifest = {"generator": "utils.machinery.sample_data", "version": GENERATOR_VERSION,
                    "note": STAND_IN_NOTE, "files": files}  # fmt: skip
        with _atomic(root / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    size = sum((root / rel).stat().st_size for rel in files)
    return Summary(root, sorted(set(files) - set(skipped)), skipped, time.perf_counter() - start, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.machinery.sample_data",
                                     description="Make (or verify) the course's synthetic sample data.")  # fmt: skip
    parser.add_argument("--root", type=Path, default=data.SAMPLE_DIR, help="where to write (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rewrite every file")
    args = parser.parse_args(argv)
    try:
        print(generate(args.root, force=args.force), flush=True)
    except (OSError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
