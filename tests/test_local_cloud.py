"""Tests of the local cloud (utils.local_cloud): loopback only, on a small fake sample tree."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from utils import local_cloud
from utils.local_cloud import Credentials, LocalCloud, LocalCloudError

PUBLIC = "noaa-cdr-sea-surface-temp-optimum-interpolation-pds"
PUBLIC_KEY = "data/v2.1/avhrr/202408/oisst-avhrr-v02r01.20240801.nc"
PUBLIC_BODY = bytes(range(256)) * 4  # 1 KiB with distinct byte values
PROTECTED = "example-protected-archive"
PROTECTED_KEY = "granules/2024/file.bin"
PROTECTED_BODY = b"for authorized eyes only"
GLAD = "earthenginepartners-hansen"
GLAD_KEY = "GLCLU2000-2020/v2/2000/50N_080W.tif"
GLAD_URL = f"https://storage.googleapis.com/{GLAD}/{GLAD_KEY}"
GLAD_PIXELS = (np.arange(64 * 64) % 11).astype("uint8").reshape(64, 64)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake sample tree: two public buckets, one protected, a top-level file and a hidden one."""
    import rasterio
    from rasterio.transform import from_origin

    root = tmp_path_factory.mktemp("sample")
    (root / PUBLIC / PUBLIC_KEY).parent.mkdir(parents=True)
    (root / PUBLIC / PUBLIC_KEY).write_bytes(PUBLIC_BODY)
    (root / PROTECTED / PROTECTED_KEY).parent.mkdir(parents=True)
    (root / PROTECTED / PROTECTED_KEY).write_bytes(PROTECTED_BODY)
    (root / PROTECTED / ".hidden").write_text("not uploaded")
    (root / "MANIFEST.json").write_text("{}")
    tif = root / GLAD / GLAD_KEY
    tif.parent.mkdir(parents=True)
    profile = {
        "driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8", "crs": "EPSG:4326",
        "transform": from_origin(-80, 50, 0.025, 0.025), "tiled": True, "blockxsize": 32, "blockysize": 32,
        "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(GLAD_PIXELS, 1)
    return root


@pytest.fixture(scope="module")
def _stop_at_end() -> Iterator[None]:
    yield
    cloud = local_cloud.running()
    if cloud is not None:
        cloud.stop()


@pytest.fixture
def cloud(sample_dir: Path, _stop_at_end: None) -> LocalCloud:
    """The running local cloud (started again if a test stopped it)."""
    return local_cloud.start(sample_dir=sample_dir)


def _stop_running() -> None:
    cloud = local_cloud.running()
    if cloud is not None:
        cloud.stop()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _error_code(error: BaseException) -> tuple[str, int]:
    response = error.response  # type: ignore[attr-defined]
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- lifecycle --------------------------------------------------------------------------------


def test_start_stop_frees_the_ports(sample_dir: Path) -> None:
    _stop_running()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cloud = local_cloud.start(port=port, sample_dir=sample_dir, populate=False)
    ports = [_port(cloud.endpoint_url), _port(cloud.http_url)]
    assert cloud.endpoint_url == f"http://127.0.0.1:{port}" and cloud.http_url.startswith("http://127.0.0.1:")
    assert cloud.running and local_cloud.running() is cloud
    assert local_cloud.start(port=port, sample_dir=sample_dir, populate=False) is cloud
    with pytest.raises(LocalCloudError, match="already runs"):
        local_cloud.start(port=port + 1, sample_dir=sample_dir, populate=False)
    assert not any(_port_is_free(p) for p in ports)
    with cloud:  # the context manager stops it
        pass
    assert not cloud.running and local_cloud.running() is None
    assert all(_port_is_free(p) for p in ports)
    cloud.stop()  # stopping twice is harmless
    with pytest.raises(LocalCloudError, match="stopped"):
        cloud.requests.snapshot()


def test_busy_port_is_a_clear_error(sample_dir: Path) -> None:
    _stop_running()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LocalCloudError) as caught:
            local_cloud.start(port=port, sample_dir=sample_dir)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "another program" in message and "port=None" in message
    assert local_cloud.running() is None


def test_missing_sample_data_says_what_to_do(tmp_path: Path) -> None:
    _stop_running()
    with pytest.raises(LocalCloudError, match=r"course\.sh setup.*utils\.sample_data"):
        local_cloud.start(sample_dir=tmp_path / "nothing-here")
    (tmp_path / "MANIFEST.json").write_text("{}")
    with pytest.raises(LocalCloudError, match="no bucket folders"):
        local_cloud.start(sample_dir=tmp_path)
    assert local_cloud.running() is None


