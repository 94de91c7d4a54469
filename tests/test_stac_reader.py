"""Opening a virtual Icechunk store from a STAC Collection (utils.stac_reader), on the local cloud.

A module fixture builds a small virtual store of two OISST days in the provider's public bucket
(its references point into the public OISST bucket), the tests describe it with a collection
written to ``tmp_path`` (or the bucket), read it back and compare with the netCDF files; then
every case the reader refuses, each with a message that says what to do.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icechunk
import obstore
import pystac
import pytest
import xarray as xr
import zarr

from stac_examples import FILES_KEY, SOME_SNAPSHOT, STORE_KEY, s3_scheme, virtual_store_collection
from utils import local_cloud, oisst_cloud
from utils.local_cloud import PUBLIC_STORES_BUCKET, LocalCloud
from utils.paths import SAMPLE_DIR
from utils.sample_data import OISST_BUCKET, OISST_BUCKET_REGION, oisst_dates, oisst_path
from utils.stac_reader import ICECHUNK_MEDIA_TYPE, StacAccessError, describe, load_collection, open_from_stac

DATES = oisst_dates()[:2]
FILES_PREFIX = f"s3://{OISST_BUCKET}/data/v2.1/avhrr/"


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """The local cloud with the course's sample data (stopped at the end if this module started it)."""
    running = local_cloud.running()
    if running is not None and running.sample_dir.resolve() != SAMPLE_DIR.resolve():
        running.stop()  # another test module's cloud on a fake sample tree; it starts its own again
        running = None
    cloud = local_cloud.start()
    yield cloud
    if running is None:
        cloud.stop()


def _create_store(cloud: LocalCloud, prefix: str, containers: list[str]) -> tuple[icechunk.Repository, str]:
    """A virtual store of DATES at ``s3://course-public-stores/<prefix>``, containers saved as on AWS."""
    config = icechunk.RepositoryConfig.default()
    for url_prefix in containers:
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer(url_prefix, icechunk.s3_store(region=OISST_BUCKET_REGION, anonymous=True))
        )
    storage = cloud.icechunk_storage(PUBLIC_STORES_BUCKET, prefix, credentials=cloud.provider_credentials)
    repo = icechunk.Repository.create(storage, config=config)
    session = repo.writable_session("main")
    oisst_cloud.open_virtual(cloud, DATES).vz.to_icechunk(session.store)
    return repo, session.commit("two days of OISST, virtual")


@pytest.fixture(scope="module")
def store(cloud: LocalCloud) -> dict[str, Any]:
    """The store: its repository (provider's keys), href and pinned snapshot."""
    prefix = f"tests/stac-reader-{uuid.uuid4().hex[:8]}/store.icechunk"
    repo, snapshot = _create_store(cloud, prefix, [FILES_PREFIX])
    return {"repo": repo, "href": f"s3://{PUBLIC_STORES_BUCKET}/{prefix}/", "snapshot": snapshot}


@pytest.fixture
def document(store: dict[str, Any]) -> dict[str, Any]:
    """A fresh, valid collection dict describing the store."""
    return virtual_store_collection(store["href"], FILES_PREFIX, store["snapshot"])


@pytest.fixture(scope="module")
def originals() -> Iterator[xr.Dataset]:
    with xr.open_mfdataset([oisst_path(d) for d in DATES], engine="h5netcdf", combine="nested", concat_dim="time",
                           coords="minimal", compat="override", combine_attrs="override") as ds:
        yield ds.load()


def _refused(document: dict[str, Any], cloud: LocalCloud, *fragments: str, **kwargs: Any) -> str:
    with pytest.raises(StacAccessError) as caught:
        open_from_stac(document, endpoint_url=cloud.endpoint_url, **kwargs)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    return message


# --- what works -------------------------------------------------------------------------------


def test_open_from_a_json_file_equals_the_netcdf_files(
    cloud: LocalCloud, document: dict[str, Any], originals: xr.Dataset, tmp_path: Path
) -> None:
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(document, indent=2))
    ds = open_from_stac(path, endpoint_url=cloud.endpoint_url)
    assert dict(ds.sizes) == {"time": 2, "zlev": 1, "lat": 720, "lon": 1440}
    xr.testing.assert_allclose(ds.load(), originals)


