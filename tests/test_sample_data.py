"""Tests of the sample-data factory (utils/machinery/sample_data.py): products, determinism, manifest, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import xarray as xr
from realdata import realdata_file
from scipy.io import netcdf_file

from utils import data
from utils.machinery import sample_data as sd

pytestmark = pytest.mark.xdist_group("sample_data")  # one worker: the full generation is made once
N_FILES = len(data.GLAD_YEARS) + len(data.oisst_dates()) + 1 + len(data.OCEAN_VARIABLES) * len(data.OCEAN_MONTHS)
RUN_JOBS = "import json, sys; from utils.machinery import sample_data as sd; print(json.dumps([sd._run(*job) for job in json.loads(sys.argv[1])]))"  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full generation, in worker processes, as ``./course.sh setup`` does it."""
    root = tmp_path_factory.mktemp("sample")
    summary = sd.generate(root)
    assert len(summary.written) == N_FILES and not summary.skipped
    return root


def rel(path: Path) -> str:
    return path.relative_to(data.SAMPLE_DIR).as_posix()


# --- the manifest, determinism, repair -------------------------------------------------------


def test_every_file_is_in_the_manifest_under_its_real_bucket_and_key(root: Path) -> None:
    manifest = json.loads((root / sd.MANIFEST).read_text())
    expected = [rel(data.glad_path(y)) for y in data.GLAD_YEARS] + [rel(data.oisst_path(d)) for d in data.oisst_dates()]
    expected += [rel(data.ERA_PATH)] + [rel(data.ocean_path(v, m)) for v in data.OCEAN_VARIABLES for m in data.OCEAN_MONTHS]
    assert sorted(manifest["files"]) == sorted(expected) and manifest["version"] == sd.GENERATOR_VERSION
    assert all(sd.sha256(root / name) == digest for name, digest in manifest["files"].items())
    buckets = {data.GLAD_BUCKET, data.OISST_BUCKET, data.ERA_BUCKET, data.OCEAN_BUCKET}
    assert {p.name for p in root.iterdir()} == buckets | {sd.MANIFEST}
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no temporary files left


def test_the_bytes_are_the_same_in_another_process_on_another_cpu(root: Path, tmp_path: Path) -> None:
    """A second generation (one job of each kind) in a fresh process whose numpy may not use AVX2 or AVX-512."""
    jobs = [(kind, arg, items[-1:] if kind == "glad" else items) for kind, arg, items in sd._plan()
            if arg in ("50N_080W", "2015-02", "", "2024-08-31")]  # fmt: skip
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}
    out = subprocess.run([sys.executable, "-c", RUN_JOBS, json.dumps([(*job, str(tmp_path)) for job in jobs])],
                         env=env, cwd=data.REPO, capture_output=True, text=True, check=True)  # fmt: skip
    again = {name: digest for result in json.loads(out.stdout) for name, digest in result.items()}
    assert len(again) == 1 + len(data.OCEAN_VARIABLES) + 2
    assert again == {name: sd.read_manifest(root)[name] for name in again}


def test_a_rerun_verifies_and_repairs_exactly_what_is_damaged(root: Path) -> None:
    assert sd.generate(root, workers=1).written == []
    damaged = [root / rel(data.glad_path(2010)), root / rel(data.ocean_path("SALT", "2015-02"))]
    for path in damaged:
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF  # one flipped byte mid-file, the size unchanged
        path.write_bytes(raw)
    missing = root / rel(data.oisst_path("2024-08-15"))
    missing.unlink()
    summary = sd.generate(root, workers=1)
    assert summary.written == sorted(p.relative_to(root).as_posix() for p in [*damaged, missing])
    assert len(summary.skipped) == N_FILES - 3
    assert all(sd.sha256(root / name) == digest for name, digest in sd.read_manifest(root).items())


