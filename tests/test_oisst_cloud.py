"""Tests of utils.oisst_cloud: virtual OISST stores on the local cloud, and what reads cost."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import xarray as xr

from utils import local_cloud, oisst_cloud
from utils.local_cloud import LocalCloud
from utils.paths import SAMPLE_DIR
from utils.sample_data import OISST_BUCKET, oisst_key, oisst_path

DAYS = ["2024-08-01", "2024-08-02"]


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """The local cloud on the course's sample data (started for this module, stopped after)."""
    if not all(oisst_path(day).is_file() for day in DAYS):
        pytest.skip("the OISST sample data is missing: run `./course.sh setup`")
    running = local_cloud.running()
    if running is not None and running.sample_dir.resolve() != SAMPLE_DIR.resolve():
        running.stop()  # another test module's cloud, on other sample data
    started = local_cloud.start()
    yield started
    started.stop()


def _prefix(name: str) -> str:
    return f"tests/oisst-cloud/{name}-{time.time_ns()}"


# --- URLs and virtual datasets ----------------------------------------------------------------


def test_s3_urls() -> None:
    urls = oisst_cloud.s3_urls()
    assert len(urls) == 31 and urls[0] == f"s3://{OISST_BUCKET}/{oisst_key('2024-08-01')}"
    assert oisst_cloud.s3_urls(DAYS[::-1])[0].endswith("20240802.nc")  # the order given
    with pytest.raises(ValueError, match="at least one date"):
        oisst_cloud.s3_urls([])
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        oisst_cloud.s3_urls(["August 1st"])


