"""Open a read-only virtual Icechunk store in S3, the way an archive's cookbook does.

An archive that publishes a *virtual* store (NASA PO.DAAC's SASSIE ECCO stores, for
example) keeps two things in object storage: the **store** (an Icechunk repository:
metadata and chunk manifests) under ``s3://<bucket>/<prefix>``, and the **data files**
the manifests point into, often in another, credential-protected bucket. Reading it
takes two sets of credentials: one to read the store, and one per *virtual chunk
container* (the bucket URL prefixes the store's references may point into).
:func:`open_virtual_store` takes both, checks them before the first read, and turns
the storage layer's errors into messages that say what is wrong and what to do::

    import earthaccess
    from utils.open_store import open_virtual_store

    earthaccess.login()
    creds = earthaccess.get_s3_credentials(daac="PODAAC")   # accessKeyId, secretAccessKey, ...
    ds = open_virtual_store(
        "s3://podaac-ops-cumulus-public/virtual_collections/SASSIE_ECCO_V1R1/"
        "SASSIE_ECCO_L4_DAILY_V1R1_virtual_s3.icechunk",
        store_credentials=creds,
        chunk_credentials={"s3://podaac-ops-cumulus-protected/": creds},
        region="us-west-2",
    )

On the course's local cloud the same call gets ``endpoint_url=cloud.endpoint_url`` and
``region=cloud.region``, and the credentials come from ``cloud.s3credentials_url``.

Credentials are given as any of:

* the JSON of an Earthdata ``/s3credentials`` endpoint (what ``earthaccess.get_s3_credentials``
  returns): ``{"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}``;
* an object with ``access_key_id``, ``secret_access_key`` and optionally ``session_token``
  and ``expiration`` attributes (e.g. :class:`utils.local_cloud.Credentials`);
* a picklable callable returning either of those (e.g.
  ``functools.partial(earthaccess.get_s3_credentials, daac="PODAAC")``): Icechunk calls it
  again whenever the credentials it has are about to expire, so long reads outlive the
  one-hour temporary credentials;
* :data:`ANONYMOUS` (``"anonymous"``) for a public bucket.

No secret is ever put into an error message or a ``repr``; :func:`mask_credentials`
describes credentials for printing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import icechunk
    import xarray as xr

__all__ = [
    "ANONYMOUS",
    "DEFAULT_REGION",
    "ContainerNotAuthorizedError",
    "CredentialsError",
    "OpenStoreError",
    "StoreNotFoundError",
    "StoreURLError",
    "mask_credentials",
    "open_virtual_store",
    "parse_store_url",
]

#: Pass this instead of credentials to read a public bucket without signing requests.
ANONYMOUS: Literal["anonymous"] = "anonymous"
#: NASA Earthdata Cloud's region: its temporary credentials work only from there.
DEFAULT_REGION = "us-west-2"

CredentialsInput = Mapping[str, Any] | Callable[[], Any] | Literal["anonymous"] | Any

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_CODE = re.compile(r"\(([A-Za-z]+)\)|code: \"([A-Za-z]+)\"")
_WRONG_KEYS = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "InvalidClientTokenId"}
_EXPIRED = {"ExpiredToken", "TokenRefreshRequired"}
_HOW_TO_GET = (
    "get fresh temporary credentials (GET the archive's /s3credentials endpoint again, or "
    "earthaccess.get_s3_credentials(daac=...)) and call again"
)


# --- errors -----------------------------------------------------------------------------------


class OpenStoreError(Exception):
    """A virtual store could not be opened; the message says what is wrong and what to do."""


class StoreURLError(OpenStoreError, ValueError):
    """The store URL is not of the form ``s3://<bucket>/<prefix>``."""


class StoreNotFoundError(OpenStoreError, FileNotFoundError):
    """There is no bucket, or no Icechunk repository, at the URL (or no such branch, tag or snapshot)."""


class CredentialsError(OpenStoreError, PermissionError):
    """Credentials are malformed, wrong, expired, or may not read the bucket."""


class ContainerNotAuthorizedError(OpenStoreError, PermissionError):
    """The store's chunks live in a container the chunk credentials do not cover (or vice versa)."""


# --- URLs -------------------------------------------------------------------------------------


