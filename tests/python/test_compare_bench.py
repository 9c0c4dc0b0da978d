"""Smoke test of bench/compare.py: the int8 peer benchmark runs end to end on the Fashion-MNIST CNN.

Runs `bench/compare.py --models fashion_cnn --threads 1 --quick` (a few seconds) and checks that the
table has a row for every runtime, with positive times and memory, or says why a runtime is not measured.
OpenVINO and LiteRT are optional: when not importable, their rows must say "not measured".
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "compare.py"
FASHION_TRAIN = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")

RUNTIMES = {  # row label -> Python module it needs ("" for none)
    "nibble int8": "", "nibble float": "",
    "ORT int8 (ORT QDQ)": "onnxruntime", "ORT int8 (nibble QDQ)": "onnxruntime",
    "ORT int8 exact (ORT QDQ)": "onnxruntime", "ORT float": "onnxruntime",
    "OpenVINO int8 (ORT QDQ)": "openvino", "OpenVINO int8 (nibble QDQ)": "openvino", "OpenVINO float": "openvino",
    "LiteRT int8 (XNNPACK)": "ai_edge_litert",
}


def table_rows(stdout: str) -> dict[str, list[str]]:
    """runtime label -> cells of its fashion_cnn row in the main table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] == "fashion_cnn" and cells[1] in RUNTIMES:
            rows[cells[1]] = cells
    return rows


