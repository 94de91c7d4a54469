"""The local cloud: an S3-compatible server and an HTTP file server on loopback.

The course runs offline. This module stands in for the cloud so that a notebook
written against the real cloud needs another *endpoint and credentials*, not
other code::

    from utils import local_cloud

    cloud = local_cloud.start()        # about a second; stops when the kernel exits
    storage = cloud.icechunk_storage("course-scratch", "glad/cube")

Two servers listen on ``127.0.0.1``, on free ports, in one helper process
(a server inside the notebook's own process would deadlock with libraries,
such as GDAL through rasterio, that wait for the network while holding
Python's global lock):

* **S3** (:attr:`LocalCloud.endpoint_url`): `moto <https://docs.getmoto.org>`_'s
  S3 server. Every top-level folder of the sample data
  (``data/sample/<bucket>/<key>``) becomes a bucket of the same name holding the
  same keys, so the real bucket names and object keys work unchanged. Buckets
  in :data:`PUBLIC_BUCKETS` are public-read, as they are on the real cloud;
  every other sample-data bucket needs credentials; :data:`SCRATCH_BUCKET` is
  where learners write their own stores; :data:`PUBLIC_STORES_BUCKET` (public-read,
  written with the provider's keys) is where a provider publishes stores.
* **HTTP** (:attr:`LocalCloud.http_url`): the same tree, read-only over plain
  HTTP with byte ranges, standing in for files the real world serves over HTTPS
  (``https://storage.googleapis.com/<bucket>/<key>``; see
  :meth:`LocalCloud.localize`). ``GET /s3credentials`` answers like an
  Earthdata temporary-credentials endpoint.

Who may do what (enforced by :class:`_Gatekeeper`, a small WSGI middleware in
front of moto, whose own IAM simulation stays off):

==========================  ===================  ======================  ===============
caller                      public data buckets  protected data buckets  scratch bucket
==========================  ===================  ======================  ===============
anonymous (unsigned)        read                 403 AccessDenied        403 AccessDenied
learner or temporary keys   read                 read                    read and write
provider keys               read and write       read and write          read and write
==========================  ===================  ======================  ===============

The signature (AWS Signature Version 4) of every signed request is checked by
moto's own verifier, the code moto runs when its IAM simulation is on, against
the keys of moto's IAM users and the sessions moto's STS issued: an unknown key
gives ``InvalidAccessKeyId``, a wrong secret ``SignatureDoesNotMatch``, a wrong
session token ``InvalidToken`` and an expired temporary key ``ExpiredToken``.
Not simulated: IAM and bucket policies (the table above is the whole policy),
presigned URLs, SigV2, virtual-hosted-style addressing (every helper here uses
path style), request-time skew and the per-chunk signatures of streaming uploads.

Every request to either server is counted (:attr:`LocalCloud.requests`), so a
lesson can show how many requests and bytes a read costs.
"""

from __future__ import annotations

import atexit
import dataclasses
import errno
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from utils.paths import REPO_ROOT, SAMPLE_DIR, display

if TYPE_CHECKING:  # the heavy libraries are imported where they are used
    import icechunk
    import obstore.store
    from obstore.store import S3Config, S3Credential

__all__ = [
    "PUBLIC_BUCKETS",
    "PUBLIC_STORES_BUCKET",
    "REGION",
    "SCRATCH_BUCKET",
    "Credentials",
    "LocalCloud",
    "LocalCloudError",
    "RequestCounter",
    "RequestRecord",
    "RequestStats",
    "running",
    "start",
]

#: The region of every bucket (the real OISST bucket is in us-east-1).
REGION = "us-east-1"
#: Buckets that are public-read on the real cloud, hence readable anonymously here.
PUBLIC_BUCKETS: frozenset[str] = frozenset(
    {
        "noaa-cdr-sea-surface-temp-optimum-interpolation-pds",  # NOAA open data on AWS
        "earthenginepartners-hansen",  # public Google Cloud Storage bucket of GLAD
        "course-public-stores",  # PUBLIC_STORES_BUCKET
    }
)
#: A public-read bucket where a data provider publishes stores (e.g. a virtual Icechunk
#: store of a public dataset): anyone reads it anonymously, only provider keys write it.
PUBLIC_STORES_BUCKET = "course-public-stores"
#: The writable, credential-protected bucket where learners put their own stores.
SCRATCH_BUCKET = "course-scratch"

