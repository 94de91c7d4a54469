"""The local cloud: an S3 endpoint and an HTTPS stand-in on this machine, so the course runs offline.

``cloud = local_cloud.start()`` starts it (or returns the running one); it stops with the kernel.
Lessons make the calls they would make on AWS, with ``endpoint_url=cloud.endpoint_url`` (plain HTTP,
path-style), ``region=cloud.region`` and the keys below. The buckets: the top-level folders of
``data/sample`` (real names and keys, loaded when first used), ``course-scratch``, ``course-public-stores``.

    caller                   public buckets   protected buckets   course-scratch
    anonymous (unsigned)     read             refused             refused
    learner, temporary keys  read             read                read, write
    provider keys            read, write      read, write         read, write

``cloud.http_url`` serves the same files over HTTP with byte ranges. A helper process runs both
servers (``utils/machinery/cloud_server.py``) and counts every request they answer."""

import atexit
import os
import subprocess
import threading
import time
from collections import Counter, namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

from utils.data import SAMPLE_DIR

REGION = "us-east-1"
SCRATCH_BUCKET = "course-scratch"  # learners write their own stores here
PUBLIC_STORES_BUCKET = "course-public-stores"  # public-read; only provider keys write (publishing)


class LocalCloudError(RuntimeError):
    """The local cloud could not do what was asked; the message says what to do."""


class Keys(NamedTuple):
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"Keys(access_key_id={self.access_key_id!r}, secret_access_key=..., session_token=...)"


# server "s3"|"http"; path with its query; bytes_sent: what a reader downloaded; bytes_received: what a writer uploaded
RequestRecord = namedtuple("RequestRecord", "server method path status range bytes_sent bytes_received")
Measurement = namedtuple("Measurement", "value stats seconds")  # what read() returned, RequestStats, time


@dataclass(frozen=True, repr=False)
class RequestStats:
    records: tuple[RequestRecord, ...]
    __repr__ = lambda self: f"<RequestStats: {self}>"  # noqa: E731
    count = property(lambda self: len(self.records))
    by_method = property(lambda self: dict(Counter(r.method for r in self.records)))
    range_gets = property(lambda self: sum(r.method == "GET" and r.range is not None for r in self.records))
    bytes_sent = property(lambda self: sum(r.bytes_sent for r in self.records))
    bytes_received = property(lambda self: sum(r.bytes_received for r in self.records))
    errors = property(lambda self: sum(r.status >= 400 for r in self.records))

    def __str__(self) -> str:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(self.by_method.items())) or "none"
        return (f"{self.count} requests ({methods}; {self.range_gets} ranged GETs, {self.errors} errors), "
                f"{self.bytes_sent:,} bytes sent, {self.bytes_received:,} bytes received")


class LocalCloud:
    """The running local cloud (see above); :func:`start` returns it."""

    region = REGION

    def __init__(self, process: subprocess.Popen[str], ask: Callable[..., Any], urls: dict[str, str], sample_dir: Path):
        self._process, self._owner = process, os.getpid()
        self._call = ask  # one request to the helper process: ask(op, **arguments) -> its answer
        self.sample_dir, self.endpoint_url, self.http_url = sample_dir, urls["endpoint_url"], urls["http_url"]
        self.s3credentials_url = f"{self.http_url}/s3credentials"  # GET it with the Earthdata login
        self.requests = SimpleNamespace(  # each once the requests in flight have been answered
            reset=lambda: self._call("reset"),
            snapshot=lambda: RequestStats(tuple(RequestRecord(*r) for r in self._call("snapshot"))))

    _accounts = cached_property(lambda self: self._call("accounts"))
    learner = property(lambda self: Keys(*self._accounts["learner"]), doc="Reads every bucket, writes course-scratch.")
    provider = property(lambda self: Keys(*self._accounts["provider"]), doc="Writes every bucket (publishing).")
    earthdata_login = property(lambda self: tuple(self._accounts["earthdata_login"]), doc="(user, password)")
    buckets = property(lambda self: self._call("buckets"), doc='{bucket: "public" | "protected" | "scratch"}')
    running = property(lambda self: self._process.poll() is None)

    def temporary_credentials(self, seconds: int = 3600) -> dict[str, str]:
        """New temporary keys, as ``s3credentials_url`` gives them (accessKeyId, secretAccessKey, ...)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 43200:
            raise ValueError(f"seconds is a whole number from 1 to 43200 (12 hours), like 3600; got {seconds!r}")
        return self._call("temporary_credentials", seconds=seconds)

    def measure(self, read: Callable[[], Any]) -> Measurement:
        """Run ``read()``: its value, the requests it cost and its time (nothing else may use the cloud meanwhile)."""
        self.requests.reset()
        started, value = time.perf_counter(), read()
        return Measurement(value, self.requests.snapshot(), time.perf_counter() - started)

    def stop(self) -> None:
        """Stop both servers and free their ports (this also happens when the kernel exits)."""
        if os.getpid() == self._owner and self.running:
            self._process.terminate()
            self._process.wait()
        self._process.stdin.close(), self._process.stdout.close()  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"<LocalCloud {'running' if self.running else 'stopped'}: S3 {self.endpoint_url}, HTTP {self.http_url}>"


_lock, _running = threading.Lock(), None


def start(port: int | None = None, *, sample_dir: Path | str = SAMPLE_DIR) -> LocalCloud:
    """Start the local cloud, or return the running one. ``port``: the S3 endpoint's (None: a free one)."""
    global _running
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ValueError(f"port is a whole number from 1 to 65535, or None for a free one; got {port!r}")
    sample_dir = Path(sample_dir).resolve()
    with _lock:
        if _running is not None and _running.running:
            if port not in (None, int(_running.endpoint_url.rsplit(":", 1)[1])) or sample_dir != _running.sample_dir:
                raise LocalCloudError(f"the local cloud already runs ({_running.endpoint_url}, sample data in "
                                      f"{_running.sample_dir}): use it, or call its .stop() first")
            return _running
        if not sample_dir.is_dir():
            raise LocalCloudError(f"no sample data in {sample_dir}: run `./course.sh setup` in the course folder "
                                  "(it makes the sample data), then start the local cloud again")
        from utils.machinery.cloud_server import launch  # the helper process and its handshake

        process, ask, urls = launch(port, sample_dir)
        _running = LocalCloud(process, ask, urls, sample_dir)
        return _running


atexit.register(lambda: _running is not None and _running.stop())
