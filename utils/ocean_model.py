"""A small ocean-model-like sample: four variables, each its own set of netCDF files.

Ocean-model archives (ECCO and its regional runs at NASA PO.DAAC, for example) publish
each variable, or group of variables, as its **own dataset**: a folder of netCDF files,
one file per time step or per month, all on the same grid. A user who wants
temperature *and* currents must open several datasets and merge them; a virtual store
can do that merge once, for everyone (notebook 05).

This module writes a **synthetic** stand-in with that structure, deterministically
(byte for byte) and in a few seconds. It is made only on demand (:func:`ensure_files`),
by the notebook that uses it, not by ``python -m utils.sample_data``.

Layout, below ``SAMPLE_DIR/<bucket>/`` like the other sample data (so the local cloud
serves it as a bucket, credential-protected like an archive's protected bucket)::

    ocean-model-archive-protected/
        OCEAN_MODEL_L4_THETA_DAILY_V1/THETA_day_mean_2015-01_OCEAN_MODEL_V1.nc
        OCEAN_MODEL_L4_THETA_DAILY_V1/THETA_day_mean_2015-02_OCEAN_MODEL_V1.nc
        OCEAN_MODEL_L4_SALT_DAILY_V1/...
        OCEAN_MODEL_L4_UVEL_DAILY_V1/...
        OCEAN_MODEL_L4_VVEL_DAILY_V1/...

Each file holds one variable's daily means for one month, on dimensions
``(time, depth, lat, lon)`` = (days of the month, 10, 100, 140): a regional 0.25 degree
grid over the subpolar North Atlantic (50-75N, 45-10W) with made-up land and sea floor.
``THETA`` (potential temperature) and ``SALT`` (salinity) are ``int16`` packed with
``scale_factor``/``add_offset``; ``UVEL``/``VVEL`` (currents) are ``float32`` with their
low mantissa bits rounded off (netCDF's "BitRound" quantization) so they compress. Land
and cells below the sea floor hold ``_FillValue``. Every file is HDF5-chunked
**one chunk per (time step, depth level)**, ``(1, 1, 100, 140)``, zlib with shuffle:
a map at one time and depth is one chunk, a time series at one point is one chunk per
day. That is the layout notebook 05 measures.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from utils.paths import SAMPLE_DIR, display

__all__ = [
    "BUCKET",
    "DEPTHS",
    "GENERATOR_VERSION",
    "LAT",
    "LON",
    "MONTHS",
    "VARIABLES",
    "EnsureSummary",
    "collection",
    "ensure_files",
    "fields",
    "key",
    "make_file",
    "month_dates",
    "path",
    "paths",
    "s3_url",
    "times",
]

#: Bumped whenever the bytes written change; files of another version are rewritten.
GENERATOR_VERSION = 1
#: The bucket (a top-level folder of ``SAMPLE_DIR``), protected like an archive's data bucket.
BUCKET = "ocean-model-archive-protected"
#: The variables, ECCO's names: potential temperature, salinity, eastward and northward velocity.
VARIABLES: tuple[str, ...] = ("THETA", "SALT", "UVEL", "VVEL")
#: The months written (``"YYYY-MM"``); one file per variable per month, daily means inside.
MONTHS: tuple[str, ...] = ("2015-01", "2015-02")
#: Depth of the centre of each model level, metres (positive down).
DEPTHS: np.ndarray = np.array([5, 15, 30, 50, 75, 110, 160, 230, 330, 470], dtype=np.float32)
#: Cell centres of the regional 0.25 degree grid.
LAT: np.ndarray = np.arange(100, dtype=np.float64) * 0.25 + 50.125
LON: np.ndarray = np.arange(140, dtype=np.float64) * 0.25 - 44.875

_COLLECTION_TEMPLATE = "OCEAN_MODEL_L4_{variable}_DAILY_V1"
_FILE_TEMPLATE = "{variable}_day_mean_{month}_OCEAN_MODEL_V1.nc"
_MANIFEST = ".ocean_model.json"  # hidden: the local cloud does not upload it
_SEED = 20150101
_FLOAT_FILL = np.float32(9.969209968386869e36)  # netCDF's default float fill value
_INT16_FILL = np.int16(-32767)
_KEEP_BITS = 7  # mantissa bits kept in UVEL/VVEL (BitRound)
_TIME_UNITS = "days since 2015-01-01 00:00:00"

_ATTRS: dict[str, dict[str, object]] = {
    "THETA": {
        "long_name": "Potential temperature", "standard_name": "sea_water_potential_temperature",
        "units": "degree_C", "coverage_content_type": "modelResult",
    },
    "SALT": {
        "long_name": "Salinity", "standard_name": "sea_water_salinity",
        "units": "1e-3", "comment": "Practical salinity (PSS-78)", "coverage_content_type": "modelResult",
    },
    "UVEL": {
        "long_name": "Eastward sea water velocity", "standard_name": "eastward_sea_water_velocity",
        "units": "m s-1", "coverage_content_type": "modelResult",
    },
    "VVEL": {
        "long_name": "Northward sea water velocity", "standard_name": "northward_sea_water_velocity",
        "units": "m s-1", "coverage_content_type": "modelResult",
    },
}  # fmt: skip
#: (scale_factor, add_offset) of the int16-packed variables.
_PACKING: dict[str, tuple[float, float]] = {"THETA": (0.001, 10.0), "SALT": (0.0005, 35.0)}


# --------------------------------------------------------------------------
# Names and paths
# --------------------------------------------------------------------------


def _check(variable: str, month: str | None = None) -> None:
    if variable not in VARIABLES:
        raise ValueError(f"unknown variable {variable!r}: the ocean-model sample has {', '.join(VARIABLES)}")
    if month is not None and month not in MONTHS:
        raise ValueError(f"no month {month!r} in the ocean-model sample: it covers {', '.join(MONTHS)}")


def collection(variable: str) -> str:
    """The dataset (collection) name of ``variable``, e.g. ``OCEAN_MODEL_L4_THETA_DAILY_V1``."""
    _check(variable)
    return _COLLECTION_TEMPLATE.format(variable=variable)


def key(variable: str, month: str) -> str:
    """Object key of one file inside :data:`BUCKET`: ``<collection>/<variable>_day_mean_<month>_...nc``."""
    _check(variable, month)
    return f"{collection(variable)}/{_FILE_TEMPLATE.format(variable=variable, month=month)}"


def path(variable: str, month: str, root: Path | str = SAMPLE_DIR) -> Path:
    """Local path of one file: ``<root>/<BUCKET>/<key>``."""
    return Path(root) / BUCKET / key(variable, month)


def paths(variable: str | None = None, root: Path | str = SAMPLE_DIR) -> list[Path]:
    """The files of ``variable`` in time order, or of every variable (variable by variable)."""
    names = VARIABLES if variable is None else (variable,)
    return [path(v, m, root) for v in names for m in MONTHS]


def s3_url(variable: str, month: str) -> str:
    """``s3://<BUCKET>/<key>``: the file in the local cloud."""
    return f"s3://{BUCKET}/{key(variable, month)}"


