"""Unit tests for utils.raster.open_raster: good files open, bad ones explain themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from realdata import realdata_file

from utils import sample_data as sd
from utils.paths import SAMPLE_DIR
from utils.raster import RasterReadError, open_raster


def test_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    missing = tmp_path / "2000" / "50N_080W.tif"
    with pytest.raises(FileNotFoundError) as info:
        open_raster(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "./course.sh setup" in message and "python -m utils.sample_data" in message


def test_missing_sample_file_is_named_as_the_course_names_it() -> None:
    missing = SAMPLE_DIR / "earthenginepartners-hansen" / "no-such-folder" / "tile.tif"
    with pytest.raises(FileNotFoundError, match=r"data/sample/earthenginepartners-hansen/no-such-folder/tile\.tif"):
        open_raster(missing)


def test_corrupt_tiff_is_a_clear_value_error() -> None:
    corrupt = realdata_file("corrupt.tif")
    with pytest.raises(RasterReadError) as info:
        open_raster(corrupt)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "corrupt.tif is not a readable GeoTIFF" in message
    assert "GDAL said" in message and "TIFFReadEncodedTile" in message  # GDAL's own words
    assert "delete it" in message and "python -m utils.sample_data" in message


def test_a_file_that_is_not_a_raster(tmp_path: Path) -> None:
    fake = tmp_path / "50N_080W.tif"
    fake.write_text("<html>403 Forbidden</html>")
    with pytest.raises(RasterReadError, match="not a readable GeoTIFF.*not recognized"):
        open_raster(fake)


def test_real_geotiff_opens() -> None:
    da = open_raster(realdata_file("RGB.byte.tif"))
    assert da.shape == (3, 718, 791) and da.dtype == "uint8"
    assert da.rio.crs.to_epsg() == 32618


def test_sample_tile_opens_with_options(tmp_path: Path) -> None:
    path = sd.make_glad_tile(2020, path=tmp_path / "tile.tif", size=1024)
    da = open_raster(path)
    assert da.dims == ("band", "y", "x") and da.shape == (1, 1024, 1024) and da.dtype == "uint8"
    assert da.rio.crs.to_epsg() == 4326 and da.rio.nodata == 255
    assert "Synthetic" in da.attrs["SAMPLE_DATA"]
    masked = open_raster(path, masked=True, overview_level=0)
    assert masked.shape == (1, 512, 512) and masked.dtype == "float32"
    with pytest.raises(Exception) as info:  # a bad option is not reported as a corrupt file
        open_raster(path, overview_level=5)
    assert not isinstance(info.value, RasterReadError)
