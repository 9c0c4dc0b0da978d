"""int8 models agree with each other to within one quantization step.

Every comparison is made in units of the output's quantization step (LSB): the
scale of the DequantizeLinear that produces the graph output, read from the
QDQ/QOperator model itself. Two runs of the same quantized model may differ by
a rounding of an intermediate requantization, so they are allowed to be one
step apart; at least 99.9% of all output elements must be.

  a. nibble integer (fold-qdq) vs nibble fake quantization (--disable-pass
     fold-qdq: the same QDQ model run in float), on nibble-quantized models;
  b. ONNX Runtime running nibble's QDQ export vs nibble;
  c. ONNX Runtime's quantizer (quantize_static; QDQ and QOperator format,
     per-channel and per-tensor weights, uint8 activations, int8 weights):
     ORT vs nibble on the same quantized model;
  d. malformed quantization parameters in an imported QDQ model: a clean
     "nibble: error:" naming the node or value, never a crash.

Known deviations, kept as xfail with their reasons: ORT's QOperator models use
com.microsoft contrib ops nibble does not have (QGemm, QLinearAdd, ...); and a
Sigmoid whose output step is finer than its input's amplifies an allowed
1-LSB difference at its input to 2 LSB (SIGMOID_AFTER_TIES). Integer
AveragePool rounds exact ties half to even, like the QDQ graph it replaces
(test_avgpool_ties_round_like_quantizelinear).

Models: the bundled Fashion-MNIST CNN (as shipped, and with intermediate values
made graph outputs before quantizing, so intermediate layers are compared too)
and two generated CNNs covering Conv+Relu, MaxPool, a residual Add,
GlobalAveragePool, Flatten, Gemm, Concat, AveragePool and Sigmoid. Models are
run on a batch of random inputs (plus real test images for Fashion-MNIST) in
one `nibble run` each. The measured fractions are written to
$NIBBLE_TEST_OUT/int8_equivalence/summary.txt and printed (pytest -s).

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_int8_equivalence.py
"""
from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import ort_oracle
from nibble_cli import REPO_ROOT, fresh_dir, run_cli, sanitize

from make_models import GraphBuilder

TIMEOUT_S = 120
MIN_FRACTION = 0.999  # of output elements within 1 LSB
FASHION = REPO_ROOT / "models" / "fashion_cnn.onnx"
FASHION_DATA = Path("/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530
CALIB_SIZE = 64
N_RANDOM = 20

# name -> list of (comparison, output, fraction within 1 LSB, max |diff| in LSB, elements)
RESULTS: dict[str, list[tuple[str, str, float, float, int]]] = {}


# ---- models ------------------------------------------------------------------------

def _io(name: str, shape: list, outputs: dict[str, list]):
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape])]
    outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", *s]) for o, s in outputs.items()]
    return inputs, outs