def test_force_and_a_manifest_of_another_version_rewrite_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = sd._plan
    monkeypatch.setattr(sd, "_plan", lambda: [job for job in plan() if job[0] == "era"])
    era = [rel(data.ERA_PATH)]
    assert sd.generate(tmp_path, workers=1).written == era
    assert sd.generate(tmp_path, workers=1).skipped == era
    assert sd.generate(tmp_path, force=True, workers=1).written == era
    monkeypatch.setattr(sd, "GENERATOR_VERSION", sd.GENERATOR_VERSION + 1)
    assert sd.read_manifest(tmp_path) == {}
    assert sd.generate(tmp_path, workers=1).written == era


def test_command_line(root: Path, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "utils.machinery.sample_data"]
    verify = subprocess.run([*cli, "--root", str(root)], cwd=data.REPO, capture_output=True, text=True, check=True)
    line = verify.stdout.strip()
    assert "\n" not in line and f"wrote 0 file(s), skipped {N_FILES} verified file(s) in" in line and "MB" in line
    unwritable = tmp_path / "a-file"
    unwritable.write_text("not a folder")
    bad = subprocess.run([*cli, "--root", str(unwritable / "sample")], cwd=data.REPO, capture_output=True, text=True)
    assert bad.returncode == 1 and "error: cannot write the sample data to" in bad.stderr and "--root" in bad.stderr
    assert "Traceback" not in bad.stderr


# --- GLAD ------------------------------------------------------------------------------------


def test_glad_tiles_are_cogs_of_the_real_layout(root: Path) -> None:
    legend = data.read_legend()
    seen: set[int] = set()
    for year in data.GLAD_YEARS:
        with rasterio.open(root / rel(data.glad_path(year))) as src:
            assert (src.count, src.dtypes[0], src.width, src.height, src.crs.to_epsg()) == (1, "uint8", 2000, 2000, 4326)
            assert tuple(src.bounds) == data.tile_bounds(data.GLAD_TILE) and src.res == (0.005, 0.005)
            assert src.nodata == 255 and src.block_shapes == [(512, 512)] and src.compression.name == "deflate"
            assert src.overviews(1) == [2, 4] and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            tags = src.tags()
            assert "Synthetic" in tags["SAMPLE_DATA"] and data.glad_url(year) in tags["SAMPLE_DATA_IMITATES"]
            assert (tags["YEAR"], tags["TILE"]) == (str(year), data.GLAD_TILE)
            seen |= set(np.unique(src.read(1)).tolist())
    assert seen <= set(legend["value"])
    families = set(legend.set_index("value").loc[sorted(seen), "family"])
    assert {"Short vegetation", "Trees 10-19 m", "Trees 20 m and taller", "Wetland trees", "Open surface water",
            "Cropland", "Built-up", "Ocean"} <= families  # fmt: skip
    cogeo = pytest.importorskip("rio_cogeo.cogeo")
    valid, errors, _ = cogeo.cog_validate(str(root / rel(data.glad_path(2000))))
    assert valid, errors


def test_glad_years_change_plausibly(root: Path) -> None:
    maps = {}
    for year in data.GLAD_YEARS:
        with rasterio.open(root / rel(data.glad_path(year))) as src:
            maps[year] = src.read(1)
    assert 0.01 < (maps[2000] != maps[2020]).mean() < 0.3  # some, not most, pixels change
    assert all((maps[a] != maps[b]).mean() > 0.002 for a, b in zip(data.GLAD_YEARS, data.GLAD_YEARS[1:]))
    built = [(maps[y] == sd.BUILT_UP).mean() for y in data.GLAD_YEARS]
    assert built == sorted(built) and built[-1] > built[0]  # towns grow
    assert (maps[2020] == sd.CROPLAND).mean() > (maps[2000] == sd.CROPLAND).mean()  # cropland spreads
    assert ((maps[2000] >= 25) & (maps[2000] <= 48) & (maps[2020] < 25)).any()  # forest cleared
    assert (maps[2000] == sd.OCEAN).sum() == (maps[2020] == sd.OCEAN).sum()  # the coast stays put


