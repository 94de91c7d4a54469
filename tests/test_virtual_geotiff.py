"""Virtual GeoTIFFs read through Icechunk equal the direct rioxarray read: values and coordinates.

Notebook 04's recipe: virtual-tiff gives the pixels as references (one per tile or strip) but no
coordinates and no CRS; those come from the same file's header as rasterio/rioxarray read it
(``rioxarray.open_rasterio(path)``: its ``x``, ``y`` and ``spatial_ref``), never from the GeoTIFF
tags by hand. These tests write small TIFFs with rasterio in each layout a real archive holds
(PixelIsArea and PixelIsPoint, geographic and projected, north-up and south-up, tiled and striped,
uint8, int16 and float32 with nodata), follow the recipe through Icechunk, and compare exactly;
overviews too.

The real Landsat file ``RGB.byte.tif`` (tests/realdata.py) pins down two refusals of virtual-tiff
0.5 and that a re-tiled copy reads back exactly.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import icechunk
import numpy as np
import pytest
import rasterio
import rioxarray
import virtualizarr as vz
import xarray as xr
from affine import Affine
from virtual_tiff import VirtualTIFF

from realdata import realdata_file
from virtual_local import create_repo, local_registry, prefix_of

# rioxarray computes coordinates with affine's deprecated `*` (its own internals, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

ROWS, COLS = 64, 48
LAYOUTS = list(itertools.product(
    [("uint8", 255), ("int16", -999), ("float32", float("nan"))],
    ["EPSG:4326", "EPSG:32633"],  # geographic, projected (UTM 33N)
    ["north-up", "south-up"],  # south-up files have a ModelTransformation tag, not a tiepoint
    ["Area", "Point"],  # GDAL's AREA_OR_POINT: PixelIsArea or PixelIsPoint
    ["tiled", "striped"],
))


def write_tiff(path: Path, dtype: str, nodata: float, crs: str, orientation: str, pixel: str, layout: str) -> Path:
    values = np.random.default_rng(0).integers(0, 200, (ROWS, COLS)).astype(dtype)
    values[0, :3] = nodata  # a few nodata cells
    origin_x, origin_y, step = (10.0, 50.0, 0.01) if crs == "EPSG:4326" else (500000.0, 5000000.0, 30.0)
    if orientation == "north-up":
        transform = Affine(step, 0, origin_x, 0, -step, origin_y)
    else:  # first row is the southernmost
        transform = Affine(step, 0, origin_x, 0, step, origin_y - ROWS * step)
    blocks = {"tiled": True, "blockxsize": 16, "blockysize": 16} if layout == "tiled" else {"blockysize": 8}
    with rasterio.open(path, "w", driver="GTiff", width=COLS, height=ROWS, count=1, dtype=dtype, crs=crs,
                       transform=transform, nodata=nodata, compress="deflate", **blocks) as dst:
        dst.update_tags(AREA_OR_POINT=pixel)
        dst.write(values, 1)
    return path


def virtual_geotiff(path: Path) -> xr.Dataset:
    """Notebook 04's recipe: references from virtual-tiff, x/y and CRS from rioxarray."""
    vds = vz.open_virtual_dataset(prefix_of(path.parent) + path.name, registry=local_registry(path.parent),
                                  parser=VirtualTIFF(ifd=0))
    header = rioxarray.open_rasterio(path)  # lazy: reads the header only
    return vds.rename({"0": "data"}).assign_coords(x=header.x, y=header.y, spatial_ref=header.spatial_ref)


def through_icechunk(vds: xr.Dataset, folder: Path, repo_path: Path) -> xr.Dataset:
    """Write ``vds`` to a new repository whose container covers ``folder``; read it back, authorized."""
    storage, credentials = create_repo(repo_path, folder)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    session = repo.writable_session("main")
    vds.vz.to_icechunk(session.store)
    session.commit("virtual GeoTIFF")
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    return xr.open_zarr(repo.readonly_session("main").store, consolidated=False, chunks=None, mask_and_scale=False)


@pytest.fixture(scope="module")
def tiff_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("virtual") / "GeoTIFFs, día 1 (copy)"  # any folder name works
    folder.mkdir()
    return folder


@pytest.mark.parametrize("kind, crs, orientation, pixel, layout", LAYOUTS,
                         ids=["-".join([k[0], c, o, p, l]) for k, c, o, p, l in LAYOUTS])
def test_virtual_read_equals_direct_read(tiff_folder: Path, tmp_path: Path, kind: tuple[str, float], crs: str,
                                         orientation: str, pixel: str, layout: str) -> None:
    dtype, nodata = kind
    name = f"{dtype}_{crs[5:]}_{orientation}_{pixel}_{layout}.tif"
    path = write_tiff(tiff_folder / name, dtype, nodata, crs, orientation, pixel, layout)
    back = through_icechunk(virtual_geotiff(path), tiff_folder, tmp_path / "repo")
    direct = rioxarray.open_rasterio(path).squeeze("band", drop=True).load()  # GDAL, the standard route

    assert back["data"].dtype == direct.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back["data"].values, direct.values)  # NaN nodata compares equal here
    np.testing.assert_array_equal(back["x"].values, direct["x"].values)  # exactly, not to rounding
    np.testing.assert_array_equal(back["y"].values, direct["y"].values)
    assert back.rio.crs == direct.rio.crs == rasterio.crs.CRS.from_string(crs)
    assert back.rio.transform() == direct.rio.transform()
    assert np.isnan(back["data"].attrs["_FillValue"]) if np.isnan(nodata) else back["data"].attrs["_FillValue"] == nodata