def residual_cnn() -> onnx.ModelProto:
    """Conv+Relu, MaxPool, a residual block (Conv, Relu, Conv, Add, Relu), GlobalAveragePool, Flatten, Gemm."""
    b = GraphBuilder(seed=31)
    x = b.conv("input", "stem", 3, 8, 3, bias=True)
    x = b.node("Relu", [x], "stem.relu")
    skip = b.node("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])
    y = b.conv(skip, "block.conv1", 8, 8, 3, bias=True)
    y = b.node("Relu", [y], "block.relu1")
    y = b.conv(y, "block.conv2", 8, 8, 3, bias=True, gain=1.0)
    y = b.node("Add", [y, skip], "block.add")
    y = b.node("Relu", [y], "block.relu2")
    y = b.node("GlobalAveragePool", [y], "gap")
    y = b.node("Flatten", [y], "flatten", axis=1)
    b.gemm(y, "logits", 8, 10)
    # The taps are values read by one op that keeps them (no Relu fused away behind them).
    inputs, outputs = _io("input", [3, 16, 16], {"logits": [10], "stem.relu": [8, 16, 16], "block.relu2": [8, 8, 8],
                                                 "gap": [8, 1, 1]})
    return b.model("residual_cnn", inputs, outputs)


def branch_cnn() -> onnx.ModelProto:
    """Two Conv+Relu branches, Concat, AveragePool, Conv+Sigmoid, Flatten, Gemm, Sigmoid."""
    b = GraphBuilder(seed=32)
    a = b.node("Relu", [b.conv("input", "branch1x1", 4, 6, 1, bias=True)], "branch1x1.relu")
    c = b.node("Relu", [b.conv("input", "branch3x3", 4, 6, 3, bias=True)], "branch3x3.relu")
    x = b.node("Concat", [a, c], "concat", axis=1)
    x = b.node("AveragePool", [x], "avgpool", kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Sigmoid", [b.conv(x, "head", 12, 8, 3, bias=True, gain=1.0)], "head.sigmoid")
    x = b.node("Flatten", [x], "flatten", axis=1)
    x = b.gemm(x, "fc", 8 * 6 * 6, 5)
    b.node("Sigmoid", [x], "probs")
    inputs, outputs = _io("input", [4, 12, 12], {"probs": [5], "concat": [12, 12, 12], "avgpool": [12, 6, 6],
                                                 "head.sigmoid": [8, 6, 6]})
    return b.model("branch_cnn", inputs, outputs)


def upsample_cnn() -> onnx.ModelProto:
    """Conv+Relu, Resize linear x2, Conv+Relu, Resize nearest x2, Conv: a decoder's upsampling path."""
    b = GraphBuilder(seed=33)
    x = b.node("Relu", [b.conv("input", "enc", 3, 6, 3, bias=True)], "enc.relu")
    scales = b.const("up_scales", np.array([1, 1, 2, 2], np.float32))
    x = b.node("Resize", [x, "", scales], "up.linear", mode="linear")
    x = b.node("Relu", [b.conv(x, "dec1", 6, 6, 3, bias=True)], "dec1.relu")
    x = b.node("Resize", [x, "", scales], "up.nearest", mode="nearest")
    b.conv(x, "head", 6, 2, 3, bias=True, gain=1.0)
    inputs, outputs = _io("input", [3, 6, 6], {"head": [2, 24, 24], "up.linear": [6, 12, 12],
                                               "up.nearest": [6, 24, 24]})
    return b.model("upsample_cnn", inputs, outputs)


def with_taps(model: onnx.ModelProto, taps: list[str]) -> onnx.ModelProto:
    """`model` with intermediate values `taps` made graph outputs too (typed by shape inference)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inferred = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(model).graph.value_info}
    for t in taps:
        m.graph.output.append(inferred[t])
    return m


# ---- data --------------------------------------------------------------------------

def idx_images(path: Path, n: int) -> np.ndarray:
    """The first n images of an IDX file, normalized as the model was trained: [n, 1, 28, 28]."""
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + n * 28 * 28)
    assert int.from_bytes(raw[:4], "big") == 0x803, path
    x = np.frombuffer(raw[16:], np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    return ((x - MEAN) / STD).astype(np.float32)


@dataclass
class Case:
    name: str
    float_path: Path
    x: np.ndarray                 # the test batch
    calib: np.ndarray             # calibration samples (also given to ORT's quantizer)
    calib_args: list[str]         # how `nibble quantize` gets them
    input_name: str = "input"
    nibble_q: Path | None = None  # nibble's QDQ model
    # Compare with ORT's unoptimized run: its graph optimizer turns DQ -> Resize -> Q into an
    # integer Resize that is itself only ~61% exact against the QDQ graph's float semantics
    # (measured on upsample_cnn); unoptimized, ORT runs the QDQ graph as written.
    ort_unoptimized: bool = False
    outputs: dict = field(default_factory=dict)  # (model path, fold) -> {output: array}


CASE_NAMES = ["fashion_cnn", "fashion_cnn_taps", "residual_cnn", "branch_cnn", "upsample_cnn"]
FASHION_TAPS = ["/features/features.0/features.0.2/Relu_output_0", "/features/features.3/MaxPool_output_0",
                "/classifier/classifier.2/Relu_output_0"]


@pytest.fixture(scope="module")
def workdir(test_out: Path) -> Path:
    return fresh_dir(test_out / "int8_equivalence")


@pytest.fixture(scope="module")
def cases(nibble_bin: Path, workdir: Path) -> dict[str, Case]:
    if not (FASHION_DATA / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail("dataset-fashion-mnist is not installed (scripts/setup.sh installs it)", pytrace=False)
    out: dict[str, Case] = {}
    rng = np.random.default_rng(2024)

    # Fashion-MNIST: calibrated on the first training images (nibble reads the IDX file itself);
    # tested on random pixels and on real test images.
    noise = ((rng.random((N_RANDOM, 1, 28, 28)) - MEAN) / STD).astype(np.float32)
    fx = np.concatenate([noise, idx_images(FASHION_DATA / "t10k-images-idx3-ubyte.gz", 20)])
    fcalib = idx_images(FASHION_DATA / "train-images-idx3-ubyte.gz", CALIB_SIZE)
    fargs = ["--calib", f"idx:{FASHION_DATA}/train-images-idx3-ubyte.gz", "--calib-size", str(CALIB_SIZE),
             "--mean", str(MEAN), "--std", str(STD)]
    out["fashion_cnn"] = Case("fashion_cnn", FASHION, fx, fcalib, fargs)
    taps_path = workdir / "fashion_cnn_taps.onnx"
    onnx.save(with_taps(onnx.load(str(FASHION)), FASHION_TAPS), str(taps_path))
    out["fashion_cnn_taps"] = Case("fashion_cnn_taps", taps_path, fx, fcalib, fargs)

    # residual_cnn: calibration as a folder of .npy files (8 files of 8 samples).
    path = workdir / "residual_cnn.onnx"
    onnx.save(residual_cnn(), str(path))
    calib = rng.standard_normal((CALIB_SIZE, 3, 16, 16)).astype(np.float32)
    cdir = fresh_dir(workdir / "residual_calib")
    for i in range(8):
        np.save(cdir / f"batch{i:02d}.npy", calib[i * 8:(i + 1) * 8])
    x = rng.standard_normal((N_RANDOM, 3, 16, 16)).astype(np.float32)
    out["residual_cnn"] = Case("residual_cnn", path, x, calib, ["--calib", str(cdir)])

    # branch_cnn: calibration as one .npy batch file.
    path = workdir / "branch_cnn.onnx"
    onnx.save(branch_cnn(), str(path))
    calib = rng.standard_normal((CALIB_SIZE, 4, 12, 12)).astype(np.float32)
    np.save(workdir / "branch_calib.npy", calib)
    x = rng.standard_normal((N_RANDOM, 4, 12, 12)).astype(np.float32)
    out["branch_cnn"] = Case("branch_cnn", path, x, calib, ["--calib", str(workdir / "branch_calib.npy")])

    # upsample_cnn: Resize (linear and nearest) on codes.
    path = workdir / "upsample_cnn.onnx"
    onnx.save(upsample_cnn(), str(path))
    calib = rng.standard_normal((CALIB_SIZE, 3, 6, 6)).astype(np.float32)
    np.save(workdir / "upsample_calib.npy", calib)
    x = rng.standard_normal((N_RANDOM, 3, 6, 6)).astype(np.float32)
    out["upsample_cnn"] = Case("upsample_cnn", path, x, calib, ["--calib", str(workdir / "upsample_calib.npy")],
                               ort_unoptimized=True)

    for c in out.values():
        onnx.checker.check_model(str(c.float_path), full_check=True)
        c.nibble_q = workdir / f"{c.name}_nibble_int8.onnx"
        r = run_cli([nibble_bin, "quantize", c.float_path, *c.calib_args, "-o", c.nibble_q], TIMEOUT_S)
        assert r.returncode == 0, f"{r.command_line}\n  exited with {r.returncode}:\n{r.stderr.strip()}"
        assert " 0 float" in r.stdout, f"{c.name}: some nodes stayed float:\n{r.stdout}"
    return out


@pytest.fixture(scope="module", autouse=True)
def summary(workdir: Path):
    yield
    # For outputs computed in float ("[float]"), "max" is the largest |diff| relative to the largest |value|.
    lines = [f"{'case':17s} {'comparison':55s} {'output':40s} {'within 1 LSB':>12s} {'max LSB':>8s} {'n':>7s}"]
    for case, rows in RESULTS.items():
        for comp, out, frac, mx, n in rows:
            lines.append(f"{case:17s} {comp:55s} {out[-40:]:40s} {100 * frac:11.3f}% {mx:8.2g} {n:7d}")
    text = "\n".join(lines) + "\n"
    (workdir / "summary.txt").write_text(text)
    print("\n" + text)


# ---- running -----------------------------------------------------------------------

def nibble_run(nibble_bin: Path, case: Case, model: Path, fold: bool = True, tag: str = "") -> dict[str, np.ndarray]:
    """All outputs of `model` on the case's test batch, run by nibble (cached)."""
    key = (str(model), fold)
    if key in case.outputs:
        return case.outputs[key]
    base = model.parent / f"{model.stem}_{'int' if fold else 'fake'}{tag}"
    x_path = model.parent / f"{case.name}_x.npy"
    np.save(x_path, case.x)
    out_dir = fresh_dir(base)
    r = run_cli([nibble_bin, "run", model, "-i", x_path, "-o", out_dir,
                 *([] if fold else ["--disable-pass", "fold-qdq"])], TIMEOUT_S)
    assert r.returncode == 0, f"{r.command_line}\n  exited with {r.returncode}:\n{r.stderr.strip()}"
    names = [o.name for o in onnx.load(str(model), load_external_data=False).graph.output]
    outs = {n: np.load(out_dir / f"{sanitize(n)}.npy") for n in names}
    case.outputs[key] = outs
    return outs


def ort_run(case: Case, model: Path) -> dict[str, np.ndarray]:
    opts = ort_oracle.session_options()
    if case.ort_unoptimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {case.input_name: case.x})))


