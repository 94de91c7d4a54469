"""Virtual OISST stores on the local cloud, and what reads cost: plumbing for lessons and benchmarks.

Used by notebook 06 (performance) and the ``chunks`` section of ``scripts/benchmark.py``.
Notebook 04 builds a virtual store step by step from local files. In the cloud the same
references point into NOAA's public OISST bucket
(``s3://noaa-cdr-sea-surface-temp-optimum-interpolation-pds/``) and the store itself lives in a
bucket. This module does those steps in one call each, against
the local cloud (:func:`utils.local_cloud.start`), so that later lessons can start from a virtual
store and spend their time on something else::

    from utils import local_cloud, oisst_cloud

    cloud = local_cloud.start()
    repo = oisst_cloud.create_virtual_store(cloud, "06/oisst", variables=("sst",))

- :func:`s3_urls`: the ``s3://`` URLs of the daily files of some dates;
- :func:`open_virtual`: those files as one virtual dataset (VirtualiZarr's ``HDFParser``),
  reading their headers through the local cloud's S3 API, anonymously;
- :func:`repository_config` and :func:`authorization`: the virtual chunk container of the
  public bucket, and the anonymous credentials that authorize it when a repository is opened;
- :func:`create_virtual_store`: a new Icechunk repository in a bucket, holding the virtual
  dataset in one commit;
- :func:`delete_prefix`: remove everything below a prefix of a writable bucket, so a notebook can
  run again in the same kernel (the local cloud keeps its buckets while it runs);
- :func:`measure`: run a read and return its value with the requests, bytes and seconds it cost,
  counted by the local cloud (:attr:`utils.local_cloud.LocalCloud.requests`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from utils.local_cloud import SCRATCH_BUCKET, CredentialsLike, LocalCloud, RequestStats
from utils.sample_data import OISST_BUCKET, OISST_MONTH, oisst_dates, oisst_key

if TYPE_CHECKING:
    import icechunk
    import xarray as xr

__all__ = [
    "OISST_PREFIX",
    "VARIABLES",
    "Measurement",
    "authorization",
    "create_virtual_store",
    "delete_prefix",
    "measure",
    "open_virtual",
    "repository_config",
    "s3_urls",
]

#: The URL prefix of every OISST file, and of the virtual chunk container that covers them.
OISST_PREFIX = f"s3://{OISST_BUCKET}/"
#: The data variables of an OISST daily file.
VARIABLES: tuple[str, ...] = ("sst", "anom", "err", "ice")


def s3_urls(dates: Iterable[dt.date | str] | None = None) -> list[str]:
    """The ``s3://`` URLs of the OISST daily files of ``dates`` (default: every day of the sample month).

    Dates are ``datetime.date`` objects or ``"YYYY-MM-DD"`` strings, kept in the order given.

    Raises:
        ValueError: no date was given, or a string is not a date.
    """
    days = oisst_dates(OISST_MONTH) if dates is None else list(dates)
    if not days:
        raise ValueError("give at least one date, e.g. oisst_dates('2024-08')")
    try:
        return [OISST_PREFIX + oisst_key(day) for day in days]
    except ValueError as bad:
        raise ValueError(f"{bad}: dates must be datetime.date objects or 'YYYY-MM-DD' strings") from None


def _check_variables(variables: Sequence[str]) -> list[str]:
    if isinstance(variables, str):
        variables = (variables,)
    unknown = sorted(set(variables) - set(VARIABLES))
    if unknown or not variables:
        raise ValueError(f"OISST variables are {', '.join(VARIABLES)}; got {list(variables)!r}")
    return list(variables)


def open_virtual(
    cloud: LocalCloud,
    dates: Iterable[dt.date | str] | None = None,
    *,
    variables: Sequence[str] = VARIABLES,
    workers: int = 4,
) -> xr.Dataset:
    """The OISST files of ``dates`` as one virtual dataset, combined along ``time``.

    Each file's header is read with VirtualiZarr's ``HDFParser`` through an anonymous obstore
    ``S3Store`` on the local cloud (the bucket is public), ``workers`` files at a time. Data
    variables are ``ManifestArray``s whose references are ``s3://`` URLs into the bucket;
    ``time``, ``zlev``, ``lat`` and ``lon`` are loaded. Global attributes are the first file's.

    Raises:
        ValueError: an unknown variable, no date, or ``workers < 1``.
        FileNotFoundError: a file is not in the bucket (a date outside the sample data, or the
            local cloud was started without the sample data).
    """
    import obstore
    import virtualizarr as vz
    from obstore.exceptions import NotFoundError
    from obspec_utils.registry import ObjectStoreRegistry
    from virtualizarr.parsers import HDFParser

    keep = _check_variables(variables)
    urls = s3_urls(dates)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    store = cloud.obstore_store(OISST_BUCKET, anonymous=True)
    for url in (urls[0], urls[-1]):  # a clear error instead of one from deep inside the parser
        key = url.removeprefix(OISST_PREFIX)
        try:
            obstore.head(store, key)
        except (FileNotFoundError, NotFoundError):
            raise FileNotFoundError(
                f"{url} is not in the local cloud: the sample data holds the month {OISST_MONTH}; "
                "pick dates in it, or run `./course.sh setup` to make the sample data"
            ) from None
    parser = HDFParser(drop_variables=[v for v in VARIABLES if v not in keep])
    registry = ObjectStoreRegistry({OISST_PREFIX: store})
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return vz.open_virtual_mfdataset(
            urls,
            registry=registry,
            parser=parser,
            combine="nested",
            concat_dim="time",
            coords="minimal",
            compat="override",
            combine_attrs="override",
            parallel=pool if len(urls) > 1 else False,
        )


def repository_config(
    cloud: LocalCloud, config: icechunk.RepositoryConfig | None = None
) -> icechunk.RepositoryConfig:
    """``config`` (or a default config) with a virtual chunk container for the OISST bucket.

    The container's URL prefix is :data:`OISST_PREFIX` and its store the local cloud's S3
    endpoint, read anonymously. ``config`` is changed in place and returned.
    """
    import icechunk

    config = icechunk.RepositoryConfig.default() if config is None else config
    config.set_virtual_chunk_container(cloud.virtual_chunk_container(OISST_BUCKET, anonymous=True))
    return config


def authorization(cloud: LocalCloud) -> dict[str, Any]:
    """Credentials authorizing the OISST container, for ``authorize_virtual_chunk_access=``.

    The bucket is public: anonymous credentials. Without them Icechunk refuses to read the
    virtual chunks.
    """
    import icechunk

    return icechunk.containers_credentials({OISST_PREFIX: cloud.icechunk_s3_credentials(anonymous=True)})


def delete_prefix(
    cloud: LocalCloud, prefix: str, *, bucket: str = SCRATCH_BUCKET, credentials: CredentialsLike | None = None
) -> int:
    """Delete every object below ``<bucket>/<prefix>/``; return how many were deleted.

    Uses the learner's keys unless ``credentials`` are given.

    Raises:
        ValueError: ``prefix`` is empty or ``/`` (that would empty the whole bucket).
    """
    import obstore

    clean = prefix.strip("/")
    if not clean:
        raise ValueError("give a prefix like '06/oisst'; refusing to empty the whole bucket")
    store = cloud.obstore_store(bucket, credentials=credentials)
    keys = [meta["path"] for batch in obstore.list(store, prefix=clean + "/") for meta in batch]
    if keys:
        obstore.delete(store, keys)
    return len(keys)


def create_virtual_store(
    cloud: LocalCloud,
    prefix: str,
    dates: Iterable[dt.date | str] | None = None,
    *,
    variables: Sequence[str] = VARIABLES,
    bucket: str = SCRATCH_BUCKET,
    credentials: CredentialsLike | None = None,
    message: str | None = None,
    replace: bool = True,
) -> icechunk.Repository:
    """A new Icechunk repository at ``s3://<bucket>/<prefix>`` holding the virtual OISST files.

    The repository's config has the OISST container (:func:`repository_config`); the virtual
    dataset (:func:`open_virtual`) is written at the root group in one commit on ``main``. Returns
    the repository, authorized to read the virtual chunks (:func:`authorization`).

    Args:
        replace: first delete whatever is below the prefix (:func:`delete_prefix`), so the same
            call works again in the same kernel. With ``False`` an existing repository there is
            an error.
        credentials: keys that may write ``bucket`` (default: the learner's keys).

    Raises:
        ValueError: bad ``prefix``, dates or variables.
        FileNotFoundError: a file is not in the bucket.
        icechunk.IcechunkError: the repository cannot be created (it exists and
            ``replace=False``, or the credentials may not write ``bucket``).
    """
    import icechunk

    if not prefix.strip("/"):
        raise ValueError("give a prefix like '06/oisst' for the repository, not the whole bucket")
    virtual = open_virtual(cloud, dates, variables=variables)
    if replace:
        delete_prefix(cloud, prefix, bucket=bucket, credentials=credentials)
    storage = cloud.icechunk_storage(bucket, prefix.strip("/"), credentials=credentials)
    repo = icechunk.Repository.create(
        storage, config=repository_config(cloud), authorize_virtual_chunk_access=authorization(cloud)
    )
    session = repo.writable_session("main")
    virtual.vz.to_icechunk(session.store)
    days = virtual["time"].dt.strftime("%Y-%m-%d").values
    session.commit(message or f"OISST {days[0]} to {days[-1]}: virtual references to {OISST_PREFIX}")
    return repo


# --------------------------------------------------------------------------
# What a read costs
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one read returned and cost: its value, the requests the local cloud answered, its time."""

    value: Any
    stats: RequestStats = dataclasses.field(repr=False)
    seconds: float

    @property
    def requests(self) -> int:
        """Requests of every kind (GET, HEAD, PUT, ...)."""
        return self.stats.count

    @property
    def range_gets(self) -> int:
        """GET requests for a byte range of an object."""
        return self.stats.range_gets

    @property
    def bytes_sent(self) -> int:
        """Bytes the servers sent back: what the read downloaded."""
        return self.stats.bytes_sent

    def requests_to(self, part: str) -> int:
        """How many requests went to a path containing ``part`` (e.g. ``"/manifests/"``, ``".nc"``)."""
        return sum(1 for r in self.stats.records if part in r.path)

    def bytes_from(self, part: str) -> int:
        """Bytes sent for the requests to a path containing ``part``."""
        return sum(r.bytes_sent for r in self.stats.records if part in r.path)


def _quiet(cloud: LocalCloud, interval: float, limit: float = 2.0) -> None:
    """Wait until the request log stops growing for ``interval`` seconds (at most ``limit``).

    The local cloud logs a request when the server has finished sending its response, which can
    be a moment after the client has received it. Without this wait, a request made just before
    a measurement could be counted in it, and the last request of a read could be missed.
    """
    deadline = time.monotonic() + limit
    count = cloud.requests.snapshot().count
    while True:
        time.sleep(interval)
        now = cloud.requests.snapshot().count
        if now == count or time.monotonic() > deadline:
            return
        count = now


def measure(cloud: LocalCloud, read: Callable[[], Any], *, settle: float = 0.02) -> Measurement:
    """Run ``read()`` and count the requests and bytes it cost on the local cloud.

    The counter is reset first (after earlier requests have been logged) and read after the
    read's own requests have been logged (see :func:`_quiet`; ``settle`` is the quiet interval
    in seconds, not included in :attr:`Measurement.seconds`). Nothing else may use the local
    cloud meanwhile: every request counts.

    Raises:
        ValueError: ``settle`` is negative.
        Whatever ``read`` raises.
    """
    if settle < 0:
        raise ValueError(f"settle must be >= 0 seconds, got {settle}")
    _quiet(cloud, settle)
    cloud.requests.reset()
    start = time.perf_counter()
    value = read()
    seconds = time.perf_counter() - start
    _quiet(cloud, settle)
    return Measurement(value=value, stats=cloud.requests.snapshot(), seconds=seconds)
