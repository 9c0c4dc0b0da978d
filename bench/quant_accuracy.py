#!/usr/bin/env python3
"""int8 post-training quantization: accuracy, size, latency and quantization time.

Three parts, each printed as a markdown table:

1. The Fashion-MNIST CNN (models/fashion_cnn.onnx) on the full test set: float
   top-1 against nibble W8A8 for every calibration method x (per-channel,
   per-tensor) weights, calibrated on the first 256 training images; model size
   and 1-thread latency, float and int8.
2. ONNX Runtime's own quantizer (quantize_static, QDQ, QUInt8 activations,
   QInt8 weights) on the same model and the same 256 calibration images, run by
   ONNX Runtime and by nibble, next to nibble's quantizer with the same method.
3. Wall time of `nibble quantize` on ResNet-18 (random weights, from
   tests/models/make_models.py) with 256 random-normal calibration samples.

    .venv/bin/python bench/quant_accuracy.py                       # print environment and tables
    .venv/bin/python bench/quant_accuracy.py --write-docs docs/benchmarks.md

This is a benchmark, not a test: it prints "meets target" / "misses target"
against the targets below and never fails on them. A nibble command that fails
is reported (command and error) in the output, and its cells read "error".
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
sys.path.insert(0, str(REPO_ROOT / "bench"))
import benchlib  # noqa: E402
import make_models  # noqa: E402

DOC_BEGIN, DOC_END = "<!-- int8-accuracy:begin -->", "<!-- int8-accuracy:end -->"
NIBBLE_TIMEOUT_S = 900

FASHION_MODEL = REPO_ROOT / "models" / "fashion_cnn.onnx"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
TEST_IMAGES = FASHION_DIR / "t10k-images-idx3-ubyte.gz"
TEST_LABELS = FASHION_DIR / "t10k-labels-idx1-ubyte.gz"
TRAIN_IMAGES = FASHION_DIR / "train-images-idx3-ubyte.gz"
MEAN, STD = 0.2860, 0.3530  # applied after scaling pixels to [0, 1]
INPUT_NAME, OUTPUT_NAME = "input", "logits"

NIBBLE_METHODS = ("minmax", "percentile", "entropy", "mse")
# nibble method -> ORT CalibrationMethod name; mse has no ORT counterpart.
ORT_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}

# Targets (reported, never asserted).
TARGET_PER_CHANNEL_DROP = 0.3    # points of top-1 below float, W8A8 per-channel
TARGET_VS_ORT = 0.1              # nibble top-1 >= ORT top-1 - this, same method and granularity
TARGET_RESNET_QUANTIZE_S = 60.0  # wall time of `nibble quantize` (minmax) on ResNet-18


# ---- data: IDX files, normalization, the specs nibble reads ------------------------------

def read_idx(path: Path, limit: int | None = None) -> np.ndarray:
    """An IDX file (plain or .gz) as a uint8 array: [N] labels or [N, rows, cols] images."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"quant_accuracy: {path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if limit is not None:
        dims[0] = min(dims[0], limit)
    count = int(np.prod(dims))
    return np.frombuffer(data, np.uint8, count=count, offset=4 + 4 * ndim).reshape(dims)


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], as nibble's --mean/--std do it."""
    x = images.astype(np.float32) / np.float32(255.0)
    return ((x - np.float32(MEAN)) / np.float32(STD))[:, None, :, :]


def calibration_arrays(n: int) -> np.ndarray:
    """The first n training images, normalized: what nibble calibrates on with --calib-size n."""
    return normalize(read_idx(TRAIN_IMAGES, n))


def test_set(limit: int) -> tuple[np.ndarray, np.ndarray]:
    return normalize(read_idx(TEST_IMAGES, limit)), read_idx(TEST_LABELS, limit).astype(np.int64)


def idx_spec(images: Path, labels: Path | None = None) -> str:
    return f"idx:{images}" + (f",{labels}" if labels else "")


NORMALIZE_FLAGS = ["--mean", str(MEAN), "--std", str(STD)]


# ---- nibble (the CLI) --------------------------------------------------------------------

@dataclass
class Failure:
    cmd: str
    error: str


FAILURES: list[Failure] = []


class NibbleError(Exception):
    pass


