"""Tests of utils.ocean_model: names, structure, CF attributes, values, determinism, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from utils import ocean_model as om


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generation of every file."""
    root = tmp_path_factory.mktemp("sample")
    summary = om.ensure_files(root)
    assert len(summary.written) == len(om.VARIABLES) * len(om.MONTHS) and not summary.present
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- names -------------------------------------------------------------------------------------


def test_layout_is_bucket_then_dataset_then_file(tmp_path: Path) -> None:
    assert om.path("THETA", "2015-01", tmp_path) == tmp_path / (
        "ocean-model-archive-protected/OCEAN_MODEL_L4_THETA_DAILY_V1/THETA_day_mean_2015-01_OCEAN_MODEL_V1.nc"
    )
    assert om.s3_url("UVEL", "2015-02") == (
        "s3://ocean-model-archive-protected/OCEAN_MODEL_L4_UVEL_DAILY_V1/UVEL_day_mean_2015-02_OCEAN_MODEL_V1.nc"
    )
    assert om.paths("SALT", tmp_path) == [om.path("SALT", m, tmp_path) for m in om.MONTHS]
    assert len(om.paths(root=tmp_path)) == 8
    assert om.times().size == 59 and str(om.times()[0]) == "2015-01-01T12:00:00.000000000"
    assert [d.day for d in om.month_dates("2015-02")][-1] == 28


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: om.key("TEMP", "2015-01"), "unknown variable 'TEMP'.*THETA, SALT, UVEL, VVEL"),
        (lambda: om.key("THETA", "2015-03"), "no month '2015-03'.*2015-01, 2015-02"),
        (lambda: om.month_dates("2016-01"), "no month"),
        (lambda: om.ensure_files(variables=["theta"]), "unknown variable 'theta'"),
        (lambda: om.make_file("THETA", "2015-13"), "no month"),
    ],
)
def test_bad_names_say_what_exists(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


# --- the files ---------------------------------------------------------------------------------


def test_structure_dtypes_chunks_and_cf_attributes(root: Path) -> None:
    for variable in om.VARIABLES:
        path = om.path(variable, "2015-01", root)
        with h5py.File(path, "r") as f:
            var = f[variable]
            assert var.shape == (31, 10, 100, 140)
            assert var.chunks == (1, 1, 100, 140)  # one chunk per day and level
            assert var.compression == "gzip" and var.shuffle
            assert var.dtype == (np.int16 if variable in ("THETA", "SALT") else np.float32)
        with xr.open_dataset(path, engine="h5netcdf", mask_and_scale=False) as ds:
            assert list(ds.data_vars) == [variable]
            assert ds[variable].dims == ("time", "depth", "lat", "lon")
            attrs = ds[variable].attrs
            assert {"long_name", "standard_name", "units", "_FillValue"} <= set(attrs)
            if variable in ("THETA", "SALT"):
                assert {"scale_factor", "add_offset"} <= set(attrs)
            else:
                assert attrs["_QuantizeBitRoundNumberOfSignificantBits"] == 7
            assert ds["time"].encoding["units"] == "days since 2015-01-01 00:00:00"
            assert ds["depth"].attrs["positive"] == "down" and ds["lat"].attrs["units"] == "degrees_north"
            assert ds.attrs["Conventions"].startswith("CF-") and "Synthetic" in ds.attrs["sample_data"]
            assert ds.attrs["dataset_id"] == om.collection(variable)


def test_values_are_plausible_and_decode_to_the_fields(root: Path) -> None:
    fields = om.fields("2015-02")
    per_variable = [
        xr.open_mfdataset(om.paths(v, root), engine="h5netcdf", combine="nested", concat_dim="time",
                          coords="minimal", compat="override", join="exact", combine_attrs="drop_conflicts")
        for v in om.VARIABLES
    ]  # fmt: skip
    ds = xr.merge(per_variable, compat="override", join="exact", combine_attrs="drop_conflicts")
    assert dict(ds.sizes) == {"time": 59, "depth": 10, "lat": 100, "lon": 140}
    np.testing.assert_array_equal(ds["time"].values, om.times())
    feb = ds.sel(time=slice("2015-02-01", None)).load()
    for variable in om.VARIABLES:
        np.testing.assert_allclose(feb[variable].values, fields[variable], atol=1e-3, equal_nan=True)
    theta, salt = feb["THETA"], feb["SALT"]
    assert -1.81 <= float(theta.min()) and float(theta.max()) < 16
    assert 34.0 < float(salt.min()) and float(salt.max()) < 35.6
    speed = np.hypot(feb["UVEL"], feb["VVEL"])
    assert 0.1 < float(speed.max()) < 0.5  # m/s: currents of a model, not rivers
    surface, deep = theta.isel(depth=0), theta.isel(depth=-1)
    assert float(surface.mean()) > float(deep.mean())  # warmer at the surface
    assert float(theta.isel(time=-1, depth=0).mean()) < float(theta.isel(time=0, depth=0).mean())  # winter cools
    dry_surface = float(np.isnan(theta.isel(time=0, depth=0)).mean())
    dry_bottom = float(np.isnan(theta.isel(time=0, depth=-1)).mean())
    assert 0.1 < dry_surface < dry_bottom < 0.6  # land, and more cells below the sea floor at depth


def test_generation_is_byte_identical(root: Path, tmp_path: Path) -> None:
    again = om.make_file("VVEL", "2015-02", tmp_path / "again.nc")
    assert _sha(again) == _sha(om.path("VVEL", "2015-02", root))
    manifest = json.loads((root / om.BUCKET / ".ocean_model.json").read_text())
    assert manifest["version"] == om.GENERATOR_VERSION
    assert manifest["files"][om.key("VVEL", "2015-02")]["sha256"] == _sha(again)


def test_ensure_files_skips_present_and_remakes_missing_or_changed(root: Path) -> None:
    summary = om.ensure_files(root)
    assert not summary.written and len(summary.present) == 8
    assert "8 files (0 written now)" in str(summary)
    missing, changed = om.path("THETA", "2015-02", root), om.path("SALT", "2015-01", root)
    expected = {missing: _sha(missing), changed: _sha(changed)}
    missing.unlink()
    changed.write_bytes(b"truncated")
    summary = om.ensure_files(root)
    assert sorted(summary.written) == sorted([om.key("THETA", "2015-02"), om.key("SALT", "2015-01")])
    assert all(_sha(p) == sha for p, sha in expected.items())
    assert not list((root / om.BUCKET).rglob("*.part"))  # no temporary files left behind


def test_stale_manifest_or_force_rewrites_everything(tmp_path: Path) -> None:
    om.ensure_files(tmp_path, variables=["UVEL"])
    manifest = tmp_path / om.BUCKET / ".ocean_model.json"
    manifest.write_text(json.dumps({"version": -1, "files": {}}))
    assert len(om.ensure_files(tmp_path, variables=["UVEL"]).written) == 2
    assert len(om.ensure_files(tmp_path, variables=["UVEL"], force=True).written) == 2


def test_the_local_cloud_serves_the_files_but_not_the_manifest(root: Path) -> None:
    from utils.machinery.cloud_server import sample_buckets, sample_file

    assert om.BUCKET in sample_buckets(root)  # a valid bucket name
    hidden = [p for p in (root / om.BUCKET).rglob("*") if p.name.startswith(".")]
    assert [p.name for p in hidden] == [".ocean_model.json"]
    assert sample_file(root.resolve(), root / om.BUCKET, ".ocean_model.json") is None  # hidden files are not served
