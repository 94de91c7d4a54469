"""Tests of utils.open_store: opening virtual Icechunk stores in the local cloud, and every bad input."""

from __future__ import annotations

import functools
import json
import pickle
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from utils import local_cloud
from utils.local_cloud import Credentials, LocalCloud
from utils.open_store import (
    ANONYMOUS,
    ContainerNotAuthorizedError,
    CredentialsError,
    OpenStoreError,
    StoreNotFoundError,
    StoreURLError,
    mask_credentials,
    open_virtual_store,
    parse_store_url,
)

PUBLIC = "noaa-cdr-sea-surface-temp-optimum-interpolation-pds"
PROTECTED = "example-protected-archive"
KEY = "granules/values.bin"
VALUES = np.arange(16, dtype="<f4") * 1.5  # the "data file": 16 float32, little-endian, no header
PUBLIC_STORE = f"s3://{local_cloud.PUBLIC_STORES_BUCKET}/tests/public.icechunk"
PROTECTED_STORE = f"s3://{PROTECTED}/virtual_collections/tests/protected.icechunk"


def _fetch(url: str) -> dict[str, str]:
    """GET an Earthdata-style /s3credentials endpoint (module-level: picklable in a partial)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A local cloud on a tiny sample tree holding a public and a protected 'data file'."""
    root = tmp_path_factory.mktemp("sample")
    for bucket in (PUBLIC, PROTECTED):
        (root / bucket / KEY).parent.mkdir(parents=True)
        (root / bucket / KEY).write_bytes(b"HEADER--" + VALUES.tobytes())  # data start at byte 8
    running = local_cloud.running()
    if running is not None:
        running.stop()
    cloud = local_cloud.start(sample_dir=root)
    _publish(cloud, PUBLIC_STORE, PUBLIC)
    _publish(cloud, PROTECTED_STORE, PROTECTED)
    yield cloud
    cloud.stop()


def _publish(cloud: LocalCloud, url: str, data_bucket: str) -> None:
    """As the provider: a virtual store whose array 'v' points at the data file's 64 bytes."""
    import icechunk
    import zarr

    bucket, prefix = parse_store_url(url)
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(cloud.virtual_chunk_container(data_bucket))
    storage = cloud.icechunk_storage(bucket, prefix, credentials=cloud.provider_credentials)
    repo = icechunk.Repository.create(storage, config=config)
    session = repo.writable_session("main")
    zarr.create_array(
        session.store, name="v", shape=(16,), chunks=(16,), dtype="<f4", compressors=None,
        fill_value=np.nan, dimension_names=("x",),
    )  # fmt: skip
    session.store.set_virtual_ref("v/c/0", f"s3://{data_bucket}/{KEY}", offset=8, length=64)
    snapshot = session.commit("virtual v")
    repo.create_tag("v1", snapshot)


def _open(cloud: LocalCloud, url: str = PROTECTED_STORE, **overrides: object):  # noqa: ANN202
    creds = cloud.temporary_credentials()
    arguments: dict = {
        "store_credentials": creds,
        "chunk_credentials": {f"s3://{PROTECTED}/": creds},
        "endpoint_url": cloud.endpoint_url,
        "region": cloud.region,
    }
    arguments.update(overrides)
    return open_virtual_store(url, **arguments)


# --- URLs --------------------------------------------------------------------------------------


def test_parse_store_url() -> None:
    assert parse_store_url("s3://bucket-1/a/b.icechunk/") == ("bucket-1", "a/b.icechunk")
    assert parse_store_url("s3://my.bucket/store") == ("my.bucket", "store")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("bucket/store", "not a URL"),
        ("/data/store.icechunk", "local_filesystem_storage"),
        ("https://bucket.s3.amazonaws.com/store", "amazonaws"),
        ("gs://bucket/store", "uses gs://"),
        ("s3://Bad_Bucket/store", "not a valid S3 bucket name"),
        ("s3://bucket", "names a bucket but not the store"),
        ("s3://bucket/", "names a bucket but not the store"),
        (42, "must be a string"),
    ],
)
def test_bad_urls_say_what_form_to_use(url: object, match: str) -> None:
    with pytest.raises(StoreURLError, match=match) as caught:
        parse_store_url(url)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, OpenStoreError)
    with pytest.raises(StoreURLError):  # before any request
        open_virtual_store(url, store_credentials=ANONYMOUS, chunk_credentials=None)  # type: ignore[arg-type]


# --- opening -----------------------------------------------------------------------------------