def run_nibble(nibble: Path, args: list[str]) -> tuple[str, float]:
    """Run `nibble ARGS`; return (stdout, wall seconds). A failure is recorded and raised."""
    cmd = [str(nibble), *map(str, args)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=NIBBLE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        FAILURES.append(Failure(" ".join(cmd), f"timed out after {NIBBLE_TIMEOUT_S} s"))
        raise NibbleError(cmd)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        # Progress lines end in \r; keep only the last thing printed on each line.
        err = "\n".join(line.split("\r")[-1] for line in p.stderr.strip().splitlines()[-10:])
        FAILURES.append(Failure(" ".join(cmd), f"exit code {p.returncode}: {err}"))
        print(f"  FAILED: {' '.join(cmd)}\n    {err}", flush=True)
        raise NibbleError(cmd)
    return p.stdout, wall


def parse_fields(text: str, keys: tuple[str, ...], cmd_hint: str) -> dict[str, float]:
    found = benchlib.parse_fields(text, keys)
    missing = [k for k in keys if k not in found]
    if missing:
        FAILURES.append(Failure(cmd_hint, f"no {', '.join(missing)} in the output:\n{text.strip()}"))
        raise NibbleError(cmd_hint)
    return found


def nibble_quantize(nibble: Path, model: Path, out: Path, calib: str, method: str, per_tensor: bool,
                    calib_size: int, normalize_flags: list[str]) -> float:
    """Quantize; return the wall time in seconds."""
    args = ["quantize", model, "--calib", calib, "-o", out, "--method", method,
            "--calib-size", calib_size, *normalize_flags]
    if per_tensor:
        args.append("--per-tensor")
    _, wall = run_nibble(nibble, args)
    return wall


def nibble_eval(nibble: Path, model: Path, data: str, limit: int, reference: Path | None = None) -> dict[str, float]:
    """top1, top5 (percent), ms_per_sample, and worst_sqnr_db when a reference is given."""
    args = ["eval", model, "--data", data, "--limit", limit, *NORMALIZE_FLAGS]
    if reference:
        args += ["--reference", reference]
    out, _ = run_nibble(nibble, args)
    r = parse_fields(out, ("top1", "top5", "ms_per_sample"), f"nibble eval {model}")
    if reference:
        # "per-layer SQNR ... (worst first):" then "  NAME OP  32.17 dB"
        after = out.split("worst first", 1)[-1]
        if m := re.search(r"(-?[0-9.]+|inf) dB", after):
            r["worst_sqnr_db"] = float(m.group(1))
    return r


def nibble_bench(nibble: Path, model: Path, threads: int, runs: int, warmup: int) -> float:
    out, _ = run_nibble(nibble, benchlib.bench_command(nibble, model, threads, runs, warmup)[1:])
    return parse_fields(out, ("median_ms",), f"nibble bench {model}")["median_ms"]


# ---- ONNX Runtime ------------------------------------------------------------------------

def ort_session(model: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def ort_eval(model: Path, images: np.ndarray, labels: np.ndarray, threads: int, batch: int = 500) -> dict[str, float]:
    sess = ort_session(model, threads)
    top1 = top5 = 0
    for i in range(0, len(images), batch):
        logits = sess.run([OUTPUT_NAME], {INPUT_NAME: images[i:i + batch]})[0]
        y = labels[i:i + batch]
        top1 += int((logits.argmax(axis=1) == y).sum())
        best5 = np.argsort(-logits, axis=1)[:, :5]
        top5 += int((best5 == y[:, None]).any(axis=1).sum())
    return {"top1": 100.0 * top1 / len(images), "top5": 100.0 * top5 / len(images)}


def ort_bench(model: Path, runs: int, warmup: int) -> float:
    sess = ort_session(model, 1)
    feed = {INPUT_NAME: np.zeros((1, 1, 28, 28), np.float32)}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def ort_quantize(pre_model: Path, out: Path, calib: np.ndarray, method: str, per_channel: bool) -> float:
    """onnxruntime.quantization.quantize_static (QDQ, QUInt8 activations, QInt8 weights) with
    ORT's defaults for the method; return the wall time in seconds."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self, batch: int = 64):
            self._feeds = iter([{INPUT_NAME: calib[i:i + batch]} for i in range(0, len(calib), batch)])

        def get_next(self):
            return next(self._feeds, None)

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their progress
        quantize_static(str(pre_model), str(out), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                        calibrate_method=getattr(CalibrationMethod, method))
    return time.perf_counter() - t0


def ort_preprocess(model: Path, out: Path) -> Path:
    """quant_pre_process (symbolic shape inference, ORT graph optimization, shape inference)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process
    quant_pre_process(str(model), str(out))
    return out


# ---- checks --------------------------------------------------------------------------------

def max_initializer_difference(a: Path, b: Path) -> tuple[float, int]:
    """Largest |a-b| / max(|a|) over initializers present in both models; and how many differ."""
    ia = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(a)).graph.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(b)).graph.initializer}
    worst, differing = 0.0, 0
    for name in ia.keys() & ib.keys():
        x, y = ia[name].astype(np.float64), ib[name].astype(np.float64)
        if x.shape != y.shape:
            differing += 1
            worst = float("inf")
            continue
        if not np.array_equal(x, y):
            differing += 1
            worst = max(worst, float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)))
    differing += len(ia.keys() ^ ib.keys())
    return worst, differing


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("meets target" if ok else "misses target")


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "error" if x is None else format(x, spec)


