"""Tests of the local cloud (utils.local_cloud), as lessons use it: obstore, boto3 and icechunk
pointed at ``cloud.endpoint_url``. Loopback only, on a small fake sample tree."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from utils import local_cloud
from utils.data import OISST_BUCKET
from utils.local_cloud import PUBLIC_STORES_BUCKET, SCRATCH_BUCKET, Keys, LocalCloud, LocalCloudError

PUBLIC, PUBLIC_KEY = OISST_BUCKET, "data/v2.1/avhrr/202408/oisst-avhrr-v02r01.20240801.nc"
PUBLIC_BODY = bytes(range(256)) * 4  # 1 KiB of distinct byte values
PROTECTED, PROTECTED_KEY = "example-protected-archive", "granules/2024/file.bin"
PROTECTED_BODY = b"for authorized eyes only"
LEAK_KEY = f"{PUBLIC}/leak.bin"  # a protected key that reads like a public bucket's path
LAZY = "lazy-archive"  # a bucket only the lazy-loading test names
UNICODE_KEY = "données/été 2024 (día 1).bin"
SECRET = b"outside the sample tree"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Buckets: public, protected, lazy; a hidden file, a non-ASCII name, symlinks in and out of the tree."""
    base = tmp_path_factory.mktemp("cloud")
    (base / "secret.txt").write_bytes(SECRET)
    root = base / "sample"
    for bucket, key, body in [(PUBLIC, PUBLIC_KEY, PUBLIC_BODY), (PROTECTED, PROTECTED_KEY, PROTECTED_BODY),
                              (PROTECTED, LEAK_KEY, PROTECTED_BODY), (PUBLIC, UNICODE_KEY, b"unicode"),
                              (LAZY, "a.bin", b"as made at setup")]:
        (root / bucket / key).parent.mkdir(parents=True, exist_ok=True)
        (root / bucket / key).write_bytes(body)
    (root / PROTECTED / ".hidden").write_text("never served")
    (root / "MANIFEST.json").write_text("{}")
    (root / PUBLIC / "escape.txt").symlink_to(base / "secret.txt")
    (root / PUBLIC / "inside.bin").symlink_to(root / PROTECTED / PROTECTED_KEY)
    return root


@pytest.fixture(scope="module")
def _stop_at_end() -> Iterator[None]:
    yield
    if local_cloud._running is not None:
        local_cloud._running.stop()


@pytest.fixture
def cloud(tree: Path, _stop_at_end: None) -> LocalCloud:
    """The running local cloud (started again if a test stopped it)."""
    return local_cloud.start(sample_dir=tree)


def _temporary(cloud: LocalCloud, seconds: int = 3600) -> Keys:
    issued = cloud.temporary_credentials(seconds)
    return Keys(issued["accessKeyId"], issued["secretAccessKey"], issued["sessionToken"])


def _boto(cloud: LocalCloud, keys: Keys | None = None) -> Any:
    """A boto3 S3 client; unsigned without keys."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1}, signature_version=UNSIGNED if keys is None else None)
    signed = {} if keys is None else dict(
        aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token)
    return boto3.client("s3", endpoint_url=cloud.endpoint_url, region_name=cloud.region, config=config, **signed)


def _store(cloud: LocalCloud, bucket: str, keys: Keys | None = None) -> Any:
    """An obstore S3Store; unsigned without keys."""
    from obstore.store import S3Store

    auth: dict[str, Any] = {"skip_signature": True} if keys is None else {
        "access_key_id": keys.access_key_id, "secret_access_key": keys.secret_access_key}  # fmt: skip
    if keys is not None and keys.session_token:
        auth["session_token"] = keys.session_token
    return S3Store(bucket, endpoint=cloud.endpoint_url, region=cloud.region, virtual_hosted_style_request=False,
                   client_options={"allow_http": True}, **auth)


def _storage(cloud: LocalCloud, bucket: str, prefix: str, keys: Keys | None = None) -> Any:
    import icechunk

    auth: dict[str, Any] = {"anonymous": True} if keys is None else dict(
        access_key_id=keys.access_key_id, secret_access_key=keys.secret_access_key, session_token=keys.session_token)
    return icechunk.s3_storage(bucket=bucket, prefix=prefix, region=cloud.region, endpoint_url=cloud.endpoint_url,
                               allow_http=True, force_path_style=True, **auth)  # fmt: skip


def _code(error: Any) -> tuple[str, int]:
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def _raw(url: str, method: str = "GET", target: str | None = None, headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """Send one request as written (request target and headers untouched)."""
    host, _, path = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.request(method, target or f"/{path}", body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def _signed(keys: Keys, method: str, url: str, body: bytes = b"", service: str = "s3") -> dict[str, str]:
    """SigV4 headers for a request to ``url`` (whatever its host), as a client would sign it."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body)
    S3SigV4Auth(Credentials(*keys), service, local_cloud.REGION).add_auth(request)
    return dict(request.headers)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- buckets, lazy loading, access ----------------------------------------------------------


