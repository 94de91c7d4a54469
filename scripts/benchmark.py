"""Measure the course against its budgets (the course design's budgets) and print one table.

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
  series (every day) on the OISST month in two layouts (A: the files' own chunks, through a
  virtual Icechunk store in the local cloud; B: a native copy chunked for time series, in the same
  repository), with the requests and bytes the local cloud counted and median times; then the
  chunk cache, ``max_concurrent_requests`` and request splitting. Request counts are checked
  against chunk arithmetic (FAIL if they differ); times are information.
- ``notebooks``: execute every notebook like ``./course.sh execute``, but into a
  temporary folder (the committed notebooks are not touched); each one's time and peak memory,
  and the total (budgets: 2 minutes in all, 2 GB per notebook).

To add a benchmark, write a function that returns a list of :class:`Row` and decorate it with
``@benchmark("name", "what it measures")``; it is then selectable by name.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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

    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore

    from utils import data, workarounds

    workarounds.quiet_icechunk_local_warnings()
    paths = [data.oisst_path(day) for day in data.oisst_dates()]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        return [Row("virtual", "sample data", f"{len(missing)} OISST files missing: run ./course.sh setup",
                    status="FAIL")]
    folder = data.SAMPLE_DIR / data.OISST_BUCKET
    prefix = f"file://{folder.as_posix()}/"
    combine = dict(coords="minimal", compat="override", combine_attrs="override")
    credentials = icechunk.containers_credentials({prefix: icechunk.credentials.LocalFileSystemAccess})

    with tempfile.TemporaryDirectory(prefix="course-bench-virtual-") as tmp:
        start = time.perf_counter()
        month = vz.open_virtual_mfdataset(
            [f"file://{p.as_posix()}" for p in paths], registry=ObjectStoreRegistry({prefix: LocalStore(folder)}),
            parser=HDFParser(),
            combine="nested", concat_dim="time", **combine,
        )
        config = icechunk.RepositoryConfig.default()
        config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(folder))))
        storage = icechunk.local_filesystem_storage(str(Path(tmp) / "virtual"))
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

def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    text = lines[0].strip() if lines else "(comments only)"
    return text if len(text) <= 60 else text[:57] + "..."


def _disk_bytes(folder: Path) -> int:
    """What the files under ``folder`` take on disk (allocated blocks, as ``du`` counts them)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@benchmark("notebooks", "execute every notebook, one after another: wall time, slowest cells, peak memory, scratch disk")
def bench_notebooks(args: argparse.Namespace) -> list[Row]:
    """Each notebook as a learner waits for it: the wall time, the three slowest cells (with their first
    line), the peak memory of everything the kernel runs (the kernel, the local cloud's process,
    Dask workers: what a hub must give each learner's server) and the scratch files it leaves on disk
    (each notebook keeps its own scratch folder, so a learner's disk holds them all), in one run."""
    from utils.machinery import notebooks as nbs

    rows, total, peak_all, disk_all = [], 0.0, 0, 0
    with tempfile.TemporaryDirectory(prefix="course-bench-notebooks-") as tmp:
        for nb in nbs.select(args.notebooks):
            scratch = Path(tmp) / "scratch" / nb.stem
            scratch.mkdir(parents=True)
            start = time.perf_counter()
            try:
                done = nbs.execute(nb, Path(tmp) / nb.name, scratch=scratch, measure=True)
            except Exception as err:  # papermill's error names the cell
                rows.append(Row("notebooks", nb.name, f"failed: {str(err).strip()[-300:]}", status="FAIL"))
                continue
            took = time.perf_counter() - start
            total += took
            peak = done.metadata.get("course_peak_bytes", 0)
            peak_all = max(peak_all, peak)
            slow = sorted(((c.metadata.get("course_seconds", 0.0), i, c) for i, c in enumerate(done.cells)
                           if c.cell_type == "code"), key=lambda t: t[0], reverse=True)[:3]
            cells = "; ".join(f"{s:.1f} s [{i}] {_first_line(c.source)}" for s, i, c in slow)
            disk = _disk_bytes(scratch)
            disk_all += disk
            ok = peak / 1e6 <= NOTEBOOK_MEMORY_BUDGET_MB
            rows.append(Row("notebooks", nb.name, f"{seconds(took)}, peak {peak / 2**20:.0f} MiB, scratch "
                            f"{disk / 2**20:.0f} MiB; slowest: {cells}", f"<= {NOTEBOOK_MEMORY_BUDGET_MB:.0f} MB", verdict(ok)))
    ran = sum(row.status != "FAIL" for row in rows)
    rows.append(Row("notebooks", f"total ({ran} of {len(rows)} notebooks ran), highest peak {peak_all / 2**20:.0f} MiB, "
                    f"scratch {disk_all / 2**20:.0f} MiB",
                    seconds(total), f"<= {NOTEBOOKS_BUDGET_S:.0f} s", verdict(total <= NOTEBOOKS_BUDGET_S)))
    return rows


