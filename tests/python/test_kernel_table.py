"""bench/kernel_table.py's best-of-processes merge (pure Python, no binaries run)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import kernel_table  # noqa: E402


def row(name, cpu_time, gops=None, peak=None):
    r = {"name": name, "cpu_time": cpu_time, "time_unit": "ms"}
    if gops is not None:
        r["GOPS"] = gops
    if peak is not None:
        r["peak_GOPS"] = peak
        r["pct_peak"] = 100.0 * gops / peak
    return r


def test_best_time_per_benchmark_against_the_best_peak():
    a = [row("peak/x", 1.0, gops=600.0), row("gemm/x/1024", 8.0, gops=268.0, peak=600.0), row("conv/x/l1", 2.0, gops=50.0, peak=600.0)]
    b = [row("peak/x", 1.0, gops=650.0), row("gemm/x/1024", 5.0, gops=429.0, peak=650.0), row("conv/x/l1", 3.0, gops=33.0, peak=650.0)]
    c = [row("peak/x", 1.0, gops=500.0), row("gemm/x/1024", 6.0, gops=358.0, peak=500.0), row("conv/x/l1", 2.5, gops=40.0, peak=500.0)]
    out = kernel_table.best_rows([a, b, c])
    assert [r["name"] for r in out] == ["peak/x", "gemm/x/1024", "conv/x/l1"]
    gemm = out[1]
    assert gemm["cpu_time"] == 5.0 and gemm["GOPS"] == 429.0
    assert abs(gemm["pct_peak"] - 66.0) < 1e-9  # 429 of 650, the best peak of the three
    # The conv's best time came from process a, whose own peak was 600: still against 650.
    conv = out[2]
    assert conv["cpu_time"] == 2.0 and abs(conv["pct_peak"] - 100.0 * 50.0 / 650.0) < 1e-9
    # The peak row itself: the highest peak.
    assert out[0]["GOPS"] == 650.0


def test_rows_without_counters_pass_through():
    a = [row("dw/ref", 3.0)]
    b = [row("dw/ref", 2.0)]
    out = kernel_table.best_rows([a, b])
    assert out == [row("dw/ref", 2.0)]