def test_write_glad_tile_anywhere_at_any_size(tmp_path: Path) -> None:
    first = data.make_glad_tile(2010, "40N_090W", tmp_path / "a" / "tile.tif", size=64)
    sd._landscape.cache_clear()
    second = sd.write_glad_tile(2010, "40N_090W", tmp_path / "b.tif", size=64)
    assert sd.sha256(first) == sd.sha256(second)
    with rasterio.open(first) as src:
        assert tuple(src.bounds) == (-90.0, 30.0, -80.0, 40.0) and src.shape == (64, 64)
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"


def test_neighbouring_tiles_join_without_a_seam(tmp_path: Path) -> None:
    """The change across a tile edge is like the change between two rows inside a tile."""
    tile = {name: sd.glad_classes(2000, name, size=200) for name in ("50N_080W", "40N_080W", "50N_070W")}
    north, south, east = tile["50N_080W"], tile["40N_080W"], tile["50N_070W"]
    for edge, inside, unrelated in [
        ((north[-1] != south[0]).mean(), (north[-2] != north[-1]).mean(), (north[0] != south[0]).mean()),
        ((north[:, -1] != east[:, 0]).mean(), (north[:, -2] != north[:, -1]).mean(), (north[:, 0] != east[:, 0]).mean()),
    ]:
        assert edge < 1.5 * inside + 0.05 and edge < unrelated / 2, (edge, inside, unrelated)
    paths = [sd.write_glad_tile(2020, name, tmp_path / f"{name}.tif", size=32) for name in ("50N_080W", "40N_080W")]
    with rasterio.open(paths[0]) as a, rasterio.open(paths[1]) as b:
        assert a.bounds.bottom == b.bounds.top and a.transform.a == b.transform.a


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: sd.write_glad_tile(1999, "50N_080W", p), "2000, 2005, 2010, 2015, 2020"),
        (lambda p: sd.write_glad_tile(2000, "55N_080W", p), "10-degree grid"),
        (lambda p: sd.write_glad_tile(2000, "north", p), "like '50N_080W'"),
        (lambda p: sd.write_glad_tile(2000, "50N_080W", p, size=0), "16 to 40000 pixels"),
        (lambda p: sd.write_glad_tile(2000, "50N_080W", p, size="64"), "16 to 40000 pixels"),
        (lambda p: sd.generate(p / "a-file" / "sample"), "cannot write the sample data to .*--root"),
    ],
)
def test_bad_input_says_what_to_do(call, match: str, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises((ValueError, OSError), match=match):
        call(tmp_path)
    assert not list(tmp_path.rglob("*.tif"))


# --- OISST -----------------------------------------------------------------------------------


def test_oisst_structure_as_xarray_and_hdf5_read_it(root: Path) -> None:
    path = root / rel(data.oisst_path("2024-08-01"))
    ds = xr.open_dataset(path, decode_cf=False)
    assert dict(ds.sizes) == {"time": 1, "zlev": 1, "lat": 720, "lon": 1440} and list(ds.coords) == ["time", "zlev", "lat", "lon"]
    assert all(ds[name].dtype == np.float32 and "_FillValue" not in ds[name].attrs for name in ds.coords)
    assert float(ds.lat[0]) == -89.875 and float(ds.lon[-1]) == 359.875
    assert ds.time.attrs["units"] == "days since 1978-01-01 12:00:00" and float(ds.time[0]) == (dt.date(2024, 8, 1) - dt.date(1978, 1, 1)).days
    assert ds.encoding["unlimited_dims"] == {"time"}
    expected = {"sst": ("Daily sea surface temperature", "Celsius", -300, 4500),
                "anom": ("Daily sea surface temperature anomalies", "Celsius", -1200, 1200),
                "err": ("Estimated error standard deviation of analysed_sst", "Celsius", 0, 1000),
                "ice": ("Sea ice concentration", "%", 0, 100)}  # fmt: skip
    for name, (long_name, units, vmin, vmax) in expected.items():
        var = ds[name]
        assert var.dims == ("time", "zlev", "lat", "lon") and var.dtype == np.int16
        assert (var.encoding["chunksizes"], var.encoding["zlib"], var.encoding["complevel"], var.encoding["shuffle"]) == (
            (1, 1, 720, 1440), True, 4, True)  # fmt: skip
        attrs = var.attrs
        assert (attrs["long_name"], attrs["units"], attrs["valid_min"], attrs["valid_max"]) == (long_name, units, vmin, vmax)
        assert attrs["_FillValue"] == -999 and attrs["_FillValue"].dtype == np.int16
        assert attrs["scale_factor"] == np.float32(0.01) and attrs["scale_factor"].dtype == np.float32
        assert attrs["add_offset"] == 0 and attrs["add_offset"].dtype == np.float32 and attrs["valid_min"].dtype == np.int16
        packed = var.values[var.values != -999]
        assert packed.size and vmin <= packed.min() and packed.max() <= vmax
    assert ds.attrs["id"] == path.name and ds.attrs["title"].startswith("NOAA/NCEI 1/4 Degree Daily Optimum")
    assert ds.attrs["geospatial_lat_resolution"].dtype == np.float32 and ds.attrs["time_coverage_start"] == "2024-08-01T00:00:00Z"
    assert "Synthetic" in ds.attrs["sample_data"] and data.oisst_url("2024-08-01") in ds.attrs["sample_data_imitates"]
    with h5py.File(path) as f:
        assert f["time"].maxshape == (None,) and "_NCProperties" in f.attrs


def test_oisst_values_are_plausible(root: Path) -> None:
    first, second, last = (xr.open_dataset(root / rel(data.oisst_path(f"2024-08-{d}"))).squeeze(drop=True) for d in ("01", "02", "31"))
    sst = first.sst
    assert 0.2 < sst.isnull().mean().item() < 0.45  # land is _FillValue
    assert 26 < sst.sel(lat=slice(-5, 5)).mean().item() < 31 and sst.sel(lat=slice(-90, -60)).mean().item() < 3
    assert -1.9 < sst.min().item() and sst.max().item() < 34 and first.anom.std().item() < 2
    ice = first.ice
    assert ice.notnull().any() and np.abs(ice.where(ice.notnull(), drop=True).lat).min() > 45
    assert 0 < np.abs(second.sst - first.sst).max().item() < 1.5  # smooth in time, but not frozen
    assert np.abs(last.sst - first.sst).mean().item() > np.abs(second.sst - first.sst).mean().item()


# --- ERA-Interim -----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:variable .* has non-conforming '_FillValue'")  # the real file's quirk, kept
def test_era_file_is_netcdf3_with_the_real_quirks(root: Path) -> None:
    path = root / rel(data.ERA_PATH)
    with netcdf_file(path, "r", mmap=False) as nc:
        assert nc.version_byte == 2  # 64-bit offset
        assert list(nc.dimensions) == ["longitude", "latitude", "level", "month"]
        assert list(nc.variables) == ["longitude", "latitude", "level", "z", "u", "v", "month"]
        for name in ("z", "u", "v"):
            var = nc.variables[name]
            assert var.typecode() == "h" and var.dimensions == ("month", "level", "latitude", "longitude")
            assert var.scale_factor < 0 and np.isnan(var._FillValue) and np.abs(var.data).max() <= 32766
    ds = xr.open_dataset(path)
    assert ds.level.values.tolist() == [200, 500, 850] and ds.month.values.tolist() == [1, 7]
    assert 4500 < (ds.z.sel(level=500) / 9.80665).min().item() and (ds.z.sel(level=500) / 9.80665).max().item() < 6000
    assert 20 < ds.u.sel(level=200).max().item() < 60  # jet streams


def test_era_file_has_the_real_files_structure(root: Path) -> None:
    with netcdf_file(realdata_file("eraint_uvz.nc"), "r", mmap=False) as real, netcdf_file(root / rel(data.ERA_PATH), "r", mmap=False) as ours:
        assert (ours.version_byte, list(ours.dimensions), list(ours.variables)) == (real.version_byte, list(real.dimensions), list(real.variables))
        for name, var in real.variables.items():
            mine = ours.variables[name]
            assert (mine.typecode(), mine.dimensions) == (var.typecode(), var.dimensions), name
            assert set(mine._attributes) == set(var._attributes), name  # (xarray writes them in another order)
            assert all(type(mine._attributes[k]) is type(v) for k, v in var._attributes.items()), name


# --- the ocean model -------------------------------------------------------------------------


def test_ocean_model_structure(root: Path) -> None:
    for variable in data.OCEAN_VARIABLES:
        path = root / rel(data.ocean_path(variable, "2015-01"))
        with xr.open_dataset(path, mask_and_scale=False) as ds:
            var = ds[variable]
            assert list(ds.data_vars) == [variable] and var.dims == ("time", "depth", "lat", "lon")
            assert var.shape == (31, 10, 100, 140) and ds.encoding["unlimited_dims"] == {"time"}
            assert var.dtype == (np.int16 if variable in ("THETA", "SALT") else np.float32)
            assert (var.encoding["chunksizes"], var.encoding["zlib"], var.encoding["shuffle"]) == ((1, 1, 100, 140), True, True)
            assert {"long_name", "standard_name", "units", "_FillValue"} <= set(var.attrs)
            if variable in ("THETA", "SALT"):
                assert var.attrs["scale_factor"].dtype == np.float32 and var.attrs["_FillValue"] == -32767
            else:
                assert var.attrs["_QuantizeBitRoundNumberOfSignificantBits"] == 7
                bits = var.values[np.isfinite(var.values) & (var.values != var.attrs["_FillValue"])].view(np.uint32)
                assert not (bits & np.uint32(0xFFFF)).any()  # 23 - 7 low mantissa bits are zero
            assert ds["time"].encoding["units"] == "days since 2015-01-01 00:00:00" and ds["depth"].attrs["positive"] == "down"
            assert ds.attrs["dataset_id"] == f"OCEAN_MODEL_L4_{variable}_DAILY_V1" and "Synthetic" in ds.attrs["sample_data"]
            assert ds.attrs["product_name"] == path.name and ds.attrs["geospatial_lat_min"].dtype == np.float32


def test_ocean_model_values_are_plausible(root: Path) -> None:
    ds = xr.merge([xr.concat([xr.open_dataset(root / rel(data.ocean_path(v, m))) for m in data.OCEAN_MONTHS], "time")
                   for v in data.OCEAN_VARIABLES], combine_attrs="drop_conflicts")  # fmt: skip
    assert dict(ds.sizes) == {"time": 59, "depth": 10, "lat": 100, "lon": 140}
    assert str(ds.time.values[0]) == "2015-01-01T12:00:00.000000000"
    theta, salt = ds["THETA"], ds["SALT"]
    assert -1.81 <= float(theta.min()) and float(theta.max()) < 16 and 34.0 < float(salt.min()) < float(salt.max()) < 35.6
    assert 0.1 < float(np.hypot(ds["UVEL"], ds["VVEL"]).max()) < 0.5  # m/s: currents of a model, not rivers
    assert float(theta.isel(depth=0).mean()) > float(theta.isel(depth=-1).mean())  # warmer at the surface
    assert float(theta.isel(time=-1, depth=0).mean()) < float(theta.isel(time=0, depth=0).mean())  # winter cools
    dry_surface, dry_bottom = (float(np.isnan(theta.isel(time=0, depth=d)).mean()) for d in (0, -1))
    assert 0.1 < dry_surface < dry_bottom < 0.6  # land, and more cells below the sea floor at depth


def test_the_factory_stands_alone() -> None:
    """The top level imports the factory only when asked to; the factory never imports the old modules."""
    code = ("import sys, utils.data; assert 'utils.machinery.sample_data' not in sys.modules; "
            "import utils.machinery.sample_data; print(sorted(m for m in sys.modules if m.startswith('utils')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=data.REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(["utils", "utils.data", "utils.machinery", "utils.machinery.sample_data"])
