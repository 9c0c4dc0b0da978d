#!/usr/bin/env python3
"""Low-bit table: nibble at W8A8, W4A8, W4A4, W3A3, W2A2, W1A1 and one mixed precision,
against the float model and ONNX Runtime's own int8 model.

Models:

* the Fashion-MNIST CNN models/fashion_cnn.onnx: calibrated on the first 256 training
  images (`--calib idx:... --calib-size 256 --mean 0.2860 --std 0.3530`), top-1 on the
  test set (`nibble eval`, all 10,000 images unless --limit);
* ResNet-18 with random weights (tests/models/make_models.py), calibrated on 32
  random-normal samples (seed 0, a .npy as bench/quant_accuracy.py makes it):
  size and latency only.

Per configuration (`nibble quantize --bits wNaM`; nibble keeps the first and last weight
layers at w8a8 unless told otherwise, and so does this table):

* top-1 (Fashion only); W3A3, W2A2 and W1A1 are quantized with --method minmax and with
  --method mse: the main table shows the one with the better Fashion top-1 (on the
  test set, so the choice is optimistic), the other is in the method table below it;
* file bytes: the .onnx `nibble quantize` writes (weights of 4 bits or fewer as ONNX
  INT4, which ONNX Runtime reads; wider ones one code per byte);
* packed file bytes: the same model after `nibble convert --weights packed` (weights
  of 4 bits or fewer at their exact width behind ai.nibble.UnpackBits; nibble only);
* packed weight bytes: in that packed file, the bytes holding the Conv/Gemm/MatMul
  weight codes plus 4 bytes per scale (float models: 4 bytes per weight);
* latency: median of `nibble bench --threads T` at 1 and 2 threads, each in a child
  process, interleaved over --rounds rounds (the order rotates every round); the
  median of the round medians;
* speed-up over nibble W8A8 and over ONNX Runtime int8 at the same thread count
  (other ms / this ms: above 1 means this configuration is faster). ORT int8:
  quant_pre_process + quantize_static of the same float model (QDQ, per-channel,
  QUInt8 activations, QInt8 weights, MinMax, the same calibration samples), timed by
  bench/compare.py's worker in a child process with intra_op_num_threads=T;
* kernels: the "kernel" column of `nibble inspect` for the Conv/Gemm layers, when
  nibble prints one (the choice is measured per process, so bench's may differ);
* per-layer check: `nibble bench --profile` (1 thread) of every configuration against
  W8A8, nodes matched by name; nodes slower than at W8A8 are listed.

The mixed configuration is W4A4 with the most sensitive W4A4 layer kept at w8a8
(`--layer-bits NODE=w8a8`): each candidate is quantized that way and the one whose
model output has the highest SQNR against the float model on held-out unlabelled
samples wins (Fashion: training images 256..319; ResNet-18: 8 random-normal samples,
seed 1). Pass --mixed-layer MODEL=NODE to skip the search.

    .venv/bin/python bench/lowbit_table.py --quick                   # smoke test: Fashion, 500 images, 1 thread
    .venv/bin/python bench/lowbit_table.py --runs 30 --warmup 5 --rounds 3 --write-docs docs/benchmarks.md

Progress goes to stderr; the environment and the tables to stdout. A nibble command
that fails is a cell saying "error" and a line under the tables, never a crash.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
import benchlib  # noqa: E402
import compare  # noqa: E402  (ORT quantize_static and the child-process ORT worker)
import quant_accuracy as qa  # noqa: E402  (Fashion-MNIST data, normalization, ORT accuracy)

DOC_BEGIN, DOC_END = "<!-- lowbit:begin -->", "<!-- lowbit:end -->"
MODELS = ("fashion_cnn", "resnet18")
NIBBLE_TIMEOUT_S = 900
STEERING_VARS = (*benchlib.ALL_STEERING_VARS, "NIBBLE_LOWBIT_KERNEL")
# A node counts as slower than at W8A8 past both of these (--profile prints ms to 3 decimals).
SLOWER_RATIO, SLOWER_MS = 1.10, 0.002
QUICK = {"models": "fashion_cnn", "limit": 500, "runs": 5, "warmup": 1, "warmup_ms": 0.0, "rounds": 1, "threads": [1],
         "profile_runs": 5}
RESNET_CALIB, FASHION_CALIB = 32, 256


@dataclass(frozen=True)
class Config:
    label: str
    bits: str
    method: str = "minmax"
    mixed: bool = False

    @property
    def key(self) -> str:
        return f"{self.label}/{self.method}"


CONFIGS = (
    Config("W8A8", "w8a8"), Config("W4A8", "w4a8"), Config("W4A4", "w4a4"),
    # At 3 bits and fewer nibble's default calibration is mse; both methods are measured.
    Config("W3A3", "w3a3", "minmax"), Config("W3A3", "w3a3", "mse"),
    Config("W2A2", "w2a2", "minmax"), Config("W2A2", "w2a2", "mse"),
    Config("W1A1", "w1a1", "minmax"), Config("W1A1", "w1a1", "mse"),
    Config("mixed", "w4a4", mixed=True),
)
LABELS = ("W8A8", "W4A8", "W4A4", "W3A3", "W2A2", "W1A1", "mixed")
TWO_METHODS = ("W3A3", "W2A2", "W1A1")


# ---- running nibble ------------------------------------------------------------------------

FAILURES: list[str] = []


class NibbleError(Exception):
    pass


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def last_lines(text: str, n: int = 4) -> str:
    return " / ".join(line.split("\r")[-1].strip() for line in text.strip().splitlines()[-n:])


def run_nibble(nibble: Path, args: list) -> str:
    cmd = [str(nibble), *map(str, args)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=NIBBLE_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        msg = f"`{' '.join(cmd)}`: timed out after {NIBBLE_TIMEOUT_S} s"
        FAILURES.append(msg)
        raise NibbleError(msg) from None
    if p.returncode != 0:
        msg = f"`{' '.join(cmd)}`: exit code {p.returncode}: {last_lines(p.stderr)}"
        FAILURES.append(msg)
        progress(f"  FAILED: {msg}")
        raise NibbleError(msg)
    return p.stdout


# ---- the models and their data --------------------------------------------------------------

@dataclass
class ModelSpec:
    name: str
    float_path: Path
    calib_args: list            # nibble quantize --calib ... arguments
    ort_calib: Path             # the same samples as a .npy, for ORT
    select_data: Path           # held-out unlabelled samples for the mixed-layer search
    output_name: str
    has_accuracy: bool


def fashion_spec(args, work: Path) -> ModelSpec:
    for f in (qa.FASHION_MODEL, qa.TEST_IMAGES, qa.TEST_LABELS, qa.TRAIN_IMAGES):
        if not f.exists():
            sys.exit(f"lowbit_table: {f} not found (Fashion-MNIST: apt-get install dataset-fashion-mnist)")
    ort_calib = work / "fashion_cnn.calib.npy"
    np.save(ort_calib, qa.calibration_arrays(FASHION_CALIB))
    select = work / "fashion_cnn.select.npy"
    np.save(select, qa.calibration_arrays(FASHION_CALIB + 64)[FASHION_CALIB:])
    calib = ["--calib", qa.idx_spec(qa.TRAIN_IMAGES), "--calib-size", FASHION_CALIB, *qa.NORMALIZE_FLAGS]
    return ModelSpec("fashion_cnn", qa.FASHION_MODEL, calib, ort_calib, select, qa.OUTPUT_NAME, True)


def resnet_spec(args, work: Path) -> ModelSpec:
    import make_models
    import onnx
    model = Path(make_models.write_model("resnet18", str(work)))
    calib = qa.resnet_calibration_file(work / "resnet18.calib.npy", RESNET_CALIB)
    select = work / "resnet18.select.npy"
    if not select.exists():
        np.save(select, np.random.default_rng(1).standard_normal((8, 3, 224, 224), dtype=np.float32))
    out = onnx.load(str(model), load_external_data=False).graph.output[0].name
    return ModelSpec("resnet18", model, ["--calib", calib, "--calib-size", RESNET_CALIB], calib, select, out, False)


# ---- reading a quantized model: widths, packed bytes, precisions, kernels ---------------------

def width_of_bounds(signed: bool, lo: int, hi: int) -> tuple[int, bool]:
    """(bits, narrow) a Clip's bounds state, as nibble's fold-qdq reads them (0 when not a standard range)."""
    for b in range(1, 9):
        if signed:
            top, bottom = (1 << (b - 1)) - 1, -(1 << (b - 1))
            if b >= 2 and hi == top and lo == bottom:
                return b, False
            if b >= 2 and hi == top and lo == bottom + 1:
                return b, True
        else:
            top = (1 << b) - 1
            if lo == 0 and hi == top:
                return b, False
            if b >= 2 and lo == 0 and hi == top - 1:
                return b, True
    return 0, False


@dataclass
class WeightInfo:
    name: str
    numel: int
    bits: int
    stored: int  # bytes of the codes as the file holds them (int8, INT4 or bit-packed)
    scales: int

    @property
    def packed_bytes(self) -> int:
        return self.stored + 4 * self.scales


def weight_tensors(path: Path) -> list[WeightInfo]:
    """The weight input (slot 1) of every Conv/Gemm/MatMul: its element count, width, stored bytes and
    scale count. Float weights: 32 bits. Quantized: DQ reading the codes, through a Clip (the width of
    its bounds), an ai.nibble UnpackBits (its bits) or straight from an int8 / INT4 initializer."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(str(path)).graph
    init = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    arr = {}

    def array(name):
        if name not in arr:
            arr[name] = numpy_helper.to_array(init[name])
        return arr[name]

    def stored(t) -> int:
        return len(t.raw_data) if t.HasField("raw_data") else int(array(t.name).nbytes)

    out = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        w = n.input[1]
        if w in init:
            out.append(WeightInfo(w, int(array(w).size), 32, stored(init[w]), 0))
            continue
        dq = producer.get(w)
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        src, bits, numel = dq.input[0], 8, None
        while src in producer:
            p = producer[src]
            attrs = {a.name: a for a in p.attribute}
            if p.op_type == "UnpackBits":
                bits, numel = attrs["bits"].i, int(np.prod(attrs["shape"].ints))
            elif p.op_type == "Clip" and len(p.input) == 3:
                lo, hi = int(array(p.input[1])), int(array(p.input[2]))
                signed = array(p.input[0]).dtype == np.int8 if p.input[0] in init else True
                b, narrow = width_of_bounds(signed, lo, hi)
                bits = b or 8
                if bits == 2 and narrow and signed and p.input[0] in init and \
                        np.all(np.clip(array(p.input[0]), lo, hi) != 0):
                    bits = 1  # bipolar: codes -1 and +1 only
            else:
                break
            src = p.input[0]
        if src not in init:
            continue
        t = init[src]
        if t.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
            bits = min(bits, 4)
        out.append(WeightInfo(w, numel if numel is not None else int(np.prod(t.dims)), bits, stored(t),
                              int(array(dq.input[1]).size)))
    return out


