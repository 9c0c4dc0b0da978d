#!/usr/bin/env python3
"""Float ResNet-18 latency: nibble against ONNX Runtime, in the same run.

The machine is shared and noisy, so the two runtimes are measured interleaved
(nibble and ORT alternately, at each thread count, several rounds), each
round's median is kept, and the result is the median of those: a burst of
load then hits both sides, and the ratio stays meaningful when the absolute
times do not.

    .venv/bin/python bench/compare_float.py                       # print environment and table
    .venv/bin/python bench/compare_float.py --write-docs docs/benchmarks.md

nibble is measured by its own `nibble bench MODEL --threads T --runs R --warmup W`,
which prints `median_ms=<float>` (and `p90_ms=`, `peak_mem_mb=`); ORT in this
process with intra_op_num_threads=T, inter_op_num_threads=1, sequential execution.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
sys.path.insert(0, str(REPO_ROOT / "bench"))
import benchlib  # noqa: E402
import make_models  # noqa: E402

MODEL = "resnet18"
DOC_BEGIN, DOC_END = "<!-- float-bench:begin -->", "<!-- float-bench:end -->"
NIBBLE_TIMEOUT_S = 1800


# ---- environment -----------------------------------------------------------------------

def environment(threads: list[int], args) -> list[tuple[str, str]]:
    # nibble's float GEMM is oneDNN (single-threaded inside nibble's pool); the recorded variables steer
    # numpy's OpenBLAS and OpenMP pools on this machine, so they are recorded with the result.
    return benchlib.environment(
        ", ".join(map(str, threads)), versions=[("ONNX Runtime", ort.__version__)],
        extra=[("method", f"{args.rounds} interleaved rounds x {args.runs} runs after {args.warmup} warm-up; "
                          "median of round medians")])


# ---- the two runtimes ------------------------------------------------------------------

def nibble_bench(nibble: Path, model_path: Path, threads: int, runs: int, warmup: int) -> dict[str, float]:
    try:
        return benchlib.nibble_bench(nibble, model_path, threads, runs, warmup, NIBBLE_TIMEOUT_S)[0]
    except benchlib.NibbleBenchError as e:
        sys.exit(f"compare_float: {e}")


def ort_bench(model_path: Path, feeds: dict[str, np.ndarray], threads: int, runs: int, warmup: int) -> float:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    # The session goes out of scope here, and its spinning pool threads with
    # it, before nibble runs next on the same cores.
    return statistics.median(times)


# ---- report ----------------------------------------------------------------------------

def markdown(env: list[tuple[str, str]], rows: list[dict]) -> str:
    lines = ["### ResNet-18, float32, batch 1: nibble vs. ONNX Runtime", ""] + benchlib.environment_table(env)
    lines += ["", "| model | threads | nibble ms | ORT ms | ratio nibble/ORT |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['threads']} | {r['nibble_ms']:.2f} | {r['ort_ms']:.2f} "
              f"| {r['nibble_ms'] / r['ort_ms']:.2f} |" for r in rows]
    lines += ["", "A ratio below 1 means nibble is faster."]
    extra = [f"{r['threads']} thread(s): p90 {r['nibble_p90_ms']:.2f} ms, peak memory {r['nibble_peak_mem_mb']:.1f} MB"
             for r in rows if "nibble_p90_ms" in r and "nibble_peak_mem_mb" in r]
    if extra:
        lines += ["nibble " + "; ".join(extra) + "."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nibble", type=Path, default=Path(os.environ.get("NIBBLE_BIN", REPO_ROOT / "build" / "nibble")),
                    help="the nibble executable (default: $NIBBLE_BIN or build/nibble)")
    ap.add_argument("--models", type=Path, default=REPO_ROOT / "build" / "bench-models",
                    help="where to generate resnet18.onnx (default: build/bench-models)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs before each measurement")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved nibble/ORT rounds per thread count")
    ap.add_argument("--write-docs", type=Path, metavar="MARKDOWN",
                    help=f"replace the section between {DOC_BEGIN} and {DOC_END} in this file")
    args = ap.parse_args(argv)

    benchlib.check_executable(args.nibble, "compare_float", writing_docs=args.write_docs is not None)
    model_path = Path(make_models.write_model(MODEL, str(args.models)))
    feeds = make_models.random_inputs(onnx.load(str(model_path)), np.random.default_rng(0))

    env = environment(args.threads, args)
    benchlib.print_environment(env)

    samples = {t: {"nibble": [], "ort": [], "p90": [], "mem": []} for t in args.threads}
    for rnd in range(args.rounds):
        for t in args.threads:
            # Alternate who goes first, so neither side always inherits a warm
            # (or throttled) core from the other.
            order = ("nibble", "ort") if rnd % 2 == 0 else ("ort", "nibble")
            for who in order:
                if who == "nibble":
                    r = nibble_bench(args.nibble, model_path, t, args.runs, args.warmup)
                    samples[t]["nibble"].append(r["median_ms"])
                    samples[t]["p90"] += [r["p90_ms"]] if "p90_ms" in r else []
                    samples[t]["mem"] += [r["peak_mem_mb"]] if "peak_mem_mb" in r else []
                else:
                    samples[t]["ort"].append(ort_bench(model_path, feeds, t, args.runs, args.warmup))
            s = samples[t]
            print(f"round {rnd + 1}/{args.rounds} threads={t}: "
                  f"nibble {s['nibble'][-1]:.2f} ms, ORT {s['ort'][-1]:.2f} ms", flush=True)

    rows = []
    for t in args.threads:
        s = samples[t]
        row = {"model": MODEL, "threads": t, "nibble_ms": statistics.median(s["nibble"]),
               "ort_ms": statistics.median(s["ort"])}
        if s["p90"]:
            row["nibble_p90_ms"] = statistics.median(s["p90"])
        if s["mem"]:
            row["nibble_peak_mem_mb"] = max(s["mem"])
        rows.append(row)

    section = markdown(env, rows)
    print("\n" + section)
    if args.write_docs:
        benchlib.write_docs(args.write_docs, section, DOC_BEGIN, DOC_END, "compare_float")
        print(f"\nwrote {args.write_docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
