#!/usr/bin/env python3
"""The kernel benchmarks (Google Benchmark binaries in build/bench) as one table.

Runs nibble_bench_qgemm (int8 GEMM/conv: GOPS and % of the peak of the same
instruction, measured in the same binary), nibble_bench_dwconv_q8 (depthwise:
output pixels/s and speed-up over the scalar reference) and nibble_bench_lowbit
(bit-serial, binary and W4A8 against int8 on the same shapes), single thread,
and writes their counters between `<!-- kernels:begin -->` and `<!-- kernels:end -->`.

    .venv/bin/python bench/kernel_table.py --write-docs docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import benchlib

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC_BEGIN, DOC_END = "<!-- kernels:begin -->", "<!-- kernels:end -->"
QGEMM_NOTE = (
    "Conv GOPS count every tap of the layer (2 x output positions x output channels x kernel taps x input "
    "channels), the padding included, as the layer's MACs are usually counted. With zero padding whose code is 0 "
    "(post-ReLU inputs, as in these benchmarks) the lanes-are-channels convs skip the kernel rows and edge columns "
    "that lie wholly in the padding, so small maps can pass 100% of the instruction's peak: ResNet-18's layer4 "
    "(7x7) computes 361 of every 441 nominal taps (82%), layer3 (14x14) 91%, layer2 (28x28) 95%. "
    "conv/avx512vnni_nhwc rows: ResNet-18's layers after conv1 with channels-last input and output, as the "
    "session runs them at that level (the conv/avx512vnni rows read and write NCHW). peak2/avx512vnni, the one "
    "row on two threads: the peak loop on two threads at once, their rates summed (two vCPUs may be less than two "
    "cores' worth; compare.py's 2-thread compute floor uses it).")
AVX2_NOTE = (
    "This CPU has no AVX-512 VNNI: the rows are the avx2 level's, which multiplies exactly in int16 (vpmaddwd, "
    "then vpaddd: 16 multiply-accumulates per pair), against that pair's peak. peak2/avx2: the peak loop on two "
    "threads at once, their rates summed (compare.py's 2-thread compute floor uses it).")


def runs(flags: dict[str, bool]) -> list[tuple[str, str, list[str]]]:
    """(binary, filter, columns to show: counter names Google Benchmark reports), for the
    best level below amx this CPU runs (avx512vnni, else avx2)."""
    if flags.get("avx512_vnni"):
        # amx: the conv shapes again at that level (the ones it does not run on tiles
        # take the avx512vnni kernels there), against the tile product's own peak.
        qgemm = "peak/avx512vnni|peak2/avx512vnni|peak/amx|gemm/avx512vnni|conv/avx512vnni|conv/amx"
        dw = "reference|avx512vnni"
    else:
        qgemm, dw = "peak/avx2|peak2/avx2|gemm/avx2|conv/avx2", "reference|avx2"
    return [("nibble_bench_qgemm", qgemm, ["GOPS", "pct_peak"]),
            ("nibble_bench_dwconv_q8", dw, ["out_px/s", "speedup"]),
            ("nibble_bench_lowbit", ".", ["GOPS"])]


def run(binary: Path, flt: str, min_time: float) -> list[dict]:
    try:
        return benchlib.google_benchmark(binary, flt, min_time)
    except benchlib.BenchmarkError as e:
        sys.exit(f"kernel_table: {e}")


def best_rows(runs: list[list[dict]]) -> list[dict]:
    """Per benchmark, the row of the fastest process (for the peak rows, the highest peak), with pct_peak recomputed against the
    best peak of all processes (the binary measures its peak as the best of 16 short runs,
    so a single timing of the kernel set against it would compare a typical phase of this
    machine with its best one). Order: the first process's."""
    best: dict[str, dict] = {}
    peak: dict[str, float] = {}
    def better(r: dict, than: dict) -> bool:
        # A peak row (GOPS, no peak of its own): the highest peak; any other: the shortest time.
        if isinstance(r.get("GOPS"), (int, float)) and "peak_GOPS" not in r:
            return r["GOPS"] > than.get("GOPS", 0)
        return r.get("cpu_time", 0) < than.get("cpu_time", 0)

    for rows in runs:
        for r in rows:
            name = r["name"]
            if name not in best or better(r, best[name]):
                best[name] = r
            if isinstance(r.get("peak_GOPS"), (int, float)):
                peak[name] = max(peak.get(name, 0.0), r["peak_GOPS"])
    out = []
    for r in runs[0]:
        b = dict(best[r["name"]])
        if peak.get(b["name"]) and isinstance(b.get("GOPS"), (int, float)):
            b["peak_GOPS"] = peak[b["name"]]
            b["pct_peak"] = 100.0 * b["GOPS"] / peak[b["name"]]
        out.append(b)
    return out