def test_start_returns_the_running_cloud_and_lists_the_buckets(cloud: LocalCloud, tree: Path) -> None:
    assert local_cloud.start(sample_dir=tree) is cloud and cloud.region == "us-east-1"
    assert cloud.endpoint_url.startswith("http://127.0.0.1:") and cloud.http_url.startswith("http://127.0.0.1:")
    assert cloud.buckets == {PUBLIC: "public", PROTECTED: "protected", LAZY: "protected",
                             SCRATCH_BUCKET: "scratch", PUBLIC_STORES_BUCKET: "public"}  # fmt: skip
    listed = [o["Key"] for o in _boto(cloud, cloud.learner).list_objects_v2(Bucket=PROTECTED)["Contents"]]
    assert listed == [PROTECTED_KEY, LEAK_KEY]  # no hidden file
    public = sorted(o["Key"] for o in _boto(cloud).list_objects_v2(Bucket=PUBLIC)["Contents"])
    assert public == sorted([PUBLIC_KEY, UNICODE_KEY, "inside.bin"])  # no link out of the tree
    shown = repr(cloud.learner)
    assert "secret_access_key=..." in shown and cloud.learner.secret_access_key not in shown


def test_a_sample_bucket_is_loaded_when_a_request_first_names_it(cloud: LocalCloud, tree: Path) -> None:
    (tree / LAZY / "a.bin").write_bytes(b"changed after start")  # start() uploaded nothing
    s3 = _boto(cloud, cloud.learner)
    assert s3.get_object(Bucket=LAZY, Key="a.bin")["Body"].read() == b"changed after start"
    (tree / LAZY / "a.bin").write_bytes(b"changed after the first request")
    assert s3.get_object(Bucket=LAZY, Key="a.bin")["Body"].read() == b"changed after start"  # loaded once


