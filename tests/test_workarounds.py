"""Each work-around in utils/workarounds.py is still needed (the upstream problem is still there) and works.

When a test named ``test_upstream_still_...`` fails, upstream has fixed the problem: remove the
work-around and the lesson cells that call it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import icechunk
import numpy as np
import pytest
import virtualizarr as vz
import xarray as xr

from realdata import realdata_file
from virtual_local import create_repo, local_registry, prefix_of
from utils import data, workarounds


@pytest.fixture()
def era(tmp_path: Path) -> Path:
    """The real ERA-Interim netCDF3 file, under a folder name with a space and a non-ASCII letter."""
    folder = tmp_path / "my data (día 1)"
    folder.mkdir()
    target = folder / "eraint_uvz.nc"
    target.write_bytes(realdata_file("eraint_uvz.nc").read_bytes())
    return target


def test_upstream_still_fails_on_integer_nan_fill_values(era: Path) -> None:
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        vz.open_virtual_dataset(prefix_of(era.parent) + era.name, registry=local_registry(era.parent),
                                parser=vz.parsers.NetCDF3Parser())


def test_netcdf3_parser_reads_what_xarray_reads(era: Path, tmp_path: Path) -> None:
    vds = vz.open_virtual_dataset(prefix_of(era.parent) + era.name, registry=local_registry(era.parent),
                                  parser=workarounds.NetCDF3Parser())
    storage, credentials = create_repo(tmp_path / "repo", era.parent)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
    session = repo.writable_session("main")
    workarounds.drop_nan_attrs(vds).vz.to_icechunk(session.store)
    session.commit("ERA-Interim, virtual")
    back = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, zarr_format=3)
    with warnings.catch_warnings():  # xarray, too, ignores the integer NaN fill value (and says so)
        warnings.simplefilter("ignore", xr.SerializationWarning)
        direct = xr.open_dataset(era, engine="scipy")
    with direct:
        xr.testing.assert_allclose(back.load(), direct.load())


def test_upstream_still_refuses_nan_attributes(tmp_path: Path) -> None:
    session = icechunk.Repository.create(icechunk.local_filesystem_storage(str(tmp_path))).writable_session("main")
    ds = xr.Dataset({"a": ("x", np.arange(3.0))}, attrs={"missing": float("nan")})
    with pytest.raises(icechunk.IcechunkError, match="bad metadata"):
        ds.to_zarr(session.store, zarr_format=3, consolidated=False)
    with pytest.warns(UserWarning, match=r"dropped NaN attribute\(s\) \['missing'\]"):
        clean = workarounds.drop_nan_attrs(ds)
    clean.to_zarr(session.store, zarr_format=3, consolidated=False, mode="w")
    assert "missing" in ds.attrs  # the original is untouched


def test_truncated_tiff_virtualizes_and_the_check_names_it(tmp_path: Path) -> None:
    from virtual_tiff import VirtualTIFF

    whole = data.glad_path(2000).read_bytes()
    cut = tmp_path / "tile.tif"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    reg = local_registry(tmp_path)
    vds = vz.open_virtual_dataset(prefix_of(tmp_path) + cut.name, registry=reg, parser=VirtualTIFF(ifd=0))  # upstream: no error
    with pytest.raises(ValueError, match=r"tile\.tif is [\d,]+ bytes.*truncated"):
        workarounds.check_byte_ranges(vds, reg)
    (tmp_path / "tile.tif").write_bytes(whole)
    workarounds.check_byte_ranges(vds, reg)  # the whole file passes


@pytest.mark.parametrize("quiet", [False, True])
def test_icechunk_local_warnings(quiet: bool, tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import icechunk
        from utils import workarounds
        if {quiet}:
            workarounds.quiet_icechunk_local_warnings()
        repo = icechunk.Repository.create(icechunk.local_filesystem_storage({str(tmp_path)!r}))
        repo.writable_session("main")
    """)
    stderr = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert ("not safe for concurrent commits" in stderr) is not quiet, stderr


def test_upstream_still_builds_the_iri_grammar_on_import() -> None:
    code = "import sys, jsonschema; print('rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_skipping_the_iri_grammar_keeps_schema_validation() -> None:
    code = textwrap.dedent("""
        from utils import workarounds
        workarounds.skip_jsonschema_iri_grammar()
        import sys, jsonschema, pystac.validation
        schema = {"type": "object", "properties": {"href": {"type": "string", "format": "iri"}}, "required": ["href"]}
        jsonschema.validate({"href": "s3://bucket/key"}, schema, format_checker=jsonschema.FormatChecker())
        try:
            jsonschema.validate({"href": 3}, schema)
        except jsonschema.ValidationError as error:
            print("refused:", error.message)
        print(sys.modules.get("rfc3987_syntax"))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["refused: 3 is not of type 'string'", "None"], out
