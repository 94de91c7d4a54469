"""Validate STAC documents offline, with JSON schemas kept on disk.

pystac validates a Collection against the JSON schema of the STAC core *and* against the schema
of every extension listed in its ``stac_extensions``. It downloads each extension schema from its
URI (``https://stac-extensions.github.io/<name>/v<version>/schema.json``) the first time it needs
it, which fails without a network and would send requests to the internet in the course's tests.

:class:`OfflineValidator` never touches the network:

- the **core** schemas (Catalog, Collection, Item, and the GeoJSON and common-metadata schemas
  they refer to) are the ones pystac itself ships (``pystac/validation/jsonschemas``);
- the **extension** schemas are JSON files in ``data/stac-schemas/``, found by their ``$id``.
  No package ships the official extension schemas, so those files are small stand-ins written for
  the course from each extension's README: they check the fields and types the extension defines,
  not every rule of the official schema (``data/stac-schemas/README.md`` lists them);
- any other schema URI is refused with :class:`MissingSchemaError`, which says which file to add.

Use it for one call (``collection.validate(validator=OfflineValidator())``) or for the whole
process (``pystac.validation.set_validator(OfflineValidator())``; libraries such as xstac that call
``.validate()`` then validate offline too).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pystac.validation import GetSchemaError, JsonSchemaSTACValidator

from utils.paths import DATA_DIR, display

__all__ = ["SCHEMA_DIR", "MissingSchemaError", "OfflineValidator", "local_schemas"]

#: The course's extension schemas (one JSON file per extension version).
SCHEMA_DIR: Path = DATA_DIR / "stac-schemas"

#: The core schemas pystac ships, checked at start so a change of pystac fails loudly.
_CORE_SCHEMAS = (
    "https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json",
    "https://schemas.stacspec.org/v1.1.0/catalog-spec/json-schema/catalog.json",
    "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json",
)


class MissingSchemaError(GetSchemaError):
    """A schema the validator needs is not on disk (and the network is not an option).

    A subclass of pystac's :class:`~pystac.validation.GetSchemaError`, so code that handles
    pystac's own "could not fetch the schema" error handles this one too.
    """

    def __init__(self, uri: str, folder: Path) -> None:
        self.uri = uri
        reason = FileNotFoundError(
            f"no local copy of this schema in {display(folder)} (offline validation never downloads): "
            f"add a JSON schema file there whose \"$id\" is {uri!r}, or drop the extension from "
            "stac_extensions if the document does not use it"
        )
        super().__init__(uri, reason)


def _normalized(uri: str) -> str:
    return uri.rstrip("#")


def local_schemas(folder: str | os.PathLike[str] = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """The JSON schemas of ``folder``, keyed by their ``$id`` (without a trailing ``#``).

    Raises:
        FileNotFoundError: ``folder`` does not exist or holds no ``*.json`` file.
        ValueError: a file is not valid JSON, has no ``$id``, or repeats another file's ``$id``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no schema folder {display(folder)}: it ships with the course (data/stac-schemas)")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{display(folder)} holds no *.json schema file")
    schemas: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for path in files:
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{display(path)} is not valid JSON: {err}") from None
        uri = schema.get("$id") if isinstance(schema, dict) else None
        if not isinstance(uri, str) or not uri.startswith("https://"):
            raise ValueError(f"{display(path)} has no \"$id\" URI: the validator finds schemas by their $id")
        uri = _normalized(uri)
        if uri in schemas:
            raise ValueError(f"{display(path)} and {origin[uri]} both claim the $id {uri!r}")
        schema["$id"] = uri
        schemas[uri] = schema
        origin[uri] = display(path)
    return schemas


class OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator, with every schema read from disk, never from the network.

    Parameters
    ----------
    folder
        Where the extension schemas are (default ``data/stac-schemas``); see :func:`local_schemas`.

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`local_schemas`.
    RuntimeError
        pystac does not ship the STAC 1.1.0 core schemas (any more).
    """

    def __init__(self, folder: str | os.PathLike[str] = SCHEMA_DIR) -> None:
        super().__init__()  # starts its cache with the core schemas pystac ships
        missing = [uri for uri in _CORE_SCHEMAS if uri not in self.schema_cache]
        if missing:
            raise RuntimeError(
                f"this pystac does not ship the core schemas {missing}; offline validation needs them "
                "(the course pins a pystac that does)"
            )
        self.folder = Path(folder)
        self.extension_schemas: dict[str, dict[str, Any]] = local_schemas(self.folder)
        self.schema_cache.update(self.extension_schemas)

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        """The schema of ``schema_uri`` from the cache; :class:`MissingSchemaError` if not there.

        (pystac's own version downloads what it lacks; this is the one place that changes.)
        """
        for uri in (schema_uri, _normalized(schema_uri)):
            if uri in self.schema_cache:
                return self.schema_cache[uri]
        raise MissingSchemaError(schema_uri, self.folder)

    @property
    def extensions(self) -> list[str]:
        """The extension schema URIs this validator can check, sorted."""
        return sorted(self.extension_schemas)

    def __repr__(self) -> str:
        return f"<OfflineValidator: STAC core from pystac + {len(self.extension_schemas)} extension schemas from {display(self.folder)}>"
