"""Work-arounds for upstream problems the course runs into, one each, called by name where needed.

``tests/test_workarounds.py`` fails once upstream changes, so that the work-around can go."""

import dataclasses
import math
import os
import sys
import warnings

import numpy as np

ICECHUNK_LOG = "warn,icechunk_arrow_object_store=error,icechunk_storage::readback=error"  # see below


def quiet_icechunk_local_warnings() -> None:
    """Icechunk 2.3 logs two warnings for every repository in a local folder: that it is unsafe for
    concurrent commits (true, irrelevant to one writer) and one about a setting nobody chose. Silence
    exactly those, here and in processes started later (Dask workers); every other warning stays."""
    import icechunk

    os.environ["ICECHUNK_LOG"] = ICECHUNK_LOG
    icechunk.set_logs_filter(ICECHUNK_LOG)


def skip_jsonschema_iri_grammar() -> None:
    """Skip a slow import: jsonschema 4.26 builds a whole IRI grammar (``rfc3987-syntax``, with Lark) on
    import, about 1.5 s of CPU, for a format check never used here. Call it before ``pystac.validation``,
    or hvplot/leafmap in a kernel (they import jsonschema); that one format is then left unchecked."""
    sys.modules.setdefault("rfc3987_syntax", None)


class NetCDF3Parser:
    """VirtualiZarr's ``NetCDF3Parser`` (same arguments), accepting ``_FillValue = NaN`` on integers.

    Some netCDF3 files (ERA-Interim's) declare it on packed int16 variables; VirtualiZarr 2.8 then
    fails with "cannot convert float NaN to integer". No integer is NaN, so this parser drops it. It
    patches VirtualiZarr while it parses: give it one file at a time, not to a thread pool."""

    def __init__(self, *args, **kwargs):
        from virtualizarr.parsers import NetCDF3Parser

        self._parser = NetCDF3Parser(*args, **kwargs)

    def __call__(self, url, registry):
        from virtualizarr.parsers import netcdf3

        original = netcdf3._parse_header

        def parse(reader):
            header = original(reader)
            for i, var in enumerate(header.variables):
                if np.dtype(var.dtype).kind in "iu" and _is_nan(var.attributes.get("_FillValue")):
                    attributes = {k: v for k, v in var.attributes.items() if k != "_FillValue"}
                    header.variables[i] = dataclasses.replace(var, attributes=attributes)
            return header

        netcdf3._parse_header = parse
        try:
            return self._parser(url, registry)
        finally:
            netcdf3._parse_header = original


def _is_nan(value) -> bool:
    try:
        return value is not None and np.size(value) == 1 and math.isnan(float(np.ravel(value)[0]))
    except (TypeError, ValueError):
        return False


def drop_nan_attrs(ds):
    """``ds`` without NaN-valued attributes, which Icechunk refuses ("bad metadata"): JSON has no NaN.
    (xarray ignores a NaN fill value on integers, so nothing read changes.) A warning names each one."""
    ds = ds.copy()
    for name, obj in [(None, ds), *ds.variables.items()]:
        if nan := [key for key, value in obj.attrs.items() if _is_nan(value)]:
            obj.attrs = {key: value for key, value in obj.attrs.items() if key not in nan}
            warnings.warn(f"dropped NaN attribute(s) {nan} of {name or 'the dataset'}: Icechunk stores "
                          "attributes as JSON, which has no NaN", stacklevel=2)
    return ds


def check_byte_ranges(vds, registry) -> None:
    """Fail, naming the file, when a virtual reference points past the end of its file: VirtualiZarr
    reads only headers, so a truncated file virtualizes fine and reading fails much later."""
    import obstore

    sizes: dict[str, int] = {}
    for name, var in vds.variables.items():
        manifest = getattr(var.data, "manifest", None)
        for entry in (manifest.values() if manifest is not None else []):
            path, end = entry["path"], entry["offset"] + entry["length"]
            if path not in sizes:
                store, key = registry.resolve(path)
                sizes[path] = obstore.head(store, str(key))["size"]
            if end > sizes[path]:
                raise ValueError(f"{path} is {sizes[path]:,} bytes, but variable {name!r} has a chunk up to byte "
                                 f"{end:,}: the file is truncated or damaged. Download or make it again.")
