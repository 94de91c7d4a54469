"""Measure the course against its budgets (COURSE.md section 7) and print one table.

    ./course.sh bench                        every benchmark
    ./course.sh bench virtual                only the named ones (several names allowed)
    python scripts/benchmark.py --list       what there is
    python scripts/benchmark.py virtual --repeat 9

Budgets are checked here, by measurement, not in timed tests: each row says PASS or OVER (or
FAIL when something broke). Timings depend on the machine and on what else runs on it; the
budgets are meant for 2 idle cores.

Benchmarks:

- ``virtual``: read one whole variable (``sst``, the month of OISST sample files) through a
  virtual Icechunk store and directly from the netCDF files with xarray + h5netcdf, repetitions
  interleaved; median times and the ratio (budget: virtual <= 1.3x direct). Three variants:
  ``packed`` (``mask_and_scale=False``: the stored int16 values, bit-identical from both routes),
  ``decoded`` (xarray's CF decoding; the virtual store decodes to float64 because Zarr keeps
  ``scale_factor`` in JSON, the files to float32), each timed from nothing (open + read); and
  ``packed, read only`` with both sources opened beforehand, which times only fetching and
  decompressing the bytes.
- ``sample-data``: ``python -m utils.machinery.sample_data --force`` into a temporary folder (budget 20 s).
- ``chunks``: chunk shape vs access pattern (notebook 06): a map (one day) and a point's time
  series (every day) on the OISST month in three layouts (A: the files' own chunks, through a
  virtual Icechunk store in the local cloud; B: a native copy chunked for time series; C: a
  balanced compromise), with the requests and bytes the local cloud counted and median times;
  then the chunk cache, ``max_concurrent_requests`` and request splitting. Request counts are
  checked against chunk arithmetic (FAIL if they differ); times are information.
- ``notebooks``: execute every notebook like ``scripts/execute_notebooks.py``, but into a
  temporary folder (the committed notebooks are not touched); each one's time and peak memory,
  and the total (budgets: 2 minutes in all, 2 GB per notebook).

To add a benchmark, write a function that returns a list of :class:`Row` and decorate it with
``@benchmark("name", "what it measures")``; it is then selectable by name.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

VIRTUAL_BUDGET = 1.3  # reading through references costs at most this many times a direct read
SAMPLE_DATA_BUDGET_S = 20.0
NOTEBOOKS_BUDGET_S = 120.0
NOTEBOOK_MEMORY_BUDGET_MB = 2000.0


@dataclasses.dataclass
class Row:
    """One line of the result table."""

    benchmark: str
    what: str
    measured: str
    budget: str = ""
    status: str = ""  # PASS, OVER, FAIL, or empty for information


@dataclasses.dataclass
class Benchmark:
    name: str
    description: str
    run: Callable[[argparse.Namespace], list[Row]]


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, description: str) -> Callable[[Callable[[argparse.Namespace], list[Row]]], Callable]:
    """Register a benchmark under ``name`` (selectable on the command line)."""

    def register(func: Callable[[argparse.Namespace], list[Row]]) -> Callable:
        BENCHMARKS[name] = Benchmark(name, description, func)
        return func

    return register


def verdict(ok: bool) -> str:
    return "PASS" if ok else "OVER"


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


# --------------------------------------------------------------------------------------------
# virtual: reading through references vs reading the files
# --------------------------------------------------------------------------------------------


@benchmark("virtual", "read sst for the whole month: virtual Icechunk store vs the netCDF files")
def bench_virtual(args: argparse.Namespace) -> list[Row]:
    import icechunk
    import numpy as np
    import virtualizarr as vz
    import xarray as xr
    from virtualizarr.parsers import HDFParser

    from utils import virtual
    from utils.sample_data import OISST_BUCKET, OISST_MONTH, oisst_paths
    from utils.paths import SAMPLE_DIR

    icechunk.set_logs_filter("warn,icechunk_arrow_object_store=error,icechunk_storage::readback=error")
    paths = oisst_paths(OISST_MONTH)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        return [Row("virtual", "sample data", f"{len(missing)} OISST files missing: run ./course.sh setup",
                    status="FAIL")]
    folder = SAMPLE_DIR / OISST_BUCKET
    combine = dict(coords="minimal", compat="override", combine_attrs="override")

    with tempfile.TemporaryDirectory(prefix="course-bench-virtual-") as tmp:
        start = time.perf_counter()
        month = vz.open_virtual_mfdataset(
            [virtual.file_url(p) for p in paths], registry=virtual.local_registry(folder), parser=HDFParser(),
            combine="nested", concat_dim="time", **combine,
        )
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(virtual.local_container(folder))
        storage = icechunk.local_filesystem_storage(str(Path(tmp) / "virtual"))
        credentials = virtual.local_credentials(folder)
        repo = icechunk.Repository.create(storage, config=config, authorize_virtual_chunk_access=credentials)
        session = repo.writable_session("main")
        month.vz.to_icechunk(session.store)
        session.commit("benchmark: the month as virtual references")
        setup = time.perf_counter() - start

        def direct(mask_and_scale: bool) -> np.ndarray:
            # From nothing to values: open every file with xarray + h5netcdf, read sst.
            with xr.open_mfdataset(paths, engine="h5netcdf", combine="nested", concat_dim="time",
                                   data_vars="minimal", chunks=None, mask_and_scale=mask_and_scale,
                                   **combine) as ds:
                return ds["sst"].values

        def through_references(mask_and_scale: bool) -> np.ndarray:
            # From nothing to values: open the repository (authorized), read sst.
            opened = icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
            ds = xr.open_zarr(opened.readonly_session("main").store, consolidated=False, chunks=None,
                              mask_and_scale=mask_and_scale)
            return ds["sst"].values

        # The same reads with both sources opened beforehand (xarray's cache off): only fetching
        # and decompressing the bytes is timed.
        opened_direct = xr.open_mfdataset(paths, engine="h5netcdf", combine="nested", concat_dim="time",
                                          data_vars="minimal", chunks=None, mask_and_scale=False,
                                          cache=False, **combine)
        opened_virtual = xr.open_dataset(
            icechunk.Repository.open(storage, authorize_virtual_chunk_access=credentials)
            .readonly_session("main").store,
            engine="zarr", consolidated=False, chunks=None, mask_and_scale=False, cache=False,
        )
        variants = {
            "packed, open+read": (lambda: direct(False), lambda: through_references(False)),
            "decoded, open+read": (lambda: direct(True), lambda: through_references(True)),
            "packed, read only": (lambda: opened_direct["sst"].values, lambda: opened_virtual["sst"].values),
        }

        rows = [Row("virtual", f"setup (not timed below): virtualize {len(paths)} files, sst "
                               f"{tuple(month['sst'].shape)}", seconds(setup))]
        for label, (read_direct, read_virtual) in variants.items():
            a, b = read_direct(), read_virtual()  # warm-up, and the same values?
            same = np.array_equal(a, b) if a.dtype == b.dtype else np.allclose(a, b, equal_nan=True, rtol=1e-6)
            if not same:
                rows.append(Row("virtual", f"sst, {label}", "values differ between the two routes", status="FAIL"))
                continue
            times: dict[str, list[float]] = {"direct": [], "virtual": []}
            for rep in range(args.repeat):  # interleaved, alternating which goes first
                order = ("direct", "virtual") if rep % 2 == 0 else ("virtual", "direct")
                for which in order:
                    read = read_direct if which == "direct" else read_virtual
                    t0 = time.perf_counter()
                    read()
                    times[which].append(time.perf_counter() - t0)
            t_direct, t_virtual = statistics.median(times["direct"]), statistics.median(times["virtual"])
            ratio = t_virtual / t_direct
            rows += [
                Row("virtual", f"{label}: netCDF files, xarray + h5netcdf ({a.dtype})", seconds(t_direct)),
                Row("virtual", f"{label}: virtual Icechunk store ({b.dtype})", seconds(t_virtual)),
                Row("virtual", f"{label}: virtual / direct (medians of {args.repeat})",
                    f"{ratio:.2f}x", f"<= {VIRTUAL_BUDGET}x", verdict(ratio <= VIRTUAL_BUDGET)),
            ]
        opened_direct.close()
        return rows


# --------------------------------------------------------------------------------------------
# sample-data: making the stand-in data
# --------------------------------------------------------------------------------------------


@benchmark("sample-data", "python -m utils.machinery.sample_data --force into a temporary folder")
def bench_sample_data(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="course-bench-sample-") as tmp:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "utils.machinery.sample_data", "--root", tmp, "--force"],
            cwd=ROOT, capture_output=True, text=True,
        )
        took = time.perf_counter() - start
        if done.returncode != 0:
            return [Row("sample-data", "generate", f"exit code {done.returncode}: {done.stderr.strip()[-300:]}",
                        status="FAIL")]
        files = sum(1 for p in Path(tmp).rglob("*") if p.is_file())
    return [Row("sample-data", f"generate all sample data ({files} files, fresh process)", seconds(took),
                f"<= {SAMPLE_DATA_BUDGET_S:.0f} s", verdict(took <= SAMPLE_DATA_BUDGET_S))]


# --------------------------------------------------------------------------------------------
# notebooks: executing the whole course
# --------------------------------------------------------------------------------------------

# Executes one notebook in a fresh process (so its kernel's peak memory can be told apart) and
# prints {"seconds": ..., "errors": [...], "peak_mb": ...} as its last line.
_RUN_ONE = r"""
import json, os, resource, sys, time
from pathlib import Path
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
import papermill
from notebook_checks import RAISES_TAG, execute, read, tags
source, target, scratch = (Path(a) for a in sys.argv[2:5])
start = time.perf_counter()
try:
    execute(source, target, scratch=scratch)