def fmt(v) -> str:
    if not isinstance(v, (int, float)):
        return ""
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"


def section(build: Path, min_time: float, best_of: int) -> str:
    env = benchlib.environment("1", [], variables=["NIBBLE_ISA", "NIBBLE_LOWBIT_KERNEL"], threads_label="threads")
    lines = ["### Kernels, single thread (Google Benchmark)", "", *benchlib.environment_table(env), ""]
    flags = benchlib.cpu_description()[1]
    for binary, flt, cols in runs(flags):
        if binary == "nibble_bench_qgemm":
            rows = best_rows([run(build / "bench" / binary, flt, min_time) for _ in range(best_of)])
            lines += [f"Best of {best_of} processes per benchmark; % of peak against the best peak of those "
                      "processes (each measures its peak as the best of 16 short runs).", ""]
        else:
            rows = run(build / "bench" / binary, flt, min_time)
        lines += [f"`build/bench/{binary} --benchmark_filter='{flt}'`", "",
                  "| benchmark | time per iteration (us) | " + " | ".join(cols) + " |",
                  "|---|---:|" + "---:|" * len(cols)]
        for r in rows:
            us = r.get("cpu_time", 0) * {"ns": 1e-3, "us": 1, "ms": 1e3, "s": 1e6}[r.get("time_unit", "ns")]
            lines.append(f"| {r['name']} | {us:.1f} | " + " | ".join(fmt(r.get(c)) for c in cols) + " |")
        lines.append("")
        if binary == "nibble_bench_qgemm":
            lines += [QGEMM_NOTE if flags.get("avx512_vnni") else AVX2_NOTE, ""]
    return "\n".join(lines)


def speedups(build: Path, min_time: float, processes: int) -> str:
    """Low-bit vs int8 on the same shape, as ratios formed inside each process (the two
    kernels timed in the same process; this VM's speed moves from one process to the next
    by up to ~30%), over several processes: median, min and max."""
    ratios: dict[str, list[float]] = {}
    for _ in range(processes):
        rows = {r["name"]: r["cpu_time"] for r in run(build / "bench" / "nibble_bench_lowbit", ".", min_time)}
        for name, t in rows.items():
            family, kind, shape = name.split("/", 2)
            base = f"{family}/int8/{shape}"
            if kind != "int8" and base in rows and t > 0:
                ratios.setdefault(name, []).append(rows[base] / t)
    lines = [f"Low-bit speed-up over int8 on the same shape (int8 time / low-bit time, both timed in one process; "
             f"{processes} processes):", "",
             "| benchmark | median | min | max |", "|---|---:|---:|---:|"]
    for name, rs in ratios.items():
        rs = sorted(rs)
        lines.append(f"| {name} | {rs[len(rs) // 2]:.2f} | {rs[0]:.2f} | {rs[-1]:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=REPO_ROOT / "build", help="build folder with bench/ (default: build)")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per benchmark (default 0.2)")
    ap.add_argument("--processes", type=int, default=5, help="processes for the low-bit speed-up table (default 5)")
    ap.add_argument("--best-of", type=int, default=5,
                    help="processes of nibble_bench_qgemm, best time per benchmark (default 5)")
    ap.add_argument("--write-docs", type=Path, metavar="MARKDOWN")
    args = ap.parse_args(argv)
    text = section(args.build, args.min_time, args.best_of) + "\n" + speedups(args.build, args.min_time, args.processes)
    print(text)
    if args.write_docs:
        benchlib.write_docs(args.write_docs, text, DOC_BEGIN, DOC_END, "kernel_table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
