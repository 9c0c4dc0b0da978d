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
