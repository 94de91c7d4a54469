"""Plumbing for virtual datasets of local files (VirtualiZarr + Icechunk).

A virtual dataset points at chunks inside existing files by URL, byte offset and length. For
local files three objects must spell the folder the same way, as a ``file://`` URL that ends in
``/``:

- an :class:`obspec_utils.registry.ObjectStoreRegistry` that lets VirtualiZarr's parsers read the
  files (:func:`local_registry`);
- an Icechunk :class:`icechunk.VirtualChunkContainer` that says where a repository's references
  may point (:func:`local_container`);
- the credentials that authorize the container when the repository is opened
  (:func:`local_credentials`; Icechunk refuses to read virtual chunks of an unauthorized
  container).

Notebook 04 shows these calls once in full, then uses these helpers; the real-data tests use them
too. Also here:

- :class:`NetCDF3Parser`, VirtualiZarr's netCDF3 parser with a work-around for files that declare
  ``_FillValue = NaN`` on integer variables (the ERA-Interim file does; VirtualiZarr 2.8 fails on
  it with ``cannot convert float NaN to integer``);
- :func:`display_url` and :func:`hide_paths`, which keep this machine's folders out of printed
  URLs and error messages, so committed notebook outputs hold no absolute paths.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from virtualizarr.parsers import NetCDF3Parser as _UpstreamNetCDF3Parser

from utils.paths import REPO_ROOT, SAMPLE_DIR, SCRATCH_DIR

if TYPE_CHECKING:
    import icechunk
    from obspec_utils.registry import ObjectStoreRegistry
    from virtualizarr.manifests import ManifestStore

__all__ = [
    "NetCDF3Parser",
    "display_url",
    "file_url",
    "folder_url",
    "hide_paths",
    "local_container",
    "local_credentials",
    "local_registry",
    "redact",
]

#: How a machine-specific folder is shown: ``file:///.../data/sample/...``.
_ELIDED = "file:///..."


def _existing_folder(folder: str | os.PathLike[str]) -> Path:
    p = Path(folder)
    if not p.exists():
        raise FileNotFoundError(
            f"no such folder: {p.as_posix()!r}; virtual references can only point into a folder "
            "that exists (did the sample data get made? run `./course.sh setup`)"
        )
    if not p.is_dir():
        raise NotADirectoryError(
            f"{p.as_posix()!r} is a file; a registry or virtual chunk container covers a folder, "
            "pass the folder that holds the file (path.parent)"
        )
    return p.resolve()


def folder_url(folder: str | os.PathLike[str]) -> str:
    """The ``file://`` URL of an existing local folder, ending in ``/``.

    This is the form a virtual chunk container's ``url_prefix`` and a registry's key need.

    Raises:
        FileNotFoundError: the folder does not exist.
        NotADirectoryError: ``folder`` is a file.
    """
    return _existing_folder(folder).as_uri() + "/"


def file_url(path: str | os.PathLike[str]) -> str:
    """The absolute ``file://`` URL of an existing local file (what virtual references store).

    Raises:
        FileNotFoundError: the file does not exist.
        IsADirectoryError: ``path`` is a folder.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"no such file: {p.as_posix()!r}; check the path, or run `./course.sh setup` "
            "to make the sample data"
        )
    if p.is_dir():
        raise IsADirectoryError(f"{p.as_posix()!r} is a folder, not a file")
    return p.resolve().as_uri()


def local_registry(folder: str | os.PathLike[str]) -> ObjectStoreRegistry:
    """An obstore registry that lets VirtualiZarr read every file below ``folder``.

    The registry maps the folder's URL (:func:`folder_url`) to an
    :class:`obstore.store.LocalStore` rooted there; pass it with a file's
    :func:`file_url` to :func:`virtualizarr.open_virtual_dataset`.

    Raises:
        FileNotFoundError: the folder does not exist.
        NotADirectoryError: ``folder`` is a file.
    """
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore

    root = _existing_folder(folder)
    return ObjectStoreRegistry({folder_url(root): LocalStore(prefix=root)})


def local_container(folder: str | os.PathLike[str]) -> icechunk.VirtualChunkContainer:
    """An Icechunk virtual chunk container for the files below ``folder``.

    Its ``url_prefix`` is :func:`folder_url` (so it matches the ``file://``
    URLs VirtualiZarr writes into references) and its store a local file
    system store rooted at the folder. Put it in the repository config with
    ``config.set_virtual_chunk_container(...)``; readers must still
    authorize it (:func:`local_credentials`).

    Raises:
        FileNotFoundError: the folder does not exist.
        NotADirectoryError: ``folder`` is a file.
    """
    import icechunk

    root = _existing_folder(folder)
    return icechunk.VirtualChunkContainer(folder_url(root), icechunk.local_filesystem_store(str(root)))


