"""nibble's ONNX quantization operators against ONNX Runtime, on random inputs.

Each case builds a one-node model with onnx.helper, draws random codes or
floats, runs ONNX Runtime (CPU provider) and `nibble run`, and compares:

* QuantizeLinear, DequantizeLinear, MatMulInteger, ConvInteger: every element
  exactly (they have one right answer);
* QLinearConv, QLinearMatMul, DynamicQuantizeLinear: at least 99.9% of the
  elements within 1 LSB of ORT and none further. nibble requantizes as the
  ONNX reference does (int32 sum * float32 multiplier in double, round half to
  even); MLAS multiplies in float32, so the two can round differently when
  the product lies within float32 rounding of a .5.

Scales and zero points are graph inputs (as in the ONNX backend node tests)
or initializers, both ways. Also here: float16 scales (QuantizeLinear against
the exactly rounded quotient, where ORT 1.20 is off by one), and the four
opset-10 node tests the node-test runner cannot load (re-stamped as opset 13).

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_quant_ops_ort.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import ort_oracle
from nibble_cli import fresh_dir, run_cli, sanitize

OPSET = 21
TIMEOUT_S = 120
SEEDS = range(3)
ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float16): TensorProto.FLOAT16,
             np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
             np.dtype(np.uint16): TensorProto.UINT16, np.dtype(np.int16): TensorProto.INT16,
             np.dtype(np.int32): TensorProto.INT32}


def one_node_model(op: str, inputs: list[tuple[str, np.ndarray]], outputs: list[tuple[str, int]],
                   constant: set[str], **attrs) -> onnx.ModelProto:
    """A model of one node; inputs named in `constant` become initializers."""
    graph_inputs, inits = [], []
    for name, value in inputs:
        if name in constant:
            inits.append(numpy_helper.from_array(value, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, ONNX_TYPE[value.dtype], list(value.shape)))
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs], name=f"{op.lower()}_node", **attrs)
    graph = helper.make_graph([node], f"{op}_test", graph_inputs,
                              [helper.make_tensor_value_info(n, t, None) for n, t in outputs], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10  # ORT 1.20 reads IR 10; outputs are left untyped in shape, so no onnx.checker here
    return model


def run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray], nibble_bin: Path, workdir: Path):
    """(oracle outputs, nibble outputs), each a dict by output name. The oracle is ORT, or exact
    integer arithmetic in numpy where ORT's products can saturate (ort_oracle.saturates_in_ort)."""
    sess = ort.InferenceSession(model.SerializeToString(), ort_oracle.session_options(),
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    if ort_oracle.saturates_in_ort(model, feeds):
        want = ort_oracle.exact_outputs(model, feeds)
    else:
        want = dict(zip(names, sess.run(names, feeds)))

    fresh_dir(workdir)
    model_path = workdir / "model.onnx"
    onnx.save(model, str(model_path))
    args = []
    for name, value in feeds.items():
        path = workdir / f"in_{sanitize(name)}.npy"
        np.save(path, value)
        args += ["-i", f"{name}={path}"]
    out_dir = fresh_dir(workdir / "out")
    # Two threads: the kernels split their work (by rows, by output channel), which must not change a code.
    run = run_cli([nibble_bin, "run", model_path, *args, "-o", out_dir, "--threads", "2"], TIMEOUT_S)
    assert run.returncode == 0, f"nibble failed on {model_path}:\n  {run.command_line}\n{run.stderr.strip()}"
    got = {name: np.load(out_dir / f"{sanitize(name)}.npy") for name in names}
    return want, got


def assert_exact(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, \
        f"{what}: nibble {got.dtype}{got.shape}, ORT {want.dtype}{want.shape}"
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, (f"{what}: {bad.size} of {want.size} elements differ from ORT; first at flat index "
                           f"{bad[0]}: nibble {got.ravel()[bad[0]]}, ORT {want.ravel()[bad[0]]}")


def assert_within_one_lsb(got: np.ndarray, want: np.ndarray, what: str, min_exact: float = 0.999) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, \
        f"{what}: nibble {got.dtype}{got.shape}, ORT {want.dtype}{want.shape}"
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    exact = float(np.mean(diff == 0)) if diff.size else 1.0
    print(f"{what}: {diff.size} elements, {np.count_nonzero(diff)} differ by 1 LSB, max diff {diff.max(initial=0)}")
    assert diff.max(initial=0) <= 1, f"{what}: an element differs from ORT by {diff.max()} codes"
    assert exact >= min_exact, f"{what}: only {exact:.4%} of elements match ORT exactly (need {min_exact:.1%})"


def codes(rng, dtype, shape):
    info = np.iinfo(dtype)
    return np.asarray(rng.integers(info.min, int(info.max) + 1, size=shape, dtype=np.int64), dtype)


def zero_points(rng, dtype, shape=()):
    """Zero points away from the ends of the range, so most results are not saturated."""
    info = np.iinfo(dtype)
    lo, hi = (info.min // 4, info.max // 4) if info.min < 0 else (info.max // 4, 3 * info.max // 4)
    return np.asarray(rng.integers(lo, hi + 1, size=shape, dtype=np.int64), dtype)


def per_column_shape(b_shape) -> tuple:
    """Per-column parameters of B: [N] for a matrix, [..., 1, N] for a batch (as ORT takes them)."""
    return (b_shape[-1],) if len(b_shape) == 2 else (*b_shape[:-2], 1, b_shape[-1])


def split(inputs, constant_names):
    return {n: v for n, v in inputs if n not in constant_names}


# ---- QuantizeLinear / DequantizeLinear -------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("axis", [None, 1, 0, -1])
@pytest.mark.parametrize("const", [False, True])
def test_quantize_linear(seed, dtype, axis, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    shape = (3, 5, 4, 6)
    channels = 1 if axis is None else shape[axis]
    scale = np.asarray(rng.uniform(0.01, 0.2, size=() if axis is None else (channels,)), np.float32)
    if seed == 0:  # powers of two: x = (k + 0.5) * scale below is then an exact tie of x / scale
        scale = np.asarray(2.0 ** rng.integers(-7, -2, size=scale.shape), np.float32)
    zp = zero_points(rng, dtype, scale.shape)
    wide = np.iinfo(dtype).bits > 8
    x = rng.normal(0, 2000 if wide else 8, size=shape).astype(np.float32)
    # A fifth of the elements sit at (k + 0.5) * scale, where rounding half to even matters.
    s_full = np.broadcast_to(scale, shape) if axis is None else np.broadcast_to(
        scale.reshape([-1 if d == axis % len(shape) else 1 for d in range(len(shape))]), shape)
    tie = rng.random(shape) < 0.2
    k = rng.integers(-3000 if wide else -60, 3000 if wide else 60, size=shape)
    x[tie] = ((k + 0.5) * s_full)[tie].astype(np.float32)
    inputs = [("x", x), ("y_scale", scale), ("y_zero_point", zp)]
    const_names = {"y_scale", "y_zero_point"} if const else set()
    attrs = {} if axis is None else {"axis": axis}
    model = one_node_model("QuantizeLinear", inputs, [("y", ONNX_TYPE[np.dtype(dtype)])], const_names, **attrs)
    want, got = run_both(model, split(inputs, const_names), nibble_bin,
                         test_out / "quant_ops" / f"q_{np.dtype(dtype).name}_{axis}_{const}_{seed}")
    assert_exact(got["y"], want["y"], f"QuantizeLinear {np.dtype(dtype).name} axis={axis}")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32])
@pytest.mark.parametrize("axis", [None, 1, -1])
@pytest.mark.parametrize("const", [False, True])
def test_dequantize_linear(seed, dtype, axis, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    shape = (2, 7, 5)
    channels = 1 if axis is None else shape[axis]
    scale = np.asarray(rng.uniform(0.001, 0.5, size=() if axis is None else (channels,)), np.float32)
    x = codes(rng, dtype, shape) if dtype != np.int32 else rng.integers(-2**24, 2**24, size=shape).astype(np.int32)
    inputs = [("x", x), ("x_scale", scale)]
    if dtype != np.int32:  # int32 has zero point 0 (ORT refuses others too)
        inputs.append(("x_zero_point", zero_points(rng, dtype, scale.shape)))
    const_names = {"x_scale", "x_zero_point"} if const else set()
    attrs = {} if axis is None else {"axis": axis}
    model = one_node_model("DequantizeLinear", inputs, [("y", TensorProto.FLOAT)], const_names, **attrs)
    want, got = run_both(model, split(inputs, const_names), nibble_bin,
                         test_out / "quant_ops" / f"dq_{np.dtype(dtype).name}_{axis}_{const}_{seed}")
    assert_exact(got["y"], want["y"], f"DequantizeLinear {np.dtype(dtype).name} axis={axis}")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("spread", [(-3.0, 5.0), (0.5, 9.0), (-7.0, -0.25)])
def test_dynamic_quantize_linear(seed, spread, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    x = rng.uniform(*spread, size=(4, 33)).astype(np.float32)
    inputs = [("x", x)]
    model = one_node_model("DynamicQuantizeLinear", inputs,
                           [("y", TensorProto.UINT8), ("y_scale", TensorProto.FLOAT), ("y_zero_point", TensorProto.UINT8)],
                           set())
    want, got = run_both(model, {"x": x}, nibble_bin, test_out / "quant_ops" / f"dyn_{spread}_{seed}")
    np.testing.assert_allclose(got["y_scale"], want["y_scale"], rtol=1e-6)
    assert_exact(got["y_zero_point"], want["y_zero_point"], "DynamicQuantizeLinear zero point")
    assert_within_one_lsb(got["y"], want["y"], "DynamicQuantizeLinear y")


# ---- MatMulInteger / QLinearMatMul -----------------------------------------------------

MATMUL_SHAPES = [((7, 19), (19, 11)), ((3, 5, 33), (33, 6)), ((2, 4, 9), (2, 9, 5)), ((1, 8), (8, 130))]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("types", [(np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8), (np.int8, np.uint8)],
                         ids=lambda t: f"{np.dtype(t[0]).name}x{np.dtype(t[1]).name}")
@pytest.mark.parametrize("b_per_column", [False, True])
@pytest.mark.parametrize("const", [False, True])
def test_matmul_integer(seed, shapes, types, b_per_column, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    (sa, sb), (ta, tb) = shapes, types
    inputs = [("A", codes(rng, ta, sa)), ("B", codes(rng, tb, sb)), ("a_zero_point", zero_points(rng, ta)),
              ("b_zero_point", zero_points(rng, tb, per_column_shape(sb) if b_per_column else ()))]
    const_names = {"B", "a_zero_point", "b_zero_point"} if const else set()
    model = one_node_model("MatMulInteger", inputs, [("Y", TensorProto.INT32)], const_names)
    try:
        want, got = run_both(model, split(inputs, const_names), nibble_bin,
                             test_out / "quant_ops" / f"mmi_{sa}_{sb}_{ta.__name__}{tb.__name__}_{b_per_column}_{const}_{seed}")
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        pytest.skip(f"ONNX Runtime has no MatMulInteger for {ta.__name__} x {tb.__name__}")
    assert_exact(got["Y"], want["Y"], "MatMulInteger")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("types", [(np.uint8, np.int8, np.uint8), (np.uint8, np.uint8, np.uint8),
                                   (np.int8, np.int8, np.int8), (np.uint8, np.int8, np.int8)],
                         ids=lambda t: "x".join(np.dtype(d).name for d in t))
@pytest.mark.parametrize("b_per_column", [False, True])
@pytest.mark.parametrize("const", [False, True])
def test_qlinear_matmul(seed, shapes, types, b_per_column, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    (sa, sb), (ta, tb, ty) = shapes, types
    k = sa[-1]
    a, b = codes(rng, ta, sa), codes(rng, tb, sb)
    a_scale = np.float32(rng.uniform(0.01, 0.05))
    b_scale = np.asarray(rng.uniform(0.002, 0.02, size=per_column_shape(sb) if b_per_column else ()), np.float32)
    # An output scale that puts the typical result a few dozen codes from the zero point.
    y_scale = np.float32(a_scale * np.mean(b_scale) * 64 * np.sqrt(k) / 6)
    b_zp = np.zeros(b_scale.shape, tb) if b_per_column else zero_points(rng, tb)  # ORT: per-column b has zp 0
    inputs = [("a", a), ("a_scale", np.array(a_scale)), ("a_zero_point", zero_points(rng, ta)), ("b", b),
              ("b_scale", b_scale), ("b_zero_point", b_zp), ("y_scale", np.array(y_scale)),
              ("y_zero_point", zero_points(rng, ty))]
    const_names = {"b", "a_scale", "a_zero_point", "b_scale", "b_zero_point", "y_scale", "y_zero_point"} if const else set()
    model = one_node_model("QLinearMatMul", inputs, [("y", ONNX_TYPE[np.dtype(ty)])], const_names)
    try:
        want, got = run_both(model, split(inputs, const_names), nibble_bin,
                             test_out / "quant_ops" / f"qmm_{sa}_{sb}_{'_'.join(t.__name__ for t in types)}_{b_per_column}_{const}_{seed}")
    except (ort.capi.onnxruntime_pybind11_state.NotImplemented, ort.capi.onnxruntime_pybind11_state.Fail) as e:
        pytest.skip(f"ONNX Runtime does not run this QLinearMatMul: {str(e)[:160]}")
    assert_within_one_lsb(got["y"], want["y"], "QLinearMatMul")


# ---- ConvInteger / QLinearConv ---------------------------------------------------------

# (x shape, w shape, attributes)
CONV_CASES = [
    ((1, 3, 9, 9), (4, 3, 3, 3), {}),
    ((2, 4, 8, 7), (6, 2, 3, 2), {"group": 2, "pads": [1, 0, 1, 1], "strides": [2, 1]}),
    ((1, 6, 10, 10), (6, 1, 3, 3), {"group": 6, "pads": [1, 1, 1, 1]}),  # depthwise
    ((1, 5, 11, 9), (3, 5, 3, 3), {"dilations": [2, 1], "pads": [2, 1, 1, 0]}),
    ((1, 5, 11, 9), (3, 5, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),  # ORT: no dilation with auto_pad
    ((2, 3, 17), (5, 3, 4), {"strides": [3], "pads": [2, 1]}),  # 1-D
    ((1, 16, 6, 6), (8, 16, 1, 1), {}),  # pointwise
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("types", [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)],
                         ids=lambda t: f"{np.dtype(t[0]).name}x{np.dtype(t[1]).name}")
@pytest.mark.parametrize("const", [False, True])
def test_conv_integer(seed, case, types, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    xs, ws, attrs = CONV_CASES[case]
    tx, tw = types
    inputs = [("x", codes(rng, tx, xs)), ("w", codes(rng, tw, ws)), ("x_zero_point", zero_points(rng, tx)),
              ("w_zero_point", zero_points(rng, tw))]
    const_names = {"w", "x_zero_point", "w_zero_point"} if const else set()
    model = one_node_model("ConvInteger", inputs, [("y", TensorProto.INT32)], const_names, **attrs)
    try:
        want, got = run_both(model, split(inputs, const_names), nibble_bin,
                             test_out / "quant_ops" / f"ci_{case}_{tx.__name__}{tw.__name__}_{const}_{seed}")
    except ort.capi.onnxruntime_pybind11_state.NotImplemented:
        pytest.skip(f"ONNX Runtime has no ConvInteger for {tx.__name__} x {tw.__name__}")
    assert_exact(got["y"], want["y"], "ConvInteger")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("types", [(np.uint8, np.int8, np.uint8), (np.int8, np.int8, np.int8),
                                   (np.uint8, np.uint8, np.uint8), (np.uint8, np.int8, np.int8)],
                         ids=lambda t: "x".join(np.dtype(d).name for d in t))
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("const", [False, True])
def test_qlinear_conv(seed, case, types, per_channel, bias, const, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    xs, ws, attrs = CONV_CASES[case]
    tx, tw, ty = types
    m, k = ws[0], int(np.prod(ws[1:]))
    x_scale = np.float32(rng.uniform(0.01, 0.05))
    w_scale = np.asarray(rng.uniform(0.002, 0.02, size=(m,) if per_channel else ()), np.float32)
    y_scale = np.float32(x_scale * np.mean(w_scale) * 64 * np.sqrt(k) / 6)
    # ORT wants one weight zero point for every channel; int8 weights are symmetric in practice.
    w_zp = np.full(w_scale.shape, zero_points(rng, tw) if tw == np.uint8 else 0, tw)
    inputs = [("x", codes(rng, tx, xs)), ("x_scale", np.array(x_scale)), ("x_zero_point", zero_points(rng, tx)),
              ("w", codes(rng, tw, ws)), ("w_scale", w_scale), ("w_zero_point", w_zp),
              ("y_scale", np.array(y_scale)), ("y_zero_point", zero_points(rng, ty))]
    if bias:
        inputs.append(("B", rng.integers(-5000, 5000, size=(m,)).astype(np.int32)))
    const_names = ({n for n, _ in inputs} - {"x"}) if const else set()
    model = one_node_model("QLinearConv", inputs, [("y", ONNX_TYPE[np.dtype(ty)])], const_names, **attrs)
    try:
        want, got = run_both(model, split(inputs, const_names), nibble_bin,
                             test_out / "quant_ops" / f"qc_{case}_{'_'.join(t.__name__ for t in types)}_{per_channel}_{bias}_{const}_{seed}")
    except (ort.capi.onnxruntime_pybind11_state.NotImplemented, ort.capi.onnxruntime_pybind11_state.Fail) as e:
        pytest.skip(f"ONNX Runtime does not run this QLinearConv: {str(e)[:160]}")
    # With constant scales nibble lowers QLinearConv to its integer kernel (fixed-point
    # requantization, pass_lower_qoperator.cc); ORT requantizes in float. Both round the same
    # real value, so every element is within 1 LSB; the few in a thousand that lie within a
    # rounding error of a .5 boundary come out 1 apart.
    assert_within_one_lsb(got["y"], want["y"], "QLinearConv", min_exact=0.99 if const else 0.999)


# ---- float16 scales (opset 19+) ---------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("axis", [None, 1])
def test_float16_quantize_dequantize(seed, axis, nibble_bin, test_out):
    rng = np.random.default_rng(seed)
    shape = (2, 6, 5)
    scale = np.asarray(rng.uniform(0.02, 0.2, size=() if axis is None else (shape[axis],)), np.float16)
    zp = zero_points(rng, np.uint8, scale.shape)
    x = rng.normal(0, 6, size=shape).astype(np.float16)
    attrs = {} if axis is None else {"axis": axis}
    q_inputs = [("x", x), ("y_scale", scale), ("y_zero_point", zp)]
    q = one_node_model("QuantizeLinear", q_inputs, [("y", TensorProto.UINT8)], set(), **attrs)
    ort_y, got = run_both(q, dict(q_inputs), nibble_bin, test_out / "quant_ops" / f"q_f16_{axis}_{seed}")
    # ORT 1.20 is no oracle here: its float16 QuantizeLinear is off by one code in about half the
    # elements (e.g. 3.842 / 0.1346 = 28.54 gives 156 - 128 = 28). Nor is the ONNX reference, which
    # divides in float16 and so rounds twice (9.086 / 0.1346 = 67.48 becomes 67.5, then 68). The
    # quotient of two float16 values taken in float64 is exact enough to round correctly for 8-bit
    # codes, and nibble (float32 division) must match it exactly.
    s_full = scale.astype(np.float64) if axis is None else scale.astype(np.float64).reshape(1, -1, 1)
    z_full = zp.astype(np.float64) if axis is None else zp.astype(np.float64).reshape(1, -1, 1)
    want = np.clip(np.rint(x.astype(np.float64) / s_full) + z_full, 0, 255).astype(np.uint8)
    assert_exact(got["y"], want, "QuantizeLinear float16 (against the exactly rounded quotient)")
    assert np.max(np.abs(ort_y["y"].astype(int) - want.astype(int))) <= 1
    dq_inputs = [("x", codes(rng, np.uint8, shape)), ("x_scale", scale), ("x_zero_point", zp)]
    dq = one_node_model("DequantizeLinear", dq_inputs, [("y", TensorProto.FLOAT16)], set(), **attrs)
    want, got = run_both(dq, dict(dq_inputs), nibble_bin, test_out / "quant_ops" / f"dq_f16_{axis}_{seed}")
    assert_exact(got["y"], want["y"], "DequantizeLinear float16")


# ---- the opset-10 node tests ------------------------------------------------------------

NODE_TEST_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"


@pytest.mark.parametrize("name", ["test_qlinearconv", "test_matmulinteger", "test_convinteger_with_padding",
                                  "test_convinteger_without_padding"])
def test_opset10_node_test(name, nibble_bin, test_out):
    """The node-test runner skips these: their models import opset 10, below nibble's 11. QLinearConv,
    MatMulInteger and ConvInteger have not changed since version 10, so the same model importing
    opset 13 means the same thing; run it and compare with the test's expected output exactly."""
    d = NODE_TEST_DIR / name
    if not d.is_dir():
        pytest.skip(f"no ONNX node test data at {d}")
    model = onnx.load(str(d / "model.onnx"))
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            assert o.version == 10, f"{name} now imports opset {o.version}; the node-test runner covers it"
            o.version = 13
    workdir = fresh_dir(test_out / "quant_ops" / f"node_{name}")
    model_path = workdir / "model.onnx"
    onnx.save(model, str(model_path))
    data = d / "test_data_set_0"
    args = []
    for i, vi in enumerate(model.graph.input):
        path = workdir / f"in{i}.npy"
        np.save(path, numpy_helper.to_array(onnx.load_tensor(str(data / f"input_{i}.pb"))))
        args += ["-i", f"{vi.name}={path}"]
    out_dir = fresh_dir(workdir / "out")
    run = run_cli([nibble_bin, "run", model_path, *args, "-o", out_dir], TIMEOUT_S)
    assert run.returncode == 0, f"{run.command_line}\n{run.stderr.strip()}"
    for i, vi in enumerate(model.graph.output):
        want = numpy_helper.to_array(onnx.load_tensor(str(data / f"output_{i}.pb")))
        assert_exact(np.load(out_dir / f"{sanitize(vi.name)}.npy"), want, f"{name} output {vi.name}")


# ---- the exact oracle itself --------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("per_channel", [False, True])
def test_exact_oracle_agrees_with_ort_where_ort_is_exact(seed, case, per_channel):
    # ort_oracle.exact_outputs stands in for ORT where ORT's u8 x s8 products can saturate. On
    # uint8 x uint8 ORT is exact on every CPU (and on any types with VNNI): there the two agree,
    # on every conv case (groups, strides, dilations, auto_pad, 1-D) and matmul shape here.
    rng = np.random.default_rng(seed)
    exact_types = [np.uint8] if ort_oracle.U8S8_MAY_SATURATE else [np.uint8, np.int8]
    for tw in exact_types:
        xs, ws, attrs = CONV_CASES[case]
        m, k = ws[0], int(np.prod(ws[1:]))
        x_scale = np.float32(rng.uniform(0.01, 0.05))
        w_scale = np.asarray(rng.uniform(0.002, 0.02, size=(m,) if per_channel else ()), np.float32)
        w_zp = np.full(w_scale.shape, zero_points(rng, tw) if tw == np.uint8 else 0, tw)
        inputs = [("x", codes(rng, np.uint8, xs)), ("x_scale", np.array(x_scale)),
                  ("x_zero_point", zero_points(rng, np.uint8)), ("w", codes(rng, tw, ws)), ("w_scale", w_scale),
                  ("w_zero_point", w_zp), ("y_scale", np.array(np.float32(x_scale * np.mean(w_scale) * 64 * np.sqrt(k) / 6))),
                  ("y_zero_point", zero_points(rng, np.uint8)),
                  ("B", rng.integers(-5000, 5000, size=(m,)).astype(np.int32))]
        by_name = dict(inputs)
        conv_integer = [("x", by_name["x"]), ("w", by_name["w"]), ("x_zero_point", by_name["x_zero_point"]),
                        ("w_zero_point", w_zp.reshape(-1)[:1].reshape(()))]  # ConvInteger: one w zero point
        for op, ins in [("QLinearConv", inputs), ("ConvInteger", conv_integer)]:
            model = one_node_model(op, ins, [("y", TensorProto.UINT8 if op == "QLinearConv" else TensorProto.INT32)],
                                   set(), **attrs)
            feeds = dict(ins)
            sess = ort.InferenceSession(model.SerializeToString(), ort_oracle.session_options(),
                                        providers=["CPUExecutionProvider"])
            want = sess.run(["y"], feeds)[0]
            got = ort_oracle.exact_outputs(model, feeds)["y"]
            if op == "QLinearConv":
                assert_within_one_lsb(got, want, f"exact oracle {op} {np.dtype(tw).name}", min_exact=0.99)
            else:
                assert_exact(got, want, f"exact oracle {op} {np.dtype(tw).name}")
    sa, sb = MATMUL_SHAPES[case % len(MATMUL_SHAPES)]
    a, b = codes(rng, np.uint8, sa), codes(rng, np.uint8, sb)
    ins = [("A", a), ("B", b), ("a_zero_point", zero_points(rng, np.uint8)), ("b_zero_point", zero_points(rng, np.uint8))]
    model = one_node_model("MatMulInteger", ins, [("Y", TensorProto.INT32)], set())
    want = ort.InferenceSession(model.SerializeToString(), ort_oracle.session_options(),
                                providers=["CPUExecutionProvider"]).run(["Y"], dict(ins))[0]
    assert_exact(ort_oracle.exact_outputs(model, dict(ins))["Y"], want, "exact oracle MatMulInteger")