def test_the_access_table(cloud: LocalCloud) -> None:
    """Who may read and write which bucket, with boto3: anonymous, learner, temporary and provider keys."""
    from botocore.exceptions import ClientError

    callers = {"anonymous": None, "learner": cloud.learner, "temporary": _temporary(cloud),
               "provider": cloud.provider}
    objects = {PUBLIC: PUBLIC_KEY, PROTECTED: PROTECTED_KEY, SCRATCH_BUCKET: "seed.txt",
               PUBLIC_STORES_BUCKET: "seed.txt"}
    for bucket in (SCRATCH_BUCKET, PUBLIC_STORES_BUCKET):
        _boto(cloud, cloud.provider).put_object(Bucket=bucket, Key="seed.txt", Body=b"seed")
    reads = {"anonymous": {PUBLIC, PUBLIC_STORES_BUCKET}}
    writes = {"learner": {SCRATCH_BUCKET}, "temporary": {SCRATCH_BUCKET}, "provider": set(objects)}
    table = {}
    for caller, keys in callers.items():
        s3 = _boto(cloud, keys)
        for bucket, key in objects.items():
            for action, call in [("read", lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
                                 ("list", lambda: s3.list_objects_v2(Bucket=bucket)),
                                 ("write", lambda: s3.put_object(Bucket=bucket, Key=f"t/{caller}", Body=b"x"))]:
                try:
                    call()
                    table[caller, bucket, action] = "ok"
                except ClientError as error:
                    table[caller, bucket, action] = _code(error)
    expected = {}
    for caller in callers:
        for bucket in objects:
            read = "ok" if bucket in reads.get(caller, objects) else ("AccessDenied", 403)
            expected[caller, bucket, "read"] = expected[caller, bucket, "list"] = read
            expected[caller, bucket, "write"] = "ok" if bucket in writes.get(caller, ()) else ("AccessDenied", 403)
    assert table == expected
    for bucket in objects:  # tidy up what the provider wrote into the sample buckets
        _boto(cloud, cloud.provider).delete_object(Bucket=bucket, Key="t/provider")


def test_obstore_reads_and_writes_with_each_kind_of_key(cloud: LocalCloud) -> None:
    import obstore

    assert bytes(obstore.get_range(_store(cloud, PUBLIC), PUBLIC_KEY, start=10, end=20)) == PUBLIC_BODY[10:20]
    assert bytes(obstore.get(_store(cloud, PROTECTED, _temporary(cloud)), PROTECTED_KEY).bytes()) == PROTECTED_BODY
    with pytest.raises(obstore.exceptions.PermissionDeniedError):
        obstore.get(_store(cloud, PROTECTED), PROTECTED_KEY)
    scratch = _store(cloud, SCRATCH_BUCKET, cloud.learner)
    obstore.put(scratch, "obstore/a b=c.bin", b"12345")
    assert bytes(obstore.get(scratch, "obstore/a b=c.bin").bytes()) == b"12345"
    with pytest.raises(obstore.exceptions.AlreadyExistsError):  # a conditional put (If-None-Match)
        obstore.put(scratch, "obstore/a b=c.bin", b"again", mode="create")
    obstore.put(_store(cloud, PUBLIC_STORES_BUCKET, cloud.provider), "published.txt", b"published")
    listed = [m["path"] for batch in obstore.list(_store(cloud, PUBLIC_STORES_BUCKET)) for m in batch]
    assert "published.txt" in listed  # anyone lists and reads what the provider published


def test_signature_refusals(cloud: LocalCloud) -> None:
    """moto's verifier: the real S3 error codes for wrong secrets, unknown keys, wrong or expired tokens."""
    from botocore.exceptions import ClientError

    temporary = _temporary(cloud)
    short = _temporary(cloud, seconds=1)
    cases = {
        "wrong secret": (Keys(cloud.learner.access_key_id, "not-the-secret"), ("SignatureDoesNotMatch", 403)),
        "unknown key": (Keys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                        ("InvalidAccessKeyId", 403)),
        "wrong token": (temporary._replace(session_token="garbage"), ("InvalidToken", 400)),
        "no token": (temporary._replace(session_token=None), ("InvalidAccessKeyId", 403)),
        "expired": (short, ("ExpiredToken", 400)),
    }  # fmt: skip
    time.sleep(1.1)  # let the short-lived key expire
    for name, (keys, expected) in cases.items():
        for bucket, key in ((PROTECTED, PROTECTED_KEY), (PUBLIC, PUBLIC_KEY)):  # signed: checked everywhere
            with pytest.raises(ClientError) as caught:
                _boto(cloud, keys).get_object(Bucket=bucket, Key=key)
            assert _code(caught.value) == expected, name
    import obstore

    with pytest.raises(obstore.exceptions.PermissionDeniedError, match="SignatureDoesNotMatch"):
        obstore.get(_store(cloud, PROTECTED, cases["wrong secret"][0]), PROTECTED_KEY)


def test_earthdata_style_credentials_need_the_login(cloud: LocalCloud) -> None:
    status, headers, _ = _raw(cloud.s3credentials_url)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, _, body = _raw(cloud.s3credentials_url, headers=_basic(*cloud.earthdata_login))
    issued = json.loads(body)
    assert status == 200 and set(issued) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}
    keys = Keys(issued["accessKeyId"], issued["secretAccessKey"], issued["sessionToken"])
    assert _boto(cloud, keys).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)["Body"].read() == PROTECTED_BODY


# --- security probes: each one must be refused ----------------------------------------------

VHOST = f"{PUBLIC_STORES_BUCKET}.s3.amazonaws.com"


def _refused(status: int, *_: Any) -> bool:
    return status in (400, 401, 403, 404, 405)


def _as(cloud: LocalCloud, keys: Keys, method: str, path: str, body: bytes = b"") -> bool:
    """A request signed with ``keys`` for the endpoint itself: refused?"""
    s3 = cloud.endpoint_url
    return _refused(*_raw(s3, method, path, _signed(keys, method, f"{s3}{path}", body), body))