# --------------------------------------------------------------------------------------------
# chunks: chunk shape vs access pattern (notebook 06)
# --------------------------------------------------------------------------------------------

# The layouts and reads of notebooks/06_performance.ipynb (its default parameters).
CHUNK_LAYOUTS = {  # name: (group in the repository, chunk shape (time, zlev, lat, lon))
    "A archive": (None, (1, 1, 720, 1440)),
    "B by time": ("sst_by_time", (31, 1, 180, 180)),
}
CHUNKS_MAP_DAY = 14  # 2024-08-15
CHUNKS_POINT = (540, 860)  # (lat, lon) indices of 45.125N, 215.125E
CHUNKS_PREFIX = "bench/chunks.icechunk"  # in the scratch bucket


def chunks_touched(selection: dict[str, slice], shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    """How many chunks of shape ``chunks`` an isel selection of slices touches (notebook 06)."""
    count = 1
    for dim, n, size in zip(("time", "zlev", "lat", "lon"), shape, chunks):
        s = selection.get(dim, slice(0, n))
        count *= (s.stop - 1) // size - s.start // size + 1
    return count


@benchmark("chunks", "map vs point time series on two chunk layouts: requests, bytes, median times")
def bench_chunks(args: argparse.Namespace) -> list[Row]:
    import icechunk
    import obstore
    import virtualizarr as vz
    import xarray as xr
    from icechunk.xarray import to_icechunk
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import S3Store
    from virtualizarr.parsers import HDFParser

    from utils import data, local_cloud

    dates = data.oisst_dates()
    if not all(data.oisst_path(day).is_file() for day in dates):
        return [Row("chunks", "sample data", "OISST files missing: run ./course.sh setup", status="FAIL")]
    cloud = local_cloud.start()
    endpoint = dict(endpoint_url=cloud.endpoint_url, allow_http=True, force_path_style=True)
    obstore_endpoint = dict(endpoint=cloud.endpoint_url, virtual_hosted_style_request=False,
                            client_options={"allow_http": True})
    learner = dict(access_key_id=cloud.learner.access_key_id, secret_access_key=cloud.learner.secret_access_key)
    scratch = S3Store(local_cloud.SCRATCH_BUCKET, region=cloud.region, **learner, **obstore_endpoint)
    obstore.delete(scratch, [m["path"] for m in obstore.list(scratch, prefix=CHUNKS_PREFIX + "/").collect()])

    # layout A: the virtual store of the month, as notebook 06 builds it
    start = time.perf_counter()
    prefix = f"s3://{data.OISST_BUCKET}/"
    public = S3Store(data.OISST_BUCKET, region=data.OISST_REGION, skip_signature=True, **obstore_endpoint)
    month = vz.open_virtual_mfdataset(
        [data.oisst_url(day) for day in dates], registry=ObjectStoreRegistry({prefix: public}),
        parser=HDFParser(drop_variables=["anom", "err", "ice"]), combine="nested", concat_dim="time",
        coords="minimal", compat="override", combine_attrs="override")
    storage = icechunk.s3_storage(bucket=local_cloud.SCRATCH_BUCKET, prefix=CHUNKS_PREFIX, region=cloud.region,
                                  **learner, **endpoint)
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(
        prefix, icechunk.s3_store(region=data.OISST_REGION, anonymous=True, **endpoint)))
    authorize = icechunk.containers_credentials({prefix: icechunk.s3_anonymous_credentials()})
    repo = icechunk.Repository.create(storage, config=config, authorize_virtual_chunk_access=authorize)
    session = repo.writable_session("main")
    month.vz.to_icechunk(session.store)
    session.commit("benchmark: virtual references")
    setup = time.perf_counter() - start

    # layout B: the rechunked native copy, in the same repository (as in the notebook)
    start = time.perf_counter()
    session = repo.writable_session("main")
    packed = xr.open_zarr(session.store, consolidated=False, chunks=None, decode_cf=False).load().drop_encoding()
    codecs = xr.open_zarr(session.store, consolidated=False, chunks=None)["sst"].encoding["compressors"]
    for group, chunks in CHUNK_LAYOUTS.values():
        if group is not None:
            to_icechunk(packed, session, group=group, encoding={"sst": {"chunks": chunks, "compressors": codecs}})
    session.commit("benchmark: rechunked copy")
    rechunk = time.perf_counter() - start

    shape = packed["sst"].shape
    lat, lon = CHUNKS_POINT
    reads = {
        "map": {"time": slice(CHUNKS_MAP_DAY, CHUNKS_MAP_DAY + 1)},
        "series": {"lat": slice(lat, lat + 1), "lon": slice(lon, lon + 1)},
    }

    def read_once(group: str | None, read: str, config: icechunk.RepositoryConfig | None = None,
                  times: int = 1) -> list[local_cloud.Measurement]:
        # from a freshly opened repository (empty caches), like a new reader: the first read fetches the manifest
        opened = icechunk.Repository.open(storage, config=config, authorize_virtual_chunk_access=authorize)
        sst = xr.open_zarr(opened.readonly_session("main").store, group=group, consolidated=False, chunks=None)["sst"]
        return [cloud.measure(lambda: sst.isel(reads[read]).load()) for _ in range(times)]

    rows = [
        Row("chunks", f"setup: virtual store of {shape[0]} OISST files in the local cloud (not timed below)",
            seconds(setup)),
        Row("chunks", "setup: write the rechunked copy B", seconds(rechunk)),
    ]
    # every (layout, read) pair `repeat` times, interleaved
    measured: dict[tuple[str, str], list[local_cloud.Measurement]] = {}
    for _ in range(args.repeat):
        for name, (group, _chunks) in CHUNK_LAYOUTS.items():
            for read in reads:
                measured.setdefault((name, read), []).extend(read_once(group, read))
    for (name, read), runs in measured.items():
        chunks = CHUNK_LAYOUTS[name][1]
        predicted = chunks_touched(reads[read], shape, chunks)
        counts = {(m.stats.count, m.stats.bytes_sent) for m in runs}
        ok = all(m.stats.count == predicted + 1 for m in runs)  # every chunk touched, plus the manifest
        median = statistics.median(m.seconds for m in runs)
        rows.append(Row(
            "chunks", f"{name} {chunks}: {read}",
            f"{seconds(median)} | {runs[0].stats.count} requests | {runs[0].stats.bytes_sent / 1e6:.2f} MB",
            f"{predicted} chunks + 1 manifest", "PASS" if ok and len(counts) == 1 else "FAIL",
        ))
    series = {name: statistics.median(m.seconds for m in measured[name, "series"]) for name in CHUNK_LAYOUTS}
    rows.append(Row("chunks", f"series: A archive / B by time, medians of {args.repeat}",
                    f"{series['A archive'] / series['B by time']:.1f}x slower on A"))

    # tuning: the chunk cache (native chunks served from memory), concurrency (time only), splitting
    cache = icechunk.RepositoryConfig(caching=icechunk.CachingConfig(num_bytes_chunks=64 * 2**20))
    for name, read in (("B by time", "series"), ("A archive", "map")):
        group, chunks = CHUNK_LAYOUTS[name]
        runs = read_once(group, read, cache, times=3)
        expected = [chunks_touched(reads[read], shape, chunks) + 1, 0, 0]
        if group is None:  # virtual chunks are not cached
            expected[1:] = [expected[0] - 1] * 2
        got = [m.stats.count for m in runs]
        rows.append(Row("chunks", f"chunk cache 64 MiB, {name}: {read} read 3 times",
                        f"{got} requests", f"{expected}", "PASS" if got == expected else "FAIL"))
    concurrency: dict[str, list[local_cloud.Measurement]] = {"1": [], "default": []}
    for _ in range(args.repeat):
        for label, limit in (("1", icechunk.RepositoryConfig(max_concurrent_requests=1)), ("default", None)):
            concurrency[label] += read_once(None, "series", limit)
    same = len({(m.stats.count, m.stats.bytes_sent) for runs in concurrency.values() for m in runs}) == 1
    for label, runs in concurrency.items():
        rows.append(Row("chunks", f"max_concurrent_requests={label}: series on A archive, median of {args.repeat}",
                        f"{seconds(statistics.median(m.seconds for m in runs))} | {runs[0].stats.count} requests",
                        "same requests", "PASS" if same else "FAIL"))
    split = icechunk.RepositoryConfig(storage=icechunk.StorageSettings(
        concurrency=icechunk.StorageConcurrencySettings(ideal_concurrent_request_size=64 * 1024)))
    whole, parts = read_once(None, "map", None, times=2)[1], read_once(None, "map", split, times=2)[1]
    ok = parts.stats.bytes_sent == whole.stats.bytes_sent and parts.stats.count == -(-whole.stats.bytes_sent // 65536)
    rows.append(Row("chunks", "ideal_concurrent_request_size 64 KiB: map on A archive (2nd read)",
                    f"{whole.stats.count} -> {parts.stats.count} ranged GETs, {parts.stats.bytes_sent:,} bytes",
                    "same bytes", "PASS" if ok else "FAIL"))
    obstore.delete(scratch, [m["path"] for m in obstore.list(scratch, prefix=CHUNKS_PREFIX + "/").collect()])
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
    parser.add_argument("--notebook", dest="notebooks", action="append", default=[],
                        help="with `notebooks`: only this notebook (e.g. 02; repeatable)")
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
