"""Offline STAC validation (utils.stac_validation): local schemas only, never the network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pystac
import pystac.validation
import pytest
from pystac.errors import STACValidationError
from pystac.validation import GetSchemaError, RegisteredValidator

from stac_examples import EXTENSIONS, FILES_KEY, STORE_KEY, virtual_store_collection
from utils.stac_validation import SCHEMA_DIR, MissingSchemaError, OfflineValidator, local_schemas


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt of pystac to read a schema over the network (besides the offline guard)."""

    def refuse(self: Any, source: Any, *args: Any, **kwargs: Any) -> str:
        raise AssertionError(f"pystac tried to read {source!r}: offline validation must not download")

    monkeypatch.setattr(pystac.stac_io.DefaultStacIO, "read_text", refuse)


@pytest.fixture(scope="module")
def validator() -> OfflineValidator:
    return OfflineValidator()


def _collection(document: dict[str, Any] | None = None) -> pystac.Collection:
    return pystac.Collection.from_dict(document or virtual_store_collection(), migrate=False)


def _problems(err: STACValidationError) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in err.source)


def test_valid_collection_passes_core_and_every_extension(validator: OfflineValidator) -> None:
    checked = _collection().validate(validator=validator)
    assert checked[0] == "https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json"
    assert sorted(checked[1:]) == sorted(EXTENSIONS)


def test_core_only_collection_uses_the_schemas_pystac_ships(validator: OfflineValidator) -> None:
    document = virtual_store_collection()
    document["stac_extensions"] = []
    assert len(_collection(document).validate(validator=validator)) == 1


def test_core_errors_are_found(validator: OfflineValidator) -> None:
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
        ("zarr: format 4", "zarr/v1.0.0"),
        ("zarr: node type", "zarr/v1.0.0"),
    ],
)
def test_each_extension_schema_catches_its_errors(validator: OfflineValidator, change: str, schema: str) -> None:
    with pytest.raises(STACValidationError, match=re.escape(f"stac-extensions.github.io/{schema}/schema.json")):
        _collection(_broken(change)).validate(validator=validator)


def test_errors_name_the_fields(validator: OfflineValidator) -> None:
    document = virtual_store_collection()
    document["storage:schemes"]["files-scheme"]["requester_pays"] = "no"
    del document["storage:schemes"]["files-scheme"]["platform"]
    with pytest.raises(STACValidationError) as caught:
        _collection(document).validate(validator=validator)
    assert _problems(caught.value) == [
        "storage:schemes/files-scheme/requester_pays: 'no' is not of type 'boolean'",
        "storage:schemes/files-scheme: 'platform' is a required property",
    ]


def test_declared_extension_with_its_fields_missing_fails(validator: OfflineValidator) -> None:
    document = virtual_store_collection()
    del document["renders"]  # the render extension is declared: its field is required
    with pytest.raises(STACValidationError, match="render"):
        _collection(document).validate(validator=validator)


def test_unknown_extension_is_refused_without_download(validator: OfflineValidator) -> None:
    document = virtual_store_collection()
    uri = "https://stac-extensions.github.io/eo/v2.0.0/schema.json"
    document["stac_extensions"].append(uri)
    with pytest.raises(MissingSchemaError) as caught:
        _collection(document).validate(validator=validator)
    message = str(caught.value)
    assert uri in message and "data/stac-schemas" in message and '"$id"' in message
    assert isinstance(caught.value, GetSchemaError)  # pystac's own "schema not available" error


def test_registered_validator_is_used_by_validate(validator: OfflineValidator) -> None:
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
    assert sorted(local_schemas()) == sorted(EXTENSIONS)


def test_schema_folder_readme_lists_every_file() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text()
    for path in SCHEMA_DIR.glob("*.json"):
        assert path.name in readme


def test_local_schemas_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no schema folder"):
        local_schemas(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no \\*.json"):
        local_schemas(tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        local_schemas(tmp_path)
    (tmp_path / "broken.json").write_text('{"type": "object"}')
    with pytest.raises(ValueError, match='no "\\$id"'):
        local_schemas(tmp_path)
    uri = "https://example.com/a/v1.0.0/schema.json"
    (tmp_path / "broken.json").write_text(json.dumps({"$id": uri + "#"}))
    (tmp_path / "copy.json").write_text(json.dumps({"$id": uri}))
    with pytest.raises(ValueError, match="both claim"):
        local_schemas(tmp_path)
    (tmp_path / "copy.json").unlink()
    assert list(local_schemas(tmp_path)) == [uri]  # the trailing '#' is dropped


def test_validator_from_another_folder(tmp_path: Path) -> None:
    only_zarr = tmp_path / "schemas"
    only_zarr.mkdir()
    (only_zarr / "zarr-v1.0.0.json").write_text((SCHEMA_DIR / "zarr-v1.0.0.json").read_text())
    validator = OfflineValidator(only_zarr)
    assert validator.extensions == ["https://stac-extensions.github.io/zarr/v1.0.0/schema.json"]
    with pytest.raises(MissingSchemaError, match="datacube"):
        _collection().validate(validator=validator)
    assert "1 extension schemas" in repr(validator)