def test_open_from_the_bucket_next_to_the_store(
    cloud: LocalCloud, store: dict[str, Any], document: dict[str, Any], originals: xr.Dataset
) -> None:
    key = store["href"].removeprefix(f"s3://{PUBLIC_STORES_BUCKET}/").replace("store.icechunk/", "collection.json")
    obstore.put(cloud.obstore_store(PUBLIC_STORES_BUCKET, credentials=cloud.provider_credentials), key,
                json.dumps(document).encode())
    url = f"s3://{PUBLIC_STORES_BUCKET}/{key}"
    ds = open_from_stac(url, endpoint_url=cloud.endpoint_url)  # the collection is read anonymously too
    xr.testing.assert_allclose(ds["sst"].isel(time=-1).load(), originals["sst"].isel(time=-1))
    with pytest.raises(FileNotFoundError, match="no object"):
        load_collection(url.replace("collection.json", "missing.json"), endpoint_url=cloud.endpoint_url)


def test_describe_reads_every_field(cloud: LocalCloud, store: dict[str, Any], document: dict[str, Any]) -> None:
    access = describe(document, endpoint_url={PUBLIC_STORES_BUCKET: cloud.endpoint_url})
    assert access.asset_key == STORE_KEY and access.href == store["href"]
    assert access.bucket == PUBLIC_STORES_BUCKET and access.prefix == store["href"].split("/", 3)[3].rstrip("/")
    assert access.region == "us-east-1" and access.snapshot_id == store["snapshot"] and access.zarr_format == 3
    assert access.endpoint_url == cloud.endpoint_url
    (container,) = access.containers
    assert (container.asset_key, container.url_prefix, container.bucket) == (FILES_KEY, FILES_PREFIX, OISST_BUCKET)
    assert container.endpoint_url is None  # a mapping names only some buckets: the others are on AWS
    summary = access.summary()
    assert store["snapshot"] in summary and f"authorize    : {FILES_PREFIX}" in summary
    assert sorted(access.credentials()) == [FILES_PREFIX]
    assert list(access.config().virtual_chunk_containers) == [FILES_PREFIX]


def test_accepts_a_pystac_collection_and_an_explicit_asset_key(cloud: LocalCloud, document: dict[str, Any]) -> None:
    collection = pystac.Collection.from_dict(document)
    ds = open_from_stac(collection, asset_key=STORE_KEY, endpoint_url=cloud.endpoint_url, chunks={})
    assert ds["sst"].chunks is not None  # open_kwargs reach xr.open_zarr: Dask arrays
    access = describe(collection, endpoint_url=cloud.endpoint_url)  # one address for every bucket
    assert access.endpoint_url == access.containers[0].endpoint_url == cloud.endpoint_url


def test_the_pinned_snapshot_is_opened_not_the_branch_tip(
    cloud: LocalCloud, store: dict[str, Any], document: dict[str, Any]
) -> None:
    session = store["repo"].writable_session("main")
    zarr.open_group(session.store).attrs["comment"] = "changed after publishing"
    newer = session.commit("a later change")
    assert open_from_stac(document, endpoint_url=cloud.endpoint_url).attrs["comment"] != "changed after publishing"
    document["assets"][STORE_KEY]["version"] = newer
    assert open_from_stac(document, endpoint_url=cloud.endpoint_url).attrs["comment"] == "changed after publishing"


def test_a_native_store_needs_no_container(cloud: LocalCloud) -> None:
    prefix = f"tests/stac-reader-{uuid.uuid4().hex[:8]}/native.icechunk"
    repo = icechunk.Repository.create(cloud.icechunk_storage(PUBLIC_STORES_BUCKET, prefix, credentials=cloud.provider_credentials))
    session = repo.writable_session("main")
    xr.Dataset({"x": ("i", [1, 2, 3])}).to_zarr(session.store, mode="w", consolidated=False, zarr_format=3)
    snapshot = session.commit("a tiny native store")
    document = virtual_store_collection(f"s3://{PUBLIC_STORES_BUCKET}/{prefix}/", FILES_PREFIX, snapshot)
    asset = document["assets"][STORE_KEY]
    del asset["vrt:hrefs"]
    asset["roles"] = ["data"]
    del document["assets"][FILES_KEY]
    assert describe(document).containers == ()
    assert open_from_stac(document, endpoint_url=cloud.endpoint_url)["x"].values.tolist() == [1, 2, 3]


# --- what it refuses ----------------------------------------------------------------------------


def test_refuses_a_collection_without_an_icechunk_asset(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][STORE_KEY]["type"] = "application/vnd.zarr"
    _refused(document, cloud, "no asset of media type", ICECHUNK_MEDIA_TYPE, "xr.open_zarr")
    _refused(document, cloud, "has media type 'application/vnd.zarr'", asset_key=STORE_KEY)
    _refused(document, cloud, "no asset 'nope'", asset_key="nope")


