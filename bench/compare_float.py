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
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
import make_models  # noqa: E402

MODEL = "resnet18"
DOC_BEGIN, DOC_END = "<!-- float-bench:begin -->", "<!-- float-bench:end -->"
DOC_HEADER = ("# Benchmarks\n\nMeasured results. Sections between `<!-- ...:begin -->` and `<!-- ...:end -->` "
              "markers are rewritten by the scripts in `bench/`; edit outside them.\n")
NIBBLE_TIMEOUT_S = 1800


# ---- environment -----------------------------------------------------------------------

def cpu_description() -> tuple[str, dict[str, bool]]:
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, {f: f in flags for f in ("avx2", "avx512f", "avx512_vnni")}


def environment(threads: list[int], args) -> list[tuple[str, str]]:
    model, flags = cpu_description()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        ("date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("CPU", f"{model}; {usable} usable of {os.cpu_count()} logical CPUs"),
        ("ISA flags", ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())),
        ("threads measured", ", ".join(map(str, threads))),
        # nibble's float GEMM is oneDNN (single-threaded inside nibble's pool); these variables steer numpy's
        # OpenBLAS and OpenMP pools on this machine, so they are recorded with the result.
        *[(var, os.environ.get(var, "unset"))
          for var in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")],
        ("ONNX Runtime", ort.__version__),
        ("load average at start", load),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("method", f"{args.rounds} interleaved rounds x {args.runs} runs after {args.warmup} warm-up; "
                   "median of round medians"),
    ]


# ---- the two runtimes ------------------------------------------------------------------

def nibble_bench(nibble: Path, model_path: Path, threads: int, runs: int, warmup: int) -> dict[str, float]:
    cmd = [str(nibble), "bench", str(model_path),
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=NIBBLE_TIMEOUT_S)
    if p.returncode != 0:
        sys.exit(f"compare_float: `{' '.join(cmd)}` exited with {p.returncode}:\n{p.stderr.strip()}")
    found = {key: float(m.group(1)) for key in ("median_ms", "p90_ms", "peak_mem_mb")
             if (m := re.search(rf"{key}=([0-9.]+)", p.stdout))}
    if "median_ms" not in found:
        sys.exit(f"compare_float: no median_ms=<float> in the output of `{' '.join(cmd)}`:\n{p.stdout.strip()}")
    return found


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
    lines = ["### ResNet-18, float32, batch 1: nibble vs. ONNX Runtime", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in env]
    lines += ["", "| model | threads | nibble ms | ORT ms | ratio nibble/ORT |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['threads']} | {r['nibble_ms']:.2f} | {r['ort_ms']:.2f} "
              f"| {r['nibble_ms'] / r['ort_ms']:.2f} |" for r in rows]
    lines += ["", "A ratio below 1 means nibble is faster."]
    extra = [f"{r['threads']} thread(s): p90 {r['nibble_p90_ms']:.2f} ms, peak memory {r['nibble_peak_mem_mb']:.1f} MB"
             for r in rows if "nibble_p90_ms" in r and "nibble_peak_mem_mb" in r]
    if extra:
        lines += ["nibble " + "; ".join(extra) + "."]
    return "\n".join(lines)


def write_docs(path: Path, section: str) -> None:
    block = f"{DOC_BEGIN}\n{section}\n{DOC_END}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{DOC_HEADER}\n{block}\n")
        return
    text = path.read_text()
    begin, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if begin < 0 and end < 0:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    elif 0 <= begin < end:
        text = text[:begin] + block + text[end + len(DOC_END):]
    else:
        sys.exit(f"compare_float: {path} has a broken {DOC_BEGIN} / {DOC_END} pair; fix it by hand")
    path.write_text(text)


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

    if not (args.nibble.is_file() and os.access(args.nibble, os.X_OK)):
        sys.exit(f"compare_float: nibble executable not found at {args.nibble} (build it, or pass --nibble)")
    model_path = Path(make_models.write_model(MODEL, str(args.models)))
    feeds = make_models.random_inputs(onnx.load(str(model_path)), np.random.default_rng(0))

    env = environment(args.threads, args)
    for k, v in env:
        print(f"{k}: {v}")

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
        write_docs(args.write_docs, section)
        print(f"\nwrote {args.write_docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