def _other_service(cloud: LocalCloud, service: str, call: str) -> bool:
    """The provider calls IAM or STS through the endpoint: refused?"""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(service, endpoint_url=cloud.endpoint_url, region_name=cloud.region,
                          aws_access_key_id=cloud.provider[0], aws_secret_access_key=cloud.provider[1])  # fmt: skip
    try:
        getattr(client, call)()
    except ClientError:
        return True
    return False


def _virtual_hosted_write(cloud: LocalCloud, target: str) -> bool:
    """The learner signs a write to /course-scratch/x.txt, sent with the public stores bucket as Host."""
    headers = {**_signed(cloud.learner, "PUT", f"http://{VHOST}/course-scratch/x.txt", b"x"), "Host": VHOST}
    refused = _refused(*_raw(cloud.endpoint_url, "PUT", target, headers, b"x"))
    listing = _boto(cloud, cloud.provider).list_objects_v2(Bucket=PUBLIC_STORES_BUCKET).get("Contents", [])
    return refused and not {o["Key"] for o in listing} & {"course-scratch/x.txt", "x.txt"}  # nothing written


def _virtual_hosted_read(cloud: LocalCloud) -> bool:
    """Anonymous: the path names a public bucket, the Host the protected one (moto would read it)."""
    status, _, body = _raw(cloud.endpoint_url, "GET", f"/{LEAK_KEY}", {"Host": f"{PROTECTED}.s3.amazonaws.com"})
    return _refused(status) and PROTECTED_BODY not in body


def _presigned(cloud: LocalCloud) -> bool:
    url = _boto(cloud, cloud.learner).generate_presigned_url(
        "get_object", Params={"Bucket": PROTECTED, "Key": PROTECTED_KEY})
    return _refused(*_raw(url))


PROBES: dict[str, Callable[[LocalCloud], bool]] = {
    "moto-api data.json, anonymous": lambda c: _refused(*_raw(f"{c.endpoint_url}/moto-api/data.json")),
    "moto-api data.json, learner": lambda c: _as(c, c.learner, "GET", "/moto-api/data.json"),
    "moto-api data.json, provider": lambda c: _as(c, c.provider, "GET", "/moto-api/data.json"),
    "moto-api reset, provider": lambda c: _as(c, c.provider, "POST", "/moto-api/reset"),
    "moto-api dashboard": lambda c: _refused(*_raw(f"{c.endpoint_url}/moto-api/")),
    "instance metadata route": lambda c: _refused(*_raw(f"{c.endpoint_url}/latest/meta-data/iam/security-credentials/")),
    "IAM through the endpoint, provider": lambda c: _other_service(c, "iam", "list_users"),
    "STS through the endpoint, provider": lambda c: _other_service(c, "sts", "get_session_token"),
    "virtual-hosted write into the public stores": lambda c: _virtual_hosted_write(c, "/course-scratch/x.txt"),
    "absolute-form target, virtual host": lambda c: _virtual_hosted_write(c, f"http://{VHOST}/x.txt"),
    "virtual-hosted anonymous read of a protected bucket": _virtual_hosted_read,
    "another Host spelling (localhost)": lambda c: _refused(*_raw(
        c.endpoint_url, "GET", f"/{PUBLIC}/{PUBLIC_KEY}", {"Host": "localhost:" + c.endpoint_url.rsplit(":", 1)[1]})),
    "learner creates a bucket": lambda c: _as(c, c.learner, "PUT", "/new-bucket"),
    "learner deletes the scratch bucket": lambda c: _as(c, c.learner, "DELETE", f"/{SCRATCH_BUCKET}"),
    "learner sets the scratch bucket's policy": lambda c: _as(c, c.learner, "PUT", f"/{SCRATCH_BUCKET}?policy", b"{}"),
    "presigned URL": _presigned,
    "SigV2 header": lambda c: _refused(*_raw(c.endpoint_url, "GET", f"/{PROTECTED}/{PROTECTED_KEY}",
                                             {"Authorization": f"AWS {c.learner[0]}:c2lnbmF0dXJl"})),
    "s3credentials without login": lambda c: _refused(*_raw(c.s3credentials_url)),
    "s3credentials, wrong password": lambda c: _refused(*_raw(
        c.s3credentials_url, headers=_basic(c.earthdata_login[0], "guess"))),
    "s3credentials with the S3 keys": lambda c: _refused(*_raw(c.s3credentials_url, headers=_basic(*c.learner[:2]))),
    "file server: symlink out of the tree": lambda c: _refused(*_raw(f"{c.http_url}/{PUBLIC}/escape.txt")),
    "file server: ../ in the path": lambda c: _refused(*_raw(c.http_url, "GET", f"/{PUBLIC}/../../secret.txt")),
    "file server: %2e%2e in the path": lambda c: _refused(*_raw(c.http_url, "GET", f"/{PUBLIC}/%2e%2e/%2e%2e/secret.txt")),
    "file server: hidden file": lambda c: _refused(*_raw(f"{c.http_url}/{PROTECTED}/.hidden")),
    "file server: NUL in the path": lambda c: _refused(*_raw(c.http_url, "GET", f"/{PUBLIC}/data%00.nc")),
    "file server: PUT": lambda c: _refused(*_raw(c.http_url, "PUT", f"/{PUBLIC}/new.txt", body=b"x")),
}  # fmt: skip