def local_credentials(*folders: str | os.PathLike[str]) -> dict[str, Any]:
    """Authorization for the local containers of ``folders``, for ``authorize_virtual_chunk_access``.

    Uses the explicit ``icechunk.credentials.LocalFileSystemAccess`` sentinel
    (passing ``None`` for a local container is deprecated in icechunk 2).

    Raises:
        ValueError: no folder was given.
        FileNotFoundError: a folder does not exist.
        NotADirectoryError: a "folder" is a file.
    """
    import icechunk

    if not folders:
        raise ValueError("name at least one folder whose virtual chunks may be read")
    return icechunk.containers_credentials(
        {folder_url(f): icechunk.credentials.LocalFileSystemAccess for f in folders}
    )


# --------------------------------------------------------------------------
# Keeping machine paths out of outputs
# --------------------------------------------------------------------------


def _roots() -> list[tuple[Path, str]]:
    """(folder, how the course names it), most specific first."""
    named = [(SCRATCH_DIR, "data/scratch"), (SAMPLE_DIR, "data/sample"), (REPO_ROOT, "")]
    roots: dict[str, tuple[Path, str]] = {}
    for folder, name in named:
        for form in (Path(folder), Path(folder).resolve()):
            roots.setdefault(str(form), (form, name))
    return sorted(roots.values(), key=lambda item: len(str(item[0])), reverse=True)


def redact(text: str) -> str:
    """``text`` with this machine's course folders replaced by the course's names for them.

    ``file:///<checkout>/data/sample/x.nc`` becomes ``file:///.../data/sample/x.nc`` and a
    plain ``/<checkout>/data/scratch/04`` becomes ``data/scratch/04`` (as
    :func:`utils.paths.display` shows paths). Other text is unchanged.
    """
    for folder, name in _roots():
        if str(folder) in ("/", ""):
            continue
        uri = folder.as_uri() if folder.is_absolute() else None
        if uri:
            text = text.replace(uri, _ELIDED + ("/" + name if name else ""))
        text = text.replace(str(folder), name or ".")
    return text


def display_url(url: str) -> str:
    """A URL as notebooks print it: ``file://`` URLs below the course folders are elided.

    ``s3://``, ``https://`` and other URLs are returned unchanged.
    """
    return redact(url) if url.startswith("file://") else url


@contextmanager
def hide_paths() -> Iterator[None]:
    """Re-raise any exception from the block with this machine's paths :func:`redact`-ed.

    For cells that fail on purpose: the error keeps its type and message, minus the absolute
    folder names that must not reach a committed notebook.
    """
    try:
        yield
    except Exception as err:
        message = str(err)
        clean = redact(message)
        if clean == message:
            raise
        try:
            replacement = type(err)(clean)
        except Exception:  # an exception type that cannot be built from a message
            replacement = RuntimeError(f"{type(err).__name__}: {clean}")
        raise replacement from None


# --------------------------------------------------------------------------
# netCDF3 with NaN fill values on integer variables
# --------------------------------------------------------------------------

_PATCH_LOCK = threading.Lock()


def _is_nan(value: Any) -> bool:
    try:
        return bool(np.size(value) == 1 and math.isnan(float(np.asarray(value).reshape(-1)[0])))
    except (TypeError, ValueError):
        return False


def _drop_integer_nan_fill(header: Any) -> Any:
    """Remove ``_FillValue = NaN`` from integer variables: no integer can equal NaN.

    xarray ignores such a fill value when it reads the file (nothing is masked), so dropping it
    gives the same decoded values.
    """
    fixed = []
    for var in header.variables:
        fill = var.attributes.get("_FillValue")
        if np.dtype(var.dtype).kind in "iu" and fill is not None and _is_nan(fill):
            attributes = {k: v for k, v in var.attributes.items() if k != "_FillValue"}
            var = dataclasses.replace(var, attributes=attributes)
        fixed.append(var)
    header.variables = fixed
    return header


class NetCDF3Parser(_UpstreamNetCDF3Parser):
    """:class:`virtualizarr.parsers.NetCDF3Parser` that accepts NaN fill values on integer variables.

    Some netCDF3 files, the ERA-Interim ``eraint_uvz.nc`` among them, declare
    ``_FillValue = NaN`` on packed ``int16`` variables. VirtualiZarr 2.8's parser then fails
    with ``ValueError: cannot convert float NaN to integer``. This parser drops that attribute
    from integer variables (an integer is never NaN, so it masks nothing) and is otherwise the
    upstream parser, with the same arguments. ``tests/test_virtual.py`` notices when upstream
    fixes this, so the work-around can go.
    """

    def __call__(self, url: str, registry: ObjectStoreRegistry) -> ManifestStore:
        from virtualizarr.parsers import netcdf3

        with _PATCH_LOCK:
            original = netcdf3._parse_header
            netcdf3._parse_header = lambda reader: _drop_integer_nan_fill(original(reader))
            try:
                return super().__call__(url, registry)
            finally:
                netcdf3._parse_header = original