_HOST = "127.0.0.1"
_ACCOUNT_ID = "123456789012"  # moto's default account
_TEMPORARY_ROLE = f"arn:aws:iam::{_ACCOUNT_ID}:role/course-temporary-reader"
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SETUP_HINT = "run `./course.sh setup` (or `python -m utils.sample_data`) to make it"
_START_TIMEOUT_SECONDS = 120  # a cold first import of moto can be slow
_STOP_TIMEOUT_SECONDS = 10


class LocalCloudError(RuntimeError):
    """The local cloud could not do what was asked; the message says what to do."""


# --- credentials ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Credentials:
    """AWS-style keys; ``repr`` never shows the secret or the session token."""

    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    session_token: str | None = dataclasses.field(default=None, repr=False)
    expiration: datetime | None = None

    @classmethod
    def from_earthdata(cls, response: Mapping[str, Any]) -> Credentials:
        """Read the JSON of an Earthdata ``/s3credentials`` endpoint.

        Its keys are ``accessKeyId``, ``secretAccessKey``, ``sessionToken`` and
        ``expiration`` (e.g. ``"2024-05-01 12:00:00+00:00"``).
        """
        try:
            expiration = response.get("expiration")
            return cls(
                access_key_id=str(response["accessKeyId"]),
                secret_access_key=str(response["secretAccessKey"]),
                session_token=response.get("sessionToken"),
                expiration=datetime.fromisoformat(str(expiration)) if expiration else None,
            )
        except KeyError as missing:
            raise LocalCloudError(
                f"the credentials lack {missing}: expected an Earthdata s3credentials response "
                "with accessKeyId, secretAccessKey, sessionToken and expiration"
            ) from None

    def to_earthdata(self) -> dict[str, str]:
        """These credentials as an Earthdata ``/s3credentials`` endpoint answers them."""
        out = {"accessKeyId": self.access_key_id, "secretAccessKey": self.secret_access_key}
        if self.session_token is not None:
            out["sessionToken"] = self.session_token
        if self.expiration is not None:
            out["expiration"] = str(self.expiration.astimezone(UTC).replace(microsecond=0))
        return out


@dataclasses.dataclass(frozen=True)
class _ObstoreCredentials:
    """An obstore credential provider handing out fixed keys (picklable)."""

    keys: Credentials

    def __call__(self) -> S3Credential:
        k = self.keys
        return {
            "access_key_id": k.access_key_id,
            "secret_access_key": k.secret_access_key,
            "token": k.session_token,
            "expires_at": None,
        }


#: What the ``credentials=`` arguments accept: :class:`Credentials` or an Earthdata-style dict.
CredentialsLike = Credentials | Mapping[str, Any]


# --- request counting -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One request the local cloud answered."""

    server: str  # "s3" or "http"
    method: str
    path: str  # path and query as sent, e.g. "/bucket/key?list-type=2"
    status: int
    range: str | None  # the Range header, if any
    bytes_sent: int  # response body bytes
    bytes_received: int  # request body bytes


@dataclasses.dataclass(frozen=True)
class RequestStats:
    """The requests counted since the last reset."""

    records: tuple[RequestRecord, ...]

    @property
    def count(self) -> int:
        """Number of requests."""
        return len(self.records)

    @property
    def by_method(self) -> dict[str, int]:
        """Requests per HTTP method, e.g. ``{"GET": 12, "HEAD": 1}``."""
        return dict(Counter(r.method for r in self.records))

    @property
    def range_gets(self) -> int:
        """GET requests with a ``Range`` header: reads of part of an object."""
        return sum(1 for r in self.records if r.method == "GET" and r.range)

    @property
    def bytes_sent(self) -> int:
        """Response body bytes the servers sent: what readers downloaded."""
        return sum(r.bytes_sent for r in self.records)

    @property
    def bytes_received(self) -> int:
        """Request body bytes the servers received: what writers uploaded."""
        return sum(r.bytes_received for r in self.records)

    @property
    def errors(self) -> int:
        """Requests answered with a status of 400 or more."""
        return sum(1 for r in self.records if r.status >= 400)

    def __str__(self) -> str:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(self.by_method.items())) or "none"
        return (
            f"{self.count} requests ({methods}; {self.range_gets} ranged GETs, {self.errors} errors), "
            f"{self.bytes_sent:,} bytes sent, {self.bytes_received:,} bytes received"
        )