# Ops whose output holds the same grid of values as their input (Relu of a dequantized value is
# still on its grid): ORT's QOperator leaves them in float behind a DequantizeLinear.
GRID_PRESERVING = {"Relu", "MaxPool", "Flatten", "Reshape", "Identity"}


def output_steps(model_path: Path) -> dict[str, float]:
    """Graph output -> its quantization step: the scale of the DequantizeLinear producing it
    (possibly through grid-preserving ops); outputs computed in float have none."""
    m = onnx.load(str(model_path))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}
    steps = {}
    for o in m.graph.output:
        n = producer.get(o.name)
        while n is not None and n.op_type in GRID_PRESERVING:
            n = producer.get(n.input[0])
        if n is not None and n.op_type == "DequantizeLinear" and n.input[1] in inits:
            s = inits[n.input[1]]
            assert s.size == 1, f"{model_path.name}: output '{o.name}' has a per-channel scale"
            steps[o.name] = float(s.reshape(()))
    return steps


def compare(case: Case, comparison: str, model: Path, got: dict, want: dict, final: str,
            known: dict[str, str] | None = None) -> None:
    """Every output with a quantization step: >= MIN_FRACTION of its elements within 1 LSB.

    `final` must be one of them. Outputs computed in float (no step) must agree to 1e-3 of
    their largest magnitude. `known` maps an output to the reason it is known to miss the
    bar: the test then xfails for it (after checking everything else), and fails if it no
    longer misses, so the list stays true.
    """
    known = known or {}
    steps = output_steps(model)
    assert final in steps, f"{case.name}: the final output '{final}' of {model.name} has no quantization step " \
                           f"(outputs with one: {sorted(steps)})"
    failures, known_misses = [], []
    for name in want:
        a, b = np.asarray(got[name], np.float64), np.asarray(want[name], np.float64)
        assert a.shape == b.shape, f"{case.name}: '{name}': shapes {a.shape} vs {b.shape}"
        if name not in steps:
            tol = 1e-3 * max(float(np.abs(b).max()), 1e-6)
            err = float(np.abs(a - b).max())
            RESULTS.setdefault(case.name, []).append((comparison + " [float]", name, float(np.mean(
                np.abs(a - b) <= tol)), err / tol * 1e-3, a.size))
            if err > tol:
                failures.append(f"'{name}' (float): max |diff| {err:.3g} > {tol:.3g}")
            continue
        step = steps[name]
        lsb = np.abs(a - b) / step
        # 1e-3 LSB of slack: the two sides dequantize the same code with float rounding.
        frac = float(np.mean(lsb <= 1.0 + 1e-3))
        RESULTS.setdefault(case.name, []).append((comparison, name, frac, float(lsb.max()), a.size))
        if frac < MIN_FRACTION:
            worst = np.unravel_index(np.argmax(lsb), lsb.shape)
            msg = (f"'{name}': {100 * frac:.3f}% within 1 LSB (step {step:.6g}), worst {lsb.max():.1f} LSB "
                   f"at {tuple(int(i) for i in worst)}: {a[worst]:.6g} vs {b[worst]:.6g}")
            (known_misses if name in known else failures).append(msg)
    assert not failures, f"{case.name}, {comparison} ({model.name}):\n  " + "\n  ".join(failures)
    missed = {m.split("'")[1] for m in known_misses}
    stale = [n for n in known if n in want and n not in missed]
    assert not stale, f"{case.name}, {comparison}: known deviation(s) {stale} no longer occur; update KNOWN_DEVIATIONS"
    if known_misses:
        pytest.xfail(f"{comparison}: " + "; ".join(known_misses) + " -- " +
                     " / ".join(sorted({known[n] for n in missed})))


