"""Unit tests for utils.virtual: local registries, containers, credentials, the netCDF3 work-around."""

from __future__ import annotations

import warnings
from pathlib import Path

import icechunk
import numpy as np
import obstore
import pytest
import virtualizarr as vz
import xarray as xr
from virtualizarr.parsers import HDFParser
from virtualizarr.parsers import NetCDF3Parser as UpstreamNetCDF3Parser
from virtualizarr.parsers import netcdf3 as upstream_netcdf3

from utils import virtual
from utils.paths import REPO_ROOT, SAMPLE_DIR


@pytest.fixture
def nc4_file(tmp_path: Path) -> Path:
    """A small netCDF4/HDF5 file with a packed, compressed, chunked variable."""
    folder = tmp_path / "files"
    folder.mkdir()
    rng = np.random.default_rng(0)
    values = rng.uniform(-2, 30, size=(2, 6, 8)).round(2)
    values[0, 0, 0] = np.nan
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), values)},
        coords={"time": [0.0, 1.0], "lat": np.arange(6.0), "lon": np.arange(8.0)},
    )
    encoding = {"sst": {"dtype": "int16", "scale_factor": 0.01, "_FillValue": -999, "zlib": True,
                        "chunksizes": (1, 6, 8)}}
    path = folder / "day.nc"
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path


def _repo(path: Path, folder: Path) -> icechunk.Repository:
    """A new repository whose one container covers ``folder``, authorized."""
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(virtual.local_container(folder))
    return icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(path)), config=config,
        authorize_virtual_chunk_access=virtual.local_credentials(folder),
    )


def _nan_fill_netcdf3(path: Path) -> Path:
    """A netCDF3 file with an int16 variable whose _FillValue is NaN (as in ERA-Interim's file)."""
    from scipy.io import netcdf_file

    with np.errstate(invalid="ignore"), netcdf_file(path, "w", version=2) as nc:
        nc.createDimension("x", 5)
        var = nc.createVariable("z", "h", ("x",))
        var[:] = np.arange(5, dtype=np.int16)
        var.scale_factor = np.float64(0.5)
        var.add_offset = np.float64(10.0)
        var._FillValue = np.float64(np.nan)
    return path


# -- URLs, registries, containers, credentials ----------------------------------------------


def test_folder_and_file_urls(nc4_file: Path) -> None:
    url = virtual.folder_url(nc4_file.parent)
    assert url.startswith("file:///") and url.endswith("/")
    assert virtual.file_url(nc4_file) == url + "day.nc"
    assert virtual.folder_url(str(nc4_file.parent)) == url