@pytest.mark.parametrize("level", [0, 1])
def test_overviews_read_back_exactly(tiff_folder: Path, tmp_path: Path, level: int) -> None:
    """A COG's overviews are IFDs 1, 2, ...: ``VirtualTIFF(ifd=level + 1)`` references one of them, and it
    reads back through Icechunk exactly as GDAL reads that overview (``overview_level=level``)."""
    path = tiff_folder / "with-overviews.tif"
    if not path.exists():
        values = np.random.default_rng(1).integers(0, 200, (256, 256)).astype("uint8")
        with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=1, dtype="uint8",
                           crs="EPSG:4326", transform=Affine(0.01, 0, 10.0, 0, -0.01, 50.0), nodata=255,
                           compress="deflate", tiled=True, blockxsize=64, blockysize=64) as dst:
            dst.write(values, 1)
        with rasterio.open(path, "r+") as dst:
            dst.build_overviews([2, 4], rasterio.enums.Resampling.nearest)
    registry = local_registry(tiff_folder)
    vds = vz.open_virtual_dataset(prefix_of(tiff_folder) + path.name, registry=registry,
                                  parser=VirtualTIFF(ifd=level + 1)).rename({str(level + 1): "data"})  # named by its IFD
    direct = rioxarray.open_rasterio(path, overview_level=level).squeeze("band", drop=True).load()
    vds = vds.assign_coords(x=direct.x, y=direct.y)

    back = through_icechunk(vds, tiff_folder, tmp_path / "repo")
    assert back["data"].shape == direct.shape == (256 // 2 ** (level + 1),) * 2
    np.testing.assert_array_equal(back["data"].values, direct.values)


def test_pixel_is_point_is_where_the_tag_recipe_goes_wrong(tiff_folder: Path) -> None:
    """Why 04 no longer computes coordinates from the tiepoint: for PixelIsPoint files the tiepoint is a
    pixel centre, so 'tiepoint + half a pixel' is half a pixel off; GDAL knows, rioxarray follows."""
    path = write_tiff(tiff_folder / "point.tif", "uint8", 255, "EPSG:4326", "north-up", "Point", "tiled")
    registry = local_registry(tiff_folder)
    tags = vz.open_virtual_dataset(prefix_of(tiff_folder) + path.name, registry=registry,
                                   parser=VirtualTIFF(ifd=0))["0"].attrs
    _, _, _, x0, _, _ = tags["model_tiepoint"]
    dx = tags["model_pixel_scale"][0]
    naive_x = x0 + (np.arange(COLS) + 0.5) * dx
    direct = rioxarray.open_rasterio(path)
    np.testing.assert_allclose(naive_x - direct["x"].values, dx / 2)  # half a pixel east, silently


# -- RGB.byte.tif, a real Landsat GeoTIFF ---------------------------------------------------


def test_rgb_byte_tif_strips_are_refused_clearly() -> None:
    """718 rows in strips of 3 rows: a partial last strip, which Zarr's regular chunks cannot hold.

    If this fails, virtual-tiff learned to read such files: say so in notebook 04.
    """
    path = realdata_file("RGB.byte.tif")
    registry = local_registry(path.parent)
    with pytest.raises(ValueError, match="evenly divisible"):
        vz.open_virtual_dataset(prefix_of(path.parent) + path.name, registry=registry, parser=VirtualTIFF(ifd=0))


def retile(source: Path, target: Path, interleave: str) -> Path:
    """The real file's pixels as a tiled GeoTIFF (GDAL re-encodes them; the source is untouched)."""
    with rasterio.open(source) as src:
        profile = src.profile | {"tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
                                 "interleave": interleave}
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(src.read())
    return target


def test_rgb_byte_tif_retiled_reads_back_exactly(tmp_path: Path) -> None:
    source = realdata_file("RGB.byte.tif")
    folder = tmp_path / "tiled copy"
    folder.mkdir()
    path = retile(source, folder / "rgb_tiled.tif", interleave="band")
    back = through_icechunk(virtual_geotiff(path), folder, tmp_path / "repo")
    direct = rioxarray.open_rasterio(source).load()  # the original stripped file, read by GDAL
    assert back["data"].shape == direct.shape == (3, 718, 791)
    np.testing.assert_array_equal(back["data"].values, direct.values)
    np.testing.assert_array_equal(back["x"].values, direct["x"].values)
    np.testing.assert_array_equal(back["y"].values, direct["y"].values)
    assert back.rio.crs.to_epsg() == direct.rio.crs.to_epsg() == 32618


def test_pixel_interleaved_tiff_fails_on_this_stack(tmp_path: Path) -> None:
    """virtual-tiff 0.5 builds its chunky codec with zarr's old Endian enum; zarr 3.4 refuses it.

    If this fails, the pixel-interleaved layout (GDAL's default for RGB files) works again.
    """
    path = retile(realdata_file("RGB.byte.tif"), tmp_path / "rgb_pixel.tif", interleave="pixel")
    registry = local_registry(tmp_path)
    with pytest.raises(TypeError, match="Endian"):
        vz.open_virtual_dataset(prefix_of(tmp_path) + path.name, registry=registry, parser=VirtualTIFF(ifd=0))
