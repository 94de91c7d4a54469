"""Open a virtual Icechunk store from its STAC description alone.

A STAC Collection can describe a virtual Icechunk store completely, following the convention of
published virtual stores (NASA's VEDA and the virtual-Zarr workshop, read by xpystac):

- an **asset** of media type ``application/vnd.zarr+icechunk`` whose ``href`` is the repository
  (``s3://bucket/prefix/``), with ``zarr:`` fields (Zarr extension), the pinned snapshot id as
  ``version`` (Versioning Indicators extension), ``storage:refs`` naming how to reach it, and, for a
  virtual store, ``vrt:hrefs`` (Virtual Assets extension) naming the assets it is made from;
- one **asset per virtual chunk container**: its ``href`` is the URL prefix of the original files
  (ending in ``/``), its ``storage:refs`` how to reach them;
- **storage schemes** (Storage extension v2, ``storage:schemes`` on the Collection): platform
  type, bucket, region, ``requester_pays`` and ``anonymous``.

:func:`describe` reads these fields into a :class:`StoreAccess` (what to open, how, and which
containers to authorize) and :func:`open_from_stac` opens the pinned snapshot with Icechunk and
returns the :class:`xarray.Dataset`. What the reader does not support is refused with a
:class:`StacAccessError` whose message says what is missing and what to do: no Icechunk asset,
storage platforms other than AWS S3 (``aws-s3``), requester-pays or credential-protected buckets,
an asset without a pinned snapshot, a virtual store whose chunk containers are not described.

On the course's local cloud the buckets answer at another address: pass ``endpoint_url`` (one
address for every bucket, or a mapping ``{bucket: address}``; buckets it does not name use AWS).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from utils.paths import display

if TYPE_CHECKING:
    import icechunk
    import pystac
    import xarray as xr

__all__ = [
    "ICECHUNK_MEDIA_TYPE",
    "Container",
    "StacAccessError",
    "StoreAccess",
    "describe",
    "load_collection",
    "open_from_stac",
]

#: The media type published virtual Icechunk stores use (not registered with IANA yet).
ICECHUNK_MEDIA_TYPE = "application/vnd.zarr+icechunk"
#: The storage scheme type this reader supports (Storage extension v2, AWS S3 platform).
SUPPORTED_SCHEME = "aws-s3"
_SNAPSHOT_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{20}")

EndpointLike = str | Mapping[str, str] | None


class StacAccessError(ValueError):
    """The STAC document does not say (in a way this reader supports) how to open the data.

    The message names the field at fault and what to do.
    """


@dataclasses.dataclass(frozen=True)
class Container:
    """A virtual chunk container described by the collection: where the original files are."""

    asset_key: str  #: the asset that describes it
    url_prefix: str  #: e.g. ``s3://bucket/data/`` (ends in ``/``)
    bucket: str
    region: str | None
    endpoint_url: str | None = None  #: the override in use (None: AWS)


@dataclasses.dataclass(frozen=True)
class StoreAccess:
    """Everything needed to open the store, as read from the collection."""

    asset_key: str
    href: str  #: the repository, ``s3://bucket/prefix/``
    bucket: str
    prefix: str
    region: str | None
    snapshot_id: str
    zarr_format: int
    containers: tuple[Container, ...]
    endpoint_url: str | None = None  #: the override in use for the repository (None: AWS)

    def summary(self) -> str:
        """A few lines for people: the repository, the snapshot and the containers to authorize."""
        lines = [
            f"asset        : {self.asset_key!r} ({ICECHUNK_MEDIA_TYPE}, Zarr format {self.zarr_format})",
            f"repository   : {self.href} (region {self.region}, anonymous)",
            f"snapshot     : {self.snapshot_id}",
        ]
        for c in self.containers:
            lines.append(f"authorize    : {c.url_prefix} (from asset {c.asset_key!r}, region {c.region}, anonymous)")
        if not self.containers:
            lines.append("authorize    : nothing (no virtual chunk containers: a native store)")
        return "\n".join(lines)

    def storage(self) -> icechunk.Storage:
        """The Icechunk storage of the repository (anonymous, read-only use)."""
        import icechunk

        return icechunk.s3_storage(
            bucket=self.bucket, prefix=self.prefix, region=self.region, anonymous=True,
            **_endpoint_options(self.endpoint_url),
        )  # fmt: skip

    def config(self) -> icechunk.RepositoryConfig:
        """A repository config declaring the described virtual chunk containers."""
        import icechunk

        config = icechunk.RepositoryConfig.default()
        for c in self.containers:
            store = icechunk.s3_store(region=c.region, anonymous=True, **_endpoint_options(c.endpoint_url, store=True))
            config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(c.url_prefix, store))
        return config

    def credentials(self) -> dict[str, Any]:
        """Anonymous credentials for every described container (for ``authorize_virtual_chunk_access``)."""
        import icechunk

        return icechunk.containers_credentials(
            {c.url_prefix: icechunk.s3_anonymous_credentials() for c in self.containers}
        )


# --------------------------------------------------------------------------
# Reading the collection
# --------------------------------------------------------------------------


def _endpoint_for(endpoint_url: EndpointLike, bucket: str) -> str | None:
    if endpoint_url is None or isinstance(endpoint_url, str):
        return endpoint_url
    return endpoint_url.get(bucket)


def _endpoint_options(endpoint_url: str | None, *, store: bool = False) -> dict[str, Any]:
    """Icechunk S3 options for an S3-compatible endpoint (path-style; plain HTTP if it says so)."""
    if endpoint_url is None:
        return {}
    options: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "allow_http": endpoint_url.startswith("http://"),
        "force_path_style": True,
    }
    if store:
        options["s3_compatible"] = True
    return options


def load_collection(source: Any, *, endpoint_url: EndpointLike = None) -> pystac.Collection:
    """A :class:`pystac.Collection` from a Collection, a dict, a local JSON file or an ``s3://`` URL.

    An ``s3://bucket/key`` is read anonymously (public buckets), through ``endpoint_url`` when
    given (see :func:`open_from_stac`).

    Raises:
        FileNotFoundError: a local file does not exist.
        StacAccessError: the document is not JSON or not a STAC Collection.
    """
    import pystac

    if isinstance(source, pystac.Collection):
        return source
    if isinstance(source, Mapping):
        document = dict(source)
        where = "the dict"
    elif isinstance(source, str) and source.startswith("s3://"):
        document = json.loads(_read_s3(source, endpoint_url))
        where = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no STAC file {display(path)}: check the path (or pass the Collection itself)")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise StacAccessError(f"{display(path)} is not JSON ({err}): expected a STAC Collection") from None
        where = display(path)
    else:
        raise TypeError(
            f"expected a pystac.Collection, a dict, a path or an s3:// URL, not {type(source).__name__}"
        )
    if not isinstance(document, dict) or document.get("type") != "Collection":
        kind = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise StacAccessError(
            f"{where} is not a STAC Collection (type {kind!r}): this reader opens collection-level assets"
        )
    try:
        return pystac.Collection.from_dict(document, migrate=False)
    except (KeyError, TypeError, ValueError, pystac.errors.STACError, pystac.errors.STACTypeError) as err:
        raise StacAccessError(f"{where} is not a valid STAC Collection: {err!r}") from None


def _read_s3(url: str, endpoint_url: EndpointLike) -> bytes:
    """The bytes of an object in a public bucket (anonymous request)."""
    import obstore
    from obstore.store import S3Store

    bucket, key = _split_s3(url, "the collection URL")
    endpoint = _endpoint_for(endpoint_url, bucket)
    config: dict[str, Any] = {"skip_signature": True}
    client: dict[str, Any] = {}
    if endpoint is not None:
        config.update(endpoint=endpoint, virtual_hosted_style_request=False, region="us-east-1")
        client["allow_http"] = endpoint.startswith("http://")
    store = S3Store(bucket, config=config, client_options=client)
    try:
        return bytes(obstore.get(store, key).bytes())
    except FileNotFoundError:
        raise FileNotFoundError(f"no object {url}: check the URL of the collection") from None


def _split_s3(url: str, what: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StacAccessError(
            f"{what} {url!r} is not an s3://bucket/... URL: this reader supports S3 (storage scheme 'aws-s3')"
        )
    return parts.netloc, parts.path.lstrip("/")


def _schemes(collection: pystac.Collection) -> dict[str, Any]:
    schemes = collection.extra_fields.get("storage:schemes")
    if not isinstance(schemes, Mapping) or not schemes:
        raise StacAccessError(
            "the collection has no 'storage:schemes' (Storage extension v2): add one scheme per bucket "
            "with type, platform, bucket, region, requester_pays and anonymous"
        )
    return dict(schemes)


def _scheme_of(collection: pystac.Collection, key: str, asset: pystac.Asset) -> dict[str, Any]:
    """The one storage scheme an asset refers to, checked for what this reader supports."""
    refs = asset.extra_fields.get("storage:refs")
    if not refs:
        raise StacAccessError(
            f"asset {key!r} has no 'storage:refs': name the storage scheme (a key of the collection's "
            "'storage:schemes') that reaches it"
        )
    if isinstance(refs, str):
        refs = [refs]
    schemes = _schemes(collection)
    unknown = [r for r in refs if r not in schemes]
    if unknown:
        raise StacAccessError(
            f"asset {key!r} refers to storage scheme(s) {unknown} that 'storage:schemes' does not define "
            f"(it defines {sorted(schemes)})"
        )
    scheme = dict(schemes[refs[0]])
    name = refs[0]
    kind = scheme.get("type")
    if kind != SUPPORTED_SCHEME:
        raise StacAccessError(
            f"storage scheme {name!r} of asset {key!r} is of type {kind!r} (platform {scheme.get('platform')!r}): "
            f"this reader supports only {SUPPORTED_SCHEME!r} (AWS S3 and S3-compatible stores through "
            "endpoint_url); open other platforms with the matching icechunk storage (e.g. icechunk.azure_storage)"
        )
    if scheme.get("requester_pays", False):
        raise StacAccessError(
            f"storage scheme {name!r} of asset {key!r} is requester-pays: every read is billed to your AWS "
            "account, so this reader will not do it for you; open it yourself with credentials and "
            "requester_pays=True (icechunk.s3_storage / icechunk.s3_store)"
        )
    if scheme.get("anonymous") is not True:
        raise StacAccessError(
            f"storage scheme {name!r} of asset {key!r} does not say 'anonymous': true: the bucket needs "
            "credentials, and this reader opens public buckets only; open it with icechunk.s3_storage(..., "
            "access_key_id=..., secret_access_key=...) or s3_credentials(...)"
        )
    if not isinstance(scheme.get("bucket"), str):
        raise StacAccessError(f"storage scheme {name!r} has no 'bucket': add the bucket name")
    return scheme


def _find_asset(collection: pystac.Collection, asset_key: str | None) -> tuple[str, pystac.Asset]:
    assets = collection.assets
    if asset_key is not None:
        if asset_key not in assets:
            raise StacAccessError(f"the collection has no asset {asset_key!r}; its assets are {sorted(assets)}")
        asset = assets[asset_key]
        if asset.media_type != ICECHUNK_MEDIA_TYPE:
            raise StacAccessError(
                f"asset {asset_key!r} has media type {asset.media_type!r}, not {ICECHUNK_MEDIA_TYPE!r}: "
                "this reader opens Icechunk stores (a plain Zarr store opens with xr.open_zarr(href))"
            )
        return asset_key, asset
    found = [k for k, a in assets.items() if a.media_type == ICECHUNK_MEDIA_TYPE]
    if not found:
        kinds = {k: a.media_type for k, a in assets.items()}
        raise StacAccessError(
            f"the collection has no asset of media type {ICECHUNK_MEDIA_TYPE!r} (its assets: {kinds}): "
            "there is no Icechunk store to open (a plain Zarr asset, application/vnd.zarr, opens with "
            "xr.open_zarr(href))"
        )
    if len(found) > 1:
        raise StacAccessError(f"the collection has several Icechunk assets {sorted(found)}: choose one with asset_key=")
    return found[0], assets[found[0]]


def _containers(
    collection: pystac.Collection, key: str, asset: pystac.Asset, endpoint_url: EndpointLike
) -> tuple[Container, ...]:
    hrefs = asset.extra_fields.get("vrt:hrefs")
    virtual = "virtual" in (asset.roles or [])
    if not hrefs:
        if virtual:
            raise StacAccessError(
                f"asset {key!r} is virtual (role 'virtual') but has no 'vrt:hrefs': its virtual chunk "
                "container is not described. Add an asset whose href is the URL prefix of the original files "
                "(ending in '/') with its 'storage:refs', and list it in 'vrt:hrefs' as {'key': ..., 'href': '#<key>'}"
            )
        return ()
    containers = []
    for entry in hrefs:
        ref = entry.get("key") if isinstance(entry, Mapping) else None
        if not ref or ref not in collection.assets:
            raise StacAccessError(
                f"asset {key!r} lists {entry!r} in 'vrt:hrefs', but the collection has no such asset: the "
                f"virtual chunk container is not described (assets: {sorted(collection.assets)})"
            )
        source = collection.assets[ref]
        prefix = source.href
        if not prefix.endswith("/"):
            raise StacAccessError(
                f"asset {ref!r} (a virtual chunk container of {key!r}) has href {prefix!r}: a container is a "
                "URL prefix and must end in '/'"
            )
        scheme = _scheme_of(collection, ref, source)
        bucket, _ = _split_s3(prefix, f"asset {ref!r} href")
        if bucket != scheme["bucket"]:
            raise StacAccessError(
                f"asset {ref!r} is in bucket {bucket!r} but its storage scheme names bucket {scheme['bucket']!r}"
            )
        containers.append(Container(ref, prefix, bucket, scheme.get("region"), _endpoint_for(endpoint_url, bucket)))
    return tuple(containers)


def describe(
    collection: Any, *, asset_key: str | None = None, endpoint_url: EndpointLike = None
) -> StoreAccess:
    """Read from ``collection`` how to open its Icechunk asset, without opening anything.

    Parameters
    ----------
    collection
        A :class:`pystac.Collection`, its dict, a local JSON file or an ``s3://`` URL.
    asset_key
        Which asset; by default the only one of media type :data:`ICECHUNK_MEDIA_TYPE`.
    endpoint_url
        S3-compatible address of every bucket (a string), or of some buckets (``{bucket: url}``);
        ``None``: AWS. The course's local cloud is ``cloud.endpoint_url``.

    Raises
    ------
    StacAccessError
        The collection lacks something the reader needs, or describes what it does not support
        (see the module docstring); the message says what to do.
    """
    collection = load_collection(collection, endpoint_url=endpoint_url)
    key, asset = _find_asset(collection, asset_key)
    zarr_format = asset.extra_fields.get("zarr:zarr_format", 3)
    if zarr_format != 3:
        raise StacAccessError(
            f"asset {key!r} says zarr:zarr_format {zarr_format!r}: Icechunk stores are Zarr format 3"
        )
    scheme = _scheme_of(collection, key, asset)
    bucket, prefix = _split_s3(asset.href, f"asset {key!r} href")
    if bucket != scheme["bucket"]:
        raise StacAccessError(f"asset {key!r} is in bucket {bucket!r} but its storage scheme names bucket {scheme['bucket']!r}")
    snapshot = asset.extra_fields.get("version")
    if not snapshot:
        raise StacAccessError(
            f"asset {key!r} pins no snapshot: set its 'version' (Versioning Indicators extension) to the "
            "Icechunk snapshot id the collection describes, so every reader sees the same data"
        )
    if not isinstance(snapshot, str) or not _SNAPSHOT_ID.fullmatch(snapshot):
        raise StacAccessError(
            f"asset {key!r} has version {snapshot!r}, which is not an Icechunk snapshot id (20 characters "
            "such as 'X2EX728J4Y6758DVJ87G'): pin a snapshot, not a branch or a tag, which move"
        )
    return StoreAccess(
        asset_key=key,
        href=asset.href,
        bucket=bucket,
        prefix=prefix.rstrip("/"),
        region=scheme.get("region"),
        snapshot_id=snapshot,
        zarr_format=3,
        containers=_containers(collection, key, asset, endpoint_url),
        endpoint_url=_endpoint_for(endpoint_url, bucket),
    )


def open_from_stac(
    collection: Any,
    *,
    asset_key: str | None = None,
    endpoint_url: EndpointLike = None,
    **open_kwargs: Any,
) -> xr.Dataset:
    """Open the pinned snapshot of a collection's (virtual) Icechunk store as an xarray Dataset.

    Reads the storage scheme, builds anonymous Icechunk storage, declares and authorizes the
    virtual chunk containers the collection describes, opens the snapshot pinned in the asset's
    ``version`` and returns ``xr.open_zarr(...)`` of it (lazy; ``open_kwargs`` go to ``xr.open_zarr``).
    Arguments as for :func:`describe`.

    Raises
    ------
    StacAccessError
        As :func:`describe`; also when the repository does not exist at the href, the snapshot is
        not in it, or the repository declares virtual chunk containers the collection does not
        describe (their chunks could not be read).
    """
    import icechunk
    import xarray as xr

    access = describe(collection, asset_key=asset_key, endpoint_url=endpoint_url)
    storage = access.storage()
    missing = StacAccessError(
        f"there is no Icechunk repository at {access.href}: the asset's href is wrong, or the store moved"
    )
    try:
        saved = icechunk.Repository.fetch_config(storage)
    except icechunk.RepositoryNotFoundError:
        raise missing from None
    except icechunk.IcechunkError as err:
        raise StacAccessError(f"cannot read the repository at {access.href}: {str(err).splitlines()[0]}") from None
    if saved is None and not icechunk.Repository.exists(storage):
        raise missing
    described = {c.url_prefix for c in access.containers}
    declared = set(saved.virtual_chunk_containers or {}) if saved is not None else set()
    undescribed = sorted(declared - described)
    if undescribed:
        raise StacAccessError(
            f"the repository at {access.href} declares virtual chunk container(s) {undescribed} that the "
            f"collection does not describe, so their chunks could not be read: add an asset per container "
            f"(href = the URL prefix) and list it in 'vrt:hrefs' of asset {access.asset_key!r}"
        )
    repo = icechunk.Repository.open(
        storage, config=access.config(), authorize_virtual_chunk_access=access.credentials() or None
    )
    try:
        session = repo.readonly_session(snapshot_id=access.snapshot_id)
    except icechunk.SnapshotNotFoundError:
        raise StacAccessError(
            f"snapshot {access.snapshot_id} is not in the repository at {access.href}: the collection is stale "
            "or the snapshot was expired; ask the publisher for an up-to-date collection"
        ) from None
    except icechunk.IcechunkError as err:
        raise StacAccessError(
            f"cannot open snapshot {access.snapshot_id} of {access.href}: {str(err).splitlines()[0]}"
        ) from None
    options = {"consolidated": False, "zarr_format": 3, **open_kwargs}
    return xr.open_zarr(session.store, **options)