@pytest.mark.parametrize("probe", PROBES)
def test_security_probe_is_refused(cloud: LocalCloud, probe: str) -> None:
    assert PROBES[probe](cloud), f"not refused: {probe}"
    body = _boto(cloud, cloud.learner).get_object(Bucket=PROTECTED, Key=PROTECTED_KEY)["Body"].read()
    assert body == PROTECTED_BODY  # moto's state is intact (not reset), the learner's key still works


# --- the HTTP file server -------------------------------------------------------------------


def test_file_server_answers_ranges_like_s3(cloud: LocalCloud) -> None:
    url, size = f"{cloud.http_url}/{PUBLIC}/{PUBLIC_KEY}", len(PUBLIC_BODY)
    assert _raw(url)[::2] == (200, PUBLIC_BODY)
    status, headers, body = _raw(url, headers={"Range": "bytes=100-199"})
    assert (status, body, headers["Content-Range"]) == (206, PUBLIC_BODY[100:200], f"bytes 100-199/{size}")
    status, headers, body = _raw(url, "HEAD")
    assert (status, int(headers["Content-Length"]), body) == (200, size, b"")
    assert _raw(url, headers={"Range": "bytes=-24"})[::2] == (206, PUBLIC_BODY[-24:])
    status, headers, body = _raw(url, headers={"Range": f"bytes=-{size + 500}"})  # RFC 9110: the whole file
    assert (status, body, headers["Content-Range"]) == (206, PUBLIC_BODY, f"bytes 0-{size - 1}/{size}")
    status, headers, _ = _raw(url, headers={"Range": f"bytes={size + 10}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{size}")
    assert _raw(f"{cloud.http_url}/{PUBLIC}/no/such/file.nc")[0] == 404
    assert _raw(f"{cloud.http_url}/{PUBLIC}/inside.bin")[::2] == (200, PROTECTED_BODY)  # a link inside the tree


def test_file_server_serves_non_ascii_names(cloud: LocalCloud) -> None:
    quoted = urllib.parse.quote(f"/{PUBLIC}/{UNICODE_KEY}")
    assert _raw(cloud.http_url, target=quoted)[::2] == (200, b"unicode")
    with urllib.request.urlopen(f"{cloud.http_url}{quoted}", timeout=10) as response:
        assert response.read() == b"unicode"
    assert _boto(cloud).get_object(Bucket=PUBLIC, Key=UNICODE_KEY)["Body"].read() == b"unicode"  # and over S3


# --- counting requests ----------------------------------------------------------------------


def test_requests_are_counted_and_measured(cloud: LocalCloud) -> None:
    import obstore

    store = _store(cloud, PUBLIC)
    cloud.requests.reset()
    obstore.get_range(store, PUBLIC_KEY, start=0, end=100)
    obstore.head(store, PUBLIC_KEY)
    _raw(f"{cloud.http_url}/{PUBLIC}/{PUBLIC_KEY}", headers={"Range": "bytes=0-9"})
    stats = cloud.requests.snapshot()
    assert (stats.count, stats.by_method, stats.range_gets, stats.bytes_sent, stats.errors) == (
        3, {"GET": 2, "HEAD": 1}, 2, 110, 0)  # fmt: skip
    assert [(r.server, r.method, r.status) for r in stats.records] == [("s3", "GET", 206), ("s3", "HEAD", 200),
                                                                       ("http", "GET", 206)]  # fmt: skip
    assert str(stats).startswith("3 requests (GET 2, HEAD 1; 2 ranged GETs, 0 errors), 110 bytes sent")
    scratch = _store(cloud, SCRATCH_BUCKET, cloud.learner)
    measured = cloud.measure(lambda: obstore.put(scratch, "measured.bin", b"x" * 1000))
    assert measured.stats.count == 1 and measured.stats.bytes_received == 1000 and measured.seconds > 0
    measured = cloud.measure(lambda: bytes(obstore.get(store, PUBLIC_KEY).bytes()))
    assert measured.value == PUBLIC_BODY and measured.stats.bytes_sent == len(PUBLIC_BODY)
    cloud.requests.reset()
    assert cloud.requests.snapshot().count == 0


# --- icechunk -------------------------------------------------------------------------------


def test_icechunk_repository_created_committed_and_reopened_on_scratch(cloud: LocalCloud) -> None:
    import icechunk
    import zarr

    prefix = f"tests/repo-{time.time_ns()}"
    repo = icechunk.Repository.create(_storage(cloud, SCRATCH_BUCKET, prefix, cloud.learner))
    session = repo.writable_session("main")
    cube = zarr.create_array(session.store, name="cube", shape=(4, 4), chunks=(2, 2), dtype="i2")
    cube[:] = np.arange(16).reshape(4, 4)
    session.commit("first")
    one, two = repo.writable_session("main"), repo.writable_session("main")  # two writers, one parent
    zarr.open_array(one.store, path="cube")[0, 0] = 100
    zarr.open_array(two.store, path="cube")[3, 3] = 200
    one.commit("one")
    with pytest.raises(icechunk.ConflictError):  # the second loses: conditional writes work
        two.commit("two")
    reopened = icechunk.Repository.open(_storage(cloud, SCRATCH_BUCKET, prefix, _temporary(cloud)))  # session token
    values = zarr.open_array(reopened.readonly_session("main").store, path="cube", mode="r")[:]
    assert values[0, 0] == 100 and values[3, 3] == 15
    assert [s.message for s in reopened.ancestry(branch="main")] == ["one", "first", "Repository initialized"]
    with pytest.raises(icechunk.IcechunkError, match="AccessDenied"):
        icechunk.Repository.open(_storage(cloud, SCRATCH_BUCKET, prefix))


def test_icechunk_publishing_and_virtual_chunks(cloud: LocalCloud) -> None:
    """The provider publishes a virtual store into the public stores bucket; anyone opens it; its
    chunks live in the protected bucket and need temporary keys (notebook 05's workflow)."""
    import icechunk
    import zarr

    prefix, container = f"tests/virtual-{time.time_ns()}", f"s3://{PROTECTED}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(container, icechunk.s3_store(
        region=cloud.region, endpoint_url=cloud.endpoint_url, allow_http=True, force_path_style=True)))  # fmt: skip
    repo = icechunk.Repository.create(_storage(cloud, PUBLIC_STORES_BUCKET, prefix, cloud.provider), config=config)
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="raw", shape=(8,), chunks=(8,), dtype="u1", compressors=None, fill_value=0)
    session.store.set_virtual_ref("raw/c/0", f"{container}{PROTECTED_KEY}", offset=4, length=8)
    session.commit("virtual")
    temporary = _temporary(cloud)
    authorize = icechunk.containers_credentials({container: icechunk.s3_static_credentials(
        access_key_id=temporary.access_key_id, secret_access_key=temporary.secret_access_key,
        session_token=temporary.session_token)})  # fmt: skip
    anonymous = _storage(cloud, PUBLIC_STORES_BUCKET, prefix)
    reader = icechunk.Repository.open(anonymous, authorize_virtual_chunk_access=authorize)
    raw = zarr.open_array(reader.readonly_session("main").store, path="raw", mode="r")[:]
    assert raw.tobytes() == PROTECTED_BODY[4:12]


