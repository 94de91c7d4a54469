"""Virtual references to local files through Icechunk, with the plain calls notebook 04 teaches.

A folder's container prefix is the unencoded ``"file://" + folder.as_posix() + "/"`` (folder names
with spaces and non-ASCII letters work); Icechunk reads a virtual chunk only from a container the
reader authorized, and refuses references no container covers. (The netCDF3 work-around and the
real ERA-Interim file are tested in test_workarounds.py; GeoTIFFs in test_virtual_geotiff.py.)
"""

from __future__ import annotations

from pathlib import Path

import icechunk
import numpy as np
import pytest
import virtualizarr as vz
import xarray as xr
from virtualizarr.parsers import HDFParser

from virtual_local import create_repo, local_registry, prefix_of


@pytest.fixture
def nc4_file(tmp_path: Path) -> Path:
    """A small netCDF4/HDF5 file with a packed, compressed, chunked variable, in an odd folder name."""
    folder = tmp_path / "my files, día 1 (copy)"
    folder.mkdir()
    values = np.random.default_rng(0).uniform(-2, 30, size=(2, 6, 8)).round(2)
    values[0, 0, 0] = np.nan
    ds = xr.Dataset({"sst": (("time", "lat", "lon"), values)},
                    coords={"time": [0.0, 1.0], "lat": np.arange(6.0), "lon": np.arange(8.0)})
    encoding = {"sst": {"dtype": "int16", "scale_factor": 0.01, "_FillValue": -999, "zlib": True, "chunksizes": (1, 6, 8)}}
    path = folder / "day.nc"
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path


def virtual(path: Path) -> xr.Dataset:
    return vz.open_virtual_dataset(prefix_of(path.parent) + path.name, registry=local_registry(path.parent),
                                   parser=HDFParser())


def commit_virtual(nc4_file: Path, tmp_path: Path) -> tuple[icechunk.Storage, dict]:
    storage, credentials = create_repo(tmp_path / "repo", nc4_file.parent)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    session = repo.writable_session("main")
    virtual(nc4_file).vz.to_icechunk(session.store)
    session.commit("virtual")
    return storage, credentials


def test_round_trip_from_a_folder_with_spaces(nc4_file: Path, tmp_path: Path) -> None:
    assert virtual(nc4_file).vz.nrefs() == 2
    storage, credentials = commit_virtual(nc4_file, tmp_path)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    back = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, chunks=None)
    with xr.open_dataset(nc4_file, engine="h5netcdf") as direct:
        xr.testing.assert_allclose(back.load(), direct.load())


def test_unauthorized_container_is_refused(nc4_file: Path, tmp_path: Path) -> None:
    storage, _ = commit_virtual(nc4_file, tmp_path)
    stranger = icechunk.Repository.open(storage)  # no authorize_virtual_chunk_access
    lazy = xr.open_zarr(stranger.readonly_session("main").store, consolidated=False, chunks=None)
    assert lazy.sizes["time"] == 2  # metadata reads fine
    with pytest.raises(icechunk.IcechunkError, match="authorize the virtual chunk container"):
        lazy["sst"].values


def test_references_outside_every_container_are_refused(nc4_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    storage, credentials = create_repo(tmp_path / "repo", other)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    with pytest.raises(ValueError, match="No Virtual Chunk Container"):
        virtual(nc4_file).vz.to_icechunk(repo.writable_session("main").store)


def test_a_container_prefix_must_end_with_a_slash(tmp_path: Path) -> None:
    config = icechunk.RepositoryConfig.default()
    with pytest.raises(ValueError, match="must end in a /"):
        config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(
            prefix_of(tmp_path).rstrip("/"), icechunk.local_filesystem_store(str(tmp_path))))


def test_upstream_set_virtual_ref_still_rejects_folder_names_that_need_encoding(tmp_path: Path) -> None:
    """Icechunk 2.3 percent-encodes a location before matching containers: notebook 04 section 6 checks
    the prefix itself and passes ``validate_container=False``. If this fails, drop that step there."""
    import zarr

    folder = tmp_path / "my files, día 1"
    folder.mkdir()
    (folder / "values.bin").write_bytes(np.arange(10, dtype="<i2").tobytes())
    storage, credentials = create_repo(tmp_path / "repo", folder)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="a", shape=(10,), chunks=(10,), dtype="int16", compressors=None)
    url = prefix_of(folder) + "values.bin"
    with pytest.raises(icechunk.IcechunkError, match="no matching virtual chunk container"):
        session.store.set_virtual_ref("a/c/0", url, offset=0, length=20)
    session.store.set_virtual_ref("a/c/0", url, offset=0, length=20, validate_container=False)
    session.commit("one reference")
    read = zarr.open_array(repo.readonly_session("main").store, path="a", mode="r")[:]
    np.testing.assert_array_equal(read, np.arange(10))  # reading the same location works


@pytest.mark.parametrize("calendar", ["noleap", "360_day"])
def test_model_calendars_decode_directly_and_virtually(tmp_path: Path, calendar: str) -> None:
    """Model output uses calendars numpy cannot hold (noleap, 360_day): cftime, in the lock, decodes
    them in xarray and in the virtual route, where ``time`` is loaded from the file."""
    folder = tmp_path / "model"
    folder.mkdir()
    time = xr.date_range("2001-02-27", periods=4, freq="D", calendar=calendar, use_cftime=True)
    ds = xr.Dataset({"tas": (("time", "lat"), np.arange(8.0).reshape(4, 2))}, coords={"time": time, "lat": [0.0, 1.0]})
    path = folder / "tas.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    vds = vz.open_virtual_dataset(prefix_of(folder) + path.name, registry=local_registry(folder), parser=HDFParser(),
                                  loadable_variables=["time", "lat"], decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    with xr.open_dataset(path, engine="h5netcdf", decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as direct:
        assert direct["time"].dt.calendar == calendar
        assert [t.day for t in direct["time"].values] == [t.day for t in time]  # 28 Feb -> 1 Mar, or 30 Feb
        assert list(vds["time"].values) == list(direct["time"].values)
