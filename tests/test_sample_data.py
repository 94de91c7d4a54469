"""Unit tests for utils.sample_data: layout, structure, determinism, idempotence."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import xarray as xr
from realdata import realdata_file
from scipy.io import netcdf_file

from utils import sample_data as sd

N_FILES = len(sd.GLAD_YEARS) + 31 + 1


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sd.GenerationSummary]:
    """One full generation with the default settings (in worker processes)."""
    root = tmp_path_factory.mktemp("sample")
    return root, sd.generate(root)


# -- paths, names and templates ---------------------------------------------


def test_layout_is_bucket_then_real_key(tmp_path: Path) -> None:
    assert sd.glad_path(2000, root=tmp_path) == (
        tmp_path / "earthenginepartners-hansen/GLCLU2000-2020/v2/2000/50N_080W.tif"
    )
    assert sd.oisst_path("2024-08-01", root=tmp_path) == tmp_path / (
        "noaa-cdr-sea-surface-temp-optimum-interpolation-pds/data/v2.1/avhrr/202408/oisst-avhrr-v02r01.20240801.nc"
    )
    assert sd.oisst_path(dt.date(2024, 8, 1), tmp_path) == sd.oisst_path(np.datetime64("2024-08-01"), tmp_path)
    assert sd.era_path(tmp_path) == tmp_path / "era-interim/eraint_uvz_sample.nc"
    paths = sd.oisst_paths(root=tmp_path)
    assert len(paths) == 31 and paths == sorted(paths)
    assert paths[-1].name == "oisst-avhrr-v02r01.20240831.nc"


def test_real_urls() -> None:
    assert sd.glad_url(2020, "50N_080W") == (
        "https://storage.googleapis.com/earthenginepartners-hansen/GLCLU2000-2020/v2/2020/50N_080W.tif"
    )
    assert sd.GLAD_S3_URL_TEMPLATE.format(year=2000, tile="50N_080W") == (
        "s3://earthenginepartners-hansen/GLCLU2000-2020/v2/2000/50N_080W.tif"
    )
    assert sd.oisst_url("2024-08-31") == (
        "https://www.ncei.noaa.gov/data/sea-surface-temperature-optimum-interpolation/v2.1/access/avhrr/"
        "202408/oisst-avhrr-v02r01.20240831.nc"
    )
    assert sd.OISST_S3_URL_TEMPLATE.format(yyyymm="202408", yyyymmdd="20240801") == (
        "s3://noaa-cdr-sea-surface-temp-optimum-interpolation-pds/data/v2.1/avhrr/202408/oisst-avhrr-v02r01.20240801.nc"
    )


def test_tile_names() -> None:
    assert sd.tile_bounds("50N_080W") == (-80.0, 40.0, -70.0, 50.0)
    assert sd.tile_bounds("10S_020E") == (20.0, -20.0, 30.0, -10.0)
    assert sd.tile_name(50, -80) == "50N_080W"
    for bad in ("50N-080W", "55N_080W", "50N_085W", "north", "90N_000E"):
        with pytest.raises(ValueError, match="tile"):
            sd.tile_bounds(bad)


# -- legend ---------------------------------------------------------------


def test_legend_file() -> None:
    legend = sd.read_legend()
    assert list(legend.columns[:3]) == ["value", "name", "color"]
    assert legend["value"].is_unique and legend["value"].is_monotonic_increasing
    assert legend["color"].str.fullmatch(r"#[0-9a-f]{6}").all()
    named = dict(zip(legend["value"], legend["name"]))
    assert named[244] == "Cropland" and named[250] == "Built-up" and named[254] == "Ocean"
    assert named[255] == "No data" and named[241] == "Snow/ice"
    assert set(range(25, 49)) <= set(named) and set(range(200, 208)) <= set(named)


def test_legend_colormap() -> None:
    from matplotlib.colors import to_hex

    cmap, norm, labels = sd.legend_colormap()
    assert cmap.N == norm.Ncmap == len(labels) == len(sd.LEGEND_GROUPS)
    colors = dict(zip(sd.read_legend()["value"], sd.read_legend()["color"]))
    assert to_hex(cmap(norm(244))) == colors[244]  # cropland is cropland's colour
    assert labels[int(norm(250))] == "Built-up"
    assert labels[int(norm(37))] == "Trees 10-19 m"
    cmap, norm, labels = sd.legend_colormap(grouped=False)
    assert cmap.N == len(labels) == len(sd.read_legend())
    assert labels[int(norm(207))] == "Open surface water, 100% of the time"


# -- GLAD -----------------------------------------------------------------


def test_glad_default_layout_is_a_cog(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    for year in sd.GLAD_YEARS:
        with rasterio.open(sd.glad_path(year, root=root)) as src:
            assert (src.count, src.dtypes[0], src.width, src.height) == (1, "uint8", 2000, 2000)
            assert src.crs.to_epsg() == 4326
            assert tuple(src.bounds) == (-80.0, 40.0, -70.0, 50.0)
            assert src.res == (0.005, 0.005)
            assert src.nodata == 255
            assert src.profile["tiled"] and src.block_shapes == [(512, 512)]
            assert src.compression.name == "deflate"
            assert src.overviews(1) == [2, 4]
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            tags = src.tags()
            assert "Synthetic" in tags["SAMPLE_DATA"]
            assert sd.glad_url(year) in tags["SAMPLE_DATA_IMITATES"]
            assert tags["YEAR"] == str(year) and tags["TILE"] == "50N_080W"
    cogeo = pytest.importorskip("rio_cogeo.cogeo")
    valid, errors, _ = cogeo.cog_validate(str(sd.glad_path(2000, root=root)))
    assert valid, errors


def test_glad_classes_are_in_the_legend() -> None:
    legend = set(sd.read_legend()["value"])
    seen: set[int] = set()
    for year in sd.GLAD_YEARS:
        seen |= set(np.unique(sd.glad_classes(year)).tolist())
    assert seen <= legend
    groups = set(sd.read_legend().set_index("value").loc[sorted(seen), "group"])
    expected = {"Short vegetation", "Trees 10-19 m", "Trees 20 m and taller", "Wetland trees",
                "Open surface water", "Cropland", "Built-up", "Ocean"}  # fmt: skip
    assert expected <= groups


def test_glad_years_change_plausibly() -> None:
    maps = {year: sd.glad_classes(year) for year in sd.GLAD_YEARS}
    changed = (maps[2000] != maps[2020]).mean()
    assert 0.01 < changed < 0.3, changed  # some, not most, pixels change
    steps = [(maps[a] != maps[b]).mean() for a, b in zip(sd.GLAD_YEARS, sd.GLAD_YEARS[1:])]
    assert all(step > 0.002 for step in steps), steps
    built = [(maps[year] == sd.BUILT_UP).mean() for year in sd.GLAD_YEARS]
    crop = [(maps[year] == sd.CROPLAND).mean() for year in sd.GLAD_YEARS]
    assert built == sorted(built) and built[-1] > built[0]  # towns grow
    assert crop[-1] > crop[0]  # cropland spreads
    assert ((maps[2000] >= 25) & (maps[2000] <= 48) & (maps[2020] < 25)).any()  # forest cleared
    assert (maps[2000] == sd.OCEAN).sum() == (maps[2020] == sd.OCEAN).sum()  # the coast stays put


def test_glad_other_tiles_join_without_seams() -> None:
    north = sd.glad_classes(2000, "50N_080W", size=200)
    south = sd.glad_classes(2000, "40N_080W", size=200)
    across = (north[-1] == south[0]).mean()
    unrelated = (north[0] == south[0]).mean()
    assert across > 0.5 and across > 3 * unrelated


def test_make_glad_tile_is_reproducible(tmp_path: Path) -> None:
    first = sd.make_glad_tile(2010, "40N_090W", tmp_path / "a.tif", size=256)
    sd._landscape.cache_clear()
    second = sd.make_glad_tile(2010, "40N_090W", tmp_path / "b.tif", size=256)
    assert sd.sha256(first) == sd.sha256(second)
    with rasterio.open(first) as src:
        assert tuple(src.bounds) == (-90.0, 30.0, -80.0, 40.0)
        assert src.width == 256


def test_glad_rejects_years_outside_the_product() -> None:
    with pytest.raises(ValueError, match="2000-2020"):
        sd.glad_classes(2021)


# -- OISST ----------------------------------------------------------------


def test_oisst_structure(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    path = sd.oisst_path("2024-08-01", root)
    with h5py.File(path) as f:
        for name in ("sst", "anom", "err", "ice"):
            var = f[name]
            assert var.dtype == np.int16 and var.shape == (1, 1, 720, 1440)
            assert var.chunks == (1, 1, 720, 1440)
            assert (var.compression, var.compression_opts, var.shuffle) == ("gzip", 4, True)
        assert f["time"].maxshape == (None,)  # time is unlimited, as in the real files
    ds = xr.open_dataset(path, decode_cf=False)
    assert dict(ds.sizes) == {"time": 1, "zlev": 1, "lat": 720, "lon": 1440}
    for name in ("time", "zlev", "lat", "lon"):
        assert ds[name].dtype == np.float32
    assert float(ds.lat[0]) == -89.875 and float(ds.lat[-1]) == 89.875
    assert float(ds.lon[0]) == 0.125 and float(ds.lon[-1]) == 359.875
    assert ds.time.attrs["units"] == "days since 1978-01-01 12:00:00"
    assert float(ds.time[0]) == (dt.date(2024, 8, 1) - dt.date(1978, 1, 1)).days
    expected = {
        "sst": ("Daily sea surface temperature", "Celsius", -300, 4500),
        "anom": ("Daily sea surface temperature anomalies", "Celsius", -1200, 1200),
        "err": ("Estimated error standard deviation of analysed_sst", "Celsius", 0, 1000),
        "ice": ("Sea ice concentration", "%", 0, 100),
    }
    for name, (long_name, units, vmin, vmax) in expected.items():
        attrs = ds[name].attrs
        assert (attrs["long_name"], attrs["units"]) == (long_name, units)
        assert attrs["_FillValue"] == -999 and attrs["_FillValue"].dtype == np.int16
        assert attrs["scale_factor"] == np.float32(0.01) and attrs["scale_factor"].dtype == np.float32
        assert attrs["add_offset"] == 0 and attrs["add_offset"].dtype == np.float32
        assert (attrs["valid_min"], attrs["valid_max"]) == (vmin, vmax)
        assert attrs["valid_min"].dtype == np.int16
        packed = ds[name].values
        data = packed[packed != -999]
        assert data.size and data.min() >= vmin and data.max() <= vmax
    assert ds.attrs["id"] == path.name
    assert ds.attrs["title"].startswith("NOAA/NCEI 1/4 Degree Daily Optimum Interpolation")
    assert "Synthetic" in ds.attrs["sample_data"] and sd.oisst_url("2024-08-01") in ds.attrs["sample_data_imitates"]


def test_oisst_values_are_plausible(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    first = xr.open_dataset(sd.oisst_path("2024-08-01", root)).squeeze(drop=True)
    second = xr.open_dataset(sd.oisst_path("2024-08-02", root)).squeeze(drop=True)
    last = xr.open_dataset(sd.oisst_path("2024-08-31", root)).squeeze(drop=True)
    sst = first.sst
    land = sst.isnull().mean().item()
    assert 0.2 < land < 0.45  # land is _FillValue
    assert 26 < sst.sel(lat=slice(-5, 5)).mean().item() < 31  # warm tropics
    assert sst.sel(lat=slice(-90, -60)).mean().item() < 3  # cold Southern Ocean
    assert -1.9 < sst.min().item() and sst.max().item() < 34
    ice = first.ice
    assert ice.notnull().any() and np.abs(ice.where(ice.notnull(), drop=True).lat).min() > 45
    assert first.anom.std().item() < 2
    day_to_day = np.abs(second.sst - first.sst).max().item()
    assert 0 < day_to_day < 1.5  # smooth in time, but not frozen
    assert np.abs(last.sst - first.sst).mean().item() > np.abs(second.sst - first.sst).mean().item()


# -- ERA-Interim-like netCDF3 ----------------------------------------------


# The real file's int16 variables carry a NaN _FillValue, which xarray warns about; so does ours.
@pytest.mark.filterwarnings("ignore:variable .* has non-conforming '_FillValue'")
def test_era_file_structure(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    with netcdf_file(sd.era_path(root), "r", mmap=False) as nc:
        assert nc.version_byte == 2
        assert list(nc.dimensions) == ["longitude", "latitude", "level", "month"]
        assert list(nc.variables) == ["longitude", "latitude", "level", "z", "u", "v", "month"]
        for name in ("z", "u", "v"):
            var = nc.variables[name]
            assert var.typecode() == "h" and var.dimensions == ("month", "level", "latitude", "longitude")
            assert var.scale_factor < 0 and np.isnan(var._FillValue)
            assert np.abs(var.data).max() <= 32766
        assert b"Synthetic" in nc.sample_data
    ds = xr.open_dataset(sd.era_path(root))
    assert ds.level.values.tolist() == [200, 500, 850] and ds.month.values.tolist() == [1, 7]
    z500 = ds.z.sel(level=500) / 9.80665
    assert 4500 < z500.min().item() and z500.max().item() < 6000  # 500 hPa heights, in metres
    assert 20 < ds.u.sel(level=200).max().item() < 60  # jet streams


def test_era_file_matches_the_real_structure(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    real_path = realdata_file("eraint_uvz.nc")
    with netcdf_file(real_path, "r", mmap=False) as real, netcdf_file(sd.era_path(root), "r", mmap=False) as ours:
        assert ours.version_byte == real.version_byte
        assert list(ours.dimensions) == list(real.dimensions)
        assert list(ours.variables) == list(real.variables)
        for name, var in real.variables.items():
            mine = ours.variables[name]
            assert (mine.typecode(), mine.dimensions) == (var.typecode(), var.dimensions), name
            assert list(mine._attributes) == list(var._attributes), name
            for key, value in var._attributes.items():
                assert type(mine._attributes[key]) is type(value), (name, key)


# -- generation -------------------------------------------------------------


def test_generate_writes_everything_with_a_manifest(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, summary = generated
    assert len(summary.written) == N_FILES and summary.skipped == []
    assert summary.bytes_on_disk > 0 and summary.seconds > 0
    manifest = json.loads((root / sd.MANIFEST_NAME).read_text())
    assert manifest["version"] == sd.GENERATOR_VERSION
    assert sorted(manifest["files"]) == sorted(summary.written)
    for rel, digest in manifest["files"].items():
        assert sd.sha256(root / rel) == digest
    top = {p.name for p in root.iterdir()}
    assert top == {"earthenginepartners-hansen", "noaa-cdr-sea-surface-temp-optimum-interpolation-pds", "era-interim", sd.MANIFEST_NAME}
    assert not list(root.rglob("*.part"))


def test_generation_is_byte_identical(generated: tuple[Path, sd.GenerationSummary], tmp_path: Path) -> None:
    """Writing again, in this process instead of the workers, gives the same bytes."""
    root, _ = generated
    manifest = sd.read_manifest(root)
    sd._landscape.cache_clear()
    again = {
        sd.glad_path(2000, root=root): sd.make_glad_tile(2000, path=tmp_path / "2000.tif"),
        sd.glad_path(2020, root=root): sd.make_glad_tile(2020, path=tmp_path / "2020.tif"),
        sd.oisst_path("2024-08-01", root): sd.make_oisst_file("2024-08-01", tmp_path / "01.nc"),
        sd.oisst_path("2024-08-31", root): sd.make_oisst_file("2024-08-31", tmp_path / "31.nc"),
        sd.era_path(root): sd.make_era_file(tmp_path / "era.nc"),
    }
    for original, copy in again.items():
        assert sd.sha256(copy) == manifest[original.relative_to(root).as_posix()], original.name


def test_generate_skips_what_is_up_to_date(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    summary = sd.generate(root, workers=1)
    assert summary.written == [] and len(summary.skipped) == N_FILES


def test_generate_rewrites_tampered_and_missing_files(generated: tuple[Path, sd.GenerationSummary]) -> None:
    root, _ = generated
    manifest = sd.read_manifest(root)
    tampered = sd.oisst_path("2024-08-15", root)
    missing = sd.glad_path(2015, root=root)
    tampered.write_bytes(tampered.read_bytes()[:-10] + b"x" * 10)
    missing.unlink()
    summary = sd.generate(root, workers=1)
    rels = sorted(p.relative_to(root).as_posix() for p in (tampered, missing))
    assert summary.written == rels
    assert len(summary.skipped) == N_FILES - 2
    for rel in rels:
        assert sd.sha256(root / rel) == manifest[rel]


def test_generate_force_and_stale_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sd, "_targets", lambda r: {sd.era_path(r).relative_to(r).as_posix(): ("era",)})
    era = ["era-interim/eraint_uvz_sample.nc"]
    assert sd.generate(tmp_path, workers=1).written == era
    assert sd.generate(tmp_path, workers=1).skipped == era
    assert sd.generate(tmp_path, force=True, workers=1).written == era
    monkeypatch.setattr(sd, "GENERATOR_VERSION", sd.GENERATOR_VERSION + 1)
    assert sd.read_manifest(tmp_path) == {}  # a manifest from another version counts for nothing
    assert sd.generate(tmp_path, workers=1).written == era


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from utils import ocean_model

    monkeypatch.setattr(sd, "_targets", lambda r: {sd.era_path(r).relative_to(r).as_posix(): ("era",)})
    monkeypatch.setattr(ocean_model, "MONTHS", ocean_model.MONTHS[:1])
    assert sd.main(["--root", str(tmp_path), "--workers", "1"]) == 0
    assert "wrote 5 file(s), skipped 0" in capsys.readouterr().out  # the ERA file, 4 ocean-model files
    assert sd.main(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "wrote 0 file(s), skipped 5" in out and "MB on disk" in out