# --- lifetime -------------------------------------------------------------------------------


def _owner(tree: Path, ending: str) -> subprocess.Popen[str]:
    """A process that starts the local cloud, prints its ports and helper pid, then ends by ``ending``."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from utils import local_cloud
        cloud = local_cloud.start(sample_dir={str(tree)!r})
        ports = [url.rsplit(":", 1)[1] for url in (cloud.endpoint_url, cloud.http_url)]
        child = 0
        if {ending!r} == "fork":
            child = os.fork()
            if child == 0:
                time.sleep(60)
                os._exit(0)
        if {ending!r} == "ctrl-c":  # the terminal's Ctrl-C reaches the whole foreground process group
            signal.signal(signal.SIGINT, lambda *_: None)
            os.killpg(os.getpgrp(), signal.SIGINT)
            time.sleep(0.3)
            print(len(cloud.buckets), flush=True)  # the helper still answers
        print(*ports, cloud._process.pid, child, flush=True)
        if {ending!r} == "exit":
            sys.exit(0)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in "ZX"  # a zombie has ended
    except FileNotFoundError:
        return True


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_for(condition: Callable[[], bool], limit: float = 15) -> bool:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("ending", ["exit", "SIGKILL", "fork"])
def test_the_helper_ends_with_its_owner(tree: Path, ending: str) -> None:
    """At exit, when SIGKILLed, and when SIGKILLed while a forked child (holding the pipe) lives on."""
    owner = _owner(tree, ending)
    s3_port, http_port, helper, child = map(int, owner.stdout.readline().split())  # type: ignore[union-attr]
    owner.wait(timeout=60)
    owner.stdout.close()  # type: ignore[union-attr]
    try:
        assert _wait_for(lambda: _ended(helper)), "the helper outlived its owner"
        assert _wait_for(lambda: _port_is_free(s3_port) and _port_is_free(http_port))
        assert ending != "fork" or not _ended(child)  # the child is still alive
    finally:
        if child:
            os.kill(child, signal.SIGKILL)


def test_the_helper_survives_ctrl_c_in_a_terminal(tree: Path) -> None:
    owner = _owner(tree, "ctrl-c")
    out, _ = owner.communicate(timeout=120)
    buckets, *_ = out.split()
    assert int(buckets) == 5


def test_stop_frees_the_ports_and_start_again_works(cloud: LocalCloud, tree: Path) -> None:
    ports = [int(url.rsplit(":", 1)[1]) for url in (cloud.endpoint_url, cloud.http_url)]
    cloud.stop()
    assert not cloud.running and all(_port_is_free(p) for p in ports)
    cloud.stop()  # twice is harmless
    with pytest.raises(LocalCloudError, match=r"stopped.*start\(\) again"):
        cloud.requests.snapshot()
    again = local_cloud.start(sample_dir=tree)
    assert again is not cloud and again.running and again.buckets[SCRATCH_BUCKET] == "scratch"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["abc", "8080", 70000, 0, -1, 80.5, True])
def test_start_refuses_a_bad_port(port: Any) -> None:
    with pytest.raises(ValueError, match=r"port is a whole number from 1 to 65535, or None"):
        local_cloud.start(port=port)


@pytest.mark.parametrize("seconds", ["10", 0, -5, 10.5, True, 10**6, None])
def test_temporary_credentials_refuse_bad_durations(cloud: LocalCloud, seconds: Any) -> None:
    with pytest.raises(ValueError, match=r"whole number from 1 to 43200"):
        cloud.temporary_credentials(seconds)


def test_start_while_running_busy_port_and_missing_data(cloud: LocalCloud, tree: Path, tmp_path: Path) -> None:
    port = int(cloud.endpoint_url.rsplit(":", 1)[1])
    with pytest.raises(LocalCloudError, match=r"already runs .* use it, or call its \.stop\(\) first"):
        local_cloud.start(port=port + 1 if port < 65535 else port - 1, sample_dir=tree)
    with pytest.raises(LocalCloudError, match="already runs"):
        local_cloud.start(sample_dir=tmp_path)
    cloud.stop()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(LocalCloudError, match=r"another program already listens on it\. Call local_cloud\.start"
                                                  r"\(\) without a port"):  # fmt: skip
            local_cloud.start(port=busy.getsockname()[1], sample_dir=tree)
    with pytest.raises(LocalCloudError, match=r"no sample data in .*nothing-here: run `\./course\.sh setup`"):
        local_cloud.start(sample_dir=tmp_path / "nothing-here")
    with pytest.raises(LocalCloudError, match=r"holds no bucket folders: run `\./course\.sh setup`"):
        local_cloud.start(sample_dir=tmp_path)
    assert local_cloud._running is None or not local_cloud._running.running
