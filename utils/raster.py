"""Open rasters with errors that say what went wrong and what to do.

Notebooks open land-cover tiles through :func:`open_raster`, a thin wrapper
around :func:`rioxarray.open_rasterio` that turns GDAL's terse failures into
messages a learner can act on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from utils.paths import display

#: Prefixes that mean "let GDAL fetch it": URLs and GDAL virtual file systems.
_REMOTE_PREFIXES = ("http://", "https://", "s3://", "gs://", "az://", "/vsi")

_REGENERATE = "run `./course.sh setup` (or `python -m utils.sample_data`) to create the sample data"


class RasterReadError(ValueError):
    """A file exists but is not a raster GDAL can read (corrupt, truncated, or not a GeoTIFF)."""


def _is_remote(source: str) -> bool:
    return source.startswith(_REMOTE_PREFIXES)


def _gdal_message(error: BaseException) -> str:
    """The most specific message GDAL gave (rasterio chains it as the cause)."""
    cause = error.__cause__ or error.__context__
    return str(cause or error).strip()


def _probe(source: str) -> None:
    """Decode the first and last block of every band, where damage usually shows."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(source) as src:
        for band in src.indexes:
            rows, cols = src.block_shapes[band - 1]
            last_row = (src.height - 1) // rows * rows
            last_col = (src.width - 1) // cols * cols
            for row, col in {(0, 0), (last_row, last_col)}:
                window = Window(col, row, min(cols, src.width - col), min(rows, src.height - row))
                src.read(band, window=window)


def open_raster(path_or_url: str | os.PathLike[str], *, check: bool | None = None, **kwargs: Any):
    """Open a GeoTIFF (or any GDAL raster) with :func:`rioxarray.open_rasterio`.

    ``kwargs`` go to ``open_rasterio`` unchanged (``masked=True``,
    ``chunks=...``, ``overview_level=...``). Local files are checked by
    decoding their first and last block, so a truncated download fails here
    with a clear message rather than later in a plot; ``check=True`` does the
    same for a URL (one or two extra range requests), ``check=False`` only
    reads the header.

    Raises:
        FileNotFoundError: a local path that does not exist, or a URL the
            server says is not there.
        RasterReadError: (a ``ValueError``) the file is there but GDAL cannot
            read it; the message quotes GDAL and says to delete and recreate it.
    """
    import rasterio
    import rioxarray

    source = os.fspath(path_or_url)
    remote = _is_remote(source)
    shown = source if remote else display(source)
    if not remote and not Path(source).exists():
        raise FileNotFoundError(f"No raster at {shown}: {_REGENERATE}.")
    if check is None:
        check = not remote
    try:
        if check:
            _probe(source)
        else:
            with rasterio.open(source):
                pass
    except rasterio.errors.RasterioIOError as error:
        said = _gdal_message(error)
        if remote and ("404" in said or "No such file" in said or "does not exist" in said):
            raise FileNotFoundError(
                f"No raster at {shown} (GDAL said: {said}). Check the URL and that you are online."
            ) from error
        advice = "download it again" if remote else f"delete it and {_REGENERATE.replace(' create', ' recreate')}"
        raise RasterReadError(
            f"{shown} is not a readable GeoTIFF (GDAL said: {said}). The file is probably corrupt or "
            f"incomplete: {advice}."
        ) from error
    # The file is readable: errors from here on are about the options given.
    return rioxarray.open_rasterio(source, **kwargs)