def quantize_precisions(stdout: str) -> list[tuple[str, str, str]]:
    """(precision, node, op) of the weight layers, from `nibble quantize`'s listing."""
    return [(m.group(1), m.group(2), m.group(3))
            for m in re.finditer(r"^\s+(w\d+a\d+)\s+(\S+)\s+(Conv|Gemm|MatMul)\s*$", stdout, re.M)]


def count_summary(items: list[str]) -> str:
    counts: dict[str, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def inspect_kernels(text: str) -> list[str] | None:
    """The "kernel" column of `nibble inspect`'s layers table for Conv/Gemm/MatMul rows (first word of the
    cell); None when there is no such column. Columns are found by the header's character positions."""
    lines = text.splitlines()
    head = next((i for i, ln in enumerate(lines) if re.match(r"^\s+node\s+op\s", ln)), None)
    if head is None:
        return None
    header = lines[head]
    m = re.search(r"\bkernel\b", header)
    op_m = re.search(r"\bop\b", header)
    if m is None or op_m is None:
        return None
    starts = [x.start() for x in re.finditer(r"\S+", header)]
    nxt = next((s for s in starts if s > m.start()), None)
    # A right-aligned column ends at its header's end; a left-aligned one starts at its header's start.
    kernels = []
    for ln in lines[head + 1:]:
        if not ln.startswith(" ") or not ln.strip():
            break
        tokens = ln.split()
        if len(tokens) < 2 or not re.match(r"^(Conv|Gemm|MatMul)", tokens[1]):
            continue
        cell = ln[m.start():nxt if nxt else None].strip()
        if not cell:  # right-aligned: the token overlapping the header's span
            spans = [(t.start(), t.end(), t.group()) for t in re.finditer(r"\S+", ln)]
            cell = next((s for a, b, s in spans if a < m.end() and b > m.start()), "")
        kernels.append(kernel_cell(cell))
    return kernels


def kernel_family(name: str) -> str:
    for word, fam in (("bitserial", "bitserial"), ("xnor", "binary"), ("binary", "binary"), ("gemv_w", "w4a8")):
        if word in name:
            return fam
    return "int8"


def kernel_cell(cell: str) -> str:
    """inspect's kernel cell, "NAME" or "NAME (FAMILY (timings))" for low-bit layers: NAME is the kernel
    the layer runs, FAMILY what the measured selection picked; both shown when they disagree."""
    if not cell:
        return "?"
    name = cell.split()[0]
    m = re.match(r"\S+\s+\((\w+)", cell)
    if m and m.group(1) != kernel_family(name):
        return f"{name} (selection: {m.group(1)})"
    return name


# ---- building one configuration -------------------------------------------------------------

@dataclass
class Built:
    model: str
    label: str
    method: str
    bits: str
    path: str = ""
    layer_bits: dict = field(default_factory=dict)
    error: str = ""
    file_bytes: int = 0         # the .onnx as nibble quantize writes it (<= 4-bit weights as ONNX INT4)
    packed_file_bytes: int = 0  # the same model after `nibble convert --weights packed`
    packed_bytes: int = 0       # weight codes + scales in the packed file
    widths: str = ""            # weight widths, e.g. "8 x2, 4 x3"
    precisions: str = ""        # from nibble quantize, e.g. "w4a4 x3, w8a8 x2"
    precision_list: list = field(default_factory=list)
    kernels: str = ""           # "" when inspect has no kernel column
    top1: float | None = None
    note: str = ""


def measure_files(b: Built, path: Path, packed: Path | None = None) -> None:
    packed = packed or path
    b.path, b.file_bytes = str(path), path.stat().st_size
    b.packed_file_bytes = packed.stat().st_size
    ws = weight_tensors(packed)
    b.packed_bytes = sum(w.packed_bytes for w in ws)
    b.widths = count_summary([f"{w.bits} bit" for w in ws])


def nibble_top1(nibble: Path, model: Path, limit: int) -> float:
    out = run_nibble(nibble, ["eval", model, "--data", qa.idx_spec(qa.TEST_IMAGES, qa.TEST_LABELS),
                              "--limit", limit, *qa.NORMALIZE_FLAGS])
    f = benchlib.parse_fields(out, ("top1",))
    if "top1" not in f:
        FAILURES.append(f"nibble eval {model}: no top1= in the output")
        raise NibbleError("no top1")
    return f["top1"]


def build(args, spec: ModelSpec, cfg: Config, work: Path, layer_bits: dict | None = None,
          suffix: str = "") -> Built:
    b = Built(spec.name, cfg.label, cfg.method, cfg.bits, layer_bits=dict(layer_bits or {}))
    out = work / f"{spec.name}.{cfg.bits}.{cfg.method}{'.mixed' if cfg.mixed else ''}{suffix}.onnx"
    out.unlink(missing_ok=True)
    qargs = ["quantize", spec.float_path, *spec.calib_args, "-o", out, "--method", cfg.method, "--bits", cfg.bits]
    for node, bits in b.layer_bits.items():
        qargs += ["--layer-bits", f"{node}={bits}"]
    try:
        qout = run_nibble(args.nibble, qargs)
        b.precision_list = quantize_precisions(qout)
        b.precisions = count_summary([p for p, _, _ in b.precision_list])
        packed = out.with_suffix(".packed.onnx")
        run_nibble(args.nibble, ["convert", out, "-o", packed, "--weights", "packed"])
        measure_files(b, out, packed)
    except NibbleError as e:
        b.error = str(e)
        return b
    try:
        k = inspect_kernels(run_nibble(args.nibble, ["inspect", out]))
        b.kernels = count_summary(k) if k else ""
    except NibbleError as e:
        b.kernels = "error"
        b.note = str(e)
    if spec.has_accuracy and not suffix:
        try:
            b.top1 = nibble_top1(args.nibble, out, args.limit)
        except NibbleError as e:
            b.error = b.error or str(e)
    return b


def output_sqnr(nibble: Path, model: Path, spec: ModelSpec) -> float:
    n = int(np.load(spec.select_data, mmap_mode="r").shape[0])
    out = run_nibble(nibble, ["eval", model, "--data", spec.select_data, "--reference", spec.float_path,
                              "--limit", n, "--sqnr-samples", n])
    after = out.split("worst first", 1)[-1]
    for line in after.splitlines():
        parts = line.split()
        if parts and parts[0] == spec.output_name and (m := re.search(r"(-?[0-9.]+|inf) dB", line)):
            return float(m.group(1))
    raise NibbleError(f"no SQNR line for {spec.output_name} in the output of nibble eval {model}")


def build_mixed(args, spec: ModelSpec, base: Built, work: Path) -> tuple[Built, str]:
    """W4A4 with the most sensitive W4A4 layer at w8a8; returns it and how the layer was chosen."""
    cfg = next(c for c in CONFIGS if c.mixed)
    forced = dict(x.split("=", 1) for x in args.mixed_layer).get(spec.name)
    if forced:
        return build(args, spec, cfg, work, {forced: "w8a8"}), f"{forced} (given by --mixed-layer)"
    candidates = [node for prec, node, _ in base.precision_list if prec == cfg.bits]
    if candidates and base.kernels == "error":
        # The W4A4 model does not load (inspect failed): no candidate can be scored; do not spend a
        # quantization per candidate finding that out again.
        return (build(args, spec, cfg, work, {candidates[0]: "w8a8"}),
                f"{candidates[0]}: no search, the W4A4 model itself does not load in nibble; the first W4A4 "
                "layer was kept at w8a8")
    if not candidates:
        b = Built(spec.name, cfg.label, cfg.method, cfg.bits, error=base.error or "no w4a4 layer in the W4A4 model")
        return b, "no candidate"
    scores = []
    for node in candidates:
        cand = build(args, spec, cfg, work, {node: "w8a8"}, suffix=f".cand{len(scores)}")
        try:
            if cand.error:
                raise NibbleError(cand.error)
            scores.append((output_sqnr(args.nibble, Path(cand.path), spec), node))
            progress(f"  {spec.name} mixed candidate {node}=w8a8: output SQNR {scores[-1][0]:.2f} dB")
        except NibbleError:
            scores.append((float("-inf"), node))
    best, node = max(scores)
    if best == float("-inf"):
        # Nothing measurable: keep the largest W4A4 layer at w8a8 (an honest default, said so).
        node = candidates[0]
        why = f"{node}: no candidate could be evaluated, the first W4A4 layer was kept at w8a8"
    else:
        why = (f"{node}: the highest output SQNR against float ({best:.2f} dB) of {len(candidates)} "
               f"candidates ({', '.join(f'{n} {s:.1f}' for s, n in scores)} dB)")
    return build(args, spec, cfg, work, {node: "w8a8"}), why


# ---- ORT int8 and float rows ----------------------------------------------------------------

def build_ort(args, spec: ModelSpec, work: Path) -> Built:
    b = Built(spec.name, "ORT int8", "MinMax", "w8a8")
    out = work / f"{spec.name}.ort_int8.onnx"
    try:
        compare.ort_quantize(spec.float_path, spec.ort_calib, work / f"{spec.name}.ort_pre.onnx", out)
        measure_files(b, out)
        if spec.has_accuracy:
            images, labels = qa.test_set(args.limit)
            b.top1 = qa.ort_eval(out, images, labels, max(args.threads))["top1"]
    except Exception as e:  # noqa: BLE001 - a quantizer that fails is a result
        b.error = f"ORT quantize_static: {type(e).__name__}: {str(e)[:300]}"
        FAILURES.append(b.error)
    return b


def build_float(args, spec: ModelSpec) -> Built:
    b = Built(spec.name, "float", "", "fp32")
    measure_files(b, spec.float_path)
    if spec.has_accuracy:
        try:
            b.top1 = nibble_top1(args.nibble, spec.float_path, args.limit)
        except NibbleError as e:
            b.error = str(e)
    return b


# ---- latency ------------------------------------------------------------------------------

@dataclass
class Timed:
    samples: dict = field(default_factory=dict)    # (model, row key, threads) -> [ms]
    errors: dict = field(default_factory=dict)     # (model, row key) -> message
    nibble_cpu: str = ""
    ort_version: str = ""


def row_key(b: Built) -> str:
    return f"{b.label}/{b.method}"


def measure_once(args, b: Built, threads: int, res: Timed) -> float:
    if b.label == "ORT int8":
        s = compare.measure_python("ort", Path(b.path), threads, args.runs, args.warmup, args.warmup_ms)
        res.ort_version = s.info.get("version", "")
        return s.median_ms
    f, out = benchlib.nibble_bench(args.nibble, Path(b.path), threads, args.runs, args.warmup, NIBBLE_TIMEOUT_S,
                                   warmup_ms=args.warmup_ms)
    if not res.nibble_cpu:
        res.nibble_cpu = next((ln.strip() for ln in out.splitlines() if ln.startswith("threads:")), "")
    return f["median_ms"]


def run_rounds(args, rows: list[Built], res: Timed) -> None:
    timed = [b for b in rows if b.path]
    for rnd in range(args.rounds):
        for t in args.threads:
            shift = (rnd * 3) % max(len(timed), 1)
            for b in timed[shift:] + timed[:shift]:
                key = (b.model, row_key(b))
                if key in res.errors:
                    continue
                try:
                    ms = measure_once(args, b, t, res)
                except (benchlib.NibbleBenchError, compare.MeasureError) as e:
                    res.errors[key] = str(e).replace("\n", " / ")[:400]
                    FAILURES.append(res.errors[key])
                    progress(f"  {b.model} {row_key(b)} threads={t}: FAILED: {res.errors[key]}")
                    continue
                res.samples.setdefault((b.model, row_key(b), t), []).append(ms)
                progress(f"round {rnd + 1}/{args.rounds} {b.model} threads={t} {row_key(b)}: {ms:.3f} ms")


def median_ms(res: Timed, model: str, key: str, t: int) -> float | None:
    s = res.samples.get((model, key, t))
    return statistics.median(s) if s else None


# ---- per-layer check against W8A8 -----------------------------------------------------------

PROFILE_REPEATS = 2


def profile_min(args, path: Path) -> dict[str, tuple[str, float]]:
    """`nibble bench --profile` PROFILE_REPEATS times; per node the smallest mean (a stall of the shared
    machine in one repeat does not make a node look slow). Raises NibbleBenchError."""
    best: dict[str, tuple[str, float]] = {}
    for _ in range(PROFILE_REPEATS):
        _, out = benchlib.nibble_bench(args.nibble, path, 1, args.profile_runs, 1, NIBBLE_TIMEOUT_S, profile=True,
                                       warmup_ms=args.warmup_ms)
        for n, (op, ms) in benchlib.parse_profile(out).items():
            if n not in best or ms < best[n][1]:
                best[n] = (op, ms)
    return best


def layer_check(args, rows: list[Built], model: str) -> list[str]:
    base = next((b for b in rows if b.model == model and b.label == "W8A8" and b.path), None)
    if base is None:
        return [f"* {model}: no W8A8 model"]
    try:
        ref = profile_min(args, Path(base.path))
    except benchlib.NibbleBenchError as e:
        return [f"* {model}: W8A8 profile failed: {str(e).splitlines()[0]}"]
    lines = []
    for b in rows:
        if b.model != model or not b.path or b.label in ("W8A8", "float", "ORT int8") or b.error:
            continue
        try:
            prof = profile_min(args, Path(b.path))
        except benchlib.NibbleBenchError as e:
            lines.append(f"* {model} {row_key(b)}: profile failed (see failures)")
            continue
        slower = [(n, op, ref[n][1], ms) for n, (op, ms) in prof.items()
                  if n in ref and ms > ref[n][1] * SLOWER_RATIO and ms - ref[n][1] >= SLOWER_MS]
        total_ref = sum(ms for _, ms in ref.values())
        total = sum(ms for _, ms in prof.values())
        head = f"* {model} {row_key(b)} (node sum {total:.3f} ms vs W8A8 {total_ref:.3f} ms): "
        if not slower:
            lines.append(head + "no node slower than at W8A8.")
        else:
            slower.sort(key=lambda s: -(s[3] - s[2]))
            lines.append(head + f"**{len(slower)} node(s) slower than at W8A8**: " +
                         ", ".join(f"`{n}` ({op}) {f:.3f} -> {q:.3f} ms" for n, op, f, q in slower[:6]) +
                         (f", and {len(slower) - 6} more" if len(slower) > 6 else "") + ".")
    return lines


# ---- report -------------------------------------------------------------------------------

def shown_methods(rows: list[Built]) -> dict[str, tuple[str, str]]:
    """W2A2 / W1A1 -> (method shown in the main table, why)."""
    out = {}
    for label in TWO_METHODS:
        acc = {b.method: b.top1 for b in rows if b.model == "fashion_cnn" and b.label == label and b.top1 is not None}
        if len(acc) == 2:
            m = max(acc, key=lambda k: acc[k])
            out[label] = (m, f"better Fashion top-1 ({acc[m]:.2f}% vs {min(acc.values()):.2f}%)")
        else:
            out[label] = ("mse", "no Fashion top-1 for both methods; mse shown")
    return out


def fmt(x, spec=".2f", missing="error") -> str:
    return missing if x is None else format(x, spec)


def ratio(num: float | None, den: float | None) -> str:
    return f"{num / den:.2f}" if num and den else "n/a"


def model_table(model: str, rows: list[Built], res: Timed, args, shown: dict) -> list[str]:
    mrows = [b for b in rows if b.model == model]
    has_acc = any(b.top1 is not None for b in mrows)
    ts = args.threads
    head = ["config", "method", "weight-layer precisions"]
    head += ["top-1 %", "vs float (points)"] if has_acc else []
    head += ["file bytes", "packed file bytes", "packed weight bytes"]
    head += [f"{t}T ms" for t in ts] + [f"vs W8A8 {t}T" for t in ts] + [f"vs ORT int8 {t}T" for t in ts]
    head += ["kernels (Conv/Gemm)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 or i == len(head) - 1 else "---:"
                                                           for i in range(len(head))) + "|"]
    float_row = next((b for b in mrows if b.label == "float"), None)
    order = ["float", *LABELS, "ORT int8"]
    for label in order:
        cands = [b for b in mrows if b.label == label]
        if label in shown:
            cands = [b for b in cands if b.method == shown[label][0]] or cands
        for b in cands[:1]:
            key = row_key(b)
            err = res.errors.get((model, key)) or (b.error if not b.path else "")
            cells = [f"**{b.label}**" if b.label in LABELS else b.label, b.method or "",
                     b.precisions or ("all float" if b.label == "float" else "")]
            if has_acc:
                cells += [fmt(b.top1), "" if b.label == "float" else
                          (f"{b.top1 - float_row.top1:+.2f}" if b.top1 is not None and float_row and float_row.top1
                           is not None else "")]
            cells += [str(b.file_bytes) if b.file_bytes else "error",
                      str(b.packed_file_bytes) if b.packed_file_bytes else "",
                      str(b.packed_bytes) if b.packed_bytes else ""]
            ms = {t: median_ms(res, model, key, t) for t in ts}
            w8 = {t: median_ms(res, model, "W8A8/minmax", t) for t in ts}
            orts = {t: median_ms(res, model, "ORT int8/MinMax", t) for t in ts}
            cells += [fmt(ms[t], ".3f", "error" if err else "n/a") for t in ts]
            cells += ["1.00" if b.label == "W8A8" else (ratio(w8[t], ms[t]) if ms[t] else "") for t in ts]
            cells += ["1.00" if b.label == "ORT int8" else (ratio(orts[t], ms[t]) if ms[t] else "") for t in ts]
            cells += [b.kernels or ("" if b.label in ("float", "ORT int8") else "n/a")]
            lines.append("| " + " | ".join(cells) + " |")
            if err:
                lines.append(f"| | | error: {err.splitlines()[0][:300].replace('|', '/')} |" + " |" * (len(head) - 3))
    return lines