def test_open_virtual(cloud: LocalCloud) -> None:
    vds = oisst_cloud.open_virtual(cloud, DAYS, variables=["sst", "ice"])
    assert sorted(vds.data_vars) == ["ice", "sst"] and vds.sizes["time"] == 2
    manifest = vds["sst"].data.manifest
    assert manifest.shape_chunk_grid == (2, 1, 1, 1)
    assert manifest.get_entry((1, 0, 0, 0))["path"] == oisst_cloud.OISST_PREFIX + oisst_key(DAYS[1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"variables": ["sst", "salinity"]}, ValueError, "OISST variables are"),
        ({"variables": []}, ValueError, "OISST variables are"),
        ({"workers": 0}, ValueError, "workers"),
        ({"dates": ["2024-09-01"]}, FileNotFoundError, "sample data"),
    ],
    ids=["unknown-variable", "no-variable", "no-worker", "date-not-in-sample"],
)
def test_open_virtual_bad_input(cloud: LocalCloud, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        oisst_cloud.open_virtual(cloud, **{"dates": DAYS, **kwargs})


# --- virtual stores -----------------------------------------------------------------------------


def test_create_virtual_store_reads_like_the_files(cloud: LocalCloud) -> None:
    import icechunk

    prefix = _prefix("store")
    repo = oisst_cloud.create_virtual_store(cloud, prefix, DAYS, variables=["sst"])
    assert [s.message for s in repo.ancestry(branch="main")][0].startswith("OISST 2024-08-01 to 2024-08-02")
    assert list(repo.config.virtual_chunk_containers) == [oisst_cloud.OISST_PREFIX]

    storage = cloud.icechunk_storage(local_cloud.SCRATCH_BUCKET, prefix)
    reopened = icechunk.Repository.open(storage, authorize_virtual_chunk_access=oisst_cloud.authorization(cloud))
    ds = xr.open_zarr(reopened.readonly_session("main").store, consolidated=False, chunks=None)
    assert list(ds.data_vars) == ["sst"]
    with xr.open_dataset(oisst_path(DAYS[1]), engine="h5netcdf") as nc:
        xr.testing.assert_allclose(ds["sst"].isel(time=[1]).load(), nc["sst"].load())

    # the same call again replaces the repository
    again = oisst_cloud.create_virtual_store(cloud, prefix, DAYS[:1], variables=["sst"])
    assert len(list(again.ancestry(branch="main"))) == 2


def test_virtual_chunks_need_authorization(cloud: LocalCloud) -> None:
    import icechunk

    prefix = _prefix("unauthorized")
    oisst_cloud.create_virtual_store(cloud, prefix, DAYS[:1], variables=["sst"])
    storage = cloud.icechunk_storage(local_cloud.SCRATCH_BUCKET, prefix)
    unauthorized = icechunk.Repository.open(storage)
    ds = xr.open_zarr(unauthorized.readonly_session("main").store, consolidated=False, chunks=None)
    with pytest.raises(Exception, match="(?i)authoriz|credential|container"):
        ds["sst"].values


def test_create_virtual_store_refusals(cloud: LocalCloud) -> None:
    import icechunk

    prefix = _prefix("exists")
    oisst_cloud.create_virtual_store(cloud, prefix, DAYS[:1], variables=["sst"])
    with pytest.raises(icechunk.IcechunkError):
        oisst_cloud.create_virtual_store(cloud, prefix, DAYS[:1], variables=["sst"], replace=False)
    with pytest.raises(icechunk.IcechunkError, match="AccessDenied"):  # learners may not write there
        oisst_cloud.create_virtual_store(cloud, _prefix("x"), DAYS[:1], variables=["sst"], bucket=OISST_BUCKET)
    with pytest.raises(ValueError, match="whole bucket"):
        oisst_cloud.create_virtual_store(cloud, "/", DAYS[:1], variables=["sst"])


def test_delete_prefix(cloud: LocalCloud) -> None:
    import obstore

    prefix = _prefix("delete")
    store = cloud.obstore_store(local_cloud.SCRATCH_BUCKET)
    for name in ("a", "b/c", "d/e/f"):
        obstore.put(store, f"{prefix}/{name}", b"x")
    obstore.put(store, f"{prefix}-sibling/keep", b"x")  # same name start, another prefix
    assert oisst_cloud.delete_prefix(cloud, prefix + "/") == 3
    assert oisst_cloud.delete_prefix(cloud, prefix) == 0
    assert oisst_cloud.delete_prefix(cloud, f"{prefix}-sibling") == 1
    for bad in ("", "/", "//"):
        with pytest.raises(ValueError, match="whole bucket"):
            oisst_cloud.delete_prefix(cloud, bad)


# --- measuring reads ---------------------------------------------------------------------------


def test_measure_counts_one_ranged_get(cloud: LocalCloud) -> None:
    import obstore

    store = cloud.obstore_store(OISST_BUCKET, anonymous=True)
    key = oisst_key(DAYS[0])
    m = oisst_cloud.measure(cloud, lambda: bytes(obstore.get_range(store, key, start=100, length=1000)))
    assert len(m.value) == 1000 and m.seconds >= 0
    assert (m.requests, m.range_gets, m.bytes_sent) == (1, 1, 1000)
    assert m.requests_to(".nc") == 1 and m.bytes_from(".nc") == 1000 and m.requests_to("/manifests/") == 0
    assert "stats" not in repr(m)

    nothing = oisst_cloud.measure(cloud, lambda: None)
    assert (nothing.value, nothing.requests, nothing.bytes_sent) == (None, 0, 0)


def test_measure_bad_input(cloud: LocalCloud) -> None:
    with pytest.raises(ValueError, match="settle"):
        oisst_cloud.measure(cloud, lambda: None, settle=-1)

    def broken() -> None:
        raise KeyError("no such variable")

    with pytest.raises(KeyError, match="no such variable"):
        oisst_cloud.measure(cloud, broken)


def test_measure_a_virtual_read(cloud: LocalCloud) -> None:
    import icechunk

    prefix = _prefix("measure")
    oisst_cloud.create_virtual_store(cloud, prefix, DAYS, variables=["sst"])
    storage = cloud.icechunk_storage(local_cloud.SCRATCH_BUCKET, prefix)
    repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access=oisst_cloud.authorization(cloud))
    sst = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, chunks=None)["sst"]
    series = oisst_cloud.measure(cloud, lambda: sst.isel(lat=400, lon=800).values)
    assert series.value.shape == (2, 1) and np.isfinite(series.value).all()
    # one manifest, then one ranged GET into each day's file
    assert series.requests_to("/manifests/") == 1 and series.requests_to(".nc") == 2 and series.requests == 3