def test_opens_with_temporary_credentials_from_the_endpoint(cloud: LocalCloud) -> None:
    creds = _fetch(cloud.s3credentials_url)
    ds = open_virtual_store(
        PROTECTED_STORE, store_credentials=creds, chunk_credentials={f"s3://{PROTECTED}/": creds},
        endpoint_url=cloud.endpoint_url, region=cloud.region,
    )  # fmt: skip
    np.testing.assert_array_equal(ds["v"].values, VALUES)
    assert ds["v"].dims == ("x",)


def test_opens_a_public_store_anonymously(cloud: LocalCloud) -> None:
    cloud.requests.reset()
    ds = open_virtual_store(
        PUBLIC_STORE, store_credentials=ANONYMOUS, chunk_credentials={f"s3://{PUBLIC}/": ANONYMOUS},
        endpoint_url=cloud.endpoint_url, region=cloud.region,
    )  # fmt: skip
    np.testing.assert_array_equal(ds["v"].values, VALUES)
    stats = cloud.requests.snapshot()
    assert stats.range_gets >= 1  # the chunk, a byte range of the data file
    assert not [r for r in stats.records if r.status == 403]  # (404s: Icechunk probing for older formats)


def test_credentials_objects_and_refreshing_functions(cloud: LocalCloud) -> None:
    keys = Credentials.from_earthdata(cloud.temporary_credentials())
    ds = _open(cloud, store_credentials=keys, chunk_credentials={f"s3://{PROTECTED}/": keys})
    np.testing.assert_array_equal(ds["v"].values, VALUES)
    fetcher = functools.partial(_fetch, cloud.s3credentials_url)
    pickle.dumps(fetcher)  # Icechunk pickles it
    ds = _open(cloud, store_credentials=fetcher, chunk_credentials={f"s3://{PROTECTED}/": fetcher})
    np.testing.assert_array_equal(ds["v"].values, VALUES)


def test_versions_by_tag_snapshot_and_branch(cloud: LocalCloud) -> None:
    np.testing.assert_array_equal(_open(cloud, tag="v1")["v"].values, VALUES)
    np.testing.assert_array_equal(_open(cloud, branch="main")["v"].values, VALUES)
    with pytest.raises(ValueError, match="at most one"):
        _open(cloud, branch="main", tag="v1")
    with pytest.raises(StoreNotFoundError, match=r"no branch 'dev'.*branches are \['main'\].*\['v1'\]"):
        _open(cloud, branch="dev")
    with pytest.raises(StoreNotFoundError, match="no tag 'v9'"):
        _open(cloud, tag="v9")


# --- bad credentials ---------------------------------------------------------------------------


def test_wrong_store_credentials(cloud: LocalCloud) -> None:
    creds = cloud.temporary_credentials()
    wrong = {**creds, "secretAccessKey": "not-the-secret-" + "x" * 25}
    with pytest.raises(CredentialsError, match="SignatureDoesNotMatch.*wrong") as caught:
        _open(cloud, store_credentials=wrong)
    message = str(caught.value)
    assert "store credentials" in message and "/s3credentials" in message
    assert creds["secretAccessKey"] not in message and creds["sessionToken"] not in message
    with pytest.raises(CredentialsError, match="InvalidToken"):
        _open(cloud, store_credentials={**creds, "sessionToken": "garbage"})
    unknown = {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    with pytest.raises(CredentialsError, match="InvalidAccessKeyId"):
        _open(cloud, store_credentials=unknown)


def test_expired_credentials(cloud: LocalCloud) -> None:
    short = cloud.temporary_credentials(duration_seconds=1)
    time.sleep(1.2)
    with pytest.raises(CredentialsError, match=r"store credentials.*expired .* s ago.*s3credentials") as caught:
        _open(cloud, store_credentials=short)
    assert short["secretAccessKey"] not in str(caught.value)
    with pytest.raises(CredentialsError, match=r"chunk credentials for s3://example-protected-archive/.*expired"):
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": short})
    # without an expiration to check locally, the server's ExpiredToken is explained too
    undated = {k: v for k, v in short.items() if k != "expiration"}
    with pytest.raises(CredentialsError, match="expired.*ExpiredToken"):
        _open(cloud, store_credentials=undated)
    with pytest.raises(CredentialsError, match="chunk credentials have expired"):
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": undated})


def test_anonymous_on_a_protected_store_or_bucket(cloud: LocalCloud) -> None:
    with pytest.raises(CredentialsError, match="anonymous access .* is refused.*not public"):
        _open(cloud, store_credentials=ANONYMOUS)
    with pytest.raises(CredentialsError, match="data of 'v'.*refused.*AccessDenied"):
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": ANONYMOUS})


def test_wrong_chunk_credentials_fail_at_open_not_at_first_plot(cloud: LocalCloud) -> None:
    creds = cloud.temporary_credentials()
    wrong = {**creds, "secretAccessKey": "not-the-secret-" + "x" * 25}
    with pytest.raises(CredentialsError, match="chunk credentials were refused.*SignatureDoesNotMatch"):
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": wrong})
    ds = _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": wrong}, verify=False)  # opens ...
    with pytest.raises(Exception, match="SignatureDoesNotMatch"):  # ... and fails at the first read
        ds["v"].values


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"accessKeyId": "ASIA0000"}, r"lack secretAccessKey.*got the keys \['accessKeyId'\]"),
        ({"aws_access_key_id": "x", "aws_secret_access_key": "y"}, "lack accessKeyId, secretAccessKey"),
        ("anonymus", "pass 'anonymous'"),
        ("a-long-secret-looking-string", r"the string 'a-lo…'"),
        (12345, "cannot use a int"),
        ({"accessKeyId": "A", "secretAccessKey": "B", "expiration": "tomorrow"}, "not a date"),
    ],
)
def test_malformed_credentials(cloud: LocalCloud, bad: object, match: str) -> None:
    with pytest.raises(CredentialsError, match=match):
        _open(cloud, store_credentials=bad)