def month_dates(month: str) -> list[dt.date]:
    """Every day of ``month`` (one of :data:`MONTHS`)."""
    _check(VARIABLES[0], month)
    year, mon = (int(part) for part in month.split("-"))
    return [dt.date(year, mon, day) for day in range(1, calendar.monthrange(year, mon)[1] + 1)]


def times(month: str | None = None) -> np.ndarray:
    """The time coordinate (noon of each day: daily means), of ``month`` or of every month."""
    months = MONTHS if month is None else (month,)
    days = [d for m in months for d in month_dates(m)]
    return np.array([np.datetime64(f"{d.isoformat()}T12:00", "ns") for d in days])


# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


def _smooth(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` (2-D) blurred by a separable triangular kernel of ``radius`` cells (edges padded)."""
    kernel = np.concatenate([np.arange(1, radius + 1), np.arange(radius + 1, 0, -1)]).astype(np.float64)
    kernel /= kernel.sum()
    out = np.pad(mask.astype(np.float64), radius, mode="edge")
    out = np.apply_along_axis(np.convolve, 0, out, kernel, mode="same")
    out = np.apply_along_axis(np.convolve, 1, out, kernel, mode="same")
    return out[radius:-radius, radius:-radius]


@lru_cache(maxsize=1)
def _static() -> dict[str, np.ndarray]:
    """Land, sea floor and the eddies' parameters: what does not change with time."""
    lat, lon = LAT[:, None], LON[None, :]
    greenland = (lat > 59.7) & (lon < -43.0 + (lat - 60.0) * 1.6)
    iceland = ((lat - 65.0) / 1.4) ** 2 + ((lon + 18.5) / 4.2) ** 2 < 1
    faroe = ((lat - 62.0) / 0.3) ** 2 + ((lon + 7.0) / 0.6) ** 2 < 1
    land = greenland | iceland | faroe
    # A shelf near the coasts, the deep basins offshore, a ridge from Greenland to Iceland.
    near_land = _smooth(land, 8)
    floor = 40.0 + 2900.0 * np.clip(1 - 3.0 * near_land, 0, 1) ** 2
    ridge = np.exp(-((((lat - 66.0) - 0.12 * (lon + 26.0)) / 0.9) ** 2))
    floor = np.minimum(floor, 3000.0 - 2400.0 * ridge)
    wet = ~land[None] & (DEPTHS[:, None, None] < floor[None])  # (depth, lat, lon)

    rng = np.random.default_rng(_SEED)
    n = 18
    eddies = {
        "lat0": rng.uniform(51, 74, n),
        "lon0": rng.uniform(-44, -11, n),
        "radius": rng.uniform(0.6, 1.4, n),  # degrees of latitude
        "amp": rng.choice([-1.0, 1.0], n) * rng.uniform(0.08, 0.25, n),  # sea-surface height, m
        "dlat": rng.uniform(-0.03, 0.03, n),  # drift, degrees per day
        "dlon": rng.uniform(-0.12, -0.02, n),  # westward, like real eddies
    }
    return {"land": land, "floor": floor, "wet": wet, **eddies}


def _sea_surface_height(days: np.ndarray) -> np.ndarray:
    """Dynamic height (m) of a meandering subpolar front plus drifting eddies: (time, lat, lon)."""
    s = _static()
    lat, lon = LAT[None, :, None], LON[None, None, :]
    t = days[:, None, None]
    front_lat = 58.0 + 1.5 * np.sin(np.radians(lon) * 9.0 + 0.05 * t)
    eta = -0.35 * np.tanh((lat - front_lat) / 1.5)
    coslat = np.cos(np.radians(lat))
    for i in range(s["lat0"].size):
        lat_c = s["lat0"][i] + s["dlat"][i] * t
        lon_c = s["lon0"][i] + s["dlon"][i] * t
        r2 = ((lat - lat_c) ** 2 + ((lon - lon_c) * coslat) ** 2) / s["radius"][i] ** 2
        eta = eta + s["amp"][i] * np.exp(-r2)
    return eta


def _storms(days: np.ndarray) -> np.ndarray:
    """Surface temperature anomalies (degrees C) of passing weather systems: (time, lat, lon)."""
    lat, lon = LAT[None, :, None], LON[None, None, :]
    t = days[:, None, None]
    rng = np.random.default_rng(_SEED + 1)
    out = np.zeros((days.size, LAT.size, LON.size))
    for _ in range(5):
        amp, period = rng.uniform(0.1, 0.3), rng.uniform(4.0, 11.0)
        kx, ky, phase = rng.uniform(0.15, 0.4), rng.uniform(-0.3, 0.3), rng.uniform(0, 2 * np.pi)
        out = out + amp * np.sin(kx * lon + ky * lat - 2 * np.pi * t / period + phase)
    return out


def _bitround(values: np.ndarray, keepbits: int) -> np.ndarray:
    """Round float32 ``values`` to ``keepbits`` mantissa bits (round half to even), as netCDF's BitRound."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).copy()
    drop = 23 - keepbits
    half = np.uint32((1 << (drop - 1)) - 1)
    bits += ((bits >> np.uint32(drop)) & np.uint32(1)) + half
    bits &= np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    return bits.view(np.float32)


def fields(month: str) -> dict[str, np.ndarray]:
    """Decoded daily means of every variable for ``month``: ``(time, depth, lat, lon)`` float32, NaN where dry."""
    dates = month_dates(month)
    days = np.array([(d - dt.date(2015, 1, 1)).days + 0.5 for d in dates])
    s = _static()
    eta = _sea_surface_height(days)  # (time, lat, lon), float64
    z = DEPTHS.astype(np.float64)[:, None, None]  # (depth, 1, 1)
    lat = LAT[:, None]  # (lat, 1)
    dry = ~s["wet"]

    def to4d(term2d: np.ndarray, per_day: np.ndarray, *weighted: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        # term2d: (depth, lat, lon); per_day: (time, depth); weighted: ((time, lat, lon), (depth,)) pairs
        out = term2d.astype(np.float32)[None] + per_day.astype(np.float32)[:, :, None, None]
        for field3d, weight in weighted:
            out += field3d.astype(np.float32)[:, None] * weight.astype(np.float32)[None, :, None, None]
        out[:, dry] = np.nan
        return out

    # Temperature and salinity: cold fresh north, warm salty south, a surface layer cooling
    # through the winter, and eddies carrying warm salty (or cold fresh) water.
    surface = 11.5 - 0.42 * (lat - 50.0) + 0 * LON[None, :]
    theta_mean = 3.0 + (surface[None] - 3.0) * np.exp(-z / 350.0)
    cooling = -0.025 * days[:, None] * np.exp(-DEPTHS / 120.0)[None, :]
    theta = to4d(
        theta_mean, cooling, (eta, 8.0 * np.exp(-DEPTHS / 500.0)), (_storms(days), np.exp(-DEPTHS / 60.0))
    )
    np.maximum(theta, np.float32(-1.8), out=theta, where=~np.isnan(theta))  # sea water freezes at -1.8 C
    salt_mean = 34.92 + (0.011 * (58.0 - lat) + 0 * LON[None, :])[None] * np.exp(-z / 400.0)
    salt = to4d(salt_mean, np.zeros((days.size, DEPTHS.size)), (eta, 0.9 * np.exp(-DEPTHS / 500.0)))

    # Geostrophic currents of the height field, decaying with depth.
    g, omega, metres_per_degree = 9.81, 7.2921e-5, 111_195.0
    f = 2 * omega * np.sin(np.radians(LAT))[None, :, None]
    dy = 0.25 * metres_per_degree
    dx = 0.25 * metres_per_degree * np.cos(np.radians(LAT))[None, :, None]
    u_surface = -(g / f) * np.gradient(eta, axis=1) / dy
    v_surface = (g / f) * np.gradient(eta, axis=2) / dx
    decay = np.exp(-DEPTHS / 400.0).astype(np.float32)[None, :, None, None]
    currents = {}
    for name, surf in (("UVEL", u_surface), ("VVEL", v_surface)):
        values = surf.astype(np.float32)[:, None] * decay
        values[:, dry] = np.nan
        currents[name] = values
    return {"THETA": theta, "SALT": salt, **currents}


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _global_attrs(variable: str, month: str) -> dict[str, object]:
    from utils.sample_data import STAND_IN_NOTE

    dates = month_dates(month)
    return {
        "Conventions": "CF-1.8, ACDD-1.3",
        "title": f"Ocean model daily means: {_ATTRS[variable]['long_name'].lower()} ({variable})",
        "summary": (
            "Daily-mean output of a regional ocean model of the subpolar North Atlantic on a 0.25 degree "
            "latitude-longitude grid with 10 depth levels; one dataset per variable, one file per month."
        ),
        "product_name": Path(key(variable, month)).name,
        "dataset_id": collection(variable),
        "product_version": "V1",
        "processing_level": "L4",
        "institution": "Cloud-native geospatial course (synthetic sample data)",
        "source": "synthetic: utils.ocean_model",
        "time_coverage_start": f"{dates[0]:%Y-%m-%d}T00:00:00",
        "time_coverage_end": f"{dates[-1]:%Y-%m-%d}T23:59:59",
        "time_coverage_resolution": "P1D",
        "geospatial_lat_min": np.float32(50.0),
        "geospatial_lat_max": np.float32(75.0),
        "geospatial_lon_min": np.float32(-45.0),
        "geospatial_lon_max": np.float32(-10.0),
        "geospatial_vertical_min": np.float32(0.0),
        "geospatial_vertical_max": np.float32(500.0),
        "geospatial_vertical_positive": "down",
        "sample_data": STAND_IN_NOTE,
        "sample_data_imitates": (
            "an ocean-model archive (e.g. ECCO, SASSIE ECCO at NASA PO.DAAC) publishing each variable as "
            "its own netCDF dataset"
        ),
    }


def _coordinates(month: str) -> dict[str, tuple[np.ndarray, dict[str, object]]]:
    dates = month_dates(month)
    days = np.array([(d - dt.date(2015, 1, 1)).days + 0.5 for d in dates], dtype=np.float64)
    return {
        "time": (days, {"long_name": "center time of averaging period", "standard_name": "time",
                        "axis": "T", "units": _TIME_UNITS, "calendar": "gregorian"}),
        "depth": (DEPTHS, {"long_name": "depth of grid cell center", "standard_name": "depth",
                           "axis": "Z", "units": "m", "positive": "down"}),
        "lat": (LAT.astype(np.float32), {"long_name": "latitude of grid cell center", "standard_name": "latitude",
                                         "axis": "Y", "units": "degrees_north"}),
        "lon": (LON.astype(np.float32), {"long_name": "longitude of grid cell center",
                                         "standard_name": "longitude", "axis": "X", "units": "degrees_east"}),
    }  # fmt: skip


def make_file(variable: str, month: str, target: Path | str | None = None, *,
              values: np.ndarray | None = None) -> Path:  # fmt: skip
    """Write one file (``variable``, ``month``) to ``target`` (default :func:`path`); byte-reproducible.

    ``values`` are the decoded fields of :func:`fields` for that month (computed if not given).
    """
    import h5netcdf

    _check(variable, month)
    target = Path(target) if target is not None else path(variable, month)
    data = fields(month)[variable] if values is None else values
    target.parent.mkdir(parents=True, exist_ok=True)
    # A hidden temporary name: concurrent writers never clash, and the local cloud never uploads it.
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with h5netcdf.File(tmp, "w") as nc:
            nc.dimensions = {"time": None, "depth": DEPTHS.size, "lat": LAT.size, "lon": LON.size}
            nc.resize_dimension("time", data.shape[0])
            for name, (coord, attrs) in _coordinates(month).items():
                chunks = (data.shape[0],) if name == "time" else None
                var = nc.create_variable(name, (name,), coord.dtype, chunks=chunks)
                var[:] = coord
                var.attrs.update(attrs)
            attrs = dict(_ATTRS[variable])
            if variable in _PACKING:
                scale, offset = _PACKING[variable]
                packed = np.rint((data - offset) / scale)
                stored = np.where(np.isnan(packed), _INT16_FILL, packed).astype(np.int16)
                fill: np.generic = _INT16_FILL
                attrs.update(scale_factor=np.float32(scale), add_offset=np.float32(offset))
            else:
                stored = np.where(np.isnan(data), _FLOAT_FILL, _bitround(data, _KEEP_BITS)).astype(np.float32)
                fill = _FLOAT_FILL
                attrs["_QuantizeBitRoundNumberOfSignificantBits"] = np.int32(_KEEP_BITS)
            var = nc.create_variable(
                variable, ("time", "depth", "lat", "lon"), stored.dtype, fillvalue=fill,
                chunks=(1, 1, LAT.size, LON.size), compression="gzip", compression_opts=1, shuffle=True,
            )  # fmt: skip
            var[...] = stored
            var.attrs.update(attrs)
            nc.attrs.update(_global_attrs(variable, month))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@dataclass
class EnsureSummary:
    """What :func:`ensure_files` did."""

    root: Path
    written: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes_on_disk: int = 0

    def __str__(self) -> str:
        return (
            f"ocean-model sample in {display(self.root / BUCKET)}: {len(self.written) + len(self.present)} files "
            f"({len(self.written)} written now), {self.bytes_on_disk / 1e6:.1f} MB"
        )


def _sha256(p: Path) -> str:
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(root: Path) -> dict[str, dict[str, object]]:
    try:
        manifest = json.loads((root / BUCKET / _MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("version") != GENERATOR_VERSION:
        return {}
    return dict(manifest.get("files", {}))


def ensure_files(root: Path | str = SAMPLE_DIR, *, force: bool = False,
                 variables: Iterable[str] = VARIABLES) -> EnsureSummary:  # fmt: skip
    """The ocean-model files, made (or verified) by ``utils.machinery.sample_data``, its successor.

    Kept for the notebooks that still call it: it verifies every sample file against the one manifest.
    """
    from utils.machinery.sample_data import generate

    start = time.perf_counter()
    root, variables = Path(root), tuple(variables)
    for v in variables:
        _check(v)
    done = generate(root, force)
    summary = EnsureSummary(root=root)
    for rel in (key(v, m) for v in variables for m in MONTHS):
        (summary.written if f"{BUCKET}/{rel}" in done.written else summary.present).append(rel)
    summary.bytes_on_disk = sum((root / BUCKET / key(v, m)).stat().st_size for v in variables for m in MONTHS)
    summary.seconds = time.perf_counter() - start
    return summary