def test_missing_folder_and_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        virtual.folder_url(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no such file"):
        virtual.file_url(tmp_path / "nope.nc")
    with pytest.raises(FileNotFoundError):
        virtual.local_registry(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        virtual.local_container(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        virtual.local_credentials(tmp_path / "nope")


def test_file_where_a_folder_is_expected_and_vice_versa(nc4_file: Path) -> None:
    with pytest.raises(NotADirectoryError, match="path.parent"):
        virtual.local_container(nc4_file)
    with pytest.raises(IsADirectoryError):
        virtual.file_url(nc4_file.parent)


def test_credentials_need_a_folder_and_use_the_explicit_local_sentinel(nc4_file: Path) -> None:
    with pytest.raises(ValueError, match="at least one folder"):
        virtual.local_credentials()
    creds = virtual.local_credentials(nc4_file.parent)
    assert list(creds) == [virtual.folder_url(nc4_file.parent)]
    assert isinstance(next(iter(creds.values())), icechunk.credentials.Credentials.LocalFileSystemAccess)


def test_registry_reads_files_below_the_folder(nc4_file: Path) -> None:
    registry = virtual.local_registry(nc4_file.parent)
    store, key = registry.resolve(virtual.file_url(nc4_file))
    assert key == "day.nc"
    assert bytes(obstore.get_range(store, key, start=0, length=8)) == nc4_file.read_bytes()[:8]


def test_container_prefix_is_the_folder_url(nc4_file: Path) -> None:
    container = virtual.local_container(nc4_file.parent)
    assert container.url_prefix == virtual.folder_url(nc4_file.parent)


def test_round_trip_through_icechunk(nc4_file: Path, tmp_path: Path) -> None:
    folder = nc4_file.parent
    vds = vz.open_virtual_dataset(virtual.file_url(nc4_file), registry=virtual.local_registry(folder),
                                  parser=HDFParser())
    assert vds.vz.nrefs() == 2
    repo = _repo(tmp_path / "repo", folder)
    session = repo.writable_session("main")
    vds.vz.to_icechunk(session.store)
    session.commit("virtual")

    reopened = icechunk.Repository.open(icechunk.local_filesystem_storage(str(tmp_path / "repo")),
                                        authorize_virtual_chunk_access=virtual.local_credentials(folder))
    back = xr.open_zarr(reopened.readonly_session("main").store, consolidated=False, chunks=None)
    with xr.open_dataset(nc4_file, engine="h5netcdf") as original:
        xr.testing.assert_allclose(back.load(), original.load())


def _opened_without_authorization(nc4_file: Path, tmp_path: Path) -> xr.Dataset:
    """Commit a virtual dataset of ``nc4_file``, then open the repository as a stranger would:
    without authorizing its virtual chunk container."""
    folder = nc4_file.parent
    vds = vz.open_virtual_dataset(virtual.file_url(nc4_file), registry=virtual.local_registry(folder),
                                  parser=HDFParser())
    repo = _repo(tmp_path / "repo", folder)
    session = repo.writable_session("main")
    vds.vz.to_icechunk(session.store)
    session.commit("virtual")
    stranger = icechunk.Repository.open(icechunk.local_filesystem_storage(str(tmp_path / "repo")))
    return xr.open_zarr(stranger.readonly_session("main").store, consolidated=False, chunks=None)


def test_unauthorized_container_is_refused(nc4_file: Path, tmp_path: Path) -> None:
    ds = _opened_without_authorization(nc4_file, tmp_path)
    with pytest.raises(icechunk.IcechunkError, match="authorize"):
        ds["sst"].values


def test_references_outside_every_container_are_refused(nc4_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    vds = vz.open_virtual_dataset(virtual.file_url(nc4_file), registry=virtual.local_registry(nc4_file.parent),
                                  parser=HDFParser())
    repo = _repo(tmp_path / "repo", other)
    with pytest.raises(ValueError, match="No Virtual Chunk Container"):
        vds.vz.to_icechunk(repo.writable_session("main").store)


# -- netCDF3 with a NaN fill value on integers ----------------------------------------------


def test_upstream_netcdf3_parser_still_fails_on_nan_fill(tmp_path: Path) -> None:
    """If this starts failing, VirtualiZarr fixed the bug: drop utils.virtual.NetCDF3Parser."""
    path = _nan_fill_netcdf3(tmp_path / "nanfill.nc")
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        UpstreamNetCDF3Parser()(virtual.file_url(path), virtual.local_registry(tmp_path))


def test_netcdf3_parser_drops_nan_fill_and_reads_like_xarray(tmp_path: Path) -> None:
    path = _nan_fill_netcdf3(tmp_path / "nanfill.nc")
    store = virtual.NetCDF3Parser()(virtual.file_url(path), virtual.local_registry(tmp_path))
    assert upstream_netcdf3._parse_header.__name__ == "_parse_header"  # the patch is undone
    through_refs = xr.open_zarr(store, consolidated=False, chunks=None, zarr_format=3).load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xr.SerializationWarning)  # xarray drops the NaN fill too
        direct = xr.open_dataset(path, engine="scipy").load()
    xr.testing.assert_identical(through_refs, direct)
    np.testing.assert_allclose(through_refs["z"].values, 10 + 0.5 * np.arange(5))


def test_netcdf3_parser_keeps_a_real_fill_value(tmp_path: Path) -> None:
    from scipy.io import netcdf_file

    path = tmp_path / "fill.nc"
    with netcdf_file(path, "w", version=1) as nc:
        nc.createDimension("x", 3)
        var = nc.createVariable("a", "h", ("x",))
        var[:] = np.array([1, -1, 3], np.int16)
        var._FillValue = np.int16(-1)
    ds = vz.open_virtual_dataset(virtual.file_url(path), registry=virtual.local_registry(tmp_path),
                                 parser=virtual.NetCDF3Parser())
    assert ds["a"].attrs["_FillValue"] == -1
    store = virtual.NetCDF3Parser()(virtual.file_url(path), virtual.local_registry(tmp_path))
    values = xr.open_zarr(store, consolidated=False, chunks=None, zarr_format=3)["a"].values
    np.testing.assert_array_equal(values, [1, np.nan, 3])


def test_netcdf3_parser_refuses_a_file_that_is_not_netcdf3(nc4_file: Path) -> None:
    with pytest.raises(ValueError):
        virtual.NetCDF3Parser()(virtual.file_url(nc4_file), virtual.local_registry(nc4_file.parent))
    assert upstream_netcdf3._parse_header.__name__ == "_parse_header"  # undone after a failure too


# -- keeping machine paths out of outputs ---------------------------------------------------


def test_redact_and_display_url() -> None:
    sample_file = Path(SAMPLE_DIR).resolve() / "bucket" / "key.nc"
    assert virtual.display_url(sample_file.as_uri()) == "file:///.../data/sample/bucket/key.nc"
    assert virtual.redact(f"see {sample_file}") == "see data/sample/bucket/key.nc"
    assert virtual.redact(f"at {REPO_ROOT.resolve() / 'notebooks'}") == "at ./notebooks"
    assert virtual.redact((REPO_ROOT.resolve() / "x.nc").as_uri()) == "file:///.../x.nc"
    s3 = "s3://noaa-cdr-sea-surface-temp-optimum-interpolation-pds/data/x.nc"
    assert virtual.display_url(s3) == s3


def test_hide_paths_keeps_the_error_type_and_drops_the_path() -> None:
    path = Path(SAMPLE_DIR).resolve() / "bucket" / "key.nc"
    with pytest.raises(KeyError) as info:
        with virtual.hide_paths():
            raise KeyError(f"missing {path.as_uri()}")
    assert str(path) not in str(info.value) and "file:///.../data/sample/bucket/key.nc" in str(info.value)

    original = ValueError("nothing machine-specific here")
    with pytest.raises(ValueError) as info:
        with virtual.hide_paths():
            raise original
    assert info.value is original  # re-raised unchanged


def test_hide_paths_with_an_icechunk_error(nc4_file: Path, tmp_path: Path) -> None:
    ds = _opened_without_authorization(nc4_file, tmp_path)
    with pytest.raises(icechunk.IcechunkError):
        with virtual.hide_paths():
            ds["sst"].values