@pytest.fixture(scope="module")
def compare_run(nibble_bin: Path, test_out: Path) -> subprocess.CompletedProcess:
    if not FASHION_TRAIN.exists():
        pytest.skip(f"{FASHION_TRAIN} missing (apt-get install dataset-fashion-mnist)")
    cmd = [sys.executable, str(SCRIPT), "--models", "fashion_cnn", "--threads", "1", "--quick",
           "--nibble", str(nibble_bin), "--work", str(test_out / "compare-bench")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    return p


def test_every_runtime_has_a_row(compare_run):
    rows = table_rows(compare_run.stdout)
    assert set(rows) == set(RUNTIMES), f"rows: {sorted(rows)}\n{compare_run.stdout}"


@pytest.mark.parametrize("label", list(RUNTIMES))
def test_row_is_measured_or_says_why(compare_run, label):
    cells = table_rows(compare_run.stdout)[label]
    module = RUNTIMES[label]
    if module and importlib.util.find_spec(module) is None:
        assert cells[3].startswith("not measured"), cells
        return
    assert cells[2] == "1", cells
    median_ms, peak_mb = float(cells[3]), float(cells[5])
    assert median_ms > 0 and peak_mb > 0, cells
    # Three decimals, four below 0.1 ms (two significant digits would not tell 0.0158 from 0.0162).
    assert re.fullmatch(r"\d+\.\d{3}" if median_ms >= 0.1 else r"0\.\d{4}", cells[3]), cells
    ratio = cells[4].split()[0]
    assert float(ratio) > 0, cells
    if label == "nibble int8":
        assert cells[4] == "1.00 (baseline)"


def test_summary_and_layer_check(compare_run):
    out = compare_run.stdout
    assert re.search(r"^\| fashion_cnn \| 1 \| [0-9.]+ \| [0-9.]+ \|", out, re.M), out
    assert "* fashion_cnn, 1 thread(s): " in out
    assert "error" not in out.split("Per-layer check", 1)[1].split("Notes:", 1)[0]


def test_progress_goes_to_stderr(compare_run):
    assert "preparing fashion_cnn" in compare_run.stderr
    assert "preparing fashion_cnn" not in compare_run.stdout


def test_warmup_ms_keeps_warming_up_until_the_time_has_passed(nibble_bin):
    """`nibble bench --warmup-ms` and the Python workers' time_runs run untimed until the time has passed,
    however few warm-up runs were asked for (a short process's first milliseconds: threads being placed)."""
    model = REPO_ROOT / "models" / "fashion_cnn.onnx"
    t0 = time.perf_counter()
    # 400 ms: the first run (float kernels set up on first use) took 70 ms
    # once on a busy machine, which left a 60 ms window a single run.
    r = subprocess.run([str(nibble_bin), "bench", str(model), "--runs", "1", "--warmup", "0", "--warmup-ms", "400"],
                       capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    warmup = int(re.search(r"\bwarmup=(\d+)", r.stdout).group(1))
    assert warmup > 1 and elapsed >= 0.4, (warmup, elapsed, r.stdout)

    spec = importlib.util.spec_from_file_location("compare_script", SCRIPT)
    compare = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = compare  # its dataclasses look their module up there
    spec.loader.exec_module(compare)
    calls = []

    def run():
        calls.append(time.perf_counter())
        time.sleep(0.002)

    times = compare.time_runs(run, runs=3, warmup=1, warmup_ms=30)
    assert len(times) == 3 and all(t >= 2 for t in times), times
    warm = calls[:-3]
    assert len(warm) > 1 and calls[-3] - calls[0] >= 0.03, len(warm)
    calls.clear()
    compare.time_runs(run, runs=2, warmup=4, warmup_ms=0)
    assert len(calls) == 6  # the count alone when no time is asked for


def test_core_round_trip_probe_is_read_and_reported(nibble_bin):
    """The CPU round-trip probe compare.py runs before multi-thread groups: its number is parsed and listed."""
    probe = nibble_bin.parent / "bench" / "nibble_core_round_trip"
    if not probe.exists():
        pytest.skip(f"{probe} not built (Google Benchmark missing: bench/ is not configured)")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("fewer than 2 CPUs")
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import compare
    ns = compare.core_round_trip(probe)
    assert ns is not None and 5 < ns < 1e5, ns
    assert compare.core_round_trip(probe.parent / "no_such_probe") is None
    (label, text), = compare.round_trip_row(compare.Results(round_trips=[(0, "m", ns), (0, "m", 400.0)]))
    assert "round trip" in label
    assert f"{ns:.0f}, 400" in text
    assert f"{int(ns > compare.CROSS_DIE_NS) + 1} of 2 above" in text


def test_model_macs_counts_conv_gemm_and_matmul(tmp_path):
    """Conv: outputs x (C/group x kernel); Gemm (transB) and MatMul: outputs x K; other ops nothing."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import compare
    inits = [numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w"),
             numpy_helper.from_array(np.zeros((6, 2, 3, 3), np.float32), "wg"),
             numpy_helper.from_array(np.zeros((10, 256), np.float32), "fc"),
             numpy_helper.from_array(np.zeros((10, 7), np.float32), "mm")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),            # [1, 4, 8, 8]: 256 x 27
             helper.make_node("Conv", ["c", "wg"], ["g"], group=2, strides=[2, 2]),    # [1, 6, 3, 3]: 54 x 18
             helper.make_node("Relu", ["g"], ["r"]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),                   # [1, 10]: 10 x 256
             helper.make_node("MatMul", ["y", "mm"], ["z"])]                            # [1, 7]: 7 x 10
    graph = helper.make_graph(nodes, "macs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("r", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "macs.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert compare.model_macs(path) == 256 * 27 + 54 * 18 + 10 * 256 + 7 * 10


def test_peak_for_threads():
    # Two threads' peak where measured (two vCPUs may give less than twice one's), else threads x one's.
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import compare
    assert compare.peak_for_threads({1: 800.0, 2: 1200.0}, 2) == (1200.0, True)
    assert compare.peak_for_threads({1: 800.0, 2: 1200.0}, 1) == (800.0, True)
    assert compare.peak_for_threads({1: 800.0}, 2) == (1600.0, False)
    assert compare.peak_for_threads({1: 800.0, 2: 1200.0}, 4) == (3200.0, False)


def test_compute_floor_line(compare_run):
    out = compare_run.stdout
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    if not (REPO_ROOT / "build" / "bench" / "nibble_bench_qgemm").exists() or "avx2" not in flags:
        assert "Compute floor" not in out
        return
    # The instruction nibble's convs multiply with here: zmm vpdpbusd, else AVX2's exact vpmaddwd.
    instr = "zmm vpdpbusd" if "avx512_vnni" in flags else "AVX2 vpmaddwd \\+ vpaddd"
    m = re.search(r"^Compute floor: .* / the " + instr + r" peak .* \(1 thread: ([0-9]+) GOP/s", out, re.M)
    assert m and float(m.group(1)) > 0, out
    line = re.search(r"^\* fashion_cnn: ([0-9.e-]+) G multiply-accumulates; floor 1 thread\(s\) ([0-9.e-]+) ms, "
                     r"nibble ([0-9.]+)x of it\.$", out, re.M)
    assert line, out
    macs, floor, times = float(line.group(1)) * 1e9, float(line.group(2)), float(line.group(3))
    # Four significant digits each, and the peak printed to the nearest GOP/s (an AVX2 peak of
    # 130 GOP/s is 0.4% off after that rounding).
    peak = float(m.group(1))
    assert abs(floor - 2 * macs / (peak * 1e9) * 1e3) <= (0.002 + 0.5 / peak) * floor
    assert times > 1, "nothing runs faster than its multiply-accumulates at the peak on this level"