def method_table(rows: list[Built], res: Timed, args, shown: dict) -> list[str]:
    lines = ["| model | config | method | shown above | top-1 % | file bytes | packed file bytes | packed weight bytes | "
             + " | ".join(f"{t}T ms" for t in args.threads) + " |",
             "|---|---|---|---|---:|---:|---:|---:|" + "---:|" * len(args.threads)]
    for b in rows:
        if b.label not in TWO_METHODS:
            continue
        key = row_key(b)
        err = res.errors.get((b.model, key)) or (b.error if not b.path else "")
        ms = [fmt(median_ms(res, b.model, key, t), ".3f", "error" if err else "n/a") for t in args.threads]
        lines.append(f"| {b.model} | {b.label} | {b.method} | {'yes' if shown[b.label][0] == b.method else 'no'} "
                     f"| {fmt(b.top1, '.2f', 'n/a' if b.model != 'fashion_cnn' else 'error')} "
                     f"| {b.file_bytes or 'error'} | {b.packed_file_bytes or ''} | {b.packed_bytes or ''} | "
                     + " | ".join(ms) + " |")
    return lines


def environment(args, res: Timed | None = None) -> list[tuple[str, str]]:
    from importlib import metadata
    vers = []
    for label, dist in (("ONNX Runtime", "onnxruntime"), ("onnx", "onnx"), ("numpy", "numpy")):
        try:
            vers.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            vers.append((label, "not installed"))
    extra = [("nibble", str(args.nibble)),
             ("latency method", f"{args.rounds} interleaved rounds x {args.runs} runs after {args.warmup} warm-up "
                                f"runs (continued until {args.warmup_ms:g} ms had passed), "
                                "batch 1, each in a fresh child process; median of round medians"),
             ("data", f"fashion_cnn: calibration the first {FASHION_CALIB} training images, top-1 on the first "
                      f"{args.limit} test images, normalized (x/255 - {qa.MEAN}) / {qa.STD}; resnet18: random "
                      f"weights, calibration {RESNET_CALIB} random-normal samples (seed 0)")]
    if res is not None and res.nibble_cpu:
        extra.append(("nibble bench reports", res.nibble_cpu))
    return benchlib.environment(", ".join(map(str, args.threads)), versions=vers, extra=extra,
                                variables=STEERING_VARS)