def test_refuses_to_choose_between_several_icechunk_assets(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"]["another"] = copy.deepcopy(document["assets"][STORE_KEY])
    _refused(document, cloud, "several Icechunk assets", "asset_key=")


@pytest.mark.parametrize("platform", ["ms-azure", "custom-s3"])
def test_refuses_other_storage_platforms(cloud: LocalCloud, document: dict[str, Any], platform: str) -> None:
    document["storage:schemes"]["store-scheme"]["type"] = platform
    _refused(document, cloud, f"type {platform!r}", "supports only 'aws-s3'")


def test_refuses_requester_pays(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["storage:schemes"]["files-scheme"]["requester_pays"] = True
    _refused(document, cloud, "requester-pays", "requester_pays=True", f"asset {FILES_KEY!r}")


def test_refuses_buckets_that_need_credentials(cloud: LocalCloud, document: dict[str, Any]) -> None:
    del document["storage:schemes"]["store-scheme"]["anonymous"]
    _refused(document, cloud, "'anonymous': true", "credentials")


def test_refuses_a_collection_that_pins_no_snapshot(cloud: LocalCloud, document: dict[str, Any]) -> None:
    del document["assets"][STORE_KEY]["version"]
    _refused(document, cloud, "pins no snapshot", "'version'")
    document["assets"][STORE_KEY]["version"] = "main"
    _refused(document, cloud, "not an Icechunk snapshot id", "pin a snapshot, not a branch")


def test_refuses_a_snapshot_the_store_does_not_have(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][STORE_KEY]["version"] = SOME_SNAPSHOT
    _refused(document, cloud, f"snapshot {SOME_SNAPSHOT} is not in the repository", "up-to-date collection")


def test_refuses_a_virtual_store_whose_container_is_not_described(cloud: LocalCloud, document: dict[str, Any]) -> None:
    store = document["assets"][STORE_KEY]
    del store["vrt:hrefs"]
    _refused(document, cloud, "virtual (role 'virtual') but has no 'vrt:hrefs'", "container is not described")
    store["roles"] = ["data"]  # not even marked virtual: the store's own config gives it away
    _refused(document, cloud, "declares virtual chunk container(s)", FILES_PREFIX, "vrt:hrefs")
    store["vrt:hrefs"] = [{"key": "missing", "href": "#missing"}]
    _refused(document, cloud, "no such asset", "not described")


def test_refuses_a_container_that_is_not_a_prefix(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][FILES_KEY]["href"] = FILES_PREFIX.rstrip("/")
    _refused(document, cloud, "must end in '/'")


def test_refuses_broken_storage_references(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][FILES_KEY]["storage:refs"] = ["nowhere"]
    _refused(document, cloud, "'nowhere'", "does not define")
    del document["assets"][FILES_KEY]["storage:refs"]
    _refused(document, cloud, f"asset {FILES_KEY!r} has no 'storage:refs'")
    del document["storage:schemes"]
    _refused(document, cloud, "no 'storage:schemes'")


def test_refuses_an_href_outside_its_schemes_bucket(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["storage:schemes"]["store-scheme"] = s3_scheme("some-other-bucket")
    _refused(document, cloud, "but its storage scheme names bucket 'some-other-bucket'")
    document = virtual_store_collection(snapshot=SOME_SNAPSHOT)
    document["assets"][STORE_KEY]["href"] = "https://example.com/store.icechunk/"
    _refused(document, cloud, "is not an s3://bucket/... URL")


def test_refuses_zarr_format_2(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][STORE_KEY]["zarr:zarr_format"] = 2
    _refused(document, cloud, "Zarr format 3")


def test_refuses_a_missing_repository(cloud: LocalCloud, document: dict[str, Any]) -> None:
    document["assets"][STORE_KEY]["href"] = f"s3://{PUBLIC_STORES_BUCKET}/tests/no-such-store.icechunk/"
    _refused(document, cloud, "no Icechunk repository at", "no-such-store")


def test_bad_documents(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no STAC file"):
        load_collection(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(StacAccessError, match="is not JSON"):
        load_collection(tmp_path / "broken.json")
    with pytest.raises(StacAccessError, match="not a STAC Collection \\(type 'Feature'\\)"):
        load_collection({"type": "Feature", "id": "an-item"})
    with pytest.raises(StacAccessError, match="not a valid STAC Collection"):
        load_collection({"type": "Collection", "id": "no-extent"})
    with pytest.raises(TypeError, match="expected a pystac.Collection"):
        load_collection(42)
