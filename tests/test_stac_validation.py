"""Offline STAC validation as notebook 08 does it: pystac's own validator, local schemas, never the network.

The extension schemas in ``data/stac-schemas/`` are stand-ins written for the course (no package
ships the official ones); these tests check that each catches the errors its extension defines.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pystac
import pystac.validation
import pytest
from pystac.errors import STACValidationError
from pystac.validation import GetSchemaError, JsonSchemaSTACValidator, RegisteredValidator

from stac_examples import EXTENSIONS, FILES_KEY, STORE_KEY, virtual_store_collection
from utils.data import REPO

SCHEMA_DIR = REPO / "data" / "stac-schemas"


def offline_validator() -> JsonSchemaSTACValidator:
    """Notebook 08's validator: pystac's, with the course's schemas in its cache under their $id."""
    validator = JsonSchemaSTACValidator()
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        validator.schema_cache[schema["$id"]] = schema
    return validator


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt of pystac to read a schema over the network (besides the offline guard)."""

    def refuse(self: Any, source: Any, *args: Any, **kwargs: Any) -> str:
        raise AssertionError(f"pystac tried to read {source!r}: offline validation must not download")

    monkeypatch.setattr(pystac.stac_io.DefaultStacIO, "read_text", refuse)


@pytest.fixture(scope="module")
def validator() -> JsonSchemaSTACValidator:
    return offline_validator()


def _collection(document: dict[str, Any] | None = None) -> pystac.Collection:
    return pystac.Collection.from_dict(document or virtual_store_collection(), migrate=False)


def _problems(err: STACValidationError) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in err.source)


def test_valid_collection_passes_core_and_every_extension(validator: JsonSchemaSTACValidator) -> None:
    checked = _collection().validate(validator=validator)
    assert checked[0] == "https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json"
    assert sorted(checked[1:]) == sorted(EXTENSIONS)


def test_core_only_collection_uses_the_schemas_pystac_ships(validator: JsonSchemaSTACValidator) -> None:
    document = virtual_store_collection()
    document["stac_extensions"] = []
    assert len(_collection(document).validate(validator=validator)) == 1


def test_core_errors_are_found(validator: JsonSchemaSTACValidator) -> None:
    document = virtual_store_collection()
    document["extent"]["spatial"]["bbox"] = [[-180.0, -90.0]]  # a bbox needs 4 (or 6) numbers
    with pytest.raises(STACValidationError, match="collection.json"):
        _collection(document).validate(validator=validator)


def _broken(change: str) -> dict[str, Any]:
    document = virtual_store_collection()
    store = document["assets"][STORE_KEY]
    if change == "storage: scheme without platform":
        del document["storage:schemes"]["files-scheme"]["platform"]
    elif change == "storage: requester_pays not a boolean":
        document["storage:schemes"]["files-scheme"]["requester_pays"] = "no"
    elif change == "storage: refs not a list":
        store["storage:refs"] = "store-scheme"
    elif change == "storage: no schemes":
        del document["storage:schemes"]
    elif change == "datacube: no dimensions":
        del document["cube:dimensions"]
    elif change == "datacube: spatial without axis":
        del document["cube:dimensions"]["lon"]["axis"]
    elif change == "datacube: numeric temporal extent":
        document["cube:dimensions"]["time"]["extent"] = [0, 1]
    elif change == "datacube: variable type":
        document["cube:variables"]["sst"]["type"] = "measurement"
    elif change == "render: rescale not pairs":
        document["renders"]["sst"]["rescale"] = [-2.0, 30.0]
    elif change == "render: no assets":
        del document["renders"]["sst"]["assets"]
    elif change == "version: not a string":
        store["version"] = 7
    elif change == "virtual: virtual role without vrt:hrefs":
        del store["vrt:hrefs"]
    elif change == "virtual: href entry without key":
        store["vrt:hrefs"] = [{"href": f"#{FILES_KEY}"}]
    elif change == "zarr: format 4":
        store["zarr:zarr_format"] = 4
    elif change == "zarr: node type":
        store["zarr:node_type"] = "dataset"
    else:
        raise AssertionError(change)
    return document


@pytest.mark.parametrize(
    "change, schema",
    [
        ("storage: scheme without platform", "storage/v2.0.0"),
        ("storage: requester_pays not a boolean", "storage/v2.0.0"),
        ("storage: refs not a list", "storage/v2.0.0"),
        ("storage: no schemes", "storage/v2.0.0"),
        ("datacube: no dimensions", "datacube/v2.2.0"),
        ("datacube: spatial without axis", "datacube/v2.2.0"),
        ("datacube: numeric temporal extent", "datacube/v2.2.0"),
        ("datacube: variable type", "datacube/v2.2.0"),
        ("render: rescale not pairs", "render/v2.0.0"),
        ("render: no assets", "render/v2.0.0"),
        ("version: not a string", "version/v1.2.0"),
        ("virtual: virtual role without vrt:hrefs", "virtual-assets/v1.0.0"),
        ("virtual: href entry without key", "virtual-assets/v1.0.0"),
        ("zarr: format 4", "zarr/v1.1.0"),
        ("zarr: node type", "zarr/v1.1.0"),
    ],
)
def test_each_extension_schema_catches_its_errors(validator: JsonSchemaSTACValidator, change: str, schema: str) -> None:
    with pytest.raises(STACValidationError, match=re.escape(f"stac-extensions.github.io/{schema}/schema.json")):
        _collection(_broken(change)).validate(validator=validator)


def test_errors_name_the_fields(validator: JsonSchemaSTACValidator) -> None:
    document = virtual_store_collection()
    document["storage:schemes"]["files-scheme"]["requester_pays"] = "no"
    del document["storage:schemes"]["files-scheme"]["platform"]
    with pytest.raises(STACValidationError) as caught:
        _collection(document).validate(validator=validator)
    assert _problems(caught.value) == [
        "storage:schemes/files-scheme/requester_pays: 'no' is not of type 'boolean'",
        "storage:schemes/files-scheme: 'platform' is a required property",
    ]


def test_declared_extension_with_its_fields_missing_fails(validator: JsonSchemaSTACValidator) -> None:
    document = virtual_store_collection()
    del document["renders"]  # the render extension is declared: its field is required
    with pytest.raises(STACValidationError, match="render"):
        _collection(document).validate(validator=validator)


def test_unknown_extension_is_refused_without_download(validator: JsonSchemaSTACValidator) -> None:
    document = virtual_store_collection()
    uri = "https://stac-extensions.github.io/eo/v2.0.0/schema.json"
    document["stac_extensions"].append(uri)
    with pytest.raises(GetSchemaError, match=re.escape(uri)) as caught:
        _collection(document).validate(validator=validator)
    assert "offline validation must not download" in str(caught.value.__cause__)  # the fixture refused it


def test_registered_validator_is_used_by_validate(validator: JsonSchemaSTACValidator) -> None:
    before = RegisteredValidator._validator
    try:
        pystac.validation.set_validator(validator)
        assert RegisteredValidator.get_validator() is validator
        assert len(_collection().validate()) == 1 + len(EXTENSIONS)
        with pytest.raises(STACValidationError):
            _collection(_broken("zarr: format 4")).validate()
    finally:
        RegisteredValidator._validator = before


def test_schema_files_are_draft7_schemas_named_after_their_id() -> None:
    files = sorted(SCHEMA_DIR.glob("*.json"))
    assert len(files) == len(EXTENSIONS)
    for path in files:
        schema = json.loads(path.read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        name, version = re.fullmatch(r"(.+)-v(\d+\.\d+\.\d+)\.json", path.name).groups()
        assert schema["$id"] == f"https://stac-extensions.github.io/{name}/v{version}/schema.json"
        assert "course stand-in" in schema["title"] and "not the official schema" in schema["$comment"]
    assert sorted(json.loads(p.read_text())["$id"] for p in files) == sorted(EXTENSIONS)


def test_schema_folder_readme_lists_every_file() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text()
    for path in SCHEMA_DIR.glob("*.json"):
        assert path.name in readme
