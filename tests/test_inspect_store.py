"""Unit tests for utils.inspect_store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from utils.inspect_store import du, format_bytes, list_objects


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small folder with nested files of known sizes."""
    (tmp_path / "c" / "0").mkdir(parents=True)
    (tmp_path / "c" / "1").mkdir(parents=True)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "zarr.json").write_bytes(b"{}")
    (tmp_path / "c" / "0" / "10").write_bytes(b"x" * 10)
    (tmp_path / "c" / "0" / "2").write_bytes(b"x" * 3)
    (tmp_path / "c" / "1" / "0").write_bytes(b"")
    return tmp_path


def test_list_objects_keys_sizes_and_order(tree: Path) -> None:
    df = list_objects(tree)
    assert list(df.columns) == ["key", "bytes"]
    # plain string order, as an object store lists keys; folders are not objects
    assert df["key"].tolist() == ["c/0/10", "c/0/2", "c/1/0", "zarr.json"]
    assert df["bytes"].tolist() == [10, 3, 0, 2]
    assert df["bytes"].dtype == np.int64


def test_list_objects_accepts_str_and_empty_folder(tmp_path: Path) -> None:
    df = list_objects(str(tmp_path))
    assert df.empty
    assert list(df.columns) == ["key", "bytes"]


def test_list_objects_on_a_zarr_store(tmp_path: Path) -> None:
    store = tmp_path / "demo.zarr"
    root = zarr.create_group(store)
    arr = root.create_array("a", shape=(4, 4), dtype="uint8", chunks=(2, 2))
    arr[:2, 2:] = 1  # touches only chunk (0, 1)
    keys = list_objects(store)["key"].tolist()
    assert keys == ["a/c/0/1", "a/zarr.json", "zarr.json"]


def test_list_objects_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.zarr"
    with pytest.raises(FileNotFoundError, match="nope.zarr"):
        list_objects(missing)


def test_list_objects_on_a_file(tree: Path) -> None:
    with pytest.raises(NotADirectoryError, match="zarr.json"):
        list_objects(tree / "zarr.json")


def test_du_folder_and_file(tree: Path) -> None:
    assert du(tree) == 15
    assert du(tree / "c" / "0" / "10") == 10
    assert du(tree / "empty_dir") == 0
    assert du(tree) == int(list_objects(tree)["bytes"].sum())


def test_du_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing-folder"
    with pytest.raises(FileNotFoundError, match="missing-folder"):
        du(missing)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_500_000, "1.5 MB"),
        (999_949, "999.9 kB"),
        (999_950, "1.0 MB"),
        (4_147_200, "4.1 MB"),
        (60_590_000_000, "60.6 GB"),
        (np.int64(2_000), "2.0 kB"),
        (3.0e18, "3000.0 PB"),
    ],
)
def test_format_bytes(n: int, expected: str) -> None:
    assert format_bytes(n) == expected


def test_format_bytes_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_bytes(-1)