except papermill.PapermillExecutionError:
    pass  # papermill also raises for cells tagged raises-exception; the check below tells them apart
took = time.perf_counter() - start
nb = read(target) if target.exists() else None
errors = [] if nb is not None else ["no output notebook"]
for i, cell in enumerate(nb.cells if nb is not None else []):
    if cell.cell_type == "code" and RAISES_TAG not in tags(cell) and "papermill-error-cell-tag" not in tags(cell):
        errors += [f"cell {i}: {o.ename}" for o in cell.get("outputs", []) if o.output_type == "error"]
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, a child of this process
print(json.dumps({"seconds": took, "errors": errors, "peak_mb": peak_kb / 1024}))
"""


@benchmark("notebooks", "execute every notebook (into a temporary folder) and time each")
def bench_notebooks(args: argparse.Namespace) -> list[Row]:
    from conftest import GUARD_DIR, notebooks

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), env.get("PYTHONPATH")]))
    rows, total = [], 0.0
    with tempfile.TemporaryDirectory(prefix="course-bench-notebooks-") as tmp:
        for nb in notebooks():
            scratch = Path(tmp) / "scratch" / nb.stem
            scratch.mkdir(parents=True)
            done = subprocess.run(
                [sys.executable, "-c", _RUN_ONE, str(ROOT), str(nb), str(Path(tmp) / nb.name), str(scratch)],
                cwd=ROOT, env=env, capture_output=True, text=True,
            )
            try:
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                rows.append(Row("notebooks", nb.name, f"could not run: {done.stderr.strip()[-300:]}", status="FAIL"))
                continue
            total += result["seconds"]
            ok_memory = result["peak_mb"] <= NOTEBOOK_MEMORY_BUDGET_MB
            status = "FAIL" if result["errors"] else verdict(ok_memory)
            detail = f"{seconds(result['seconds'])}, peak {result['peak_mb']:.0f} MB"
            if result["errors"]:
                detail += f"; errors: {', '.join(result['errors'][:3])}"
            rows.append(Row("notebooks", nb.name, detail, f"<= {NOTEBOOK_MEMORY_BUDGET_MB:.0f} MB", status))
    rows.append(Row("notebooks", f"total ({len(rows)} notebooks)", seconds(total),
                    f"<= {NOTEBOOKS_BUDGET_S:.0f} s", verdict(total <= NOTEBOOKS_BUDGET_S)))
    return rows


# --------------------------------------------------------------------------------------------
# chunks: chunk shape vs access pattern (notebook 06)
# --------------------------------------------------------------------------------------------

# The layouts and reads of notebooks/06_performance.ipynb (its default parameters).
CHUNK_LAYOUTS = {  # name: (group in the repository, chunk shape (time, zlev, lat, lon))
    "A archive": (None, (1, 1, 720, 1440)),
    "B by time": ("sst_by_time", (31, 1, 90, 90)),
    "C balanced": ("sst_balanced", (8, 1, 360, 360)),
}
CHUNKS_MAP_DAY = 14  # 2024-08-15
CHUNKS_POINT = (540, 860)  # (lat, lon) indices of 45.125N, 215.125E


@benchmark("chunks", "map vs point time series on three chunk layouts: requests, bytes, median times")
def bench_chunks(args: argparse.Namespace) -> list[Row]:
    import icechunk
    import xarray as xr
    from icechunk.xarray import to_icechunk

    from utils import local_cloud, oisst_cloud
    from utils.sample_data import OISST_MONTH, oisst_dates, oisst_paths

    if not all(p.is_file() for p in oisst_paths(OISST_MONTH)):
        return [Row("chunks", "sample data", "OISST files missing: run ./course.sh setup", status="FAIL")]
    cloud = local_cloud.start()
    prefix = "bench/chunks"
    start = time.perf_counter()
    repo = oisst_cloud.create_virtual_store(cloud, prefix, oisst_dates(OISST_MONTH), variables=["sst"])
    setup = time.perf_counter() - start
    storage = cloud.icechunk_storage(local_cloud.SCRATCH_BUCKET, prefix)
    authorize = oisst_cloud.authorization(cloud)

    # the rechunked native copies, in the same repository, one commit (as in the notebook)
    start = time.perf_counter()
    session = repo.writable_session("main")
    packed = xr.open_zarr(session.store, consolidated=False, chunks=None, decode_cf=False).load().drop_encoding()
    codecs = xr.open_zarr(session.store, consolidated=False, chunks=None)["sst"].encoding["compressors"]
    for group, chunks in CHUNK_LAYOUTS.values():
        if group is not None:
            to_icechunk(packed, session, group=group, encoding={"sst": {"chunks": chunks, "compressors": codecs}})
    session.commit("benchmark: rechunked copies")
    rechunk = time.perf_counter() - start

    shape = packed["sst"].shape
    lat, lon = CHUNKS_POINT
    reads = {
        "map": {"time": slice(CHUNKS_MAP_DAY, CHUNKS_MAP_DAY + 1)},
        "series": {"lat": slice(lat, lat + 1), "lon": slice(lon, lon + 1)},
    }

    def touched(selection: dict[str, slice], chunks: tuple[int, ...]) -> int:
        count = 1
        for dim, n, size in zip(("time", "zlev", "lat", "lon"), shape, chunks):
            s = selection.get(dim, slice(0, n))
            count *= (s.stop - 1) // size - s.start // size + 1
        return count

    def read_once(group: str | None, read: str, config: icechunk.RepositoryConfig | None = None,
                  times: int = 1) -> list[oisst_cloud.Measurement]:
        # from a freshly opened repository (empty caches), like a new reader; only the reads are measured
        opened = icechunk.Repository.open(storage, config=config, authorize_virtual_chunk_access=authorize)
        sst = xr.open_zarr(opened.readonly_session("main").store, group=group, consolidated=False, chunks=None)["sst"]
        return [oisst_cloud.measure(cloud, lambda: sst.isel(reads[read]).load()) for _ in range(times)]

    rows = [
        Row("chunks", f"setup: virtual store of {shape[0]} OISST files in the local cloud (not timed below)",
            seconds(setup)),
        Row("chunks", "setup: write the rechunked copies B and C (one commit)", seconds(rechunk)),
    ]
    # every (layout, read) pair `repeat` times, interleaved
    measured: dict[tuple[str, str], list[oisst_cloud.Measurement]] = {}
    for _ in range(args.repeat):
        for name, (group, _chunks) in CHUNK_LAYOUTS.items():
            for read in reads:
                measured.setdefault((name, read), []).extend(read_once(group, read))
    for (name, read), runs in measured.items():
        chunks = CHUNK_LAYOUTS[name][1]
        predicted = touched(reads[read], chunks)
        counts = {(m.requests, m.bytes_sent // 1000) for m in runs}
        ok = all(m.requests == predicted + 1 for m in runs)  # every chunk touched, plus the manifest
        median = statistics.median(m.seconds for m in runs)
        rows.append(Row(
            "chunks", f"{name} {chunks}: {read}",
            f"{seconds(median)} | {runs[0].requests} requests | {runs[0].bytes_sent / 1e6:.2f} MB",
            f"{predicted} chunks + 1 manifest", "PASS" if ok and len(counts) == 1 else "FAIL",
        ))
    series = {name: statistics.median(m.seconds for m in measured[name, "series"]) for name in CHUNK_LAYOUTS}
    rows.append(Row("chunks", f"series: A archive / B by time, medians of {args.repeat}",
                    f"{series['A archive'] / series['B by time']:.1f}x slower on A"))

    # tuning: the chunk cache (native chunks served from memory), concurrency (time only), splitting
    cache = icechunk.RepositoryConfig(caching=icechunk.CachingConfig(num_bytes_chunks=64 * 2**20))
    for name in ("C balanced", "A archive"):
        group, chunks = CHUNK_LAYOUTS[name]
        first, second = read_once(group, "map", cache, times=2)
        expected = 0 if group is not None else touched(reads["map"], chunks)  # virtual chunks are not cached
        rows.append(Row("chunks", f"chunk cache 64 MiB, {name}: map read twice",
                        f"{first.requests} then {second.requests} requests", f"2nd = {expected}",
                        "PASS" if second.requests == expected else "FAIL"))
    concurrency: dict[str, list[oisst_cloud.Measurement]] = {"1": [], "default": []}
    for _ in range(args.repeat):
        for label, config in (("1", icechunk.RepositoryConfig(max_concurrent_requests=1)), ("default", None)):
            concurrency[label] += read_once(None, "series", config)
    same = len({(m.requests, m.bytes_sent) for runs in concurrency.values() for m in runs}) == 1
    for label, runs in concurrency.items():
        rows.append(Row("chunks", f"max_concurrent_requests={label}: series on A archive, median of {args.repeat}",
                        f"{seconds(statistics.median(m.seconds for m in runs))} | {runs[0].requests} requests",
                        "same requests", "PASS" if same else "FAIL"))
    split = icechunk.RepositoryConfig(storage=icechunk.StorageSettings(
        concurrency=icechunk.StorageConcurrencySettings(ideal_concurrent_request_size=64 * 1024)))
    whole, parts = read_once(None, "map", None, times=2)[1], read_once(None, "map", split, times=2)[1]
    rows.append(Row("chunks", "ideal_concurrent_request_size 64 KiB: map on A archive (2nd read)",
                    f"{whole.requests} -> {parts.requests} ranged GETs, {parts.bytes_sent:,} bytes",
                    "same bytes", "PASS" if parts.bytes_sent == whole.bytes_sent else "FAIL"))
    oisst_cloud.delete_prefix(cloud, prefix)
    return rows


# --------------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    headers = ("benchmark", "what", "measured", "budget", "status")
    cells = [headers] + [(r.benchmark, r.what, r.measured, r.budget, r.status) for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(headers))]
    for n, line in enumerate(cells):
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions where repeating makes sense")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for b in BENCHMARKS.values():
            print(f"{b.name:12s} {b.description}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("--repeat must be at least 1", file=sys.stderr)
        return 2
    rows: list[Row] = []
    for name in args.names or list(BENCHMARKS):
        print(f"[bench] {name}: {BENCHMARKS[name].description} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            rows += BENCHMARKS[name].run(args)
        except Exception as err:  # one broken benchmark must not hide the others
            rows.append(Row(name, "error", f"{type(err).__name__}: {err}", status="FAIL"))
        print(f"[bench] {name}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print()
    print_table(rows)
    return 1 if any(r.status == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
