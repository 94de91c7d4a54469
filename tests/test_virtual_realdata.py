"""Virtualization on real files nobody in this project wrote (tests/realdata.py finds them).

Each test virtualizes a real file, writes the references to an Icechunk repository in
``tmp_path`` (with a virtual chunk container for the file's folder), reads them back and compares
with a direct read. The real files are only read, never copied or committed.

What these files taught us (and the tests pin down, so an upgrade that changes it is noticed):

- ``eraint_uvz.nc`` (netCDF3) declares ``_FillValue = NaN`` on its packed int16 variables;
  VirtualiZarr 2.8's ``NetCDF3Parser`` fails on that, ``utils.virtual.NetCDF3Parser`` works.
- ``RGB.byte.tif`` is stripped (3 rows per strip, 718 rows: a partial last strip) and
  pixel-interleaved; virtual-tiff refuses it (Zarr needs equal chunks). Its pixels, re-tiled by
  GDAL into a tiled band-interleaved GeoTIFF in ``tmp_path``, virtualize and read back exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import icechunk
import numpy as np
import pytest
import rasterio
import virtualizarr as vz
import xarray as xr
from realdata import realdata_file
from virtual_tiff import VirtualTIFF
from virtualizarr.parsers import NetCDF3Parser as UpstreamNetCDF3Parser

from utils import virtual
from utils.raster import open_raster


def _write_and_reopen(vds: xr.Dataset, repo_path: Path, folder: Path) -> xr.Dataset:
    """Write ``vds`` into a new repository with a container for ``folder``; reopen it authorized."""
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(virtual.local_container(folder))
    storage = icechunk.local_filesystem_storage(str(repo_path))
    repo = icechunk.Repository.create(storage, config=config,
                                      authorize_virtual_chunk_access=virtual.local_credentials(folder))
    session = repo.writable_session("main")
    vds.vz.to_icechunk(session.store)
    session.commit("virtual references to a real file")
    reopened = icechunk.Repository.open(storage, authorize_virtual_chunk_access=virtual.local_credentials(folder))
    return xr.open_zarr(reopened.readonly_session("main").store, consolidated=False, chunks=None,
                        mask_and_scale=False)


# -- ERA-Interim, netCDF3 -------------------------------------------------------------------


def test_eraint_netcdf3_round_trip(tmp_path: Path) -> None:
    path = realdata_file("eraint_uvz.nc")
    registry = virtual.local_registry(path.parent)
    vds = vz.open_virtual_dataset(virtual.file_url(path), registry=registry, parser=virtual.NetCDF3Parser())
    assert vds.vz.nrefs() == 3  # z, u, v: one contiguous block each
    assert dict(vds.sizes) == {"month": 2, "level": 3, "latitude": 241, "longitude": 480}

    back = xr.decode_cf(_write_and_reopen(vds, tmp_path / "repo", path.parent))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xr.SerializationWarning)  # xarray drops the NaN fill value too
        direct = xr.open_dataset(path, engine="scipy").load()
    xr.testing.assert_allclose(back.load(), direct)
    for name in ("z", "u", "v"):
        assert back[name].attrs["units"] == direct[name].attrs["units"]


def test_eraint_needs_the_nan_fill_work_around() -> None:
    """If this fails, VirtualiZarr reads the file itself: drop utils.virtual.NetCDF3Parser."""
    path = realdata_file("eraint_uvz.nc")
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        UpstreamNetCDF3Parser()(virtual.file_url(path), virtual.local_registry(path.parent))


# -- RGB.byte.tif, a Landsat GeoTIFF --------------------------------------------------------


def test_rgb_byte_tif_as_stored_is_refused_by_virtual_tiff() -> None:
    """Partial last strip: virtual-tiff says so (if this fails, virtual-tiff learned to read it)."""
    path = realdata_file("RGB.byte.tif")
    with pytest.raises(ValueError, match="evenly divisible"):
        VirtualTIFF(ifd=0)(virtual.file_url(path), virtual.local_registry(path.parent))


def _retile(source: Path, target: Path, **options: object) -> Path:
    """Write the real file's pixels as a tiled GeoTIFF (GDAL re-encodes them; the source is untouched)."""
    with rasterio.open(source) as src:
        profile = src.profile | {"tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
        profile.update(options)
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(src.read())
    return target


# rioxarray 0.23 computes coordinates with affine's deprecated `*` (its own internals, not ours).
@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
def test_rgb_byte_tif_pixels_round_trip(tmp_path: Path) -> None:
    path = realdata_file("RGB.byte.tif")
    folder = tmp_path / "tiff"
    folder.mkdir()
    tiled = _retile(path, folder / "rgb_tiled.tif", interleave="band")

    vds = vz.open_virtual_dataset(virtual.file_url(tiled), registry=virtual.local_registry(folder),
                                  parser=VirtualTIFF(ifd=0))
    tags = vds["0"].attrs
    _, _, _, x0, y0, _ = tags["model_tiepoint"]
    dx, dy, _ = tags["model_pixel_scale"]
    _, ny, nx = vds["0"].shape
    vds = vds.rename({"0": "rgb"}).assign_coords(
        x=x0 + (np.arange(nx) + 0.5) * dx, y=y0 - (np.arange(ny) + 0.5) * dy
    )
    back = _write_and_reopen(vds, tmp_path / "repo", folder)

    direct = open_raster(path)  # the original file, read by GDAL through rioxarray
    assert back["rgb"].shape == direct.shape == (3, 718, 791)
    np.testing.assert_array_equal(back["rgb"].values, direct.values)
    np.testing.assert_allclose(back["x"], direct["x"])
    np.testing.assert_allclose(back["y"], direct["y"])
    assert int(tags["projected_type"]) == direct.rio.crs.to_epsg() == 32618


def test_pixel_interleaved_tiff_fails_on_this_stack(tmp_path: Path) -> None:
    """virtual-tiff 0.5 builds its chunky codec with zarr's old Endian enum; zarr 3.4 refuses it.

    If this fails, the pixel-interleaved layout works again (GDAL's default for RGB files).
    """
    path = realdata_file("RGB.byte.tif")
    tiled = _retile(path, tmp_path / "rgb_pixel.tif", interleave="pixel")
    with pytest.raises(TypeError, match="Endian"):
        VirtualTIFF(ifd=0)(virtual.file_url(tiled), virtual.local_registry(tmp_path))
