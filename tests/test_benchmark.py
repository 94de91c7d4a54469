"""The benchmark script's plumbing (no timings are asserted: budgets are checked by running it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("course_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_named_benchmarks_are_registered(bench) -> None:
    assert {"virtual", "sample-data", "notebooks"} <= set(bench.BENCHMARKS)


def test_list_and_bad_arguments(bench, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--list"]) == 0
    assert "virtual" in capsys.readouterr().out
    assert bench.main(["no-such-benchmark"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
    assert bench.main(["virtual", "--repeat", "0"]) == 2


def test_table_and_failures(bench, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setitem(bench.BENCHMARKS, "broken", bench.Benchmark("broken", "always fails", broken))
    monkeypatch.setitem(bench.BENCHMARKS, "fine", bench.Benchmark(
        "fine", "one row", lambda args: [bench.Row("fine", "something", "1.0 s", "<= 2 s", bench.verdict(True))]))
    assert bench.main(["fine"]) == 0
    out = capsys.readouterr().out
    assert "something" in out and "PASS" in out
    assert bench.main(["fine", "broken"]) == 1  # a broken benchmark is reported, the others still run
    out = capsys.readouterr().out
    assert "RuntimeError: boom" in out and "FAIL" in out and "something" in out
