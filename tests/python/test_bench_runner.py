"""bench/benchlib.py's google_benchmark: the rows of a Google Benchmark binary's JSON report
(kernel_table.py and compare.py's compute floor read them), and a clear error when it fails.

    .venv/bin/python -m pytest tests/python/test_bench_runner.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "bench"))
import benchlib  # noqa: E402

QGEMM = REPO_ROOT / "build" / "bench" / "nibble_bench_qgemm"


def test_rows_of_the_filtered_benchmarks():
    if not QGEMM.exists():
        pytest.skip(f"{QGEMM} not built (Google Benchmark missing)")
    rows = benchlib.google_benchmark(QGEMM, "^peak/", timeout=120)
    assert rows and all(r["name"].startswith("peak/") for r in rows), rows
    assert all(r["GOPS"] > 0 for r in rows), rows
    assert benchlib.google_benchmark(QGEMM, "^no-such-benchmark$", timeout=120) == []


def test_two_thread_peak_is_two_threads_worth_at_most():
    if not QGEMM.exists():
        pytest.skip(f"{QGEMM} not built (Google Benchmark missing)")
    rows = {r["name"]: r for r in benchlib.google_benchmark(QGEMM, "^peak2?/(avx512vnni|avx2)/", timeout=300)}
    # The floor's level: zmm vpdpbusd where there is AVX-512 VNNI, else AVX2's vpmaddwd.
    level = "avx512vnni" if "peak/avx512vnni/iterations:1" in rows else "avx2"
    if f"peak/{level}/iterations:1" not in rows:
        pytest.skip("no AVX2 on this CPU")
    two = [r for name, r in rows.items() if name.startswith("peak2/")]
    if benchlib.usable_cpus() < 2:
        assert not two, rows
        return
    # Two threads' summed rates, of the floor's level only: above zero, and not past two
    # cores' worth by more than the machine's phases can explain (a miscount of the work
    # would be off by whole factors).
    one = rows[f"peak/{level}/iterations:1"]["GOPS"]
    assert [r["name"] for r in two] == [f"peak2/{level}/iterations:1/real_time"], rows
    assert 0 < two[0]["GOPS"] < 3 * one, rows


def test_failure_names_the_command(tmp_path):
    failing = tmp_path / "bench"
    failing.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(benchlib.BenchmarkError, match=r"bench --benchmark_filter=x .*failed:\nbroken"):
        benchlib.google_benchmark(failing, "x")
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(benchlib.BenchmarkError, match="timed out after 1 s"):
        benchlib.google_benchmark(slow, "x", timeout=1)
