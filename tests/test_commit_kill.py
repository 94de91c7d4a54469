"""A writer SIGKILLed at random moments while it commits leaves its Icechunk repository at its last
snapshot, readable and writable: on local disk and on the local cloud's scratch bucket. And
writers committing at the same time on the local cloud lose no update.

The writer (this file run as a script) commits in a loop, each commit filling an array with the
commit's number, and prints each snapshot id once ``commit`` has returned (acknowledged). A kill
can land after a commit finished but before its line was printed, so the branch may be one
commit past the last acknowledged snapshot; never behind it, never in between.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from utils import local_cloud

# Kills per storage. The suite kills 3 times; for the full count (30 each, about a minute):
#   COURSE_COMMIT_KILLS=30 ./course.sh test tests/test_commit_kill.py
KILLS = int(os.environ.get("COURSE_COMMIT_KILLS", "3"))


def storage(spec: dict[str, Any]) -> Any:
    import icechunk

    if spec["kind"] == "local":
        return icechunk.local_filesystem_storage(spec["path"])
    return icechunk.s3_storage(bucket=spec["bucket"], prefix=spec["prefix"], region=spec["region"],
                               endpoint_url=spec["endpoint_url"], allow_http=True, force_path_style=True,
                               access_key_id=spec["keys"][0], secret_access_key=spec["keys"][1])  # fmt: skip


def writer(spec: dict[str, Any]) -> None:
    """Commit forever: commit n fills the array with n."""
    import icechunk
    import zarr

    repo = icechunk.Repository.open(storage(spec))
    while True:
        session = repo.writable_session("main")
        array = zarr.open_array(session.store, path="counter")
        n = int(array[0, 0]) + 1
        array[:] = n
        print(n, session.commit(str(n)), flush=True)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_cloud.LocalCloud]:
    sample = tmp_path_factory.mktemp("sample")
    (sample / "empty-bucket").mkdir()
    cloud = local_cloud.start(sample_dir=sample)
    yield cloud
    cloud.stop()


def _run_and_kill(spec: dict[str, Any], rng: random.Random) -> list[tuple[int, str]]:
    """Start a writer, SIGKILL it at a random moment after its first commit; its acknowledged commits."""
    process = subprocess.Popen([sys.executable, __file__, json.dumps(spec)], stdout=subprocess.PIPE, text=True)
    acknowledged: list[tuple[int, str]] = []
    first = threading.Event()

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if not line.endswith("\n") or len(line.split()) != 2:
                break  # the kill cut this line short: that commit was not acknowledged
            n, snapshot = line.split()
            acknowledged.append((int(n), snapshot))
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first.wait(60), "the writer made no commit"
        time.sleep(rng.uniform(0, 0.3))
    finally:  # the writer never outlives the test, whatever happened
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        reader.join()
        process.stdout.close()  # type: ignore[union-attr]
    return acknowledged


def _kill_writers(spec: dict[str, Any]) -> None:
    import icechunk
    import numpy as np
    import zarr

    seed = random.randrange(2**32)
    rng = random.Random(seed)
    repo = icechunk.Repository.create(storage(spec))
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="counter", shape=(32, 32), chunks=(8, 8), dtype="i4", fill_value=0)
    session.commit("0")
    for kill in range(KILLS):
        acknowledged = _run_and_kill(spec, rng)
        last_n, last_snapshot = acknowledged[-1]
        repo = icechunk.Repository.open(storage(spec))
        history = [(s.id, s.message) for s in repo.ancestry(branch="main")]
        where = f"kill {kill + 1} of {KILLS} (seed {seed}): acknowledged up to {last_n}, history {history[:3]}"
        # at the last acknowledged snapshot, or at one complete commit after it
        one_past = history[1][0] == last_snapshot and history[0][1] == str(last_n + 1)
        assert history[0][0] == last_snapshot or one_past, where
        assert {s for _, s in acknowledged} <= {s for s, _ in history}, where  # every acknowledged commit is kept
        for snapshot, message in history[:2]:  # readable, each snapshot whole
            values = zarr.open_array(repo.readonly_session(snapshot_id=snapshot).store, path="counter", mode="r")[:]
            assert (values == int(message)).all(), where
        session = repo.writable_session("main")  # and writable
        array = zarr.open_array(session.store, path="counter")
        n = int(array[0, 0]) + 1
        array[:] = np.full(array.shape, n)
        session.commit(str(n))


def test_killed_writers_on_local_disk(tmp_path: Path) -> None:
    _kill_writers({"kind": "local", "path": str(tmp_path / "repo")})


def test_killed_writers_on_the_local_cloud(cloud: local_cloud.LocalCloud) -> None:
    _kill_writers({"kind": "s3", "bucket": local_cloud.SCRATCH_BUCKET, "prefix": f"tests/kill-{time.time_ns()}",
                   "region": cloud.region, "endpoint_url": cloud.endpoint_url, "keys": list(cloud.learner[:2])})


@pytest.mark.parametrize("writers", [4, 8])
def test_concurrent_committers_lose_no_update(cloud: local_cloud.LocalCloud, writers: int) -> None:
    """Each writer adds 1 to a counter 3 times; a commit that loses the race (ConflictError) reads
    the new tip and tries again. No update may be lost: the counter ends at writers x 3, one commit each."""
    import icechunk
    import zarr

    spec = {"kind": "s3", "bucket": local_cloud.SCRATCH_BUCKET, "prefix": f"tests/race-{writers}-{time.time_ns()}",
            "region": cloud.region, "endpoint_url": cloud.endpoint_url, "keys": list(cloud.learner[:2])}
    repo = icechunk.Repository.create(storage(spec))
    session = repo.writable_session("main")
    zarr.create_array(session.store, name="counter", shape=(4, 4), chunks=(4, 4), dtype="i4", fill_value=0)
    session.commit("0")
    start, conflicts, errors = threading.Barrier(writers), [], []

    def add_one_three_times() -> None:
        try:
            mine = icechunk.Repository.open(storage(spec))
            start.wait()
            for _ in range(3):
                while True:
                    session = mine.writable_session("main")
                    array = zarr.open_array(session.store, path="counter")
                    array[:] = int(array[0, 0]) + 1
                    try:
                        session.commit("+1")
                        break
                    except icechunk.ConflictError:
                        conflicts.append(1)
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=add_one_three_times, daemon=True) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a writer is still trying after 2 minutes"
    assert not errors, errors
    assert conflicts, "the writers never raced: nothing was tested"
    repo = icechunk.Repository.open(storage(spec))
    counter = zarr.open_array(repo.readonly_session("main").store, path="counter", mode="r")[:]
    assert (counter == writers * 3).all(), f"{counter[0, 0]} of {writers * 3} updates kept ({len(conflicts)} conflicts)"
    assert len(list(repo.ancestry(branch="main"))) == writers * 3 + 2  # + "0" and the repository's first snapshot


if __name__ == "__main__":  # the writer process
    writer(json.loads(sys.argv[1]))
