#!/usr/bin/env python3
"""Where the time goes, node by node: nibble int8 against ONNX Runtime int8 and OpenVINO int8.

Uses the models bench/compare.py made (run it first; they are in its --work
folder): nibble times MODEL.nibble_int8.onnx with `nibble bench --profile`
(per node, ms per run), ONNX Runtime and OpenVINO time ORT's own QDQ model
MODEL.ort_int8.onnx with their profilers (ORT: SessionOptions.enable_profiling,
the per-run kernel time of each fused node; OpenVINO: PERF_COUNT, the real time
of each executed node). Nodes are matched by the float model's node names,
which all three keep as a prefix (ORT appends "_token_N", OpenVINO "/...").
Per node: the median over the runs of a round, then the minimum over --rounds
interleaved rounds, each in a fresh process (the machine's speed drifts; a
node's best round is the closest to its own cost). Rows are grouped by what
the layer is (from the float model: 1x1, depthwise, other conv, ...) with
each group's total and the ratio peer / nibble (> 1: nibble is faster).

    .venv/bin/python bench/node_profile.py --models mobilenetv2 --threads 1
    .venv/bin/python bench/node_profile.py --models fashion_cnn --rounds 1 --runs 5   # smoke test
    .venv/bin/python bench/node_profile.py --models resnet18,mobilenetv2 --write-docs docs/benchmarks.md

Profilers add their own cost per node, so the totals run above the end-to-end
times of compare.py; the ratios between runtimes are what this is for.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import benchlib

DEFAULT_WORK = benchlib.REPO_ROOT / "build-bench" / "compare"
DEFAULT_NIBBLE = benchlib.REPO_ROOT / "build" / "nibble"
MODELS = ("resnet18", "mobilenetv2", "fashion_cnn")
BEGIN, END = "<!-- node_profile:begin -->", "<!-- node_profile:end -->"


def worker(engine: str, model: str, threads: int, runs: int, warmup: int) -> None:
    """Child process: profile one runtime on one model, print {node: median ms} as JSON."""
    import numpy as np
    from compare import random_input  # compare.py's inputs: dynamic dimensions as 1
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    if engine == "ort":
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_profiling = True
        with tempfile.TemporaryDirectory() as tmp:  # ORT's trace: megabytes per model, read once
            opts.profile_file_prefix = os.path.join(tmp, "ort")
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            feeds = {i.name: random_input(i.shape, np.random.default_rng(0)) for i in sess.get_inputs()}
            for _ in range(warmup + runs):
                sess.run(None, feeds)
            with open(sess.end_profiling()) as f:
                events = json.load(f)
        # Every run's kernel events, in order; the warm-up runs come first.
        kernel = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
        for e in kernel:
            per_node[e["name"][: -len("_kernel_time")]].append(e["dur"] / 1000.0)
        per_node = {k: v[warmup:] for k, v in per_node.items()}
    else:
        import openvino as ov
        core = ov.Core()
        compiled = core.compile_model(core.read_model(model), "CPU",
                                      {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
                                       "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
                                       "PERF_COUNT": True})
        request = compiled.create_infer_request()
        feeds = {i: random_input(list(p.get_partial_shape().get_min_shape()), np.random.default_rng(0))
                 for i, p in enumerate(compiled.inputs)}
        for r in range(warmup + runs):
            request.infer(feeds)
            if r >= warmup:
                for p in request.profiling_info:
                    ms = p.real_time.total_seconds() * 1000.0
                    if ms > 0:
                        per_node[p.node_name].append(ms)
    print(json.dumps({k: statistics.median(v) for k, v in per_node.items() if v}))


def base_name(name: str, known: set[str]) -> str:
    """The float model's node name inside a peer's: ORT's "X_token_12", OpenVINO's "X/WithoutBiases"
    (X may hold slashes itself: exporters' "/features/features.0/Conv"), or `name` when none is known."""
    cand = re.sub(r"_token_\d+$", "", name)
    while cand not in known and "/" in cand:
        cand = cand.rsplit("/", 1)[0]
    return cand if cand in known else name


def layer_kinds(float_model: Path) -> dict[str, str]:
    """Node name -> what the layer is, from the float model."""
    import onnx
    kinds = {}
    for n in onnx.load(str(float_model), load_external_data=False).graph.node:
        kind = n.op_type
        if n.op_type == "Conv":
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            k, g = a.get("kernel_shape", [1, 1]), a.get("group", 1)
            kind = "Conv depthwise" if g > 1 else ("Conv 1x1" if list(k) == [1, 1] else f"Conv {k[0]}x{k[1]}")
        kinds[n.name] = kind
    return kinds


def float_model(name: str, work: Path) -> Path:
    """Where compare.py left the float model (fashion_cnn's is the bundled one)."""
    from compare import FASHION_MODEL
    return FASHION_MODEL if name == "fashion_cnn" else work / f"{name}.onnx"


def profile_once(args, name: str, engine: str, threads: int, known: set[str] = frozenset()) -> dict[str, float]:
    work = Path(args.work)
    if engine == "nibble":
        _, out = benchlib.nibble_bench(Path(args.nibble), work / f"{name}.nibble_int8.onnx", threads, args.runs,
                                       args.warmup, timeout=600, profile=True)
        return {k: ms for k, (_, ms) in benchlib.parse_profile(out).items()}
    cmd = [sys.executable, __file__, "--worker", engine, str(work / f"{name}.ort_int8.onnx"), str(threads),
           str(args.runs), str(args.warmup)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print(f"node_profile: {engine} failed on {name}:\n{p.stderr.strip()[-2000:]}", file=sys.stderr)
        return {}
    merged: dict[str, float] = {}
    for k, v in json.loads(p.stdout.strip().splitlines()[-1]).items():
        b = base_name(k, known)
        merged[b] = merged.get(b, 0.0) + v  # a node split in several (a reorder before it) counts whole
    return merged


def model_table(args, name: str, threads: int) -> list[str]:
    engines = ("nibble", "ort", "openvino")
    best: dict[str, dict[str, float]] = {e: {} for e in engines}
    for r in range(args.rounds):
        for e in engines:
            print(f"node_profile: {name}, {threads} thread(s), round {r + 1}/{args.rounds}: {e}", file=sys.stderr)
            for k, v in profile_once(args, name, e, threads, set(best["nibble"])).items():
                best[e][k] = min(v, best[e].get(k, v))
    kinds = layer_kinds(float_model(name, Path(args.work)))
    groups: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for node, ms in best["nibble"].items():
        kind = kinds.get(node, "other")
        g = groups[kind]
        g[0] += ms
        g[1] += best["ort"].get(node, 0.0)
        g[2] += best["openvino"].get(node, 0.0)
        g[3] += 1
    # Peer time on nodes nibble has no twin of (ORT's and OpenVINO's layout Transposes/Reorders, say).
    for i, e in ((1, "ort"), (2, "openvino")):
        groups["(peer-only nodes)"][i] += sum(v for k, v in best[e].items() if k not in best["nibble"])

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if a > 0 and b > 0 else "-"

    lines = [f"**{name}, {threads} thread(s)**: ms per run, best of {args.rounds} rounds",
             "", "| layers | nodes | nibble int8 | ORT int8 | OpenVINO int8 | ORT / nibble | OpenVINO / nibble |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total = [0.0, 0.0, 0.0]
    for kind, (n_ms, o_ms, v_ms, count) in sorted(groups.items(), key=lambda kv: -max(kv[1][:3])):
        lines.append(f"| {kind} | {count or ''} | {n_ms:.3f} | {o_ms:.3f} | {v_ms:.3f} | {ratio(o_ms, n_ms)} "
                     f"| {ratio(v_ms, n_ms)} |")
        total = [total[0] + n_ms, total[1] + o_ms, total[2] + v_ms]
    lines.append(f"| **all** | | {total[0]:.3f} | {total[1]:.3f} | {total[2]:.3f} | {ratio(total[1], total[0])} "
                 f"| {ratio(total[2], total[0])} |")
    lines += ["", "Slowest nibble nodes:", "", "| node | layers | nibble | ORT | OpenVINO |", "|---|---|---:|---:|---:|"]
    for node, ms in sorted(best["nibble"].items(), key=lambda kv: -kv[1])[:args.top]:
        o, v = best["ort"].get(node), best["openvino"].get(node)
        lines.append(f"| {node} | {kinds.get(node, 'other')} | {ms:.3f} | {f'{o:.3f}' if o else '-'} "
                     f"| {f'{v:.3f}' if v else '-'} |")
    return lines


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        engine, model, threads, runs, warmup = sys.argv[2:7]
        worker(engine, model, int(threads), int(runs), int(warmup))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="resnet18,mobilenetv2")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=12, help="slowest nibble nodes listed per model")
    ap.add_argument("--work", default=str(DEFAULT_WORK), help="bench/compare.py's --work folder")
    ap.add_argument("--nibble", default=str(DEFAULT_NIBBLE))
    ap.add_argument("--write-docs", metavar="MD", help="also write the tables into this markdown file")
    args = ap.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    bad = [m for m in args.models if m not in MODELS]
    if bad:
        ap.error(f"unknown model(s) {', '.join(bad)}; choose from {', '.join(MODELS)}")
    benchlib.check_executable(Path(args.nibble), "node_profile.py", writing_docs=bool(args.write_docs))
    for m in args.models:
        for f in (float_model(m, Path(args.work)), Path(args.work) / f"{m}.nibble_int8.onnx",
                  Path(args.work) / f"{m}.ort_int8.onnx"):
            if not f.is_file():
                sys.exit(f"node_profile.py: {f} is missing: run bench/compare.py --models {m} first "
                         f"(it makes the int8 models in {args.work})")
    from compare import versions  # the same library versions compare.py lists
    env = benchlib.environment(", ".join(map(str, args.threads)), versions=versions(),
                               variables=benchlib.ALL_STEERING_VARS,
                               extra=[("method", f"{args.rounds} interleaved rounds x {args.runs} runs after "
                                                 f"{args.warmup} warm-up runs, each in a fresh process; per node the "
                                                 "median of a round, the minimum over rounds")])
    benchlib.print_environment(env)
    lines: list[str] = []
    for m in args.models:
        for t in args.threads:
            lines += model_table(args, m, t) + [""]
    print("\n".join(lines))
    if args.write_docs:
        section = ["## Per node: nibble int8, ONNX Runtime int8, OpenVINO int8", "",
                   "Written by `bench/node_profile.py` (its docstring says how it measures).", "",
                   *benchlib.environment_table(env), "", *lines]
        benchlib.write_docs(Path(args.write_docs), "\n".join(section).rstrip("\n"), BEGIN, END, "node_profile.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
