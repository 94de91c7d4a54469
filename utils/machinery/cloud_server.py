"""The local cloud's server process: ``python -m utils.machinery.cloud_server CONFIG``.

:func:`utils.local_cloud.start` runs it; lessons never import it. Two threaded werkzeug servers
listen on loopback:

* **S3**: moto's S3 app only (no ``/moto-api``, no other service) behind :class:`Gatekeeper`: the
  access table of :mod:`utils.local_cloud`, SigV4 checked by moto's own verifier, only the endpoint's
  own ``Host`` and known buckets (the bucket it checks is the one moto acts on). A sample bucket is
  loaded into moto's memory when a request first names it: the helper holds only what is used.
* **HTTP**: the sample tree, read-only, with byte ranges (the stand-in for files served over
  HTTPS), and ``/s3credentials``: Earthdata-style temporary keys for a basic-auth login.

Both count their requests. The owner sends one JSON line per request on stdin and gets one JSON
line back; the first line it gets is the endpoints (or an error), sent before the slow imports.
The process ends when stdin closes, on SIGTERM, or when its owner process has ended.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from utils.data import GLAD_BUCKET, OISST_BUCKET
from utils.local_cloud import PUBLIC_STORES_BUCKET, REGION, SCRATCH_BUCKET, LocalCloudError

HOST = "127.0.0.1"
ACCOUNT = "123456789012"  # moto's default account
PUBLIC_BUCKETS = frozenset({OISST_BUCKET, GLAD_BUCKET, PUBLIC_STORES_BUCKET})
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
SETUP = "run `./course.sh setup` in the course folder (it makes the sample data)"
# Query keys that make a request about a bucket's or object's configuration rather than its data.
CONFIG_QUERIES = frozenset(
    "acl policy policyStatus tagging cors lifecycle encryption versioning website logging notification "
    "replication ownershipControls publicAccessBlock uploads uploadId object-lock legal-hold retention".split()
)
# The HTTP status of the S3 error codes the gatekeeper answers with; any other code is 403 Forbidden.
STATUS = {"NoSuchBucket": "404 Not Found", "InvalidToken": "400 Bad Request", "ExpiredToken": "400 Bad Request",
          "InvalidRequest": "400 Bad Request"}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def sample_buckets(root: Path) -> dict[str, Path]:
    """The bucket folders of a sample tree (folders named like a bucket); a clear error if none."""
    if not root.is_dir():
        raise LocalCloudError(f"no sample data at {root}: {SETUP}, then start the local cloud again.")
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and BUCKET_NAME.fullmatch(p.name)}
    if not found:
        raise LocalCloudError(f"the sample folder {root} holds no bucket folders: {SETUP}.")
    return found


def sample_file(root: Path, bucket_dir: Path, key: str) -> Path | None:
    """The file of ``key`` in a bucket folder, or None: hidden names and links out of ``root`` don't count."""
    if not key or "\0" in key or any(not part or part.startswith(".") for part in key.split("/")):
        return None
    path = (bucket_dir / key).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def listen(port: int | None, what: str) -> socket.socket:
    """A socket listening on loopback, or a clear error when ``port`` is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port or 0))
        sock.listen(128)
    except OSError as error:
        sock.close()
        why = {errno.EADDRINUSE: "another program already listens on it", errno.EACCES: "it needs privileges"}
        raise LocalCloudError(
            f"cannot start the local cloud's {what} server on {HOST}:{port}: "
            f"{why.get(error.errno or 0, error.strerror)}. Call local_cloud.start() without a port to use "
            "a free one, or stop the other program (often an earlier kernel still running the local cloud)."
        ) from None
    return sock


class Counting:
    """WSGI middleware recording every request; a response is logged as soon as its headers are set."""

    def __init__(self, app: WSGIApp, server: str, cloud: Cloud) -> None:
        self.app, self.server, self.cloud = app, server, cloud

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        cloud, method, logged, status = self.cloud, environ["REQUEST_METHOD"], [False], [0]

        def log(sent: int) -> None:
            path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
            received = int(environ.get("CONTENT_LENGTH") or 0)
            cloud.log.append((self.server, method, path, status[0], environ.get("HTTP_RANGE"), sent, received))
            logged[0] = True

        def recording(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(line.split(" ", 1)[0])
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            if length is not None and not logged[0]:
                log(0 if method == "HEAD" else int(length))
            return start_response(line, headers, exc_info)

        with cloud.flight:
            cloud.in_flight += 1
        sent, body = 0, None
        try:
            body = self.app(environ, recording)
            for chunk in body:
                sent += len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()  # type: ignore[union-attr]
            if not logged[0]:
                log(sent)
            with cloud.flight:
                cloud.in_flight -= 1
                cloud.flight.notify_all()


class Gatekeeper:
    """WSGI middleware in front of moto: who may do what (see :mod:`utils.local_cloud`).

    Refused for everyone: another ``Host`` than the endpoint's (moto would take the bucket from
    it), an absolute request target, a bucket that is not one of the cloud's (``/moto-api/...``
    included), presigned URLs, SigV2, services other than S3. Unsigned requests may read public
    buckets. A signed request needs a valid signature (moto's verifier) and an unexpired key; then
    the provider key may do anything to the buckets, other keys read every bucket and write
    objects in the scratch bucket.
    """

    def __init__(self, app: WSGIApp, cloud: Cloud) -> None:
        self.app, self.cloud = app, cloud

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.refusal(environ)
        if refusal is None:
            self.cloud.load(environ["course.bucket"])
            return self.app(environ, start_response)
        code, message = refusal
        status = STATUS.get(code, "403 Forbidden")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        ).encode()
        body = b"" if environ["REQUEST_METHOD"] == "HEAD" else body
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def refusal(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """Why the request is refused, as (S3 error code, message); None lets it in."""
        cloud, method = self.cloud, environ["REQUEST_METHOD"]
        raw = environ.get("RAW_URI") or environ.get("PATH_INFO") or "/"
        if environ.get("HTTP_HOST") != cloud.s3_host:
            return "AccessDenied", f"This endpoint answers only requests to Host {cloud.s3_host} (path-style)."
        if not raw.startswith("/"):
            return "InvalidRequest", "Send the request target as a path (origin-form), not a URL."
        path, _, query_string = raw.partition("?")
        bucket, _, key = path.lstrip("/").partition("/")  # as moto reads it (from the raw path)
        environ["course.bucket"] = bucket
        if bucket.startswith("moto-api"):
            return "AccessDenied", "moto's own routes are turned off in the local cloud."
        if bucket and bucket not in cloud.names:
            return "NoSuchBucket", "The specified bucket does not exist."
        query = {k for k, _ in parse_qsl(query_string, keep_blank_values=True)}
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not auth:
            if query & {"X-Amz-Signature", "Signature", "X-Amz-Credential"}:
                return "AccessDenied", "Presigned URLs are not supported by the local cloud."
            if bucket in PUBLIC_BUCKETS and method in {"GET", "HEAD"} and not query & CONFIG_QUERIES:
                return None
            return "AccessDenied", "Access Denied"
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "InvalidRequest", "The authorization mechanism is not supported; use AWS4-HMAC-SHA256."
        scope = auth.partition("Credential=")[2].partition(",")[0].split("/")
        access_key, service = (scope[0], scope[3]) if len(scope) == 5 else ("", "")
        if service != "s3":
            return "InvalidRequest", f"This endpoint is S3 only; the request was signed for {service!r}."
        refusal = check_signature(environ)
        if refusal is not None:
            return refusal
        expires = cloud.expirations.get(access_key)
        if expires is not None and datetime.now(UTC) >= expires:
            return "ExpiredToken", "The provided token has expired."
        if not bucket and method == "GET":  # ListBuckets
            return None
        if not bucket:
            return "AccessDenied", "Access Denied"
        if access_key == cloud.provider[0] or method in {"GET", "HEAD"}:
            return None
        writes_objects = bool(key) or (method == "POST" and "delete" in query)
        if bucket == SCRATCH_BUCKET and writes_objects and not query & {"acl", "tagging", "retention", "legal-hold"}:
            return None
        return "AccessDenied", "Access Denied"


def check_signature(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Check a SigV4 signature with moto's verifier: the refusal, or None if it is valid."""
    from moto.core.exceptions import ServiceException
    from moto.iam.access_control import S3IAMRequest
    from werkzeug.datastructures import EnvironHeaders

    headers = EnvironHeaders(environ)
    body = b""
    if "x-amz-content-sha256" not in headers:  # then the signature covers the body itself
        stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH")
        body = stream.read(int(length)) if length else stream.read() if environ.get("wsgi.input_terminated") else b""
        environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
    try:
        S3IAMRequest(
            account_id=ACCOUNT,
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


class Cloud:
    """moto's backends, the accounts, the sample buckets and both servers, in this process."""

    def __init__(self, root: Path, samples: dict[str, Path], s3_sock: socket.socket, http_sock: socket.socket):
        os.environ["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "true"  # path-style only (read when moto is imported)
        from moto.iam.models import iam_backends
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
        from moto.s3.models import s3_backends
        from moto.sts.models import sts_backends
        from werkzeug.serving import WSGIRequestHandler

        self.root, self.samples, self.loaded = root, samples, set[str]()
        self.s3_host = f"{HOST}:{s3_sock.getsockname()[1]}"
        self.log: deque[tuple[Any, ...]] = deque(maxlen=1_000_000)  # deque.append is thread-safe
        self.in_flight, self.flight, self.loading = 0, threading.Condition(), threading.Lock()
        self.expirations: dict[str, datetime] = {}  # temporary access key id -> expiry
        self.s3, self.sts = s3_backends[ACCOUNT]["aws"], sts_backends[ACCOUNT]["aws"]
        iam = iam_backends[ACCOUNT]["aws"]
        self.learner, self.provider = [self.user(iam, name) for name in ("course-learner", "course-provider")]
        self.earthdata_login = ("course-learner", secrets.token_urlsafe(12))
        self.names = {*samples, SCRATCH_BUCKET, PUBLIC_STORES_BUCKET}  # every bucket
        for bucket in sorted(self.names):
            self.s3.create_bucket(bucket, REGION)
            if bucket in PUBLIC_BUCKETS:  # moto checks the policy of a public dataset's bucket too
                self.s3.put_bucket_policy(bucket, json.dumps(public_policy(bucket)).encode())
        serve(Counting(Gatekeeper(create_backend_app("s3"), self), "s3", self), s3_sock, MotoRequestHandler)
        serve(Counting(self.files, "http", self), http_sock, WSGIRequestHandler)

    @staticmethod
    def user(iam: Any, name: str) -> tuple[str, str]:
        iam.create_user(REGION, name)
        key = iam.create_access_key(name)
        return key.access_key_id, key.secret_access_key

    def load(self, bucket: str) -> None:
        """Put a sample bucket's files into moto's backend, the first time a request names it."""
        if bucket not in self.samples or bucket in self.loaded:
            return
        with self.loading:
            if bucket not in self.loaded:
                folder = self.samples[bucket]
                for path in sorted(folder.rglob("*")):
                    key = path.relative_to(folder).as_posix()
                    if sample_file(self.root, folder, key):
                        self.s3.put_object(bucket, key, path.read_bytes())
                self.loaded.add(bucket)

    def files(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The HTTP file server: ``GET /<bucket>/<key>`` with byte ranges, and ``GET /s3credentials``."""
        from werkzeug.datastructures import WWWAuthenticate
        from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, Unauthorized
        from werkzeug.utils import send_file
        from werkzeug.wrappers import Request, Response

        request = Request(environ)  # request.path is decoded as UTF-8 (WSGI hands over latin-1)
        try:
            if request.method not in {"GET", "HEAD"}:
                raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
            if request.path == "/s3credentials":
                auth = request.authorization
                given = f"{auth.username}:{auth.password}" if auth else ""
                if not secrets.compare_digest(given.encode(), ":".join(self.earthdata_login).encode()):
                    raise Unauthorized("Log in with the Earthdata login (HTTP basic auth).",
                                       www_authenticate=WWWAuthenticate("basic", {"realm": "Earthdata Login"}))
                credentials = json.dumps(self.temporary_credentials(3600))
                return Response(credentials, mimetype="application/json")(environ, start_response)
            bucket, _, key = request.path.lstrip("/").partition("/")
            path = sample_file(self.root, self.samples[bucket], key) if bucket in self.samples else None
            if path is None:
                raise NotFound()
            suffix = re.fullmatch(r"bytes=-(\d+)", environ.get("HTTP_RANGE", "").strip())
            if suffix and int(suffix[1]) > path.stat().st_size:  # RFC 9110: the whole file, as S3 does
                environ["HTTP_RANGE"] = f"bytes=-{path.stat().st_size}"
            return send_file(path, environ, conditional=True, max_age=0)(environ, start_response)
        except HTTPException as error:
            return error(environ, start_response)

    # --- what the owner may ask for (one JSON line each) ---

    def accounts(self) -> dict[str, Any]:
        return {"learner": self.learner, "provider": self.provider, "earthdata_login": self.earthdata_login}

    def temporary_credentials(self, seconds: int) -> dict[str, str]:
        role = self.sts.assume_role(REGION, "course", f"arn:aws:iam::{ACCOUNT}:role/course-reader", "", seconds, "")
        expiration = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
        self.expirations[role.access_key_id] = expiration
        return {"accessKeyId": role.access_key_id, "secretAccessKey": role.secret_access_key,
                "sessionToken": role.session_token, "expiration": str(expiration)}  # as Earthdata writes it

    def buckets(self) -> dict[str, str]:
        access = lambda b: "scratch" if b == SCRATCH_BUCKET else "public" if b in PUBLIC_BUCKETS else "protected"
        return {bucket: access(bucket) for bucket in sorted(self.names)}

    def settle(self, limit: float = 2.0) -> None:
        """Wait until no request is in flight (at most ``limit`` seconds)."""
        with self.flight:
            self.flight.wait_for(lambda: self.in_flight == 0, timeout=limit)

    def snapshot(self) -> list[tuple[Any, ...]]:
        self.settle()
        return list(self.log)

    def reset(self) -> None:
        self.settle()
        self.log.clear()


def public_policy(bucket: str) -> dict[str, Any]:
    """The bucket policy of a public dataset (moto checks an unsigned HEAD as s3:HeadObject)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}  # fmt: skip


def serve(app: WSGIApp, sock: socket.socket, handler: type) -> None:
    """Serve ``app`` from a daemon thread on an already listening socket."""
    from werkzeug.serving import ThreadedWSGIServer

    class Quiet(handler):  # type: ignore[misc, valid-type]
        def log_request(self, *args: Any, **kwargs: Any) -> None:  # not one line per request
            pass

    server = ThreadedWSGIServer(HOST, sock.getsockname()[1], app, handler=Quiet, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def watch_owner(owner: int) -> None:
    """End this process once its owner has ended (a forked child of the owner may keep stdin open)."""
    while os.getppid() == owner:
        time.sleep(0.2)
    os._exit(0)


def launch(port: int | None, sample_dir: Path) -> tuple[subprocess.Popen[str], Callable[..., Any], dict[str, str]]:
    """Start the owner's helper process: return it, ``ask(op, **arguments)`` (one request, its answer), its endpoints."""
    from utils.data import REPO

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    config = json.dumps({"port": port, "sample_dir": str(sample_dir), "owner": os.getpid()})
    process = subprocess.Popen(  # in its own session: Ctrl-C in a terminal must not stop it
        [sys.executable, "-m", "utils.machinery.cloud_server", config], cwd=REPO, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    answer = json.loads(process.stdout.readline() or '{"error": "the helper process ended; see its errors above"}')
    if "error" in answer:
        process.kill()
        process.communicate()  # waits, and closes the pipes
        raise LocalCloudError(answer["error"])
    lock, owner = threading.Lock(), os.getpid()

    def ask(op: str, **arguments: Any) -> Any:
        if os.getpid() != owner:
            raise LocalCloudError("the local cloud belongs to the process that started it: here, use its "
                                  "endpoint_url and keys, which work from any process")
        with lock:
            try:
                print(json.dumps({"op": op, **arguments}), file=process.stdin, flush=True)
                reply = json.loads(process.stdout.readline() or "{}")  # type: ignore[union-attr]
            except (OSError, ValueError):
                reply = {}
        if not reply:
            raise LocalCloudError("the local cloud has stopped: call local_cloud.start() again")
        if "error" in reply:
            raise LocalCloudError(reply["error"])
        return reply["ok"]

    return process, ask, answer["ok"]


def main() -> None:
    config = json.loads(sys.argv[1])
    try:  # glibc: buffers from 128 KiB up come from mmap, so object bodies go back to the system when freed
        ctypes.CDLL(None).mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD (fixed: no longer raised on each free)
    except (OSError, AttributeError):  # not glibc
        pass
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else gets printed must not garble the replies

    def reply(**message: Any) -> None:
        replies.write(json.dumps(message) + "\n")

    threading.Thread(target=watch_owner, args=(config["owner"],), daemon=True).start()
    try:  # everything the owner must know now, before the slow imports
        root = Path(config["sample_dir"]).resolve()
        samples = sample_buckets(root)
        s3_sock, http_sock = listen(config["port"], "S3"), listen(None, "HTTP")
    except LocalCloudError as error:
        reply(error=str(error))
        return
    reply(ok={"endpoint_url": f"http://{HOST}:{s3_sock.getsockname()[1]}",
              "http_url": f"http://{HOST}:{http_sock.getsockname()[1]}"})  # fmt: skip
    cloud: Cloud | None = None
    failure = ""
    try:
        cloud = Cloud(root, samples, s3_sock, http_sock)
    except Exception as error:  # report it on every request, and stop listening
        failure = f"the local cloud's server could not start ({type(error).__name__}: {error})"
        s3_sock.close()
        http_sock.close()
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            if cloud is None:  # say why once, then end: start() then makes a new one
                reply(error=f"{failure}; call local_cloud.start() again.")
                os._exit(1)
            if op not in {"accounts", "temporary_credentials", "buckets", "snapshot", "reset"}:
                raise LocalCloudError(f"the local cloud has no request {op!r}")
            reply(ok=getattr(cloud, op)(**request))
        except Exception as error:  # report it, keep serving
            reply(error=str(error) if isinstance(error, LocalCloudError) else f"{type(error).__name__}: {error}")
    os._exit(0)  # at once: the system closes the sockets; tidying up moto would take a second


if __name__ == "__main__":
    main()