def parse_store_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://<bucket>/<prefix>`` (the prefix without a trailing ``/``).

    Raises:
        StoreURLError: ``url`` is not a string of that form; the message shows the form.
    """
    example = "s3://my-bucket/path/to/store.icechunk"
    if not isinstance(url, str):
        raise StoreURLError(f"the store URL must be a string like {example!r}, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreURLError(
            f"{url!r} is not a URL: give the store's location in object storage as {example!r} "
            "(a repository in a local folder opens with icechunk.local_filesystem_storage)"
        )
    if scheme != "s3":
        hint = (
            " (an https://...amazonaws.com address names the same object as s3://<bucket>/<key>)"
            if scheme in {"http", "https"}
            else ""
        )
        raise StoreURLError(f"{url!r} uses {scheme}://; this function opens stores in S3: {example!r}{hint}")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.fullmatch(bucket):
        raise StoreURLError(
            f"{bucket!r} in {url!r} is not a valid S3 bucket name (3-63 characters: lower-case letters, "
            "digits, '.' and '-'); check the URL"
        )
    if not prefix:
        raise StoreURLError(
            f"{url!r} names a bucket but not the store inside it: add the store's folder, e.g. "
            f"'s3://{bucket}/path/to/store.icechunk'"
        )
    return bucket, prefix


# --- credentials ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Keys:
    """Normalized keys; ``repr`` hides the secret and the token."""

    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    session_token: str | None = dataclasses.field(default=None, repr=False)
    expiration: datetime | None = None


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise CredentialsError(
                f"the credentials' expiration {value!r} is not a date and time "
                "(expected e.g. '2024-05-01 12:00:00+00:00')"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _keys(credentials: Any, what: str) -> _Keys:
    """Normalize one set of (non-anonymous, non-callable) credentials; errors name ``what``."""
    if isinstance(credentials, Mapping):
        missing = [k for k in ("accessKeyId", "secretAccessKey") if not credentials.get(k)]
        if missing:
            given = sorted(str(k) for k in credentials)
            raise CredentialsError(
                f"the {what} lack {', '.join(missing)}: expected the JSON of an Earthdata /s3credentials "
                f"endpoint (accessKeyId, secretAccessKey, sessionToken, expiration); got the keys {given}"
            )
        return _Keys(
            str(credentials["accessKeyId"]),
            str(credentials["secretAccessKey"]),
            credentials.get("sessionToken") or None,
            _parse_time(credentials.get("expiration")),
        )
    if hasattr(credentials, "access_key_id") and hasattr(credentials, "secret_access_key"):
        return _Keys(
            str(credentials.access_key_id),
            str(credentials.secret_access_key),
            getattr(credentials, "session_token", None) or None,
            _parse_time(getattr(credentials, "expiration", None)),
        )
    if isinstance(credentials, str):
        shown = credentials if len(credentials) <= 12 else credentials[:4] + "…"  # it may be a secret
        raise CredentialsError(
            f"the {what} are the string {shown!r}: pass {ANONYMOUS!r} for a public bucket, or the "
            "credentials dict (accessKeyId, secretAccessKey, sessionToken, expiration)"
        )
    raise CredentialsError(
        f"cannot use a {type(credentials).__name__} as {what}: pass the dict an Earthdata /s3credentials "
        f"endpoint returns, an object with access_key_id/secret_access_key, a function returning one, "
        f"or {ANONYMOUS!r}"
    )


def _mask(access_key_id: str) -> str:
    return f"{access_key_id[:4]}… ({len(access_key_id)} characters)"


def _check_not_expired(keys: _Keys, what: str) -> None:
    if keys.expiration is not None and keys.expiration <= datetime.now(UTC):
        ago = (datetime.now(UTC) - keys.expiration).total_seconds()
        raise CredentialsError(
            f"the {what} (access key {_mask(keys.access_key_id)}) expired at "
            f"{keys.expiration:%Y-%m-%d %H:%M:%S} UTC ({ago:.0f} s ago): {_HOW_TO_GET}. For long reads pass a function "
            "that fetches them instead, and Icechunk refreshes them when they are about to expire."
        )


def mask_credentials(credentials: Any) -> str:
    """A printable description of credentials that reveals no secret.

    ``{"accessKeyId": "ASIA...", ...}`` becomes e.g. ``"access key ASIA… (20 characters),
    secret (40 characters), session token (356 characters), expires in about 60 min"``.
    """
    if isinstance(credentials, str) and credentials == ANONYMOUS:
        return "anonymous (unsigned requests)"
    if _is_fetcher(credentials):
        return f"fetched on demand by {getattr(credentials, '__name__', type(credentials).__name__)}"
    keys = _keys(credentials, "credentials")
    parts = [f"access key {_mask(keys.access_key_id)}", f"secret ({len(keys.secret_access_key)} characters)"]
    if keys.session_token:
        parts.append(f"session token ({len(keys.session_token)} characters)")
    if keys.expiration is not None:
        left = (keys.expiration - datetime.now(UTC)).total_seconds()
        if left <= 0:
            parts.append("EXPIRED")
        elif left < 300:
            parts.append(f"expires in {left:.0f} s")
        else:  # to the nearest 5 minutes, so that a printout does not change from second to second
            parts.append(f"expires in about {5 * round(left / 300)} min")
    return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class _Refresh:
    """Picklable adapter: call ``fetch`` and hand Icechunk static credentials with their expiry."""

    fetch: Callable[[], Any]

    def __call__(self) -> icechunk.S3StaticCredentials:
        import icechunk

        keys = _keys(self.fetch(), "refreshed credentials")
        return icechunk.S3StaticCredentials(
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key,
            session_token=keys.session_token,
            expires_after=keys.expiration,
        )


def _is_anonymous(credentials: Any) -> bool:
    return isinstance(credentials, str) and credentials == ANONYMOUS


def _is_fetcher(credentials: Any) -> bool:
    """A function that fetches credentials (not a dict or a credentials object)."""
    return callable(credentials) and not isinstance(credentials, Mapping) and not hasattr(credentials, "access_key_id")


def _storage_credentials(credentials: Any, what: str) -> dict[str, Any]:
    """Keyword arguments of ``icechunk.s3_storage`` for these credentials."""
    if _is_anonymous(credentials):
        return {"anonymous": True}
    if _is_fetcher(credentials):
        return {"get_credentials": _Refresh(credentials)}
    keys = _keys(credentials, what)
    _check_not_expired(keys, what)
    return {
        "access_key_id": keys.access_key_id,
        "secret_access_key": keys.secret_access_key,
        "session_token": keys.session_token,
    }


def _container_credentials(credentials: Any, what: str) -> Any:
    """Icechunk credentials authorizing one virtual chunk container."""
    import icechunk

    if _is_anonymous(credentials):
        return icechunk.s3_anonymous_credentials()
    if _is_fetcher(credentials):
        return icechunk.s3_refreshable_credentials(_Refresh(credentials))
    keys = _keys(credentials, what)
    _check_not_expired(keys, what)
    return icechunk.s3_static_credentials(
        access_key_id=keys.access_key_id,
        secret_access_key=keys.secret_access_key,
        session_token=keys.session_token,
        expires_after=keys.expiration,
    )


# --- translating storage errors ---------------------------------------------------------------


def _s3_code(error: BaseException) -> str | None:
    match = _S3_CODE.search(str(error))
    return (match.group(1) or match.group(2)) if match else None


def _explain(error: BaseException, *, url: str, what: str, anonymous: bool) -> OpenStoreError | None:
    """An :class:`OpenStoreError` for a storage error, or None if it is not one we can explain."""
    code = _s3_code(error)
    text = str(error)
    if code in _EXPIRED:
        return CredentialsError(f"the {what} have expired (S3 says {code}) while reading {url}: {_HOW_TO_GET}.")
    if code in _WRONG_KEYS:
        return CredentialsError(
            f"the {what} were refused while reading {url} (S3 says {code}): the access key, secret or session "
            "token is wrong. Use the accessKeyId, secretAccessKey and sessionToken of one credentials response "
            "together and unchanged, for this archive; if unsure, " + _HOW_TO_GET + "."
        )
    if code in {"AccessDenied", "Forbidden", "AllAccessDisabled"}:
        if anonymous:
            return CredentialsError(
                f"anonymous access to {url} is refused (S3 says {code}): this bucket is not public. "
                "Pass credentials for it (e.g. temporary credentials from the archive's /s3credentials endpoint)."
            )
        return CredentialsError(
            f"the {what} may not read {url} (S3 says {code}): they are valid, but not for this bucket. "
            "Use credentials issued for this archive (with earthaccess: the right daac=...), from the region "
            "it requires."
        )
    if code == "NoSuchBucket":
        return StoreNotFoundError(f"there is no bucket for {url} at this endpoint: check the bucket name in the URL.")
    if "dispatch failure" in text or "onnection refused" in text or "error trying to connect" in text:
        return OpenStoreError(
            f"could not reach the object store for {url}: check endpoint_url (and that the server runs) "
            "and your network."
        )
    return None


# --- the function -----------------------------------------------------------------------------


def open_virtual_store(
    url: str,
    *,
    store_credentials: CredentialsInput,
    chunk_credentials: Mapping[str, CredentialsInput] | None,
    endpoint_url: str | None = None,
    region: str | None = DEFAULT_REGION,
    branch: str | None = None,
    tag: str | None = None,
    snapshot_id: str | None = None,
    chunks: Any = None,
    verify: bool = True,
) -> xr.Dataset:
    """Open a read-only (virtual) Icechunk store at ``s3://<bucket>/<prefix>`` as an xarray Dataset.

    Parameters
    ----------
    url
        ``s3://<bucket>/<prefix>`` of the Icechunk repository.
    store_credentials
        Credentials to read the repository itself, or ``"anonymous"`` for a public bucket.
    chunk_credentials
        ``{container URL prefix: credentials}``: one entry per virtual chunk container of the
        store (e.g. ``{"s3://podaac-ops-cumulus-protected/": creds}``), each ``"anonymous"``
        for a public bucket. ``None`` or ``{}`` for a store without virtual chunks.
    endpoint_url
        Another S3-compatible endpoint than AWS (the local cloud's ``cloud.endpoint_url``);
        plain ``http://`` is allowed for it.
    region
        The bucket's region (Earthdata Cloud: ``us-west-2``).
    branch, tag, snapshot_id
        Which version to read, at most one of them; default: the tip of branch ``main``.
    chunks
        Passed to :func:`xarray.open_zarr`: ``None`` (default) gives lazy arrays without Dask,
        cheap even for a store of millions of chunks; ``{}`` gives Dask arrays, one task per chunk.
    verify
        Read one chunk of one data variable now (one request), so that wrong chunk credentials
        fail here with a clear message rather than at the first plot.

    Raises
    ------
    StoreURLError
        ``url`` is not ``s3://<bucket>/<prefix>``.
    CredentialsError
        Credentials are malformed, expired, wrong, or may not read a bucket.
    ContainerNotAuthorizedError
        The store reads chunks from a container that ``chunk_credentials`` does not cover, or
        ``chunk_credentials`` names a container the store does not have.
    StoreNotFoundError
        No bucket or repository at ``url``, or no such branch, tag or snapshot.
    OpenStoreError
        The object store cannot be reached, or another error the message explains.
    ValueError
        More than one of ``branch``, ``tag`` and ``snapshot_id``.
    """
    import icechunk
    import xarray as xr
    import zarr.errors

    bucket, prefix = parse_store_url(url)
    if sum(v is not None for v in (branch, tag, snapshot_id)) > 1:
        raise ValueError("give at most one of branch, tag and snapshot_id")
    if chunk_credentials is not None and not isinstance(chunk_credentials, Mapping):
        raise ContainerNotAuthorizedError(
            "chunk_credentials must map each virtual chunk container's URL prefix to credentials, e.g. "
            "{'s3://the-data-bucket/': creds}; got a " + type(chunk_credentials).__name__
        )
    location = f"s3://{bucket}/{prefix}"
    where: dict[str, Any] = {"bucket": bucket, "prefix": prefix, "region": region}
    if endpoint_url is not None:
        where.update(endpoint_url=endpoint_url, allow_http=endpoint_url.startswith("http://"), force_path_style=True)
    storage = icechunk.s3_storage(**where, **_storage_credentials(store_credentials, "store credentials"))
    authorize = {
        str(container): _container_credentials(creds, f"chunk credentials for {container}")
        for container, creds in (chunk_credentials or {}).items()
    }

    def explained(error: Exception, what: str, anonymous: bool) -> Exception:
        if isinstance(error, icechunk.RepositoryNotFoundError):
            return StoreNotFoundError(
                f"there is no Icechunk repository at {location}: check the prefix (the folder that holds the "
                "repository's 'repo' object and 'snapshots/', 'manifests/' folders)."
            )
        return _explain(error, url=location, what=what, anonymous=anonymous) or OpenStoreError(
            f"could not open {location}: {str(error).splitlines()[0]}"
        )

    # The repository's config lists its virtual chunk containers: check the authorization first.
    try:
        config = icechunk.Repository.fetch_config(storage)
    except icechunk.IcechunkError as error:
        raise explained(error, "store credentials", _is_anonymous(store_credentials)) from None
    containers = sorted((config.virtual_chunk_containers or {}) if config is not None else {})
    uncovered = [c for c in containers if c not in authorize]
    if uncovered:
        no_slash = [k for k in authorize if not k.endswith("/") and k + "/" in uncovered]
        hint = (
            f" A container prefix ends with '/': write {no_slash[0] + '/'!r}, not {no_slash[0]!r}." if no_slash else ""
        )
        raise ContainerNotAuthorizedError(
            f"the store at {location} reads chunks from {uncovered}, which chunk_credentials do not cover "
            f"(they cover {sorted(authorize) or 'nothing'}): add e.g. {{{uncovered[0]!r}: credentials}} "
            f"(or {ANONYMOUS!r} if that bucket is public).{hint}"
        )
    unknown = sorted(set(authorize) - set(containers))
    if unknown:
        raise ContainerNotAuthorizedError(
            f"chunk_credentials name {unknown}, but the store at {location} has no such virtual chunk container; "
            f"its containers are {containers or 'none'}. Use those URL prefixes (with the final '/') as the keys."
        )

    try:
        repo = icechunk.Repository.open(
            storage, authorize_virtual_chunk_access=icechunk.containers_credentials(authorize) if authorize else None
        )
        if snapshot_id is not None:
            try:
                repo.lookup_snapshot(snapshot_id)
            except icechunk.IcechunkError:
                raise StoreNotFoundError(
                    f"the store at {location} has no snapshot {snapshot_id!r}: list them with "
                    "repo.ancestry(branch='main'), or use a branch or tag."
                ) from None
        if tag is not None or snapshot_id is not None:
            session = repo.readonly_session(tag=tag, snapshot_id=snapshot_id)
        else:
            session = repo.readonly_session(branch or "main")
    except icechunk.RefNotFoundError:
        version = f"tag {tag!r}" if tag is not None else f"branch {branch or 'main'!r}"
        raise StoreNotFoundError(
            f"the store at {location} has no {version}: its branches are {sorted(repo.list_branches())}, "
            f"its tags {sorted(repo.list_tags())}."
        ) from None
    except icechunk.IcechunkError as error:
        raise explained(error, "store credentials", _is_anonymous(store_credentials)) from None

    version = (
        f"snapshot {snapshot_id!r}" if snapshot_id is not None else f"tag {tag!r}" if tag is not None
        else f"branch {branch or 'main'!r}"
    )  # fmt: skip
    try:
        ds = xr.open_zarr(session.store, consolidated=False, chunks=chunks)
    except zarr.errors.GroupNotFoundError:
        raise StoreNotFoundError(
            f"the {version} of the store at {location} holds no Zarr group at its root: it is empty "
            "(e.g. the repository's first, empty commit); check the version you asked for."
        ) from None
    except icechunk.IcechunkError as error:
        raise explained(error, "store credentials", _is_anonymous(store_credentials)) from None

    if verify and containers:
        _verify_chunks(ds, location)
    return ds


def _verify_chunks(ds: xr.Dataset, location: str) -> None:
    """Read one element of the first data variable: one chunk request through its container."""
    import icechunk

    for name in sorted(ds.data_vars):  # sorted: the store lists its arrays in no fixed order
        variable = ds[name]
        if variable.ndim == 0:
            continue
        try:
            variable.isel(dict.fromkeys(variable.dims, 0)).values
        except icechunk.IcechunkError as error:
            code = _s3_code(error)
            if isinstance(error, icechunk.InvalidInputError) and "authorize" in str(error):
                raise ContainerNotAuthorizedError(
                    f"reading {name!r} from {location} needs a virtual chunk container that is not authorized: "
                    f"{str(error).splitlines()[0]}"
                ) from None
            what = "chunk credentials"
            explanation = _explain(error, url=f"the data files of {location}", what=what, anonymous=False)
            if code in {"AccessDenied", "Forbidden"}:
                explanation = CredentialsError(
                    f"reading the data of {name!r} (virtual chunks of {location}) was refused (S3 says {code}): "
                    "the chunk credentials may not read the data bucket; pass credentials issued for it "
                    f"('{ANONYMOUS}' works only for a public bucket)."
                )
            raise explanation or OpenStoreError(
                f"reading the first chunk of {name!r} from {location} failed: {str(error).splitlines()[0]}"
            ) from None
        return