class RequestCounter:
    """The requests both servers answered; get it as :attr:`LocalCloud.requests`.

    ::

        cloud.requests.reset()
        ds["sst"].isel(lat=0, lon=0).values
        print(cloud.requests.snapshot())   # e.g. "31 requests (GET 31; 31 ranged GETs, ...)"
    """

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def snapshot(self) -> RequestStats:
        """The requests since the last reset."""
        return RequestStats(tuple(RequestRecord(*r) for r in self._call("snapshot")))

    def reset(self) -> None:
        """Forget the requests counted so far."""
        self._call("reset")


# === the server process ====================================================================
# Everything down to "the notebook side" runs in the helper process started by start().

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Counting:
    """WSGI middleware recording each request and the size of its response body."""

    def __init__(self, app: WSGIApp, log: deque[tuple[Any, ...]], server: str) -> None:
        self.app = app
        self.log = log  # deque.append is thread-safe
        self.server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        # A response is logged as soon as its headers are set, before the client can see any of
        # it, so a snapshot taken right after a read always includes that read. Its size comes
        # from Content-Length; only a response without one is logged after its body is sent.
        logged = [False]

        def entry(status: int, sent: int) -> tuple[Any, ...]:
            return (
                self.server,
                environ["REQUEST_METHOD"],
                environ.get("RAW_URI") or environ.get("PATH_INFO", ""),
                status,
                environ.get("HTTP_RANGE"),
                sent,
                int(environ.get("CONTENT_LENGTH") or 0),
            )

        status = [0]

        def recording_start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(line.split(" ", 1)[0])
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            if length is not None and not logged[0]:
                sent = 0 if environ["REQUEST_METHOD"] == "HEAD" else int(length)
                self.log.append(entry(status[0], sent))
                logged[0] = True
            return start_response(line, headers, exc_info)

        body = self.app(environ, recording_start_response)
        sent = 0
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            if not logged[0]:
                self.log.append(entry(status[0], sent))


# Query keys that make a GET read a bucket's or object's configuration rather than its data.
_CONFIG_SUBRESOURCES = frozenset(
    "acl policy policyStatus tagging cors lifecycle encryption versioning website logging "
    "notification replication ownershipControls publicAccessBlock uploads uploadId".split()
)
# S3 error codes answered with 400 rather than 403.
_BAD_REQUEST_CODES = frozenset({"InvalidToken", "ExpiredToken", "InvalidRequest"})


class _Gatekeeper:
    """WSGI middleware in front of moto enforcing the access table of this module.

    Unsigned requests may read public buckets (GET and HEAD of objects and
    listings). A signed request must carry a valid SigV4 signature (checked by
    moto's verifier) and an unexpired key; then the provider key may do
    anything, and other keys may read every bucket and write the scratch bucket.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.enforce = False  # off only while the server sets itself up
        self.provider_key = ""
        self.expirations: dict[str, datetime] = {}  # temporary access key id -> expiry

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.refusal(environ) if self.enforce else None
        if refusal is None:
            return self.app(environ, start_response)
        code, message = refusal
        status = "400 Bad Request" if code in _BAD_REQUEST_CODES else "403 Forbidden"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<Resource>{escape(environ.get('PATH_INFO', '/'))}</Resource>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        ).encode()
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def refusal(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """Why the request is refused, as (S3 error code, message); None lets it in."""
        method = environ["REQUEST_METHOD"]
        bucket = environ.get("PATH_INFO", "/").lstrip("/").partition("/")[0]
        query = {k for k, _ in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)}
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization:
            if "X-Amz-Signature" in query or "Signature" in query:
                return "AccessDenied", "Presigned URLs are not supported by the local cloud."
            if bucket in PUBLIC_BUCKETS and method in {"GET", "HEAD"} and not query & _CONFIG_SUBRESOURCES:
                return None
            return "AccessDenied", "Access Denied"
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return (
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. "
                "Please use AWS4-HMAC-SHA256.",
            )
        scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
        access_key, service = (scope[0], scope[3]) if len(scope) == 5 else ("", "")
        refusal = _check_signature(environ, service)
        if refusal is not None:
            return refusal
        expires = self.expirations.get(access_key)
        if expires is not None and datetime.now(UTC) >= expires:
            return "ExpiredToken", "The provided token has expired."
        if access_key == self.provider_key:
            return None
        if service != "s3":
            return "AccessDenied", f"Only the data provider's keys may call {service} here."
        if method in {"GET", "HEAD"} or bucket == SCRATCH_BUCKET:
            return None
        return "AccessDenied", "Access Denied"


def _check_signature(environ: dict[str, Any], service: str) -> tuple[str, str] | None:
    """Check a SigV4 signature with moto's verifier: the refusal, or None if it is valid."""
    from moto.core.exceptions import ServiceException
    from moto.iam.access_control import IAMRequest, S3IAMRequest
    from werkzeug.datastructures import EnvironHeaders

    headers = EnvironHeaders(environ)
    body = b""
    if "x-amz-content-sha256" not in headers:  # then the signature covers the body itself
        stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH")
        body = (
            stream.read(int(length))
            if length
            else stream.read()
            if environ.get("wsgi.input_terminated")
            else b""
        )
        environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
    verifier = S3IAMRequest if service == "s3" else IAMRequest
    try:
        verifier(
            account_id=_ACCOUNT_ID,
            method=environ["REQUEST_METHOD"],
            path=environ.get("RAW_URI") or environ.get("PATH_INFO", "/"),
            data={},
            body=body,
            headers=headers,  # type: ignore[arg-type]  # any case-insensitive mapping
            action="",
        ).check_signature()
    except ServiceException as refused:
        return str(refused.code), str(refused.message)
    except Exception:  # a header the verifier needs is missing or malformed
        return "SignatureDoesNotMatch", "The request signature could not be checked."
    return None