def markdown(env, rows, res, args, shown, mixed_why, checks) -> str:
    lines = ["### Low-bit: W8A8 down to W1A1, accuracy, size and speed", ""] + benchlib.environment_table(env)
    for model in args.models:
        lines += ["", f"#### {model}", "", *model_table(model, rows, res, args, shown)]
        if model in mixed_why:
            lines += ["", f"mixed = W4A4 with one layer kept at w8a8: {mixed_why[model]}."]
    lines += ["", "W3A3, W2A2 and W1A1 by calibration method (the main tables show one; which, and why: " +
              "; ".join(f"{k} {v[0]}, {v[1]}" for k, v in shown.items()) + "):", "",
              *method_table(rows, res, args, shown), "",
              "Every configuration is `nibble quantize --bits wNaM` with nibble's defaults otherwise: per-channel "
              "weights, uint8 activations, first and last weight layers kept at w8a8 (the precisions column counts "
              "the weight layers by the precision nibble reports). File bytes: the .onnx as written (wider codes one per "
              "byte, weights of 4 bits or fewer as ONNX INT4). Packed file bytes: the same model after `nibble convert "
              "--weights packed` (weights of 4 bits or fewer at their exact width; only nibble reads it). Packed "
              "weight bytes: in the packed file, the bytes holding the Conv/Gemm weight codes plus 4 bytes per "
              "scale (float: 4 bytes per weight). vs W8A8 / vs ORT int8: that runtime's ms / this row's ms at the same thread count (above "
              "1: this row is faster). ORT int8: quantize_static (QDQ, per-channel, QUInt8/QInt8, MinMax) on the "
              "same calibration samples, run by ONNX Runtime (intra_op_num_threads = T) in a child process. "
              "Kernels: `nibble inspect`'s kernel column for the Conv/Gemm layers, the kernel each runs (n/a: this "
              "nibble prints none; low-bit choices are measured when a model loads, so a bench process may choose "
              "differently); \"(selection: F)\": inspect says the measured selection picked family F, yet names "
              "a kernel of another family.", "",
              f"Per-layer check (`nibble bench --profile`, 1 thread, {args.profile_runs} runs after warming up "
              f"for {args.warmup_ms:g} ms, per node the smaller "
              f"mean of {PROFILE_REPEATS} such runs; nodes matched by "
              f"name with the W8A8 model; slower means by more than {SLOWER_RATIO - 1:.0%} and "
              f"{SLOWER_MS * 1e3:.0f} us):", "", *checks]
    if FAILURES:
        lines += ["", "Failures (grouped by error; one command of each group shown):", ""] + failure_lines()
    return "\n".join(lines)


