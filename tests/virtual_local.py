"""Virtual references to local files, built with the plain calls notebook 04 teaches (shared by the tests).

A folder's URL prefix is the unencoded ``"file://" + folder.as_posix() + "/"``: any folder name works.
"""

from __future__ import annotations

from pathlib import Path

import icechunk
from obspec_utils.registry import ObjectStoreRegistry
from obstore.store import LocalStore


def prefix_of(folder: Path) -> str:
    return "file://" + folder.as_posix() + "/"


def local_registry(folder: Path) -> ObjectStoreRegistry:
    """The registry VirtualiZarr reads ``folder``'s files through."""
    return ObjectStoreRegistry({prefix_of(folder): LocalStore(folder)})


def create_repo(repo_path: Path, folder: Path) -> tuple[icechunk.Storage, dict]:
    """A new repository whose one container covers ``folder``, and the credentials that authorize it."""
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix_of(folder), icechunk.local_filesystem_store(str(folder))))
    credentials = icechunk.containers_credentials({prefix_of(folder): icechunk.credentials.LocalFileSystemAccess})
    storage = icechunk.local_filesystem_storage(str(repo_path))
    icechunk.Repository.create(storage, config=config, authorize_virtual_chunk_access=credentials)
    return storage, credentials
