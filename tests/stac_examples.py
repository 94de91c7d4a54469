"""A STAC Collection describing a virtual Icechunk store, as notebook 08 writes it (for the tests)."""

from __future__ import annotations

import copy
from typing import Any

EXTENSIONS = [
    "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
    "https://stac-extensions.github.io/render/v2.0.0/schema.json",
    "https://stac-extensions.github.io/storage/v2.0.0/schema.json",
    "https://stac-extensions.github.io/version/v1.2.0/schema.json",
    "https://stac-extensions.github.io/virtual-assets/v1.0.0/schema.json",
    "https://stac-extensions.github.io/zarr/v1.1.0/schema.json",
]
STORE_KEY = "store"
FILES_KEY = "files"
#: A snapshot id of the right shape (20 characters of Crockford base32), for documents never opened.
SOME_SNAPSHOT = "1CECHVNK0SNAPSH0T1D0"


def s3_scheme(bucket: str, region: str = "us-east-1") -> dict[str, Any]:
    """A Storage extension v2 scheme for a public, free AWS S3 bucket."""
    return {
        "type": "aws-s3",
        "platform": "https://{bucket}.s3.{region}.amazonaws.com",
        "bucket": bucket,
        "region": region,
        "requester_pays": False,
        "anonymous": True,
    }


def virtual_store_collection(
    store_href: str = "s3://store-bucket/oisst/store.icechunk/",
    files_href: str = "s3://files-bucket/data/",
    snapshot: str = SOME_SNAPSHOT,
) -> dict[str, Any]:
    """A valid Collection dict: a virtual Icechunk store asset pinned to ``snapshot``, and its files.

    The buckets are taken from the two hrefs; each gets its own storage scheme.
    """
    store_bucket = store_href.removeprefix("s3://").split("/")[0]
    files_bucket = files_href.removeprefix("s3://").split("/")[0]
    return copy.deepcopy({
        "type": "Collection",
        "id": "oisst-virtual-test",
        "stac_version": "1.1.0",
        "stac_extensions": list(EXTENSIONS),
        "description": "A virtual Icechunk store of a few OISST days (test).",
        "license": "other",
        "links": [],
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [["2024-08-01T12:00:00Z", "2024-08-02T12:00:00Z"]]},
        },
        "cube:dimensions": {
            "time": {"type": "temporal", "extent": ["2024-08-01T12:00:00Z", "2024-08-02T12:00:00Z"]},
            "lon": {"type": "spatial", "axis": "x", "extent": [0.125, 359.875], "reference_system": 4326},
            "lat": {"type": "spatial", "axis": "y", "extent": [-89.875, 89.875], "reference_system": 4326},
            "zlev": {"type": "spatial", "axis": "z", "values": [0.0], "unit": "m"},
        },
        "cube:variables": {
            "sst": {"type": "data", "dimensions": ["time", "zlev", "lat", "lon"], "unit": "Celsius"},
        },
        "storage:schemes": {"store-scheme": s3_scheme(store_bucket), "files-scheme": s3_scheme(files_bucket)},
        "renders": {
            "sst": {"assets": [STORE_KEY], "colormap_name": "rdylbu_r", "rescale": [[-2.0, 30.0]]},
        },
        "assets": {
            STORE_KEY: {
                "href": store_href,
                "type": "application/vnd.zarr+icechunk",
                "roles": ["data", "references", "virtual", "latest-version"],
                "icechunk:snapshot_id": snapshot,
                "version": snapshot,
                "storage:refs": ["store-scheme"],
                "vrt:hrefs": [{"key": FILES_KEY, "href": f"#{FILES_KEY}"}],
                "zarr:zarr_format": 3,
                "zarr:node_type": "group",
                "zarr:consolidated": False,
            },
            FILES_KEY: {
                "href": files_href,
                "type": "application/x-netcdf",
                "roles": ["data"],
                "storage:refs": ["files-scheme"],
            },
        },
    })