class _FileServer:
    """Serves a folder read-only over HTTP with byte ranges (200, 206, 416; GET and HEAD).

    ``GET /s3credentials`` answers like an Earthdata temporary-credentials endpoint.
    """

    def __init__(self, root: Path, credentials: Callable[[], dict[str, str]]) -> None:
        self.root = root
        self.credentials = credentials

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
        from werkzeug.utils import send_from_directory
        from werkzeug.wrappers import Response

        path = environ.get("PATH_INFO", "/").lstrip("/")
        try:
            if environ["REQUEST_METHOD"] not in {"GET", "HEAD"}:
                raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
            if path == "s3credentials":
                response = Response(json.dumps(self.credentials()), mimetype="application/json")
            elif not path:
                raise NotFound()
            else:
                response = send_from_directory(self.root, path, environ, max_age=0)
        except HTTPException as error:
            return error(environ, start_response)
        return response(environ, start_response)


def _listening_socket(port: int | None, what: str) -> socket.socket:
    """A socket listening on loopback, or a clear error when ``port`` is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((_HOST, port or 0))
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise LocalCloudError(
                f"cannot start the local cloud's {what} server on {_HOST}:{port}: another program "
                "already listens on that port. Pass port=None to use a free port, or stop the other "
                "program (often an earlier notebook kernel still running the local cloud: shut it down)."
            ) from None
        raise
    return sock


def _serve(app: WSGIApp, port: int | None, what: str, handler: type) -> Any:
    """Serve ``app`` on loopback from a daemon thread; return the werkzeug server."""
    from werkzeug.serving import ThreadedWSGIServer

    class Quiet(handler):  # type: ignore[misc, valid-type]
        def log_request(self, *args: Any, **kwargs: Any) -> None:  # not one line per request
            pass

    sock = _listening_socket(port, what)
    try:  # werkzeug would sys.exit() on a busy port; hand it a bound socket instead
        server = ThreadedWSGIServer(_HOST, sock.getsockname()[1], app, handler=Quiet, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class _Servers:
    """The S3 and HTTP servers, the accounts and the sample data, inside the helper process."""

    def __init__(self, port: int | None, sample_dir: Path) -> None:
        import boto3
        from moto.iam.models import iam_backends
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from moto.sts.models import sts_backends
        from werkzeug.serving import WSGIRequestHandler

        self.sample_dir = sample_dir
        self.log: deque[tuple[Any, ...]] = deque(maxlen=1_000_000)
        self.gatekeeper = _Gatekeeper(DomainDispatcherApplication(create_backend_app))
        self.s3 = _serve(_Counting(self.gatekeeper, self.log, "s3"), port, "S3", MotoRequestHandler)
        files = _FileServer(sample_dir, lambda: self.temporary_credentials(3600))
        self.http = _serve(_Counting(files, self.log, "http"), None, "HTTP", WSGIRequestHandler)
        self.endpoint_url = f"http://{_HOST}:{self.s3.port}"
        self.http_url = f"http://{_HOST}:{self.http.port}"
        # The keys are made in moto's IAM and STS directly (through the server that
        # would take a second): moto's signature verifier looks them up there.
        iam = iam_backends[_ACCOUNT_ID]["aws"]
        self.sts = sts_backends[_ACCOUNT_ID]["aws"]
        keys = []
        for user in ("course-learner", "course-provider"):
            iam.create_user(REGION, user)
            key = iam.create_access_key(user)
            keys.append(Credentials(key.access_key_id, key.secret_access_key))
        self.learner, self.provider = keys
        self.gatekeeper.provider_key = self.provider.access_key_id
        self.gatekeeper.enforce = True
        self.admin = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.provider.access_key_id,
            aws_secret_access_key=self.provider.secret_access_key,
        )
        self._ensure_bucket(SCRATCH_BUCKET)
        self._ensure_bucket(PUBLIC_STORES_BUCKET)

    def _ensure_bucket(self, bucket: str) -> None:
        try:
            self.admin.create_bucket(Bucket=bucket)
        except self.admin.exceptions.BucketAlreadyOwnedByYou:
            return
        if bucket in PUBLIC_BUCKETS:  # the bucket policy of a public dataset; moto needs it too
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        # moto checks an unsigned HEAD as "s3:HeadObject" (AWS: s3:GetObject)
                        "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    }
                ],
            }
            self.admin.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def settings(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "http_url": self.http_url,
            "credentials": dataclasses.astuple(self.learner),
            "provider_credentials": dataclasses.astuple(self.provider),
        }

    # The operations the notebook side may ask for (see _call).

    def populate(self) -> int:
        """Upload the sample files whose key is absent or has another size; return how many."""
        from concurrent.futures import ThreadPoolExecutor

        uploads: list[tuple[str, str, Path]] = []
        for folder in _bucket_folders(self.sample_dir):
            self._ensure_bucket(folder.name)
            present = {
                obj["Key"]: obj["Size"]
                for page in self.admin.get_paginator("list_objects_v2").paginate(Bucket=folder.name)
                for obj in page.get("Contents", [])
            }
            for path in sorted(folder.rglob("*")):
                key = path.relative_to(folder).as_posix()
                hidden = any(part.startswith(".") for part in key.split("/"))
                if path.is_file() and not hidden and present.get(key) != path.stat().st_size:
                    uploads.append((folder.name, key, path))

        def upload(item: tuple[str, str, Path]) -> None:
            bucket, key, path = item
            with path.open("rb") as body:
                self.admin.put_object(Bucket=bucket, Key=key, Body=body)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(upload, uploads))
        return len(uploads)

    def temporary_credentials(self, duration_seconds: int) -> dict[str, str]:
        role = self.sts.assume_role(
            region_name=REGION,
            role_session_name="course",
            role_arn=_TEMPORARY_ROLE,
            policy="",
            duration=duration_seconds,
            external_id="",
        )
        expiration = (datetime.now(UTC) + timedelta(seconds=duration_seconds)).replace(microsecond=0)
        self.gatekeeper.expirations[role.access_key_id] = expiration
        keys = Credentials(role.access_key_id, role.secret_access_key, role.session_token, expiration)
        return keys.to_earthdata()

    def buckets(self) -> list[str]:
        return sorted(b["Name"] for b in self.admin.list_buckets()["Buckets"])

    def snapshot(self) -> list[tuple[Any, ...]]:
        return list(self.log)

    def reset(self) -> None:
        self.log.clear()


def _server_main() -> None:
    """Entry point of the helper process: serve, answer one JSON request per stdin line.

    The first stdout line is ``{"ok": settings}`` or ``{"error": message}``. The
    process ends on ``{"op": "stop"}`` or when stdin closes (the notebook's
    process ended, however it ended).
    """
    config = json.loads(sys.argv[1])
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else gets printed must not garble the replies

    def reply(**message: Any) -> None:
        replies.write(json.dumps(message, default=str) + "\n")

    try:
        servers = _Servers(config["port"], Path(config["sample_dir"]))
    except LocalCloudError as error:
        reply(error=str(error))
        return
    reply(ok=servers.settings())
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "stop":
            break
        try:
            reply(ok=getattr(servers, op)(**request))
        except LocalCloudError as error:
            reply(error=str(error))
        except Exception as error:  # report it, keep serving
            reply(error=f"{type(error).__name__}: {error}")
    os._exit(0)  # at once: the system closes the sockets; tidying up moto would take a second


def _bucket_folders(root: Path) -> list[Path]:
    """The bucket folders of a sample-data tree; a clear error if there is none."""
    if not root.is_dir():
        raise LocalCloudError(f"no sample data at {display(root)}: {_SETUP_HINT}, or start(populate=False).")
    folders = []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue  # files such as MANIFEST.json
        if _BUCKET_NAME.fullmatch(path.name):
            folders.append(path)
        else:
            warnings.warn(f"skipping {display(path)}: {path.name!r} is not a valid bucket name", stacklevel=2)
    if not folders:
        raise LocalCloudError(
            f"the sample data folder {display(root)} holds no bucket folders: {_SETUP_HINT}, "
            "or start(populate=False)."
        )
    return folders


# === the notebook side =====================================================================


class LocalCloud:
    """A running local cloud; :func:`start` makes one.

    Attributes
    ----------
    endpoint_url
        The S3 endpoint, ``http://127.0.0.1:<port>``.
    http_url
        The HTTP file server, ``http://127.0.0.1:<port>`` (no trailing slash).
    region
        The region of every bucket.
    credentials
        The learner's static keys: read every bucket, write :data:`SCRATCH_BUCKET`.
        The default of every ``credentials=`` argument below.
    provider_credentials
        The data provider's keys: read and write every bucket (they load the
        sample data; a notebook may use them to play an archive publishing a store).
    requests
        The :class:`RequestCounter` of both servers.
    sample_dir
        The folder the buckets and the HTTP server are loaded from.
    """

    def __init__(
        self, process: subprocess.Popen[str], stderr: IO[bytes], settings: Mapping[str, Any], sample_dir: Path
    ):
        self._process = process
        self._stderr = stderr
        self._lock = threading.Lock()
        self._stopped = False
        self._owner = os.getpid()  # a forked copy of this process must not stop the servers
        self.sample_dir = sample_dir
        self.region = REGION
        self.endpoint_url: str = settings["endpoint_url"]
        self.http_url: str = settings["http_url"]
        self.credentials = Credentials(*settings["credentials"])
        self.provider_credentials = Credentials(*settings["provider_credentials"])
        self.requests = RequestCounter(self._call)

    def _call(self, op: str, **arguments: Any) -> Any:
        """Ask the server process for ``op``; raise :class:`LocalCloudError` on its error."""
        with self._lock:
            if not self.running:
                raise LocalCloudError("the local cloud is stopped: call local_cloud.start() again.")
            assert self._process.stdin is not None and self._process.stdout is not None
            try:
                self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
            except OSError:
                line = ""
            if not line:
                self._stopped = True
                raise LocalCloudError(
                    "the local cloud's server process has ended unexpectedly"
                    f"{_tail(self._stderr)}; call local_cloud.start() again."
                )
        answer = json.loads(line)
        if "error" in answer:
            raise LocalCloudError(answer["error"])
        return answer["ok"]

    # -- lifecycle --

    @property
    def running(self) -> bool:
        """Whether the servers are up."""
        return not self._stopped and self._process.poll() is None

    def stop(self) -> None:
        """Stop both servers and their process; the ports are free afterwards. Idempotent."""
        with self._lock:
            if self._stopped or os.getpid() != self._owner:
                return
            self._stopped = True
            try:
                assert self._process.stdin is not None
                self._process.stdin.write('{"op": "stop"}\n')
                self._process.stdin.close()
                self._process.wait(_STOP_TIMEOUT_SECONDS)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
            for stream in (self._process.stdout, self._stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalCloud {state}: S3 {self.endpoint_url}, HTTP {self.http_url}>"

    # -- buckets and credentials --

    def populate(self) -> int:
        """Upload the sample files the buckets lack (or hold with another size); return how many."""
        return int(self._call("populate"))

    @property
    def buckets(self) -> dict[str, str]:
        """Each bucket and its access: ``"public"``, ``"protected"`` or ``"scratch"``."""
        return {
            name: "scratch" if name == SCRATCH_BUCKET else "public" if name in PUBLIC_BUCKETS else "protected"
            for name in self._call("buckets")
        }

    def temporary_credentials(self, duration_seconds: int = 3600) -> dict[str, str]:
        """New temporary credentials, as an Earthdata ``/s3credentials`` endpoint issues them.

        Returns ``{"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}``:
        they read every bucket and write the scratch bucket until they expire.
        ``GET {http_url}/s3credentials`` answers the same JSON. Pass the dict as
        ``credentials=`` to the methods below, or turn it into
        :class:`Credentials` with :meth:`Credentials.from_earthdata`.
        """
        if duration_seconds < 1:
            raise ValueError(f"duration_seconds must be at least 1, got {duration_seconds}")
        return dict(self._call("temporary_credentials", duration_seconds=duration_seconds))

    @property
    def s3credentials_url(self) -> str:
        """The Earthdata-style endpoint answering :meth:`temporary_credentials` as JSON."""
        return f"{self.http_url}/s3credentials"

    def _keys(self, credentials: CredentialsLike | None) -> Credentials:
        if credentials is None:
            return self.credentials
        return (
            credentials if isinstance(credentials, Credentials) else Credentials.from_earthdata(credentials)
        )

    # -- clients and settings for the libraries --

    def boto3_client(self, *, anonymous: bool = False, credentials: CredentialsLike | None = None) -> Any:
        """A boto3 S3 client (unsigned requests if ``anonymous``)."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        settings: dict[str, Any] = {"endpoint_url": self.endpoint_url, "region_name": self.region}
        if anonymous:
            return boto3.client("s3", config=Config(signature_version=UNSIGNED), **settings)
        keys = self._keys(credentials)
        return boto3.client(
            "s3",
            aws_access_key_id=keys.access_key_id,
            aws_secret_access_key=keys.secret_access_key,
            aws_session_token=keys.session_token,
            **settings,
        )

    def fsspec_options(
        self, *, anonymous: bool = False, credentials: CredentialsLike | None = None
    ) -> dict[str, Any]:
        """``storage_options`` for s3fs, e.g. ``xr.open_dataset("s3://...", storage_options=...)``."""
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region},
        }
        if anonymous:
            return {"anon": True, **options}
        keys = self._keys(credentials)
        options.update(key=keys.access_key_id, secret=keys.secret_access_key)
        if keys.session_token:
            options["token"] = keys.session_token
        return options

    def obstore_store(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        anonymous: bool = False,
        credentials: CredentialsLike | None = None,
    ) -> obstore.store.S3Store:
        """An obstore ``S3Store`` on ``bucket`` (path-style requests over plain HTTP)."""
        from obstore.store import S3Store

        config: S3Config = {
            "endpoint": self.endpoint_url,
            "region": self.region,
            "virtual_hosted_style_request": False,
        }
        if anonymous:
            config["skip_signature"] = True
            return S3Store(bucket, prefix=prefix, config=config, client_options={"allow_http": True})
        # Keys given through a credential provider: obstore would add an AWS_SESSION_TOKEN
        # from the environment to keys given in the config, and the request would fail.
        provider = _ObstoreCredentials(self._keys(credentials))
        return S3Store(
            bucket,
            prefix=prefix,
            config=config,
            client_options={"allow_http": True},
            credential_provider=provider,
        )

    def icechunk_storage(
        self, bucket: str, prefix: str, *, anonymous: bool = False, credentials: CredentialsLike | None = None
    ) -> icechunk.Storage:
        """Icechunk storage for a repository at ``s3://<bucket>/<prefix>``.

        The same call on the real cloud drops ``endpoint_url``, ``allow_http``
        and ``force_path_style``.
        """
        import icechunk

        where: dict[str, Any] = {
            "bucket": bucket,
            "prefix": prefix,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "allow_http": True,
            "force_path_style": True,
        }
        if anonymous:
            return icechunk.s3_storage(**where, anonymous=True)
        keys = self._keys(credentials)
        return icechunk.s3_storage(
            **where,
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key,
            session_token=keys.session_token,
        )

    def icechunk_store_config(self, *, anonymous: bool = False) -> icechunk.ObjectStoreConfig.S3Compatible:
        """The ``icechunk.s3_store(...)`` config of a virtual chunk container in the local cloud."""
        import icechunk

        return icechunk.s3_store(  # type: ignore[return-value]
            region=self.region,
            endpoint_url=self.endpoint_url,
            allow_http=True,
            anonymous=anonymous,
            s3_compatible=True,
            force_path_style=True,
        )

    def virtual_chunk_container(
        self, bucket: str, *, anonymous: bool = False
    ) -> icechunk.VirtualChunkContainer:
        """A virtual chunk container for references into ``s3://<bucket>/``."""
        import icechunk

        return icechunk.VirtualChunkContainer(
            f"s3://{bucket}/", self.icechunk_store_config(anonymous=anonymous)
        )

    def icechunk_s3_credentials(
        self, *, anonymous: bool = False, credentials: CredentialsLike | None = None
    ) -> icechunk.AnyS3Credential:
        """Icechunk S3 credentials (anonymous or keyed) to authorize a virtual chunk container."""
        import icechunk

        if anonymous:
            return icechunk.s3_anonymous_credentials()
        keys = self._keys(credentials)
        return icechunk.s3_static_credentials(
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key,
            session_token=keys.session_token,
        )

    # -- URLs --

    def localize(self, url: str) -> str:
        """The local HTTP URL of a real HTTPS URL of a sample file.

        ``https://storage.googleapis.com/<bucket>/<key>`` and the S3 forms
        ``https://<bucket>.s3[.<region>].amazonaws.com/<key>`` and
        ``https://s3[.<region>].amazonaws.com/<bucket>/<key>`` all become
        ``{http_url}/<bucket>/<key>``. An ``s3://`` URL needs no change: give
        the library :attr:`endpoint_url` instead.
        """
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path.lstrip("/")
        if parts.scheme in {"http", "https"}:
            if host == "storage.googleapis.com" or re.fullmatch(r"s3([.-][a-z0-9-]+)?\.amazonaws\.com", host):
                return f"{self.http_url}/{path}"
            virtual_hosted = re.fullmatch(r"(.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com", host)
            if virtual_hosted:
                return f"{self.http_url}/{virtual_hosted[1]}/{path}"
        raise ValueError(
            f"cannot map {url!r} to the local cloud: expected https://storage.googleapis.com/<bucket>/<key> "
            "or an https://...amazonaws.com URL. For an s3:// URL keep the URL and use cloud.endpoint_url."
        )