@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_stops_when_the_python_process_ends(sample_dir: Path, ending: str) -> None:
    """At exit the atexit hook stops it; when killed, the server process sees its stdin close."""
    last_line = "os.kill(os.getpid(), signal.SIGKILL)" if ending == "kill" else "pass"
    script = textwrap.dedent(
        f"""
        import os, signal
        from utils import local_cloud
        cloud = local_cloud.start(sample_dir={str(sample_dir)!r}, populate=False)
        print(cloud.endpoint_url, cloud.http_url, flush=True)
        {last_line}
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    ports = [_port(url) for url in out.stdout.split()]
    assert len(ports) == 2, out.stderr
    deadline = time.monotonic() + 10
    while not all(_port_is_free(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_port_is_free(p) for p in ports)


def test_start_twice_returns_the_running_cloud_and_adds_missing_files(sample_dir: Path) -> None:
    first = local_cloud.start(sample_dir=sample_dir)
    late = sample_dir / PROTECTED / "granules/2024/late.bin"
    late.write_bytes(b"arrived later")
    try:
        second = local_cloud.start(sample_dir=sample_dir)
        assert second is first
        body = first.boto3_client().get_object(Bucket=PROTECTED, Key="granules/2024/late.bin")["Body"].read()
        assert body == b"arrived later"
        assert first.populate() == 0  # nothing left to upload
        with pytest.raises(LocalCloudError, match="already runs"):
            local_cloud.start(sample_dir=sample_dir / "elsewhere")
    finally:
        late.unlink()
        first.boto3_client(credentials=first.provider_credentials).delete_object(
            Bucket=PROTECTED, Key="granules/2024/late.bin"
        )


# --- buckets and access ---------------------------------------------------------------------


def test_buckets_mirror_the_sample_tree(cloud: LocalCloud) -> None:
    assert cloud.buckets == {
        "course-scratch": "scratch",
        "course-public-stores": "public",
        GLAD: "public",
        PROTECTED: "protected",
        PUBLIC: "public",
    }
    keys = [o["Key"] for o in cloud.boto3_client().list_objects_v2(Bucket=PROTECTED)["Contents"]]
    assert keys == [PROTECTED_KEY]  # no hidden file, no MANIFEST.json


def test_anonymous_reads_a_public_bucket(cloud: LocalCloud) -> None:
    import obstore

    s3 = cloud.boto3_client(anonymous=True)
    assert s3.get_object(Bucket=PUBLIC, Key=PUBLIC_KEY)["Body"].read() == PUBLIC_BODY
    assert s3.head_object(Bucket=PUBLIC, Key=PUBLIC_KEY)["ContentLength"] == len(PUBLIC_BODY)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=PUBLIC)["Contents"]] == [PUBLIC_KEY]
    store = cloud.obstore_store(PUBLIC, anonymous=True)
    assert bytes(obstore.get_range(store, PUBLIC_KEY, start=10, end=20)) == PUBLIC_BODY[10:20]


def test_anonymous_is_refused_on_protected_and_scratch_buckets(cloud: LocalCloud) -> None:
    import obstore
    from botocore.exceptions import ClientError

    s3 = cloud.boto3_client(anonymous=True)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)
    assert _error_code(caught.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="course-scratch", Key="anon.txt", Body=b"x")
    assert _error_code(caught.value) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=PUBLIC, Key="graffiti.txt", Body=b"x")
    assert _error_code(caught.value) == ("AccessDenied", 403)
    with pytest.raises(obstore.exceptions.PermissionDeniedError):
        obstore.get(cloud.obstore_store(PROTECTED, anonymous=True), PROTECTED_KEY)


def test_wrong_credentials_are_refused(cloud: LocalCloud) -> None:
    import obstore
    from botocore.exceptions import ClientError

    wrong_secret = Credentials(cloud.credentials.access_key_id, "not-the-secret")
    with pytest.raises(ClientError) as caught:
        cloud.boto3_client(credentials=wrong_secret).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)
    assert _error_code(caught.value) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as caught:  # a signed request is checked even on a public bucket
        cloud.boto3_client(credentials=wrong_secret).get_object(Bucket=PUBLIC, Key=PUBLIC_KEY)
    assert _error_code(caught.value) == ("SignatureDoesNotMatch", 403)
    unknown = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as caught:
        cloud.boto3_client(credentials=unknown).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)
    assert _error_code(caught.value) == ("InvalidAccessKeyId", 403)
    with pytest.raises(obstore.exceptions.PermissionDeniedError, match="SignatureDoesNotMatch"):
        obstore.get(cloud.obstore_store(PROTECTED, credentials=wrong_secret), PROTECTED_KEY)


def test_static_keys_read_everything_and_write_only_scratch(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    import obstore
    from botocore.exceptions import ClientError

    s3 = cloud.boto3_client()
    assert s3.get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)["Body"].read() == PROTECTED_BODY
    s3.put_object(Bucket="course-scratch", Key="static/a b=c.txt", Body=b"written")
    assert s3.get_object(Bucket="course-scratch", Key="static/a b=c.txt")["Body"].read() == b"written"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=PROTECTED, Key="graffiti.txt", Body=b"x")
    assert _error_code(caught.value) == ("AccessDenied", 403)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-token-from-somewhere-else")  # obstore reads it
    store = cloud.obstore_store("course-scratch", prefix="obstore")
    obstore.put(store, "x.bin", b"12345")
    assert bytes(obstore.get(store, "x.bin").bytes()) == b"12345"
    with pytest.raises(obstore.exceptions.AlreadyExistsError):  # conditional put (If-None-Match)
        obstore.put(store, "x.bin", b"again", mode="create")


def test_fsspec_options_work_with_s3fs(cloud: LocalCloud) -> None:
    import s3fs

    assert (
        s3fs.S3FileSystem(**cloud.fsspec_options(anonymous=True)).cat(f"{PUBLIC}/{PUBLIC_KEY}") == PUBLIC_BODY
    )
    fs = s3fs.S3FileSystem(**cloud.fsspec_options(credentials=cloud.temporary_credentials()))
    assert fs.cat(f"{PROTECTED}/{PROTECTED_KEY}") == PROTECTED_BODY
    with pytest.raises(PermissionError):
        s3fs.S3FileSystem(**cloud.fsspec_options(anonymous=True)).cat(f"{PROTECTED}/{PROTECTED_KEY}")


def test_temporary_credentials(cloud: LocalCloud) -> None:
    import obstore
    from botocore.exceptions import ClientError

    issued = cloud.temporary_credentials()
    assert set(issued) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}
    keys = Credentials.from_earthdata(issued)
    assert keys.expiration is not None and keys.expiration.tzinfo is not None
    assert "secret" not in repr(keys).replace("secret_access_key", "") and issued[
        "secretAccessKey"
    ] not in repr(keys)
    body = (
        cloud.boto3_client(credentials=issued).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)["Body"].read()
    )
    assert body == PROTECTED_BODY
    assert (
        bytes(obstore.get(cloud.obstore_store(PROTECTED, credentials=keys), PROTECTED_KEY).bytes())
        == PROTECTED_BODY
    )

    with pytest.raises(ClientError) as caught:
        cloud.boto3_client(credentials={**issued, "sessionToken": "garbage"}).get_object(
            Bucket=PROTECTED, Key=PROTECTED_KEY
        )
    assert _error_code(caught.value) == ("InvalidToken", 400)
    without_token = Credentials(keys.access_key_id, keys.secret_access_key)
    with pytest.raises(ClientError) as caught:
        cloud.boto3_client(credentials=without_token).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)
    assert _error_code(caught.value) == ("InvalidAccessKeyId", 403)

    short = cloud.temporary_credentials(duration_seconds=1)
    time.sleep(1.2)
    with pytest.raises(ClientError) as caught:
        cloud.boto3_client(credentials=short).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)
    assert _error_code(caught.value) == ("ExpiredToken", 400)


def test_earthdata_style_endpoint(cloud: LocalCloud) -> None:
    with urllib.request.urlopen(cloud.s3credentials_url, timeout=10) as response:
        issued = json.load(response)
    body = (
        cloud.boto3_client(credentials=issued).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)["Body"].read()
    )
    assert body == PROTECTED_BODY


# --- icechunk -------------------------------------------------------------------------------


def test_icechunk_create_commit_reopen_on_scratch(cloud: LocalCloud) -> None:
    import icechunk
    import zarr

    prefix = f"tests/repo-{time.time_ns()}"
    repo = icechunk.Repository.create(cloud.icechunk_storage("course-scratch", prefix))
    session = repo.writable_session("main")
    array = zarr.create_array(session.store, name="cube", shape=(4, 4), chunks=(2, 2), dtype="i2")
    array[:] = np.arange(16, dtype="i2").reshape(4, 4)
    session.commit("first")

    # two writers from the same parent: the second commit must lose (conditional writes)
    one, two = repo.writable_session("main"), repo.writable_session("main")
    zarr.open_array(one.store, path="cube")[0, 0] = 100
    zarr.open_array(two.store, path="cube")[3, 3] = 200
    one.commit("one")
    with pytest.raises(icechunk.ConflictError):
        two.commit("two")

    reopened = icechunk.Repository.open(
        cloud.icechunk_storage("course-scratch", prefix, credentials=cloud.temporary_credentials())
    )
    values = np.asarray(zarr.open_array(reopened.readonly_session("main").store, path="cube", mode="r")[:])
    assert values[0, 0] == 100 and values[3, 3] == 15
    assert [s.message for s in reopened.ancestry(branch="main")] == ["one", "first", "Repository initialized"]
    with pytest.raises(icechunk.IcechunkError, match="AccessDenied"):
        icechunk.Repository.open(cloud.icechunk_storage("course-scratch", prefix, anonymous=True))


def test_icechunk_anonymous_read_of_a_public_bucket(cloud: LocalCloud) -> None:
    import icechunk
    import zarr

    prefix = f"icechunk/tests-{time.time_ns()}"
    published = icechunk.Repository.create(
        cloud.icechunk_storage(PUBLIC, prefix, credentials=cloud.provider_credentials)
    )
    session = published.writable_session("main")
    zarr.create_array(session.store, name="sst", shape=(3,), dtype="f4")[:] = [1.5, 2.5, 3.5]
    session.commit("published")
    reader = icechunk.Repository.open(cloud.icechunk_storage(PUBLIC, prefix, anonymous=True))
    sst = np.asarray(zarr.open_array(reader.readonly_session("main").store, path="sst", mode="r")[:])
    assert sst.tolist() == [1.5, 2.5, 3.5]


@pytest.mark.parametrize("protected", [False, True], ids=["public-anonymous", "protected-temporary"])
def test_icechunk_virtual_chunk_container(cloud: LocalCloud, protected: bool) -> None:
    import icechunk
    import zarr

    bucket, key, body = (
        (PROTECTED, PROTECTED_KEY, PROTECTED_BODY) if protected else (PUBLIC, PUBLIC_KEY, PUBLIC_BODY)
    )
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(cloud.virtual_chunk_container(bucket))
    access = (
        cloud.icechunk_s3_credentials(credentials=cloud.temporary_credentials())
        if protected
        else cloud.icechunk_s3_credentials(anonymous=True)
    )
    authorize = icechunk.containers_credentials({f"s3://{bucket}/": access})
    storage = cloud.icechunk_storage("course-scratch", f"tests/virtual-{bucket}-{time.time_ns()}")
    repo = icechunk.Repository.create(storage, config=config, authorize_virtual_chunk_access=authorize)
    session = repo.writable_session("main")
    zarr.create_array(
        session.store, name="raw", shape=(8,), chunks=(8,), dtype="u1", compressors=None, fill_value=0
    )
    session.store.set_virtual_ref("raw/c/0", f"s3://{bucket}/{key}", offset=4, length=8)
    session.commit("virtual")
    reader = icechunk.Repository.open(storage, authorize_virtual_chunk_access=authorize)
    raw = np.asarray(zarr.open_array(reader.readonly_session("main").store, path="raw", mode="r")[:])
    assert raw.tobytes() == body[4:12]


# --- HTTP file server -----------------------------------------------------------------------


def _http(url: str, *, method: str = "GET", range_: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers={"Range": range_} if range_ else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_http_server_answers_byte_ranges(cloud: LocalCloud) -> None:
    url = f"{cloud.http_url}/{PUBLIC}/{PUBLIC_KEY}"
    status, headers, body = _http(url, range_="bytes=100-199")
    assert status == 206 and body == PUBLIC_BODY[100:200]
    assert (
        headers["Content-Range"] == f"bytes 100-199/{len(PUBLIC_BODY)}"
        and headers["Accept-Ranges"] == "bytes"
    )
    status, headers, body = _http(url, method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) == len(PUBLIC_BODY) and body == b""
    assert _http(url, range_="bytes=-24")[2] == PUBLIC_BODY[-24:]
    status, headers, _ = _http(url, range_=f"bytes={len(PUBLIC_BODY) + 10}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(PUBLIC_BODY)}"
    assert _http(url)[2] == PUBLIC_BODY
    assert _http(f"{cloud.http_url}/{PUBLIC}/no/such/file.nc")[0] == 404
    assert _http(f"{cloud.http_url}/{PUBLIC}/../../../etc/passwd")[0] == 404
    assert _http(url, method="PUT")[0] == 405


def test_rioxarray_reads_a_geotiff_over_http(cloud: LocalCloud) -> None:
    import rioxarray

    url = cloud.localize(GLAD_URL)
    assert url == f"{cloud.http_url}/{GLAD}/{GLAD_KEY}"
    raster = rioxarray.open_rasterio(url)
    assert isinstance(raster, xr.DataArray)
    assert raster.shape == (1, 64, 64) and raster.rio.crs.to_epsg() == 4326
    np.testing.assert_array_equal(raster.values[0], GLAD_PIXELS)


def test_localize_maps_real_urls(cloud: LocalCloud) -> None:
    for real in (
        f"https://storage.googleapis.com/{GLAD}/{GLAD_KEY}",
        f"https://{PUBLIC}.s3.amazonaws.com/{PUBLIC_KEY}",
        f"https://{PUBLIC}.s3.us-east-1.amazonaws.com/{PUBLIC_KEY}",
        f"https://s3.us-east-1.amazonaws.com/{PUBLIC}/{PUBLIC_KEY}",
    ):
        bucket = GLAD if "googleapis" in real else PUBLIC
        key = GLAD_KEY if bucket == GLAD else PUBLIC_KEY
        assert cloud.localize(real) == f"{cloud.http_url}/{bucket}/{key}"
    with pytest.raises(ValueError, match="endpoint_url"):
        cloud.localize(f"s3://{PUBLIC}/{PUBLIC_KEY}")


# --- request counter ------------------------------------------------------------------------


def test_request_counter(cloud: LocalCloud) -> None:
    s3 = cloud.boto3_client(anonymous=True)
    cloud.requests.reset()
    s3.get_object(Bucket=PUBLIC, Key=PUBLIC_KEY, Range="bytes=0-99")
    s3.head_object(Bucket=PUBLIC, Key=PUBLIC_KEY)
    _http(f"{cloud.http_url}/{PUBLIC}/{PUBLIC_KEY}", range_="bytes=0-9")
    stats = cloud.requests.snapshot()
    assert stats.count == 3 and stats.by_method == {"GET": 2, "HEAD": 1}
    assert stats.range_gets == 2 and stats.bytes_sent == 110 and stats.errors == 0
    assert [(r.server, r.method, r.status) for r in stats.records] == [
        ("s3", "GET", 206),
        ("s3", "HEAD", 200),
        ("http", "GET", 206),
    ]
    assert "3 requests" in str(stats)
    cloud.requests.reset()
    assert cloud.requests.snapshot().count == 0


# --- the provider's public stores bucket ----------------------------------------------------


def test_public_stores_bucket_is_public_read_and_provider_write(cloud: LocalCloud) -> None:
    import obstore
    from botocore.exceptions import ClientError

    bucket = local_cloud.PUBLIC_STORES_BUCKET
    assert bucket in local_cloud.PUBLIC_BUCKETS and cloud.buckets[bucket] == "public"
    key = f"tests/published-{time.time_ns()}.txt"
    provider = cloud.boto3_client(credentials=cloud.provider_credentials)
    provider.put_object(Bucket=bucket, Key=key, Body=b"published")
    try:
        anonymous = cloud.boto3_client(anonymous=True)
        assert anonymous.get_object(Bucket=bucket, Key=key)["Body"].read() == b"published"
        listed = [m["path"] for page in obstore.list(cloud.obstore_store(bucket, anonymous=True)) for m in page]
        assert key in listed
        temporary = cloud.boto3_client(credentials=cloud.temporary_credentials())
        for writer in (anonymous, cloud.boto3_client(), temporary):
            with pytest.raises(ClientError) as caught:
                writer.put_object(Bucket=bucket, Key="graffiti.txt", Body=b"x")
            assert _error_code(caught.value) == ("AccessDenied", 403)
    finally:
        provider.delete_object(Bucket=bucket, Key=key)