def final_output(case: Case) -> str:
    return onnx.load(str(case.float_path), load_external_data=False).graph.output[0].name


# ---- a. integer vs fake quantization; b. ORT on nibble's export --------------------------

@pytest.mark.parametrize("name", CASE_NAMES)
def test_integer_matches_fake_quantization(name, cases, nibble_bin):
    case = cases[name]
    integer = nibble_run(nibble_bin, case, case.nibble_q, fold=True)
    fake = nibble_run(nibble_bin, case, case.nibble_q, fold=False)
    compare(case, "nibble int vs nibble fake-quant", case.nibble_q, integer, fake, final_output(case))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_ort_runs_nibble_export_like_nibble(name, cases, nibble_bin):
    case = cases[name]
    ours = nibble_run(nibble_bin, case, case.nibble_q, fold=True)
    theirs = ort_run(case, case.nibble_q)
    compare(case, "nibble int vs ORT (nibble QDQ)", case.nibble_q, ours, theirs, final_output(case))


def test_fake_quantization_is_close_to_float(cases, nibble_bin):
    """A sanity check on the harness: the quantized model is a good model, not merely self-consistent."""
    case = cases["residual_cnn"]
    fake = nibble_run(nibble_bin, case, case.nibble_q, fold=False)
    fp = nibble_run(nibble_bin, case, case.float_path, fold=True)
    step = output_steps(case.nibble_q)["logits"]
    d = np.abs(fake["logits"] - fp["logits"]) / step
    assert np.median(d) < 8, np.median(d)
    assert np.corrcoef(fake["logits"].ravel(), fp["logits"].ravel())[0, 1] > 0.99