def _tail(stderr: IO[bytes], limit: int = 2000) -> str:
    """The end of the server process's error output, for error messages."""
    try:
        stderr.seek(0)
        text = stderr.read().decode(errors="replace").strip()
    except (OSError, ValueError):
        return ""
    return f"; its last output:\n{text[-limit:]}\n" if text else ""


# --- the one local cloud of this process ---------------------------------------------------

_lock = threading.RLock()
_current: LocalCloud | None = None


def running() -> LocalCloud | None:
    """The local cloud of this process, if it is running."""
    return _current if _current is not None and _current.running else None


def start(
    *, port: int | None = None, populate: bool = True, sample_dir: Path | str = SAMPLE_DIR
) -> LocalCloud:
    """Start the local cloud, or return the one already running, and load the sample data.

    Parameters
    ----------
    port
        The S3 server's port; ``None`` picks a free one. The HTTP server always
        takes a free port.
    populate
        Upload the sample data to the buckets (when the cloud already runs: only
        the files it lacks).
    sample_dir
        The sample-data tree, ``<bucket>/<key>``; by default ``data/sample``.

    Raises
    ------
    LocalCloudError
        The sample data is missing, ``port`` is taken, or the cloud already runs
        with another port or sample folder. The message says what to do.
    """
    global _current
    sample_dir = Path(sample_dir)
    with _lock:
        cloud = running()
        if cloud is not None:
            if port is not None and cloud.endpoint_url != f"http://{_HOST}:{port}":
                raise LocalCloudError(
                    f"the local cloud already runs at {cloud.endpoint_url}, not on port {port}: "
                    "use it (start() without port returns it), or call its .stop() first."
                )
            if cloud.sample_dir.resolve() != sample_dir.resolve():
                raise LocalCloudError(
                    f"the local cloud already runs with the sample data of {display(cloud.sample_dir)}, "
                    f"not {display(sample_dir)}: call its .stop() first."
                )
            if populate:
                cloud.populate()
            return cloud
        if populate:
            _bucket_folders(sample_dir)  # a clear error before starting anything
        cloud = _current = _launch(port, sample_dir)
        try:
            if populate:
                cloud.populate()
        except BaseException:
            cloud.stop()
            raise
        return cloud


def _launch(port: int | None, sample_dir: Path) -> LocalCloud:
    """Start the server process and wait until it listens."""
    if port is not None:
        _listening_socket(port, "S3").close()  # fail fast on a busy port (the process checks again)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    stderr = tempfile.TemporaryFile("a+b")  # appended to by the process; read to explain a failure
    config = json.dumps({"port": port, "sample_dir": str(sample_dir.resolve())})
    process = subprocess.Popen(
        [sys.executable, "-c", "from utils.local_cloud import _server_main; _server_main()", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        start_new_session=True,  # Ctrl-C in a terminal must not kill it behind the notebook's back
    )
    timer = threading.Timer(_START_TIMEOUT_SECONDS, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        timer.cancel()
    if not line:
        line = json.dumps({"error": f"the local cloud's server process did not start{_tail(stderr)}"})
    answer: dict[str, Any] = json.loads(line)
    if "error" in answer:
        process.kill()
        process.wait()
        raise LocalCloudError(answer["error"])
    return LocalCloud(process, stderr, answer["ok"], sample_dir)


@atexit.register
def _stop_at_exit() -> None:
    cloud = running()
    if cloud is not None:
        cloud.stop()
