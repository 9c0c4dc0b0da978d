#!/usr/bin/env python3
"""int8 inference, batch 1: nibble against ONNX Runtime, OpenVINO and LiteRT, in one run.

For each model (ResNet-18 and MobileNetV2 with random weights at 224x224, from
tests/models/make_models.py, and the Fashion-MNIST CNN models/fashion_cnn.onnx)
the script makes the int8 models once:

* nibble's: `nibble quantize MODEL --calib CALIB.npy -o MODEL.nibble_int8.onnx`
  (minmax, per-channel weights, uint8 activations: nibble's defaults);
* ONNX Runtime's: quant_pre_process, then quantize_static (QDQ, per-channel,
  QUInt8 activations, QInt8 weights, MinMax) on the same calibration samples;
* a LiteRT twin: ORT's QDQ model rewritten as an int8 .tflite flatbuffer by this
  script (NHWC, the same scales and zero points, uint8 zero points moved to int8),
  without TensorFlow;

calibration: 32 random-normal samples (seed 0) for the random-weight models, the
first 32 Fashion-MNIST training images (normalized as in quant_accuracy.py) for
the CNN. Then it times, at each thread count, interleaved over --rounds rounds:

    nibble int8            nibble bench on nibble's QDQ model      (the baseline)
    nibble float           nibble bench on the float model
    ORT int8 (ORT QDQ)     ORT CPU EP on ORT's QDQ model
    ORT int8 (nibble QDQ)  ORT CPU EP on nibble's QDQ model
    ORT int8 exact (ORT QDQ)
                           the same with session.x64quantprecision=1: on x86
                           CPUs without VNNI ORT multiplies u8 x s8 with
                           vpmaddubsw, whose int16 pair sums saturate, and
                           this option widens the weights that can overflow
                           (outside [-64, 63]) to its exact u8 x u8 kernels,
                           as nibble's exact int16 products (elsewhere the
                           option changes nothing)
    ORT float
    OpenVINO int8 (ORT QDQ), OpenVINO int8 (nibble QDQ), OpenVINO float
                           CPU plugin, INFERENCE_NUM_THREADS=T, NUM_STREAMS=1,
                           PERFORMANCE_HINT=LATENCY, INFERENCE_PRECISION_HINT=f32
    LiteRT int8 (XNNPACK)  ai-edge-litert Interpreter(num_threads=T) on the twin

Every measurement runs in a fresh child process (`nibble bench`, or this script
with --worker), so peak memory is measured the same way for all: the child's own
peak RSS (VmHWM; nibble prints it as peak_mem_mb), and its growth while loading
the model and running it (the peak from the moment the runtime library is loaded,
minus the RSS then; for nibble: peak_mem_mb minus that of `nibble bench` on a
one-node model). Every child warms up for --warmup runs and at least --warmup-ms
(50 ms): a fresh process's worker threads can sit queued behind the main thread
for its first milliseconds, longer than all the runs of the Fashion-MNIST CNN.
Reported: the median of the round medians, and peer_ms / nibble_int8_ms (> 1
means nibble int8 is faster). Before each group of multi-thread timings a probe
(build/bench/nibble_core_round_trip) times a cache line's round trip between
the first two CPUs; the environment table lists what it read: on a host that
moves its vCPUs between dies (about 50 ns on one die, 300+ across), the
2-thread times depend on where the CPUs were.

Each model's compute floor: its multiply-accumulates (Conv, Gemm, MatMul, from
ONNX shape inference) at the peak of the threads on the zmm vpdpbusd (without
AVX-512 VNNI: AVX2's vpmaddwd + vpaddd, nibble's exact int16 products), which
build/bench/nibble_bench_qgemm measures first (--qgemm-bench): one thread's,
and at 2 threads that of two threads running the loop at once (two vCPUs may
be the hyperthreads of one core, or share it with other guests, and then give
less than twice one's); nibble's best round is given as a multiple of it.
Below the amx level nibble's int8 convs multiply with that instruction, so no
kernel of theirs can beat the floor.

Last, `nibble bench --profile` on the float and on nibble's int8 model: nodes are
matched by name (nibble's quantized Conv keeps the float node's name) and any
int8 node slower than its float twin is listed.

    .venv/bin/python bench/compare.py                                  # all models, 1 and 2 threads
    .venv/bin/python bench/compare.py --models fashion_cnn --threads 1 --quick   # smoke test (seconds)
    .venv/bin/python bench/compare.py --models resnet18,mobilenetv2,fashion_cnn --threads 1 2 \\
        --runs 20 --warmup 5 --rounds 3 --write-docs docs/benchmarks.md

Progress goes to stderr; the environment and the tables to stdout. A runtime that
is not installed, or fails on a model, is a row saying so, never a crash.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
import benchlib  # noqa: E402

DOC_BEGIN, DOC_END = "<!-- int8-compare:begin -->", "<!-- int8-compare:end -->"
MODELS = ("resnet18", "mobilenetv2", "fashion_cnn")
FASHION_MODEL = REPO_ROOT / "models" / "fashion_cnn.onnx"
CHILD_TIMEOUT_S = 1800
# An int8 node counts as slower than float past both of these (--profile prints ms to 3 decimals, one run).
SLOWER_RATIO, SLOWER_MS = 1.10, 0.002
QUICK = {"runs": 5, "warmup": 1, "warmup_ms": 0.0, "rounds": 1, "profile_runs": 5, "calib_size": 8}


@dataclass(frozen=True)
class Peer:
    label: str
    engine: str        # nibble, ort, openvino, litert
    model: str         # which file: float, nibble_int8, ort_int8, tflite_int8
    module: str = ""   # Python module the engine needs (checked before measuring)


PEERS = (
    Peer("nibble int8", "nibble", "nibble_int8"),
    Peer("nibble float", "nibble", "float"),
    Peer("ORT int8 (ORT QDQ)", "ort", "ort_int8", "onnxruntime"),
    Peer("ORT int8 (nibble QDQ)", "ort", "nibble_int8", "onnxruntime"),
    Peer("ORT int8 exact (ORT QDQ)", "ort_exact", "ort_int8", "onnxruntime"),
    Peer("ORT float", "ort", "float", "onnxruntime"),
    Peer("OpenVINO int8 (ORT QDQ)", "openvino", "ort_int8", "openvino"),
    Peer("OpenVINO int8 (nibble QDQ)", "openvino", "nibble_int8", "openvino"),
    Peer("OpenVINO float", "openvino", "float", "openvino"),
    Peer("LiteRT int8 (XNNPACK)", "litert", "tflite_int8", "ai_edge_litert"),
)
BASELINE = PEERS[0]
ENGINE_NAMES = {"ort": "ONNX Runtime", "ort_exact": "ONNX Runtime (x64quantprecision)", "openvino": "OpenVINO", "litert": "LiteRT", "nibble": "nibble"}


# ---- child processes and their memory ---------------------------------------------------

@dataclass
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def fmt_ms(ms: float) -> str:
    """Milliseconds with 3 decimals, or 4 below 0.1 ms (the Fashion-MNIST CNN runs in about 0.016 ms)."""
    return f"{ms:.3f}" if ms >= 0.1 else f"{ms:.4f}"


def run_child(cmd: list[str], timeout: float = CHILD_TIMEOUT_S) -> ChildResult:
    # Memory is what each child reports of itself (VmHWM): wait4's ru_maxrss of a child of this
    # process would include this (large) process's pages, counted when the child was forked.
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return ChildResult(-9, str(e.stdout or ""), str(e.stderr or ""), True)
    return ChildResult(p.returncode, p.stdout, p.stderr)


def last_lines(text: str, n: int = 6) -> str:
    # Progress lines end in \r; keep the last thing printed on each line.
    return " / ".join(line.split("\r")[-1].strip() for line in text.strip().splitlines()[-n:])


def proc_status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ---- the worker: one runtime, one model, in this (child) process --------------------------

def random_input(shape, rng: np.random.Generator) -> np.ndarray:
    """Uniform [-1, 1) float32, dynamic dims as 1: what `nibble bench` feeds."""
    dims = [int(d) if isinstance(d, (int, np.integer)) and d > 0 else 1 for d in shape]
    return rng.uniform(-1.0, 1.0, dims).astype(np.float32)


def time_runs(run, runs: int, warmup: int, warmup_ms: float = 0.0) -> list[float]:
    """`warmup` untimed runs, continued until `warmup_ms` have passed; then `runs` timed ones (ms each)."""
    t_end = time.perf_counter() + warmup_ms / 1e3
    done = 0
    while done < warmup or time.perf_counter() < t_end:
        run()
        done += 1
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def loaded() -> float:
    """RSS now that the runtime library is imported; the peak is counted again from here."""
    rss = proc_status_mb("VmRSS")
    reset_peak_rss()
    return rss


def worker_ort(model: str, threads: int, exact: bool = False) -> tuple:
    import onnxruntime as ort
    rss0 = loaded()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if exact:  # ORT int8 exact: u8 x s8 products that cannot saturate (see the module's docstring)
        opts.add_session_config_entry("session.x64quantprecision", "1")
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    feeds = {i.name: random_input(i.shape, np.random.default_rng(0)) for i in sess.get_inputs()}
    return rss0, (lambda: sess.run(None, feeds)), {"version": ort.__version__}


def openvino_config(threads: int) -> dict:
    return {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32"}


def worker_openvino(model: str, threads: int) -> tuple:
    import openvino as ov
    rss0 = loaded()
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model), "CPU", openvino_config(threads))
    request = compiled.create_infer_request()
    feeds = {i: random_input(list(p.get_partial_shape().get_min_shape()), np.random.default_rng(0))
             for i, p in enumerate(compiled.inputs)}
    info = {"version": ov.__version__,
            "precision": compiled.get_property("INFERENCE_PRECISION_HINT").to_string(),
            "threads": str(compiled.get_property("INFERENCE_NUM_THREADS")),
            "streams": str(compiled.get_property("NUM_STREAMS"))}
    return rss0, (lambda: request.infer(feeds)), info


def worker_litert(model: str, threads: int) -> tuple:
    from ai_edge_litert import interpreter as litert
    rss0 = loaded()
    # The default resolver (AUTO) applies the XNNPACK delegate; its "Created TensorFlow Lite XNNPACK
    # delegate" line on stderr is how the parent checks that it did.
    interp = litert.Interpreter(model_path=model, num_threads=threads)
    interp.allocate_tensors()
    inputs = [(d["index"], random_input(list(d["shape"]), np.random.default_rng(0)))
              for d in interp.get_input_details()]

    def run():
        for index, x in inputs:
            interp.set_tensor(index, x)
        interp.invoke()
    version = getattr(litert, "__version__", "") or _dist_version("ai-edge-litert")
    return rss0, run, {"version": version}


def _dist_version(dist: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


WORKERS = {"ort": worker_ort, "ort_exact": lambda model, threads: worker_ort(model, threads, exact=True),
           "openvino": worker_openvino, "litert": worker_litert}


def worker_main(engine: str, model: str, threads: int, runs: int, warmup: int, warmup_ms: float = 0.0) -> int:
    """Load, time, and print one JSON line: median_ms, peak_rss_mb (the process's), growth_mb (over
    the RSS with the runtime library loaded), info."""
    hwm_import = proc_status_mb("VmHWM")  # before loaded() resets it: importing may peak higher
    rss0, run, info = WORKERS[engine](model, threads)
    times = time_runs(run, runs, warmup, warmup_ms)
    peak = proc_status_mb("VmHWM")
    print(json.dumps({"median_ms": statistics.median(times), "peak_rss_mb": max(peak, hwm_import),
                      "growth_mb": peak - rss0, "info": info}), flush=True)
    return 0


# ---- measuring from the parent --------------------------------------------------------------

@dataclass
class Sample:
    median_ms: float
    peak_rss_mb: float
    growth_mb: float
    info: dict = field(default_factory=dict)


class MeasureError(Exception):
    pass


_NIBBLE_IDLE_MB: dict[str, float] = {}


def nibble_idle_mb(nibble: Path, work: Path) -> float:
    """peak_mem_mb of `nibble bench` on a one-node model: nibble loaded, next to no model."""
    if str(nibble) not in _NIBBLE_IDLE_MB:
        import onnx
        from onnx import TensorProto, helper
        path = work / "one_relu.onnx"
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "one_relu",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
        f, _ = benchlib.nibble_bench(nibble, path, 1, 1, 0, 60)
        _NIBBLE_IDLE_MB[str(nibble)] = f.get("peak_mem_mb", 0.0)
    return _NIBBLE_IDLE_MB[str(nibble)]


def measure_nibble(nibble: Path, model: Path, threads: int, runs: int, warmup: int,
                   warmup_ms: float = 0.0) -> Sample:
    try:
        f, out = benchlib.nibble_bench(nibble, model, threads, runs, warmup, CHILD_TIMEOUT_S, warmup_ms=warmup_ms)
    except benchlib.NibbleBenchError as e:
        raise MeasureError(last_lines(str(e))) from None
    peak = f.get("peak_mem_mb", float("nan"))
    cpu = next((line.split("cpu:", 1)[1].strip() for line in out.splitlines() if "cpu:" in line), "")
    return Sample(f["median_ms"], peak, peak - nibble_idle_mb(nibble, model.parent), {"cpu": cpu})


def measure_python(engine: str, model: Path, threads: int, runs: int, warmup: int,
                   warmup_ms: float = 0.0) -> Sample:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, str(model),
           str(threads), str(runs), str(warmup), f"{warmup_ms:g}"]
    r = run_child(cmd)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    if r.timed_out or r.returncode != 0 or not line.startswith("{"):
        why = f"timed out after {CHILD_TIMEOUT_S} s" if r.timed_out else f"exit code {r.returncode}"
        err = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        # The exception's last line is the message; keep the lines of it that say what failed.
        raise MeasureError(f"{ENGINE_NAMES[engine]} on {model.name}: {why}: "
                           f"{' / '.join(err[-3:])[:600] if err else last_lines(r.stdout)}")
    d = json.loads(line)
    info = d["info"]
    if engine == "litert":
        info["xnnpack"] = "XNNPACK delegate" in r.stderr
    return Sample(d["median_ms"], d["peak_rss_mb"], d["growth_mb"], info)


def measure(peer: Peer, files: dict[str, Path], nibble: Path, threads: int, runs: int, warmup: int,
            warmup_ms: float = 0.0) -> Sample:
    model = files[peer.model]
    if peer.engine == "nibble":
        return measure_nibble(nibble, model, threads, runs, warmup, warmup_ms)
    return measure_python(peer.engine, model, threads, runs, warmup, warmup_ms)


# ---- the models: float, calibration data, nibble's and ORT's int8, the LiteRT twin -----------

def calibration_file(name: str, path: Path, n: int) -> Path:
    if name == "fashion_cnn":
        import quant_accuracy
        np.save(path, quant_accuracy.calibration_arrays(n))
    else:
        np.save(path, np.random.default_rng(0).standard_normal((n, 3, 224, 224), dtype=np.float32))
    return path


def float_model(name: str, work: Path) -> Path:
    if name == "fashion_cnn":
        return FASHION_MODEL
    import make_models
    return Path(make_models.write_model(name, str(work)))


def nibble_quantize(nibble: Path, model: Path, calib: Path, out: Path) -> None:
    cmd = [str(nibble), "quantize", str(model), "--calib", str(calib), "-o", str(out)]
    r = run_child(cmd, 900)
    if r.returncode != 0 or not out.exists():
        raise MeasureError(f"`{' '.join(cmd)}`: exit code {r.returncode}: {last_lines(r.stderr)}")


def ort_quantize(model: Path, calib: Path, pre: Path, out: Path) -> None:
    """quant_pre_process, then quantize_static: QDQ, per-channel, QUInt8 activations, QInt8 weights, MinMax."""
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    quant_pre_process(str(model), str(pre))
    samples = np.load(calib)
    input_name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            # One sample per feed: the 224x224 models have a fixed batch of 1.
            self._feeds = iter([{input_name: samples[i:i + 1]} for i in range(len(samples))])

        def get_next(self):
            return next(self._feeds, None)

    with contextlib.redirect_stdout(io.StringIO()):
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)


@dataclass
class ModelFiles:
    name: str
    files: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)   # file kind -> why it is not there
    notes: list[str] = field(default_factory=list)


def prepare(name: str, args, work: Path) -> ModelFiles:
    mf = ModelFiles(name)
    mf.files["float"] = float_model(name, work)
    calib = calibration_file(name, work / f"{name}.calib.npy", args.calib_size)
    steps = (("nibble_int8", lambda out: nibble_quantize(args.nibble, mf.files["float"], calib, out)),
             ("ort_int8", lambda out: ort_quantize(mf.files["float"], calib, work / f"{name}.ort_pre.onnx", out)))
    for kind, make in steps:
        out = work / f"{name}.{kind}.onnx"
        out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            make(out)
            progress(f"  {name}: {kind} in {time.perf_counter() - t0:.1f} s ({out.stat().st_size} bytes)")
            mf.files[kind] = out
        except Exception as e:  # noqa: BLE001 - a quantizer that fails is a result
            mf.missing[kind] = f"{type(e).__name__}: {str(e).strip()[:400]}"
            progress(f"  {name}: {kind} FAILED: {mf.missing[kind]}")
    prepare_litert(mf, work)
    return mf


def prepare_litert(mf: ModelFiles, work: Path) -> None:
    if importlib.util.find_spec("ai_edge_litert") is None:
        mf.missing["tflite_int8"] = "ai-edge-litert is not installed (pip install -r scripts/requirements.txt)"
        return
    if "ort_int8" not in mf.files:
        mf.missing["tflite_int8"] = "no ORT QDQ model to make the twin from"
        return
    out = work / f"{mf.name}.int8.tflite"
    try:
        qdq_to_tflite(mf.files["ort_int8"], out)
        err = twin_check(mf.files["ort_int8"], out)
        mf.files["tflite_int8"] = out
        mf.notes.append(f"LiteRT twin of ORT's QDQ model: largest |difference| of the outputs on one random "
                        f"input {err:.3g} of the output range")
        progress(f"  {mf.name}: tflite_int8 ({out.stat().st_size} bytes; vs ORT on its QDQ model: {err:.3g})")
    except TwinUnsupported as e:
        mf.missing["tflite_int8"] = f"no TFLite twin: {e}"
    except Exception as e:  # noqa: BLE001
        mf.missing["tflite_int8"] = f"no TFLite twin: {type(e).__name__}: {str(e)[:300]}"
    if "tflite_int8" in mf.missing:
        progress(f"  {mf.name}: {mf.missing['tflite_int8']}")


# ---- the LiteRT twin: ORT's QDQ ONNX -> int8 TFLite, written with the flatbuffer schema ----------

class TwinUnsupported(Exception):
    pass


class TfliteWriter:
    """Accumulates tensors, buffers, operator codes and operators of one int8 TFLite subgraph."""

    VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "MAX_POOL_2D": 2, "ADD": 2,
                "MEAN": 2, "RESHAPE": 1, "PAD": 2, "PADV2": 2, "QUANTIZE": 2, "DEQUANTIZE": 2}

    def __init__(self):
        from ai_edge_litert import schema_py_generated as fb
        self.fb = fb
        self.tensors, self.operators, self.opcodes = [], [], []
        self.buffers = [fb.BufferT()]  # buffer 0: the empty buffer of every non-constant tensor

    def tensor(self, name: str, shape, dtype: str, scale=None, zero_point=None, axis: int = 0,
               data: np.ndarray | None = None) -> int:
        fb = self.fb
        t = fb.TensorT()
        t.name = name.encode()
        t.shape = np.asarray(shape, np.int32)
        t.type = {"float32": fb.TensorType.FLOAT32, "int8": fb.TensorType.INT8,
                  "int32": fb.TensorType.INT32}[dtype]
        t.buffer = 0
        if data is not None:
            b = fb.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: str, inputs: list[int], outputs: list[int], options_type: str = "", options=None) -> None:
        fb = self.fb
        builtin = getattr(fb.BuiltinOperator, code)
        key = (builtin, self.VERSIONS[code])
        if key not in self.opcodes:
            self.opcodes.append(key)
        o = fb.OperatorT()
        o.opcodeIndex = self.opcodes.index(key)
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType = getattr(fb.BuiltinOptions, options_type)
            o.builtinOptions = options
        self.operators.append(o)

    def options(self, cls: str, **fields):
        o = getattr(self.fb, cls)()
        for k, v in fields.items():
            setattr(o, k, v)
        return o

    def write(self, path: Path, inputs: list[int], outputs: list[int]) -> None:
        import flatbuffers
        fb = self.fb
        sg = fb.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = self.tensors, self.operators, inputs, outputs
        sg.name = b"main"
        codes = []
        for builtin, version in self.opcodes:
            c = fb.OperatorCodeT()
            c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), version
            codes.append(c)
        m = fb.ModelT()
        m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, codes, [sg], self.buffers
        m.description = b"nibble bench/compare.py: LiteRT twin of an ONNX QDQ model"
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        path.write_bytes(builder.Output())


def qdq_to_tflite(src: Path, out: Path) -> None:
    """Rewrite a QDQ ONNX model (ORT's quantizer output: Conv, Gemm, MaxPool, Add, GlobalAveragePool,
    Flatten/Reshape, Relu/Clip) as an int8 TFLite model with the same quantization parameters.
    Raises TwinUnsupported for anything else."""
    import onnx
    from onnx import numpy_helper
    m = onnx.shape_inference.infer_shapes(onnx.load(str(src)))
    g = m.graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim]
              for v in list(g.value_info) + list(g.input) + list(g.output)}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    w = TfliteWriter()
    fb = w.fb
    tensor_of: dict[str, int] = {}       # ONNX QuantizeLinear output -> TFLite int8 tensor
    nchw_flatten: dict[str, tuple] = {}  # a flattened tensor whose NCHW order differs from NHWC: (C, H, W)

    def qparams(q_node):
        scale = init[q_node.input[1]]
        zp = init[q_node.input[2]] if len(q_node.input) > 2 else np.zeros_like(scale, np.uint8)
        return scale.astype(np.float32), zp

    def nhwc(shape):
        return [shape[0], shape[2], shape[3], shape[1]] if len(shape) == 4 else shape

    def activation_tensor(q_out: str) -> int:
        """The TFLite int8 tensor for a QuantizeLinear output (created on first use)."""
        if q_out not in tensor_of:
            q = producer[q_out]
            scale, zp = qparams(q)
            if scale.size != 1:
                raise TwinUnsupported(f"per-channel activation quantization at {q_out}")
            zp8 = int(zp) - 128 if zp.dtype == np.uint8 else int(zp)
            tensor_of[q_out] = w.tensor(q_out, nhwc(shapes.get(q_out, shapes.get(q.input[0], []))), "int8",
                                        scale, zp8)
        return tensor_of[q_out]

    def input_of(name: str) -> tuple[str, int]:
        """A compute node's activation input (a DequantizeLinear output) -> (its Q output name, TFLite tensor)."""
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] in init:
            raise TwinUnsupported(f"input {name} is not a quantized activation")
        return dq.input[0], activation_tensor(dq.input[0])

    def const_of(name: str):
        """A DequantizeLinear of an initializer -> (integer values, scale, zero point, axis)."""
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in init:
            raise TwinUnsupported(f"{name} is not a quantized constant")
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        zp = init[dq.input[2]] if len(dq.input) > 2 else np.zeros(1, np.int8)
        return init[dq.input[0]], init[dq.input[1]].astype(np.float32), zp, axis

    def output_of(node) -> tuple[int, int]:
        """The node's output as the TFLite tensor of the QuantizeLinear after it, and the fused activation
        (a Relu or Clip(0, 6) between the node and that QuantizeLinear)."""
        act, name = fb.ActivationFunctionType.NONE, node.output[0]
        users = consumers.get(name, [])
        if len(users) == 1 and users[0].op_type in ("Relu", "Clip"):
            a = users[0]
            if a.op_type == "Clip":
                lo, hi = (float(init[a.input[i]]) if len(a.input) > i and a.input[i] else None for i in (1, 2))
                if (lo, hi) != (0.0, 6.0):
                    raise TwinUnsupported(f"Clip({lo}, {hi})")
            act = fb.ActivationFunctionType.RELU if a.op_type == "Relu" else fb.ActivationFunctionType.RELU6
            name, users = a.output[0], consumers.get(a.output[0], [])
        qs = [u for u in users if u.op_type == "QuantizeLinear"]
        if len(qs) != 1 or len(users) != 1:
            raise TwinUnsupported(f"the output of {node.name} is not quantized once")
        return activation_tensor(qs[0].output[0]), act

    def padding(node, in_hw, kernel, strides, tensor: int, pad_value: int | None) -> tuple[int, int]:
        """SAME or VALID when the ONNX pads are what TFLite would do; else an explicit PAD first."""
        pads = next((list(a.ints) for a in node.attribute if a.name == "pads"), [0, 0, 0, 0])
        if any(a.name == "auto_pad" and a.s not in (b"NOTSET", b"") for a in node.attribute):
            raise TwinUnsupported(f"auto_pad on {node.name}")
        if pads == [0, 0, 0, 0]:
            return tensor, fb.Padding.VALID
        same = []
        for size, k, s in zip(in_hw, kernel, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            same.append((total // 2, total - total // 2))
        if pads == [same[0][0], same[1][0], same[0][1], same[1][1]]:
            return tensor, fb.Padding.SAME
        src = w.tensors[tensor]
        shape = list(src.shape)
        padded_shape = [shape[0], shape[1] + pads[0] + pads[2], shape[2] + pads[1] + pads[3], shape[3]]
        padded = w.tensor(f"{node.name}.padded", padded_shape, "int8", src.quantization.scale,
                          src.quantization.zeroPoint)
        paddings = w.tensor(f"{node.name}.paddings", [4, 2], "int32",
                            data=np.array([[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]], np.int32))
        if pad_value is None:
            w.op("PAD", [tensor, paddings], [padded], "PadOptions", w.options("PadOptionsT"))
        else:
            value = w.tensor(f"{node.name}.pad_value", [], "int8", src.quantization.scale,
                             src.quantization.zeroPoint, data=np.array(pad_value, np.int8))
            w.op("PADV2", [tensor, paddings, value], [padded], "PadV2Options", w.options("PadV2OptionsT"))
        return padded, fb.Padding.VALID

    def attr(node, name, default=None):
        return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)

    def bias_tensor(node, name: str, scale: np.ndarray, channels: int) -> int:
        if len(node.input) > 2 and node.input[2]:
            q, bscale, _, _ = const_of(node.input[2])
            if q.dtype != np.int32:
                raise TwinUnsupported(f"{node.name}: bias is {q.dtype}, not int32")
            return w.tensor(f"{name}.bias", [channels], "int32", bscale * np.ones(channels, np.float32),
                            np.zeros(channels, np.int64), data=q.astype(np.int32))
        return w.tensor(f"{name}.bias", [channels], "int32", scale, np.zeros(channels, np.int64),
                        data=np.zeros(channels, np.int32))

    inputs, outputs = [], []
    for node in g.node:
        op = node.op_type
        if op in ("DequantizeLinear", "Relu", "Clip"):
            continue  # folded into their users / producers
        if op == "QuantizeLinear":
            if node.input[0] in [i.name for i in g.input]:  # the model input: float -> int8
                x = w.tensor(node.input[0], nhwc(shapes[node.input[0]]), "float32")
                w.op("QUANTIZE", [x], [activation_tensor(node.output[0])])
                inputs.append(x)
            continue
        if op == "Conv":
            x_name, x = input_of(node.input[0])
            wq, wscale, wzp, _ = const_of(node.input[1])
            if np.any(wzp != 0) or wq.dtype != np.int8:
                raise TwinUnsupported(f"{node.name}: weights are not symmetric int8")
            if attr(node, "dilations", [1, 1]) != [1, 1]:
                raise TwinUnsupported(f"{node.name}: dilated convolution")
            o_ch, i_per_group, kh, kw = wq.shape
            group = attr(node, "group", 1)
            strides = attr(node, "strides", [1, 1])
            in_shape = list(w.tensors[x].shape)
            y, act = output_of(node)
            bias = bias_tensor(node, node.name, wscale, o_ch)
            scale = np.broadcast_to(wscale, (o_ch,))
            x, pad = padding(node, in_shape[1:3], (kh, kw), strides, x, None)
            if group == 1:
                wt = w.tensor(f"{node.name}.weight", [o_ch, kh, kw, i_per_group], "int8", scale, np.zeros(o_ch, int),
                              axis=0, data=wq.transpose(0, 2, 3, 1))
                w.op("CONV_2D", [x, wt, bias], [y], "Conv2DOptions",
                     w.options("Conv2DOptionsT", padding=pad, strideH=strides[0], strideW=strides[1],
                               fusedActivationFunction=act))
            elif group == in_shape[3] and i_per_group == 1 and o_ch == group:
                wt = w.tensor(f"{node.name}.weight", [1, kh, kw, o_ch], "int8", scale, np.zeros(o_ch, int),
                              axis=3, data=wq.transpose(1, 2, 3, 0))
                w.op("DEPTHWISE_CONV_2D", [x, wt, bias], [y], "DepthwiseConv2DOptions",
                     w.options("DepthwiseConv2DOptionsT", padding=pad, strideH=strides[0], strideW=strides[1],
                               depthMultiplier=1, fusedActivationFunction=act))
            else:
                raise TwinUnsupported(f"{node.name}: grouped convolution (group {group})")
        elif op == "Gemm":
            x_name, x = input_of(node.input[0])
            wq, wscale, wzp, _ = const_of(node.input[1])
            if np.any(wzp != 0) or wq.dtype != np.int8 or attr(node, "transA", 0):
                raise TwinUnsupported(f"{node.name}: weights are not symmetric int8, or transA")
            if not attr(node, "transB", 0):
                wq = wq.T
            n_out, n_in = wq.shape
            if x_name in nchw_flatten:  # columns in NCHW order; the twin flattens NHWC
                c, h, wd = nchw_flatten[x_name]
                wq = wq.reshape(n_out, c, h, wd).transpose(0, 2, 3, 1).reshape(n_out, n_in)
            y, act = output_of(node)
            scale = np.broadcast_to(wscale, (n_out,))
            wt = w.tensor(f"{node.name}.weight", [n_out, n_in], "int8", scale, np.zeros(n_out, int), axis=0,
                          data=np.ascontiguousarray(wq))
            bias = bias_tensor(node, node.name, wscale, n_out)
            w.op("FULLY_CONNECTED", [x, wt, bias], [y], "FullyConnectedOptions",
                 w.options("FullyConnectedOptionsT", fusedActivationFunction=act))
        elif op == "MaxPool":
            x_name, x = input_of(node.input[0])
            if attr(node, "ceil_mode", 0) or attr(node, "dilations", [1, 1]) != [1, 1]:
                raise TwinUnsupported(f"{node.name}: ceil_mode or dilations")
            k, strides = attr(node, "kernel_shape"), attr(node, "strides", [1, 1])
            y, act = output_of(node)
            x, pad = padding(node, list(w.tensors[x].shape)[1:3], k, strides, x, -128)
            w.op("MAX_POOL_2D", [x], [y], "Pool2DOptions",
                 w.options("Pool2DOptionsT", padding=pad, strideH=strides[0], strideW=strides[1], filterHeight=k[0],
                           filterWidth=k[1], fusedActivationFunction=act))
        elif op == "Add":
            (_, a), (_, b) = input_of(node.input[0]), input_of(node.input[1])
            y, act = output_of(node)
            w.op("ADD", [a, b], [y], "AddOptions", w.options("AddOptionsT", fusedActivationFunction=act))
        elif op == "GlobalAveragePool":
            _, x = input_of(node.input[0])
            y, act = output_of(node)
            if act != fb.ActivationFunctionType.NONE:
                raise TwinUnsupported(f"{node.name}: activation after GlobalAveragePool")
            axes = w.tensor(f"{node.name}.axes", [2], "int32", data=np.array([1, 2], np.int32))
            w.op("MEAN", [x, axes], [y], "ReducerOptions", w.options("ReducerOptionsT", keepDims=True))
        elif op in ("Flatten", "Reshape"):
            x_name, x = input_of(node.input[0])
            shape = list(w.tensors[x].shape)
            if op == "Flatten" and attr(node, "axis", 1) != 1:
                raise TwinUnsupported(f"{node.name}: Flatten axis != 1")
            if op == "Reshape" and (node.input[1] not in init or init[node.input[1]].size != 2):
                raise TwinUnsupported(f"{node.name}: Reshape to anything but [N, -1]")
            y, _ = output_of(node)
            if len(shape) == 4 and (shape[1] != 1 or shape[2] != 1):
                qname = next(u.output[0] for u in consumers[node.output[0]] if u.op_type == "QuantizeLinear")
                nchw_flatten[qname] = (shape[3], shape[1], shape[2])
            new_shape = w.tensor(f"{node.name}.shape", [2], "int32", data=np.array([shape[0], -1], np.int32))
            w.tensors[y].shape = np.array([shape[0], int(np.prod(shape[1:]))], np.int32)
            w.op("RESHAPE", [x, new_shape], [y], "ReshapeOptions", w.options("ReshapeOptionsT", newShape=[shape[0], -1]))
        else:
            raise TwinUnsupported(f"ONNX op {op} ({node.name})")
    for o in g.output:
        dq = producer.get(o.name)
        if dq is None or dq.op_type != "DequantizeLinear":
            raise TwinUnsupported(f"output {o.name} is not dequantized")
        y = w.tensor(o.name, list(w.tensors[activation_tensor(dq.input[0])].shape), "float32")
        w.op("DEQUANTIZE", [activation_tensor(dq.input[0])], [y])
        outputs.append(y)
    if len(inputs) != 1:
        raise TwinUnsupported("the model input is not quantized by one QuantizeLinear")
    w.write(out, inputs, outputs)


def twin_check(qdq: Path, tflite: Path) -> float:
    """Largest |LiteRT twin - ORT on the QDQ model| over one random input, relative to ORT's output range."""
    import onnxruntime as ort
    from ai_edge_litert import interpreter as litert
    sess = ort.InferenceSession(str(qdq), providers=["CPUExecutionProvider"])
    x = random_input(sess.get_inputs()[0].shape, np.random.default_rng(1))
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    interp = litert.Interpreter(model_path=str(tflite), num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x.transpose(0, 2, 3, 1) if x.ndim == 4 else x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"]).reshape(ref.shape)
    return float(np.abs(got - ref).max() / max(float(ref.max() - ref.min()), 1e-30))


# ---- per-layer check: int8 nodes slower than float ones -----------------------------------------

@dataclass
class LayerCheck:
    model: str
    threads: int
    slower: list = field(default_factory=list)      # (name, op, float ms, int8 ms, certain)
    matched: int = 0
    int8_listed: int = 0
    int8_nodes: int = 0
    int8_only: list = field(default_factory=list)   # (name, op, ms): no float node of that name
    error: str = ""


def parse_op_counts(text: str) -> int:
    """How many nodes `nibble bench --profile` timed (the "(N nodes)" of its by-op-type lines)."""
    import re
    return sum(int(n) for n in re.findall(r"\((\d+) nodes\)", text))


def layer_check(nibble: Path, mf: ModelFiles, threads: int, runs: int, warmup_ms: float = 0.0) -> LayerCheck:
    import onnx
    lc = LayerCheck(mf.name, threads)
    if "nibble_int8" not in mf.files:
        lc.error = "no nibble int8 model"
        return lc
    float_names = {n.name for n in onnx.load(str(mf.files["float"]), load_external_data=False).graph.node}
    prof = {}
    for kind in ("float", "nibble_int8"):
        try:
            _, out = benchlib.nibble_bench(nibble, mf.files[kind], threads, runs, 1, CHILD_TIMEOUT_S, profile=True,
                                           warmup_ms=warmup_ms)
        except benchlib.NibbleBenchError as e:
            lc.error = str(e).replace("\n", " / ")[:400]
            return lc
        prof[kind] = (benchlib.parse_profile(out), parse_op_counts(out))
    (fl, fl_count), (q, q_count) = prof["float"], prof["nibble_int8"]
    lc.int8_listed, lc.int8_nodes = len(q), q_count
    # A node missing from a list that was cut short took at most the list's fastest time.
    fl_floor = min((ms for _, ms in fl.values()), default=0.0) if len(fl) < fl_count else 0.0
    for name, (op, ms) in q.items():
        if name in fl:
            lc.matched += 1
            if ms > fl[name][1] * SLOWER_RATIO and ms - fl[name][1] >= SLOWER_MS:
                lc.slower.append((name, op, fl[name][1], ms, True))
        elif name in float_names:
            if ms > fl_floor * SLOWER_RATIO and ms - fl_floor >= SLOWER_MS:  # float <= fl_floor < int8
                lc.slower.append((name, op, fl_floor, ms, False))
        else:
            lc.int8_only.append((name, op, ms))
    return lc


# ---- the run --------------------------------------------------------------------------------

def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Results:
    samples: dict = field(default_factory=dict)     # (model, peer label, threads) -> [Sample]
    errors: dict = field(default_factory=dict)      # (model, peer label) -> message
    infos: dict = field(default_factory=dict)       # engine -> info dict of a child
    checks: list = field(default_factory=list)      # LayerCheck
    round_trips: list = field(default_factory=list)  # (round, model, ns or None) before each multi-thread group
    int8_peak: dict = field(default_factory=dict)   # threads -> GOP/s of the floor's instruction together (int8_peak_gops)
    int8_peak_instr: str = ""                       # which instruction that is


def not_available(peer: Peer, mf: ModelFiles) -> str:
    """Why this peer cannot run on this model ("" when it can)."""
    if peer.module and importlib.util.find_spec(peer.module) is None:
        return f"{peer.module} is not installed (pip install -r scripts/requirements.txt)"
    if peer.model not in mf.files:
        return mf.missing.get(peer.model, f"no {peer.model} model")
    return ""


# Above this CPU-to-CPU round trip the two CPUs share no cache (different
# dies); on this project's 2-vCPU machines it reads about 50 or 300-350 ns.
CROSS_DIE_NS = 150.0


def core_round_trip(probe: Path) -> float | None:
    """bench/core_round_trip.cc's cache-line round trip between the first two CPUs, ns (None: not measured)."""
    if not probe.exists():
        return None
    try:
        p = subprocess.run([str(probe)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"round_trip_ns=([0-9.]+)", p.stdout)
    return float(m.group(1)) if m else None


def run_rounds(args, peers: list[Peer], prepared: list[ModelFiles], res: Results) -> None:
    for rnd in range(args.rounds):
        for mf in prepared:
            for t in args.threads:
                if t > 1:
                    res.round_trips.append((rnd, mf.name, core_round_trip(args.core_probe)))
                # Rotate the order every round, so no runtime always follows the same one.
                shift = (rnd * 3) % len(peers)
                for peer in peers[shift:] + peers[:shift]:
                    if (mf.name, peer.label) in res.errors:
                        continue
                    why = not_available(peer, mf)
                    if why:
                        res.errors[(mf.name, peer.label)] = why
                        continue
                    try:
                        s = measure(peer, mf.files, args.nibble, t, args.runs, args.warmup, args.warmup_ms)
                    except MeasureError as e:
                        res.errors[(mf.name, peer.label)] = str(e)
                        progress(f"  {mf.name} {peer.label} threads={t}: FAILED: {e}")
                        continue
                    res.samples.setdefault((mf.name, peer.label, t), []).append(s)
                    res.infos.setdefault(peer.engine, s.info)
                    progress(f"round {rnd + 1}/{args.rounds} {mf.name} threads={t} {peer.label}: "
                             f"{fmt_ms(s.median_ms)} ms, peak RSS {s.peak_rss_mb:.0f} MB")


# ---- report ---------------------------------------------------------------------------------

def versions() -> list[tuple[str, str]]:
    from importlib import metadata
    rows = []
    for label, dist in (("ONNX Runtime", "onnxruntime"), ("onnx", "onnx"), ("OpenVINO", "openvino"),
                        ("LiteRT (ai-edge-litert)", "ai-edge-litert"), ("numpy", "numpy")):
        try:
            rows.append((label, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            rows.append((label, "not installed"))
    return rows


def environment(args) -> list[tuple[str, str]]:
    return benchlib.environment(
        ", ".join(map(str, args.threads)), versions=versions(), variables=benchlib.ALL_STEERING_VARS,
        extra=[("nibble", str(args.nibble)),
               ("method", f"{args.rounds} interleaved rounds x {args.runs} runs after {args.warmup} warm-up runs "
                          f"(continued until {args.warmup_ms:g} ms had passed), "
                          "batch 1, each in a fresh child process; median of round medians"),
               ("calibration", f"{args.calib_size} samples: random normal (seed 0) for the 224x224 models, "
                               "the first Fashion-MNIST training images for fashion_cnn")])


def run_info(res: Results) -> list[tuple[str, str]]:
    """What the children reported about the code paths they took."""
    rows = []
    if "nibble" in res.infos:
        rows.append(("nibble cpu (from nibble bench)", res.infos["nibble"].get("cpu", "")))
    if "openvino" in res.infos:
        i = res.infos["openvino"]
        rows.append(("OpenVINO CPU plugin", f"inference precision {i.get('precision')}, streams {i.get('streams')}, "
                                            "PERFORMANCE_HINT=LATENCY, INFERENCE_NUM_THREADS=threads"))
    if "litert" in res.infos:
        rows.append(("LiteRT", "XNNPACK delegate applied" if res.infos["litert"].get("xnnpack")
                     else "XNNPACK delegate NOT reported by the interpreter"))
    if "ort" in res.infos or "ort_exact" in res.infos:
        rows.append(("ONNX Runtime session", "CPUExecutionProvider, intra_op_num_threads=threads, "
                                             "inter_op_num_threads=1, sequential, default graph optimizations; "
                                             "ORT int8 exact: session.x64quantprecision=1 as well"))
    return rows


def round_trip_row(res: Results) -> list[tuple[str, str]]:
    """Where the host had put the two CPUs while the multi-thread groups ran."""
    if not res.round_trips:
        return []
    got = [ns for _, _, ns in res.round_trips if ns is not None]
    if not got:
        return [("CPU round trip", "not measured (build/bench/nibble_core_round_trip missing)")]
    cross = sum(ns > CROSS_DIE_NS for ns in got)
    listed = ", ".join(f"{ns:.0f}" for ns in got)
    return [("CPU round trip before each multi-thread group (ns)",
             f"{listed}: {cross} of {len(got)} above {CROSS_DIE_NS:.0f} ns, i.e. with the two CPUs on different "
             "dies (no shared cache), where every runtime's 2-thread times rise, nibble's most")]


def median_of(res: Results, model: str, label: str, t: int) -> Sample | None:
    s = res.samples.get((model, label, t))
    if not s:
        return None
    return Sample(statistics.median(x.median_ms for x in s), max(x.peak_rss_mb for x in s),
                  max(x.growth_mb for x in s))


def best_round_ms(res: Results, model: str, label: str, t: int) -> float | None:
    """The fastest round median: on a machine whose speed changes in phases (a co-tenant on the core's sibling
    thread halved every runtime's speed for minutes at a time here), runtimes compare in the same fast phase."""
    s = res.samples.get((model, label, t))
    return min(x.median_ms for x in s) if s else None


def results_table(res: Results, args, peers: list[Peer], prepared: list[ModelFiles]) -> list[str]:
    lines = ["| model | runtime | threads | median ms | peer / nibble int8 | peak RSS MB | growth MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for mf in prepared:
        for peer in peers:
            err = res.errors.get((mf.name, peer.label))
            if err and not any((mf.name, peer.label, t) in res.samples for t in args.threads):
                cell = "not measured" if peer.model in mf.missing or "not installed" in err else "error"
                lines.append(f"| {mf.name} | {peer.label} | | {cell}: {err.splitlines()[0][:300]} | | | |")
                continue
            for t in args.threads:
                s, base = median_of(res, mf.name, peer.label, t), median_of(res, mf.name, BASELINE.label, t)
                if s is None:
                    continue
                ratio = "1.00 (baseline)" if peer == BASELINE else (f"{s.median_ms / base.median_ms:.2f}" if base else "")
                lines.append(f"| {mf.name} | {peer.label} | {t} | {fmt_ms(s.median_ms)} | {ratio} | {s.peak_rss_mb:.0f} "
                             f"| {s.growth_mb:.1f} |")
    return lines


def model_macs(float_path: Path) -> int:
    """Multiply-accumulates of one batch-1 run of a float model (dynamic input dims taken as 1):
    its Conv, Gemm and MatMul nodes (output elements times the weight elements each one reads),
    from ONNX shape inference."""
    import onnx
    m = onnx.load(str(float_path))
    for vi in m.graph.input:  # batch 1: named (dynamic) dims of the inputs become 1
        for d in vi.type.tensor_type.shape.dim:
            if not d.dim_value:
                d.dim_value = 1
    m = onnx.shape_inference.infer_shapes(m)
    g = m.graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in [*g.value_info, *g.input, *g.output]}
    shapes.update({t.name: list(t.dims) for t in g.initializer})
    macs = 0
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or len(n.input) < 2:
            continue
        out, w = shapes.get(n.output[0]), shapes.get(n.input[1])
        if not out or not w or any(d <= 0 for d in out + w):
            continue
        # Conv: each output reads C/group * kernel weights; Gemm/MatMul: each output reads K.
        per_output = int(np.prod(w[1:])) if n.op_type == "Conv" else (w[-1] if n.op_type == "Gemm" and any(
            a.name == "transB" and a.i for a in n.attribute) else w[-2])
        macs += int(np.prod(out)) * per_output
    return macs


# The instruction nibble's int8 convs run on, by the level nibble_bench_qgemm names its peak
# rows after, best first: with AVX-512 VNNI the zmm vpdpbusd (the amx level's tile products
# can beat it), else AVX2's exact int16 products.
PEAK_LEVELS = (("avx512vnni", "zmm vpdpbusd"), ("avx2", "AVX2 vpmaddwd + vpaddd"))
# What can go below that floor.
PEAK_BEATEN_BY = {
    "zmm vpdpbusd": "an amx machine's tile products can beat it",
    # vpmaddubsw adds two u8 x s8 products in int16, which saturates (255 * 127 * 2 > 32767): one
    # such instruction and a vpmaddwd by ones do 32 multiply-accumulates where nibble's exact
    # int16 products take two vpmaddwd and two vpaddd.
    "AVX2 vpmaddwd + vpaddd": "ONNX Runtime's and oneDNN's vpmaddubsw products, exact only while no pair of "
                              "products passes 32767, can beat it",
}


def int8_peak_gops(bench: Path) -> tuple[str, dict[int, float]]:
    """The peaks (GOP/s) of the best int8 instruction this CPU has (PEAK_LEVELS) that
    nibble_bench_qgemm measures, by threads running the loop at once: (its name,
    {1: one thread's, 2: two threads' summed}) (2 only with two usable CPUs); ("", {})
    without the binary or without AVX2."""
    if not (bench.is_file() and os.access(bench, os.X_OK)):
        return "", {}
    try:
        rows = benchlib.google_benchmark(bench, "^peak2?/(" + "|".join(l for l, _ in PEAK_LEVELS) + ")/",
                                         timeout=300)
    except benchlib.BenchmarkError:
        return "", {}
    for level, instr in PEAK_LEVELS:
        peaks = {}
        for r in rows:
            kind, _, rest = r["name"].partition("/")
            if rest.split("/")[0] == level and isinstance(r.get("GOPS"), (int, float)) and r["GOPS"] > 0:
                peaks[2 if kind == "peak2" else 1] = float(r["GOPS"])
        if 1 in peaks:
            return instr, peaks
    return "", {}


def peak_for_threads(peaks: dict[int, float], threads: int) -> tuple[float, bool]:
    """GOP/s of `threads` threads of the floor's instruction at once, and whether it was
    measured at that count: the measured peak where there is one, else threads x one
    thread's (int8_peak_gops always has one thread's)."""
    if threads in peaks:
        return peaks[threads], True
    return threads * peaks[1], False


def floor_lines(res: Results, args, prepared: list[ModelFiles]) -> list[str]:
    """Each model's compute floor on this machine: its multiply-accumulates at the measured
    peak per thread of the instruction nibble's int8 convs run on (PEAK_LEVELS),
    and nibble int8's best round against it."""
    if not res.int8_peak:
        return []
    one = res.int8_peak[1]
    peaks = [f"1 thread: {one:.0f} GOP/s"]
    for t in args.threads:
        if t > 1:
            gops, measured = peak_for_threads(res.int8_peak, t)
            peaks.append(f"{t} at once: {gops:.0f} GOP/s, {gops / one:.2f}x one thread's" if measured
                         else f"{t}: {gops:.0f} GOP/s, {t} x one thread's (not measured at {t})")
    beats = PEAK_BEATEN_BY.get(res.int8_peak_instr, "")
    lines = [f"Compute floor: 2 x multiply-accumulates (Conv, Gemm, MatMul) / the {res.int8_peak_instr} peak of the "
             f"threads running together that `nibble_bench_qgemm` measured at the start of this run "
             f"({'; '.join(peaks)}): the time of the multiplies alone, below which no runtime on these instructions "
             f"can go. \"nibble Nx of it\": nibble int8's best round is N times the floor ({beats})."]
    for mf in prepared:
        macs = model_macs(mf.files["float"])
        if not macs:
            continue
        cells = []
        for t in args.threads:
            floor = 2 * macs / (peak_for_threads(res.int8_peak, t)[0] * 1e9) * 1e3
            nb = best_round_ms(res, mf.name, BASELINE.label, t)
            cells.append(f"{t} thread(s) {floor:.4g} ms" + (f", nibble {nb / floor:.2f}x of it" if nb else ""))
        lines.append(f"* {mf.name}: {macs / 1e9:.4g} G multiply-accumulates; floor " + "; ".join(cells) + ".")
    return lines


def summary_table(res: Results, args, prepared: list[ModelFiles]) -> list[str]:
    lines = ["| model | threads | nibble int8 ms | ORT float / nibble int8 | ORT int8 / nibble int8 "
             "| fastest int8 peer | its ms / nibble int8 | best rounds: nibble int8 ms | ORT int8 / nibble int8 "
             "| fastest int8 peer / nibble int8 |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    int8_peers = [p for p in PEERS if p.engine != "nibble" and "int8" in p.label]
    for mf in prepared:
        for t in args.threads:
            base = median_of(res, mf.name, BASELINE.label, t)
            if base is None:
                lines.append(f"| {mf.name} | {t} | error | | | | |")
                continue

            def ratio(label):
                s = median_of(res, mf.name, label, t)
                return f"{s.median_ms / base.median_ms:.2f}" if s else "n/a"
            timed = [(s.median_ms, p.label) for p in int8_peers if (s := median_of(res, mf.name, p.label, t))]
            best = min(timed) if timed else None
            nb = best_round_ms(res, mf.name, BASELINE.label, t)
            ort_b = best_round_ms(res, mf.name, "ORT int8 (ORT QDQ)", t)
            peers_b = [b for p in int8_peers if (b := best_round_ms(res, mf.name, p.label, t)) is not None]
            rounds = (f"| {fmt_ms(nb)} | {f'{ort_b / nb:.2f}' if ort_b else 'n/a'} "
                      f"| {f'{min(peers_b) / nb:.2f}' if peers_b else 'n/a'} |")
            lines.append(f"| {mf.name} | {t} | {fmt_ms(base.median_ms)} | {ratio('ORT float')} "
                         f"| {ratio('ORT int8 (ORT QDQ)')} | {best[1] if best else 'n/a'} "
                         f"| {best[0] / base.median_ms:.2f} " + rounds if best else
                         f"| {mf.name} | {t} | {fmt_ms(base.median_ms)} | {ratio('ORT float')} "
                         f"| {ratio('ORT int8 (ORT QDQ)')} | n/a | " + rounds)
    lines += ["", "best rounds: each runtime's fastest round median (the columns before: medians of the round "
              "medians). Where the machine's speed changes in phases longer than a runtime's turn, the medians mix "
              "phases at random and the best rounds compare runtimes in the same (fast) phase."]
    return lines


def layer_section(res: Results, args) -> list[str]:
    lines = []
    for lc in res.checks:
        head = f"* {lc.model}, {lc.threads} thread(s): "
        if lc.error:
            lines.append(head + f"error: {lc.error}")
            continue
        listed = (f"int8 nodes listed by `--profile`: {lc.int8_listed} of {lc.int8_nodes}, {lc.matched} of them "
                  "also in the float list")
        if not lc.slower:
            lines.append(head + f"no int8 node slower than float; {listed}.")
        else:
            worst = sorted(lc.slower, key=lambda s: -s[3] / max(s[2], 1e-9))
            cells = ", ".join(f"{n} ({op}) {f:.3f} -> {q:.3f} ms" + ("" if certain else " (float time at most)")
                              for n, op, f, q, certain in worst)
            lines.append(head + f"**{len(lc.slower)} int8 node(s) slower than float**: {cells}; {listed}.")
        if lc.int8_only:
            lines.append("  int8-only nodes (no float node of that name): " +
                         ", ".join(f"{n} ({op}) {ms:.3f} ms" for n, op, ms in lc.int8_only) + ".")
    return lines


def markdown(env, res: Results, args, peers: list[Peer], prepared: list[ModelFiles]) -> str:
    lines = ["### int8 inference, batch 1: nibble vs. ONNX Runtime, OpenVINO and LiteRT", ""]
    lines += benchlib.environment_table(env + run_info(res) + round_trip_row(res))
    lines += ["", *results_table(res, args, peers, prepared), "",
              "peer / nibble int8 = peer ms / nibble int8 ms at the same thread count: above 1 means nibble int8 is "
              "faster. \"ORT QDQ\" / \"nibble QDQ\": the model made by ORT's quantize_static (after quant_pre_process; "
              "per-channel, QUInt8/QInt8, MinMax) / by `nibble quantize` (minmax, per-channel), on the same "
              "calibration samples. peak RSS: the child process's own peak resident set (VmHWM, the worst round); "
              "growth: its peak from the moment the runtime library was loaded minus its RSS then (nibble: "
              "peak_mem_mb minus that of `nibble bench` on a one-node model), i.e. what the model, session and runs "
              "added.", "",
              *summary_table(res, args, prepared), "", *floor_lines(res, args, prepared), "",
              f"Per-layer check (`nibble bench --profile`, {args.profile_runs} runs after warming up for "
              f"{args.warmup_ms:g} ms, float model vs nibble's int8 "
              f"model, nodes matched by name; slower means by more than {SLOWER_RATIO - 1:.0%} and "
              f"{SLOWER_MS * 1e3:.0f} us):", "", *layer_section(res, args)]
    notes = [n for mf in prepared for n in (f"{mf.name}: {x}" for x in mf.notes)]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--core-probe", type=Path, default=REPO_ROOT / "build" / "bench" / "nibble_core_round_trip",
                    help="CPU-to-CPU round-trip probe, run before each multi-thread group (bench/core_round_trip.cc)")
    ap.add_argument("--qgemm-bench", type=Path, default=REPO_ROOT / "build" / "bench" / "nibble_bench_qgemm",
                    help="measures the vpdpbusd peak for the compute floor (bench/bench_qgemm.cc)")
    ap.add_argument("--nibble", type=Path, default=Path(os.environ.get("NIBBLE_BIN", REPO_ROOT / "build" / "nibble")),
                    help="the nibble executable (default: $NIBBLE_BIN or build/nibble)")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / "build-bench" / "compare",
                    help="where models, calibration data and twins go (default: build-bench/compare)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    ap.add_argument("--warmup", type=int, default=5, help="untimed runs before each measurement")
    ap.add_argument("--warmup-ms", type=float, default=50.0,
                    help="continue the untimed runs until this many ms have passed, in every runtime's child "
                         "(a process's first milliseconds, when the OS is still placing its threads, "
                         "are longer than all runs of a small model)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--profile-runs", type=int, default=20, help="runs of each `nibble bench --profile`")
    ap.add_argument("--calib-size", type=int, default=32, help="calibration samples")
    ap.add_argument("--peers", default="", help="comma-separated runtime labels' prefixes to keep (e.g. "
                    "'nibble,ORT'); default: all")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {', '.join(f'{k}={v}' for k, v in QUICK.items())}")
    ap.add_argument("--write-docs", type=Path, metavar="MARKDOWN",
                    help=f"replace the section between {DOC_BEGIN} and {DOC_END} in this file")
    return benchlib.finish_model_args(ap, ap.parse_args(argv), QUICK, MODELS)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        engine, model, threads, runs, warmup = argv[1:6]
        warmup_ms = float(argv[6]) if len(argv) > 6 else 0.0
        return worker_main(engine, model, int(threads), int(runs), int(warmup), warmup_ms)
    args = parse_args(argv)
    benchlib.check_executable(args.nibble, "compare", writing_docs=args.write_docs is not None)
    args.work.mkdir(parents=True, exist_ok=True)
    prefixes = [p.strip() for p in args.peers.split(",") if p.strip()]
    peers = [p for p in PEERS if p == BASELINE or not prefixes or any(p.label.startswith(x) for x in prefixes)]

    env = environment(args)
    benchlib.print_environment(env)
    t0 = time.perf_counter()
    prepared = []
    for name in args.models:
        progress(f"preparing {name}")
        prepared.append(prepare(name, args, args.work))
    res = Results()
    res.int8_peak_instr, res.int8_peak = int8_peak_gops(args.qgemm_bench)
    run_rounds(args, peers, prepared, res)
    for mf in prepared:
        for t in args.threads:
            progress(f"per-layer check {mf.name} threads={t}")
            res.checks.append(layer_check(args.nibble, mf, t, args.profile_runs, args.warmup_ms))
    progress(f"total {time.perf_counter() - t0:.0f} s")

    section = markdown(env, res, args, peers, prepared)
    print("\n" + section)
    if args.write_docs:
        benchlib.write_docs(args.write_docs, section, DOC_BEGIN, DOC_END, "compare")
        print(f"\nwrote {args.write_docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