def test_fold_qdq_actually_changes_the_execution(cases, nibble_bin):
    """Guards the comparison in (a) against comparing a path with itself: on many inputs the
    integer and the fake-quantized runs differ somewhere (by rounding), yet stay within 1 LSB."""
    case = cases["fashion_cnn"]
    big = Case("fashion_cnn_big", case.float_path, np.random.default_rng(9).standard_normal(
        (1000, 1, 28, 28)).astype(np.float32), case.calib, case.calib_args)
    integer = nibble_run(nibble_bin, big, case.nibble_q, fold=True, tag="_big")
    fake = nibble_run(nibble_bin, big, case.nibble_q, fold=False, tag="_big")
    assert np.any(integer["logits"] != fake["logits"]), "integer and fake-quantized runs are bit-identical"
    compare(big, "nibble int vs nibble fake-quant", case.nibble_q, integer, fake, "logits")


def test_avgpool_ties_round_like_quantizelinear(nibble_bin, workdir):
    """AveragePool between Q/DQ with equal input and output scales: averages of 4 codes land
    exactly on .5 (the float graph then rounds half to even, as QuantizeLinear does).

    ORT's quantizer writes AveragePool this way (its output shares its input's scale), so in
    ORT-quantized models about a quarter of 2x2 averages are exact ties.
    """
    s, z = 0.5, 10
    codes = np.array([[0, 0, 0, 1], [0, 0, 1, 2], [1, 1, 1, 2], [0, 1, 0, 2],
                      [2, 2, 2, 3], [5, 5, 5, 6], [0, 0, 0, 3], [1, 2, 3, 4]], np.int64)
    # 8 windows side by side: x is [1, 1, 2, 16], window i covers columns 2i, 2i+1.
    x = np.zeros((1, 1, 2, 16), np.float32)
    for i, c in enumerate(codes):
        x[0, 0, :, 2 * i:2 * i + 2] = (s * (c.reshape(2, 2) - 0)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(s, np.float32), "s"), numpy_helper.from_array(np.array(z, np.uint8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_in"),
             helper.make_node("AveragePool", ["xd"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("QuantizeLinear", ["p", "s", "z"], ["pq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["pq", "s", "z"], ["y"], name="dq_out")]
    graph = helper.make_graph(nodes, "avgpool_ties", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = workdir / "avgpool_ties.onnx"
    onnx.save(model, str(path))
    case = Case("avgpool_ties", path, x, x, [], input_name="x")
    integer = nibble_run(nibble_bin, case, path, fold=True)["y"].ravel() / s
    fake = nibble_run(nibble_bin, case, path, fold=False)["y"].ravel() / s
    want = np.round(codes.sum(axis=1) / 4.0)  # numpy rounds half to even, like QuantizeLinear
    np.testing.assert_array_equal(fake, want)
    # Always within 1 LSB ...
    assert np.max(np.abs(integer - want)) <= 1
    # ... and equal: ties are rounded half to even, the QuantizeLinear way.
    np.testing.assert_array_equal(integer, want, err_msg=f"windows sum {codes.sum(axis=1).tolist()} / 4")


# ---- c. ORT's quantizer: ORT vs nibble -----------------------------------------------------

ORT_VARIANTS = [("QDQ", True), ("QDQ", False), ("QOperator", True), ("QOperator", False)]

# Models that miss the bar against ORT, and why (ORT's com.microsoft QOperator nodes all run since
# they are lowered to QDQ at load: pass_lower_qoperator.cc).
ORT_XFAIL: dict[tuple[str, str], str] = {
    ("upsample_cnn", "QOperator"): (
        "ORT's QOperator form runs Resize on uint8 codes with ORT's own integer bilinear, which is only 61% exact "
        "(and 2 LSB off after the next Conv) against ORT's own unoptimized run of the same model in QDQ form; "
        "nibble follows the QDQ (float Resize, then QuantizeLinear) semantics: 100% within 1 LSB of that"),
}

# Outputs known to miss the 1-LSB bar, and why (see test_avgpool_ties_round_like_quantizelinear).
SIGMOID_AFTER_TIES = (
    "ORT's quantizer gives this Sigmoid an output step finer than the step of its input (the 'head' Conv's "
    "output) times the Sigmoid's slope, so a 1-LSB difference at the Conv (fixed-point vs float rounding, "
    "within the bar) becomes 2 LSB after the table; 'avgpool' and 'concat' before it are within 1 LSB "
    "(ORT's optimized run is itself only 98.7% within 1 LSB of its unoptimized one here)")
KNOWN_DEVIATIONS: dict[tuple[str, str], dict[str, str]] = {
    ("branch_cnn", "QDQ"): {"head.sigmoid": SIGMOID_AFTER_TIES},
}


def ort_quantized(case: Case, workdir: Path, fmt: str, per_channel: bool, ops: list[str] | None = None) -> Path:
    import logging

    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter([{case.input_name: case.calib}])  # one batch: the input's N is dynamic

        def get_next(self):
            return next(self._feeds, None)

    tag = f"{fmt}_{'pc' if per_channel else 'pt'}{'_' + '_'.join(ops) if ops else ''}"
    dst = workdir / f"{case.name}_ort_{tag}.onnx"
    if not dst.exists():
        logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing" is advice, not a problem
        quantize_static(str(case.float_path), str(dst), Reader(),
                        quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                        op_types_to_quantize=ops, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    return dst


def ort_case_params():
    for name in CASE_NAMES:
        for fmt, pc in ORT_VARIANTS:
            reason = ORT_XFAIL.get((name, fmt))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            yield pytest.param(name, fmt, pc, id=f"{name}-{fmt}-{'per_channel' if pc else 'per_tensor'}", marks=marks)


def run_ort_quantized(case: Case, nibble_bin: Path, workdir: Path, fmt: str, pc: bool, ops=None,
                      final: str | None = None) -> None:
    model = ort_quantized(case, workdir, fmt, pc, ops)
    label = f"ORT {fmt} {'per-ch' if pc else 'per-t'}{' ' + '+'.join(ops) if ops else ''}"
    known = KNOWN_DEVIATIONS.get((case.name, fmt), {})
    final = final or final_output(case)
    theirs = ort_run(case, model)
    ours = nibble_run(nibble_bin, case, model, fold=True)
    if fmt == "QOperator" and not ops:  # every node, contrib ones included, must run on integer codes
        r = run_cli([nibble_bin, "inspect", model], TIMEOUT_S)
        m = re.search(r"quantization: (\d+) of (\d+) nodes run on integer codes", r.stdout)
        assert r.returncode == 0 and m and m.group(1) == m.group(2), f"{model.name}:\n{r.stdout}{r.stderr}"
    misses = []
    for comparison, got, want in [(f"nibble vs ORT ({label})", ours, theirs)] + (
            # For QDQ models also nibble's integer path vs the same model run as float fake quantization.
            [(f"nibble int vs fake ({label})", ours, nibble_run(nibble_bin, case, model, fold=False))]
            if fmt == "QDQ" else []):
        try:
            compare(case, comparison, model, got, want, final, known)
        except pytest.xfail.Exception as e:
            misses.append(str(e))
    if misses:
        pytest.xfail(" | ".join(misses))


@pytest.mark.parametrize("name,fmt,per_channel", list(ort_case_params()))
def test_ort_quantized_model_runs_in_nibble_like_ort(name, fmt, per_channel, cases, nibble_bin, workdir):
    run_ort_quantized(cases[name], nibble_bin, workdir, fmt, per_channel)


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_ort_qoperator_conv_only_runs_in_nibble_like_ort(per_channel, cases, nibble_bin, workdir):
    """QOperator with only the ops standard ONNX has QLinear forms for (QLinearConv, QLinearMatMul):
    the Gemms stay float, so the last quantized value compared is the second MaxPool's output."""
    run_ort_quantized(cases["fashion_cnn_taps"], nibble_bin, workdir, "QOperator", per_channel, ["Conv", "MatMul"],
                      final="/features/features.3/MaxPool_output_0")


# ---- d. malformed quantization parameters --------------------------------------------------

def _mutated(src: Path, dst: Path, edits: dict) -> Path:
    """A copy of `src` with initializer `name` replaced by edits[name](its array)."""
    m = onnx.load(str(src))
    for name, fn in edits.items():
        i = next((i for i, t in enumerate(m.graph.initializer) if t.name == name), None)
        assert i is not None, f"{src.name}: no initializer '{name}'"
        arr = fn(numpy_helper.to_array(m.graph.initializer[i]).copy())
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, name))
    onnx.save(m, str(dst))
    return dst


def _dq_nodes(model_path: Path):
    """(weight DQ, bias DQ, activation DQ) of the first Conv and a mid-graph activation."""
    m = onnx.load(str(model_path))
    inits = {t.name: t for t in m.graph.initializer}
    dqs = [n for n in m.graph.node if n.op_type == "DequantizeLinear"]
    weight = next(n for n in dqs if n.input[0] in inits and inits[n.input[0]].data_type == TensorProto.INT8
                  and len(inits[n.input[0]].dims) == 4)
    bias = next(n for n in dqs if n.input[0] in inits and inits[n.input[0]].data_type == TensorProto.INT32)
    acts = [n for n in dqs if n.input[0] not in inits]
    return weight, bias, acts[len(acts) // 2]


def _set_all(v):
    def fn(a):
        a[...] = v
        return a
    return fn


def _set_first(v):
    def fn(a):
        a.reshape(-1)[0] = v
        return a
    return fn


BAD_SCALES = {"zero": 0.0, "negative": -1.0, "nan": float("nan"), "inf": float("inf")}


def malformed_params():
    for target in ("weight", "activation"):
        for label, v in BAD_SCALES.items():
            yield pytest.param(target, label, id=f"{target}_scale_{label}")
    yield pytest.param("weight", "wrong_length", id="weight_scale_wrong_length")
    yield pytest.param("bias", "nonzero_int32_zero_point", id="bias_zero_point_nonzero")


@pytest.mark.parametrize("target,label", list(malformed_params()))
def test_malformed_quant_params_are_clean_errors(target, label, cases, nibble_bin, workdir):
    src = cases["fashion_cnn"].nibble_q
    weight, bias, act = _dq_nodes(src)
    node = {"weight": weight, "bias": bias, "activation": act}[target]
    init = node.input[1]
    if label == "wrong_length":
        # Scale and zero point agree with each other, not with the weight's output channels.
        edits = {node.input[1]: lambda a: a[:-1].copy(), node.input[2]: lambda a: a[:-1].copy()}
    elif label == "nonzero_int32_zero_point":
        init = node.input[2]
        edits = {init: _set_all(3)}
    elif target == "activation":
        edits = {init: _set_all(BAD_SCALES[label])}  # shared by the value's Q and DQ
    else:
        edits = {init: _set_first(BAD_SCALES[label])}  # one channel of a per-channel scale
    dst = _mutated(src, workdir / f"malformed_{target}_{label}.onnx", edits)
    # The names an error may point at: the DQ, the Q sharing its parameters, the initializer,
    # the quantized value, or the node that reads the dequantized value.
    m = onnx.load(str(dst))
    names = {node.name, init, node.input[0], node.output[0]}
    names |= {n.name for n in m.graph.node if init in n.input or node.input[0] in n.output or node.output[0] in n.input}
    case = cases["fashion_cnn"]
    x_path = workdir / "malformed_x.npy"
    np.save(x_path, case.x[:2])
    for fold in (True, False):
        out_dir = fresh_dir(workdir / f"malformed_{target}_{label}_out")
        r = run_cli([nibble_bin, "run", dst, "-i", x_path, "-o", out_dir,
                     *([] if fold else ["--disable-pass", "fold-qdq"])], TIMEOUT_S)
        ctx = f"\n  command: {r.command_line}\n  exit code: {r.returncode}\n  stderr: {r.stderr.strip()[-2000:]}"
        assert 1 <= r.returncode <= 127, f"expected a clean failure (exit 1..127){ctx}"
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("nibble: error:")]
        assert len(lines) == 1, f"expected one 'nibble: error:' line{ctx}"
        assert any(n and n in lines[0] for n in names), f"the error names none of {sorted(names)}{ctx}"