def failure_lines() -> list[str]:
    groups: dict[str, list[str]] = {}
    for f in dict.fromkeys(FAILURES):
        flat = f.replace("\n", " / ")
        m = re.match(r"`([^`]*)`", flat)
        cmd = m.group(1) if m else ""
        why = flat.split("nibble: error:", 1)[1] if "nibble: error:" in flat else flat[m.end():] if m else flat
        why = re.sub(r"\S+\.onnx", "MODEL", why).strip(" :/")[:300]
        groups.setdefault(why, []).append(cmd or flat[:200])
    return [f"* {len(cmds)}x: {why} (e.g. `{cmds[0]}`)" for why, cmds in groups.items()]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nibble", type=Path, default=Path(os.environ.get("NIBBLE_BIN", REPO_ROOT / "build" / "nibble")),
                    help="the nibble executable (default: $NIBBLE_BIN or build/nibble)")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "build-bench" / "lowbit-table",
                    help="where models and calibration data go (default: build-bench/lowbit-table)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--limit", type=int, default=10000, help="Fashion-MNIST test images (default: all 10,000)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=30, help="timed runs per measurement")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs before each measurement")
    ap.add_argument("--warmup-ms", type=float, default=50.0,
                    help="continue the untimed runs until this many ms have passed (as bench/compare.py)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--profile-runs", type=int, default=20, help="runs of each `nibble bench --profile`")
    ap.add_argument("--mixed-layer", action="append", default=[], metavar="MODEL=NODE",
                    help="the layer the mixed configuration keeps at w8a8 (skips the search)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {', '.join(f'{k}={v}' for k, v in QUICK.items())}")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--write-docs", type=Path, metavar="MARKDOWN",
                    help=f"replace the section between {DOC_BEGIN} and {DOC_END} in this file")
    return benchlib.finish_model_args(ap, ap.parse_args(argv), QUICK, MODELS)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    benchlib.check_executable(args.nibble, "lowbit_table", writing_docs=args.write_docs is not None)
    args.work.mkdir(parents=True, exist_ok=True)
    env0 = environment(args)
    benchlib.print_environment(env0)
    t0 = time.perf_counter()

    rows: list[Built] = []
    mixed_why: dict[str, str] = {}
    for name in args.models:
        progress(f"preparing {name}")
        spec = fashion_spec(args, args.work) if name == "fashion_cnn" else resnet_spec(args, args.work)
        rows.append(build_float(args, spec))
        built = {}
        for cfg in CONFIGS:
            if cfg.mixed:
                continue
            b = build(args, spec, cfg, args.work)
            built[cfg.key] = b
            rows.append(b)
            progress(f"  {name} {cfg.key}: {b.file_bytes} bytes, packed {b.packed_bytes}, top1 {b.top1}, "
                     f"{b.precisions}; kernels {b.kernels or 'n/a'}{'; ERROR ' + b.error if b.error else ''}")
        b, why = build_mixed(args, spec, built["W4A4/minmax"], args.work)
        mixed_why[name] = why
        rows.append(b)
        progress(f"  {name} mixed: {why}; top1 {b.top1}")
        rows.append(build_ort(args, spec, args.work))

    res = Timed()
    run_rounds(args, rows, res)
    checks = []
    for name in args.models:
        progress(f"per-layer check {name}")
        checks += layer_check(args, rows, name)
    progress(f"total {time.perf_counter() - t0:.0f} s")

    shown = shown_methods(rows)
    env = environment(args, res)
    env = [(k, v) if k != "load average at start" else (k, dict(env0)[k]) for k, v in env]
    env = [(k, v) if k != "date (UTC)" else (k, dict(env0)[k]) for k, v in env]
    section = markdown(env, rows, res, args, shown, mixed_why, checks)
    print("\n" + section)
    if args.json:
        data = {"rows": [{**asdict(b), "ms": {str(t): median_ms(res, b.model, row_key(b), t) for t in args.threads},
                          "timing_error": res.errors.get((b.model, row_key(b)), "")} for b in rows],
                "shown": shown, "mixed": mixed_why, "failures": FAILURES}
        args.json.write_text(json.dumps(data, indent=1, default=str))
    if args.write_docs:
        benchlib.write_docs(args.write_docs, section, DOC_BEGIN, DOC_END, "lowbit_table")
        print(f"\nwrote {args.write_docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