# --- containers --------------------------------------------------------------------------------


def test_unauthorized_container(cloud: LocalCloud) -> None:
    creds = cloud.temporary_credentials()
    with pytest.raises(ContainerNotAuthorizedError, match=r"reads chunks from \['s3://example-protected-archive/'\]"):
        _open(cloud, chunk_credentials=None)
    with pytest.raises(ContainerNotAuthorizedError, match="add e.g."):
        _open(cloud, chunk_credentials={})
    with pytest.raises(ContainerNotAuthorizedError, match=r"name \['s3://another-bucket/'\].*no such virtual chunk"):
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}/": creds, "s3://another-bucket/": creds})
    with pytest.raises(ContainerNotAuthorizedError, match=r"do not cover \(they cover \['s3://another-bucket/'\]\)"):
        _open(cloud, chunk_credentials={"s3://another-bucket/": creds})  # credentials for the wrong bucket
    with pytest.raises(ContainerNotAuthorizedError, match="ends with '/'"):  # the prefix must match exactly
        _open(cloud, chunk_credentials={f"s3://{PROTECTED}": creds})
    with pytest.raises(ContainerNotAuthorizedError, match="must map"):
        _open(cloud, chunk_credentials=[creds])  # type: ignore[arg-type]


# --- not found ---------------------------------------------------------------------------------


def test_missing_repository_and_bucket(cloud: LocalCloud) -> None:
    with pytest.raises(StoreNotFoundError, match="no Icechunk repository at s3://example-protected-archive/nothing"):
        _open(cloud, url=f"s3://{PROTECTED}/nothing/here.icechunk")
    with pytest.raises((StoreNotFoundError, CredentialsError), match="bucket|AccessDenied"):
        _open(cloud, url="s3://no-such-bucket-here/store.icechunk")


# --- printing ----------------------------------------------------------------------------------


def test_mask_credentials_reveals_no_secret(cloud: LocalCloud) -> None:
    creds = cloud.temporary_credentials()
    text = mask_credentials(creds)
    assert text.startswith("access key ASIA… (20 characters), secret (40 characters), session token (")
    assert "expires in about 60 min" in text
    assert mask_credentials({**creds, "expiration": None}).endswith("characters)")
    for secret in (creds["secretAccessKey"], creds["sessionToken"], creds["accessKeyId"]):
        assert secret not in text
    assert mask_credentials(ANONYMOUS) == "anonymous (unsigned requests)"
    assert "EXPIRED" in mask_credentials({**creds, "expiration": "2000-01-01 00:00:00+00:00"})
    assert "_fetch" in mask_credentials(functools.partial(_fetch, "x")) or "partial" in mask_credentials(
        functools.partial(_fetch, "x")
    )



def test_missing_or_empty_snapshot(cloud: LocalCloud) -> None:
    with pytest.raises(StoreNotFoundError, match="no snapshot '0000000000000000000A'"):
        _open(cloud, snapshot_id="0000000000000000000A")
    with pytest.raises(StoreNotFoundError, match="no snapshot 'not-an-id'"):
        _open(cloud, snapshot_id="not-an-id")
    first = "1CECHNKREP0F1RSTCMT0"  # the id of every repository's first commit, "Repository initialized"
    with pytest.raises(StoreNotFoundError, match=f"snapshot '{first}' of the store .* holds no Zarr group"):
        _open(cloud, snapshot_id=first)