def points(x: float | None, ref: float | None) -> str:
    return "error" if x is None or ref is None else f"{x - ref:+.2f}"


# ---- the three parts -------------------------------------------------------------------------

@dataclass
class Results:
    float_top1: float | None = None
    float_top5: float | None = None
    float_ort_top1: float | None = None
    float_bytes: int = 0
    nibble: dict = field(default_factory=dict)      # (method, per_channel) -> dict
    ort: dict = field(default_factory=dict)         # (method, per_channel) -> dict
    latency: dict = field(default_factory=dict)     # (runtime, precision) -> ms
    calib_check: str = ""
    ort_notes: list = field(default_factory=list)
    resnet: dict = field(default_factory=dict)      # method -> dict
    resnet_info: str = ""


def part1(args, res: Results, work: Path) -> None:
    test = idx_spec(TEST_IMAGES, TEST_LABELS)
    images, labels = test_set(args.limit)
    res.float_bytes = FASHION_MODEL.stat().st_size
    try:
        r = nibble_eval(args.nibble, FASHION_MODEL, test, args.limit)
        res.float_top1, res.float_top5 = r["top1"], r["top5"]
    except NibbleError:
        pass
    res.float_ort_top1 = ort_eval(FASHION_MODEL, images, labels, args.ort_threads)["top1"]
    print(f"float: nibble top1={fmt(res.float_top1)}% ORT top1={res.float_ort_top1:.2f}%", flush=True)

    calib = idx_spec(TRAIN_IMAGES)
    for method in NIBBLE_METHODS:
        for per_channel in (True, False):
            out = work / f"fashion_nibble_{method}_{'pc' if per_channel else 'pt'}.onnx"
            row: dict = {}
            try:
                row["quantize_s"] = nibble_quantize(args.nibble, FASHION_MODEL, out, calib, method, not per_channel,
                                                    args.calib_size, NORMALIZE_FLAGS)
                row["bytes"] = out.stat().st_size
                row.update(nibble_eval(args.nibble, out, test, args.limit, reference=FASHION_MODEL))
                row["path"] = out
            except NibbleError:
                pass
            if "path" in row:
                try:
                    row["ort_top1"] = ort_eval(out, images, labels, args.ort_threads)["top1"]
                except Exception as e:  # noqa: BLE001 - a model ORT rejects is a result
                    row["ort_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                    FAILURES.append(Failure(f"onnxruntime.InferenceSession({out})", row["ort_error"]))
            res.nibble[(method, per_channel)] = row
            print(f"nibble {method} {'per-channel' if per_channel else 'per-tensor'}: "
                  f"top1={fmt(row.get('top1'))}% ORT-on-it={fmt(row.get('ort_top1'))}%", flush=True)

    # The calibration arrays this script feeds ORT must be what nibble calibrates on:
    # quantize once more from them (as a .npy) and compare with the idx: model.
    npy = work / "fashion_calib.npy"
    np.save(npy, calibration_arrays(args.calib_size))
    from_npy = work / "fashion_nibble_minmax_pc_from_npy.onnx"
    ref = res.nibble[("minmax", True)].get("path")
    try:
        nibble_quantize(args.nibble, FASHION_MODEL, from_npy, str(npy), "minmax", False, args.calib_size, [])
        if ref:
            worst, n = max_initializer_difference(ref, from_npy)
            res.calib_check = ("identical" if n == 0 else
                               f"{n} initializers differ, largest relative difference {worst:.2e}")
    except NibbleError:
        res.calib_check = "error (see failures)"
    print(f"calibration check (idx: vs the script's .npy): {res.calib_check}", flush=True)

    # Latency, 1 thread: float and int8 (minmax, per-channel), nibble and ORT, interleaved rounds.
    int8 = res.nibble[("minmax", True)].get("path")
    samples: dict = {}
    for rnd in range(args.rounds):
        for precision, model in (("float", FASHION_MODEL), ("int8", int8)):
            if model is None:
                continue
            try:
                samples.setdefault(("nibble", precision), []).append(
                    nibble_bench(args.nibble, model, 1, args.runs, args.warmup))
            except NibbleError:
                pass
            samples.setdefault(("ORT", precision), []).append(ort_bench(model, args.runs, args.warmup))
    res.latency = {k: statistics.median(v) for k, v in samples.items() if v}
    print("latency (ms, 1 thread): " + ", ".join(f"{k[0]} {k[1]} {v:.3f}" for k, v in res.latency.items()),
          flush=True)


def part2(args, res: Results, work: Path) -> None:
    images, labels = test_set(args.limit)
    calib = calibration_arrays(args.calib_size)
    pre = ort_preprocess(FASHION_MODEL, work / "fashion_cnn.ort_pre.onnx")
    test = idx_spec(TEST_IMAGES, TEST_LABELS)
    for method, ort_method in ORT_METHODS.items():
        for per_channel in (True, False):
            out = work / f"fashion_ort_{ort_method.lower()}_{'pc' if per_channel else 'pt'}.onnx"
            row: dict = {}
            try:
                row["quantize_s"] = ort_quantize(pre, out, calib, ort_method, per_channel)
                row["bytes"] = out.stat().st_size
                row["top1"] = ort_eval(out, images, labels, args.ort_threads)["top1"]
            except Exception as e:  # noqa: BLE001 - a method ORT cannot do is a result, not a crash
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                FAILURES.append(Failure(f"onnxruntime quantize_static {ort_method} per_channel={per_channel}",
                                        row["error"]))
            if "bytes" in row:
                try:
                    row["nibble_top1"] = nibble_eval(args.nibble, out, test, args.limit)["top1"]
                except NibbleError:
                    pass
            res.ort[(method, per_channel)] = row
            print(f"ORT {ort_method} {'per-channel' if per_channel else 'per-tensor'}: "
                  f"ORT top1={fmt(row.get('top1'))}% nibble-on-it={fmt(row.get('nibble_top1'))}%", flush=True)
            row["path"] = out

    # quantize_static does not pass num_bins/num_quantized_bins to the entropy calibrator; with its
    # defaults (128 and 128) the only candidate threshold is the full range, i.e. MinMax. Say so when seen.
    same = []
    for per_channel in (True, False):
        a, b = res.ort.get(("minmax", per_channel), {}), res.ort.get(("entropy", per_channel), {})
        if "bytes" in a and "bytes" in b and max_initializer_difference(a["path"], b["path"])[1] == 0:
            same.append("per-channel" if per_channel else "per-tensor")
    if same:
        res.ort_notes.append(f"ORT Entropy ({' and '.join(same)}) wrote the same scales and zero points as ORT "
                             "MinMax: quantize_static does not pass histogram sizes to the entropy calibrator, and "
                             "its defaults (128 bins, 128 quantized bins) leave one candidate threshold, the full range.")


def part3(args, res: Results, work: Path) -> None:
    model = Path(make_models.write_model("resnet18", str(work)))
    calib = resnet_calibration_file(work / "resnet18_calib.npy", args.calib_size)
    res.resnet_info = (f"{model.stat().st_size} bytes float; calibration {calib.name}: "
                       f"[{args.calib_size},3,224,224] float32 standard normal (seed 0)")
    for method in args.resnet_methods:
        out = work / f"resnet18_nibble_{method}.onnx"
        row: dict = {}
        try:
            row["wall_s"] = nibble_quantize(args.nibble, model, out, str(calib), method, False, args.calib_size, [])
            row["bytes"] = out.stat().st_size
        except NibbleError:
            pass
        res.resnet[method] = row
        print(f"ResNet-18 quantize {method}: {fmt(row.get('wall_s'), '.1f')} s", flush=True)


def resnet_calibration_file(path: Path, n: int) -> Path:
    """[n,3,224,224] float32 N(0,1), seed 0; reused when already there with that shape."""
    if path.exists():
        try:
            if np.load(path, mmap_mode="r").shape == (n, 3, 224, 224):
                return path
        except ValueError:
            pass
    rng = np.random.default_rng(0)
    np.save(path, rng.standard_normal((n, 3, 224, 224), dtype=np.float32))
    return path


# ---- report ----------------------------------------------------------------------------------

def environment(args) -> list[tuple[str, str]]:
    return benchlib.environment(
        f"latency 1; nibble quantize/eval default; ORT accuracy runs {args.ort_threads}", threads_label="threads",
        versions=[("ONNX Runtime", ort.__version__), ("onnx", onnx.__version__)],
        extra=[("data", f"Fashion-MNIST test set, first {args.limit} images; calibration: first {args.calib_size} "
                        f"training images; normalized (x/255 - {MEAN}) / {STD}"),
               ("latency method", f"{args.rounds} interleaved rounds x {args.runs} runs after {args.warmup} "
                                  "warm-up, batch 1; median of round medians")])


def section_part1(res: Results, args) -> list[str]:
    lines = ["#### 1. Fashion-MNIST CNN: nibble W8A8 (uint8 activations, int8 weights)", "",
             "| model | weights | nibble top-1 % | vs float (points) | top-5 % | ORT runs it: top-1 % "
             "| worst layer SQNR dB | bytes | quantize s | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
             f"| float | | {fmt(res.float_top1)} | | {fmt(res.float_top5)} | {fmt(res.float_ort_top1)} | | "
             f"{res.float_bytes} | | |"]
    for method in NIBBLE_METHODS:
        for per_channel in (True, False):
            r = res.nibble.get((method, per_channel), {})
            target = "n/a"
            if per_channel:
                ok = None if r.get("top1") is None or res.float_top1 is None else \
                    res.float_top1 - r["top1"] <= TARGET_PER_CHANNEL_DROP
                target = verdict(ok) if ok is not None else "error"
            ort_cell = fmt(r.get("ort_top1")) if "ort_error" not in r else "fails to load"
            lines.append(f"| {method} | {'per-channel' if per_channel else 'per-tensor'} | {fmt(r.get('top1'))} "
                         f"| {points(r.get('top1'), res.float_top1)} | {fmt(r.get('top5'))} | {ort_cell} "
                         f"| {fmt(r.get('worst_sqnr_db'))} | {r.get('bytes', 'error')} "
                         f"| {fmt(r.get('quantize_s'))} | {target} |")
    lines += ["", f"Target: per-channel within {TARGET_PER_CHANNEL_DROP} points of float top-1. "
              "\"ORT runs it\" is ONNX Runtime running nibble's exported QDQ model on the same test images. "
              "Worst layer SQNR: `nibble eval --reference` over its default 64 samples. "
              "Quantize time includes process start and data loading.",
              f"Calibration data check (nibble from `idx:` vs from the normalized .npy this script gives ORT, "
              f"minmax, per-channel): {res.calib_check}.", ""]
    # latency
    lat = res.latency
    lines += ["| runtime | float ms | int8 ms (minmax, per-channel) | int8/float |", "|---|---:|---:|---:|"]
    for rt in ("nibble", "ORT"):
        f, q = lat.get((rt, "float")), lat.get((rt, "int8"))
        ratio = fmt(q / f) if f and q else "error"
        lines.append(f"| {rt} | {fmt(f, '.3f')} | {fmt(q, '.3f')} | {ratio} |")
    lines += ["", "Batch 1, 1 thread. nibble: `nibble bench --threads 1`; ORT: InferenceSession, "
              "intra_op_num_threads=1, in this process."]
    return lines


def section_part2(res: Results) -> list[str]:
    lines = ["#### 2. Same model, ONNX Runtime's quantizer (quantize_static, QDQ, QUInt8/QInt8)", "",
             "| method | weights | ORT quantizer, ORT runs it: top-1 % | ORT quantizer, nibble runs it: top-1 % "
             "| nibble quantizer, nibble runs it: top-1 % | nibble - ORT (points) | bytes | target |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for method, ort_method in ORT_METHODS.items():
        for per_channel in (True, False):
            r = res.ort.get((method, per_channel), {})
            n = res.nibble.get((method, per_channel), {}).get("top1")
            if "error" in r:
                lines.append(f"| {ort_method} | {'per-channel' if per_channel else 'per-tensor'} "
                             f"| ORT failed: {r['error']} | | {fmt(n)} | | | n/a |")
                continue
            ok = None if n is None or r.get("top1") is None else n >= r["top1"] - TARGET_VS_ORT
            lines.append(f"| {ort_method} | {'per-channel' if per_channel else 'per-tensor'} | {fmt(r.get('top1'))} "
                         f"| {fmt(r.get('nibble_top1'))} | {fmt(n)} | {points(n, r.get('top1'))} "
                         f"| {r.get('bytes', 'error')} | {verdict(ok) if ok is not None else 'error'} |")
    lines += ["", f"Target: nibble (its quantizer and runtime) >= ORT (its quantizer and runtime) - {TARGET_VS_ORT} "
              "points, same method and weight granularity. ORT input: `quant_pre_process` of the float model; "
              "calibration: the same first 256 training images, normalized by this script, in batches of 64. "
              "ORT's defaults per method (Percentile 99.999, Entropy 128 bins) differ from nibble's "
              "(percentile 99.99; 2048-bin histograms); mse has no ORT counterpart."]
    lines += [" ".join(res.ort_notes)] if res.ort_notes else []
    return lines


def section_part3(res: Results) -> list[str]:
    lines = ["#### 3. ResNet-18 (random weights): `nibble quantize` wall time", "",
             "| method | wall s | int8 bytes | target |", "|---|---:|---:|---|"]
    for method, r in res.resnet.items():
        ok = None if r.get("wall_s") is None else r["wall_s"] < TARGET_RESNET_QUANTIZE_S
        target = ("error" if ok is None else verdict(ok)) if method == "minmax" else "no target"
        lines.append(f"| {method} | {fmt(r.get('wall_s'), '.1f')} | {r.get('bytes', 'error')} | {target} |")
    lines += ["", f"Target: minmax under {TARGET_RESNET_QUANTIZE_S:.0f} s. Model: {res.resnet_info}. "
              "Wall time of the whole command (process start, import, calibration, export)."]
    return lines


def markdown(env: list[tuple[str, str]], res: Results, args, parts: set[int]) -> str:
    lines = ["### int8 post-training quantization: accuracy, size, speed", ""] + benchlib.environment_table(env)
    if 1 in parts:
        lines += [""] + section_part1(res, args)
    if 2 in parts:
        lines += [""] + section_part2(res)
    if 3 in parts:
        lines += [""] + section_part3(res)
    if FAILURES:
        lines += ["", "Failures:", ""]
        lines += [f"* `{f.cmd}`: {f.error}".replace("\n", " / ") for f in FAILURES]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nibble", type=Path,
                    default=Path(os.environ.get("NIBBLE_BIN", REPO_ROOT / "build" / "nibble")),
                    help="the nibble executable (default: $NIBBLE_BIN or build/nibble)")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "build-bench" / "quant-accuracy",
                    help="where quantized models and calibration files go (default: build-bench/quant-accuracy)")
    ap.add_argument("--limit", type=int, default=10000, help="test images (default: all 10,000)")
    ap.add_argument("--calib-size", type=int, default=256, help="calibration samples (default: 256)")
    ap.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    ap.add_argument("--resnet-methods", nargs="+", default=["minmax", "entropy"], choices=NIBBLE_METHODS)
    ap.add_argument("--ort-threads", type=int, default=len(os.sched_getaffinity(0)),
                    help="ORT threads for the accuracy runs (default: all usable)")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per latency measurement")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs before each latency measurement")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved latency rounds")
    ap.add_argument("--write-docs", type=Path, metavar="MARKDOWN",
                    help=f"replace the section between {DOC_BEGIN} and {DOC_END} in this file")
    args = ap.parse_args(argv)

    benchlib.check_executable(args.nibble, "quant_accuracy", writing_docs=args.write_docs is not None)
    for f in (FASHION_MODEL, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES):
        if not f.exists():
            sys.exit(f"quant_accuracy: {f} not found (Fashion-MNIST: apt-get install dataset-fashion-mnist)")
    args.work.mkdir(parents=True, exist_ok=True)

    env = environment(args)
    benchlib.print_environment(env)
    t0 = time.perf_counter()
    res = Results()
    parts = set(args.parts)
    if 2 in parts and 1 not in parts:
        sys.exit("quant_accuracy: part 2 compares against part 1's nibble results; run it with part 1")
    if 1 in parts:
        part1(args, res, args.work)
    if 2 in parts:
        part2(args, res, args.work)
    if 3 in parts:
        part3(args, res, args.work)
    print(f"total {time.perf_counter() - t0:.0f} s")

    section = markdown(env, res, args, parts)
    print("\n" + section)
    if args.write_docs:
        benchlib.write_docs(args.write_docs, section, DOC_BEGIN, DOC_END, "quant_accuracy")
        print(f"\nwrote {args.write_docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
