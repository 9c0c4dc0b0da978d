"""Shape and data-movement ops, every element type, against onnx.reference.

The ONNX backend node tests exercise these ops mostly on float32. Here each op
runs over every element type ONNX allows for it that nibble holds, with the
attribute-vs-input forms of older and newer opsets, and with parameters given
both as initializers (planned once) and as graph inputs (planned per run from
their values). The oracle is onnx.reference.ReferenceEvaluator (numpy), which
covers every type; results must match exactly (these ops only move or compare
elements; Mean is the one exception and is compared with a tolerance).

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_tensor_ops_reference.py
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from nibble_cli import fresh_dir, run_cli, sanitize

TIMEOUT_S = 60

FLOATS = [np.float32, np.float64, np.float16]
INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
NUMERIC = FLOATS + INTS
ANY = NUMERIC + [np.bool_]


def sample(dtype, shape, rng, lo=-20, hi=20):
    """Values every type holds exactly; unsigned types get non-negative ones."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dtype.kind == "u":
        lo = max(lo, 0)
    if dtype.kind == "f":
        return (rng.integers(lo * 4, hi * 4, size=shape) / 4).astype(dtype)
    return rng.integers(lo, hi, size=shape).astype(dtype)


@dataclass
class Case:
    op: str
    inputs: list  # (name, ndarray); runtime graph inputs
    attrs: dict = field(default_factory=dict)
    consts: list = field(default_factory=list)  # (name, ndarray): initializers
    n_outputs: int = 1
    opset: int = 21
    node_inputs: list | None = None  # explicit input list ('' for omitted); default: inputs then consts
    rtol: float = 0.0
    expected: list | None = None  # when the reference evaluator cannot compute it

    def model(self) -> onnx.ModelProto:
        names = self.node_inputs if self.node_inputs is not None else [n for n, _ in self.inputs + self.consts]
        outs = [f"y{i}" for i in range(self.n_outputs)]
        node = helper.make_node(self.op, names, outs, name=f"{self.op.lower()}_node", **self.attrs)
        g_in = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                for n, a in self.inputs]
        g_out = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs]
        inits = [numpy_helper.from_array(a, n) for n, a in self.consts]
        graph = helper.make_graph([node], "g", g_in, g_out, inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], ir_version=8)


def tname(dtype) -> str:
    return np.dtype(dtype).name


def build_cases() -> dict[str, Case]:
    rng = np.random.default_rng(7)
    cases: dict[str, Case] = {}

    def add(label, case):
        assert label not in cases, label
        cases[label] = case

    for t in ANY:
        x = sample(t, (2, 3, 4), rng)
        n = tname(t)
        add(f"Reshape-{n}", Case("Reshape", [("x", x)], consts=[("s", np.array([4, 0, -1], np.int64))]))
        add(f"Flatten-{n}", Case("Flatten", [("x", x)], {"axis": -1}))
        add(f"Transpose-{n}", Case("Transpose", [("x", x)], {"perm": [2, 0, 1]}))
        add(f"TransposeDefault-{n}", Case("Transpose", [("x", x)]))
        add(f"Squeeze-{n}", Case("Squeeze", [("x", x.reshape(2, 1, 3, 4))], consts=[("a", np.array([1], np.int64))]))
        add(f"Unsqueeze-{n}", Case("Unsqueeze", [("x", x)], consts=[("a", np.array([-1, 0], np.int64))]))
        add(f"Expand-{n}", Case("Expand", [("x", x[:, :1, :])], consts=[("s", np.array([2, 1, 3, 1], np.int64))]))
        add(f"Tile-{n}", Case("Tile", [("x", x)], consts=[("r", np.array([1, 2, 3], np.int64))]))
        add(f"Concat-{n}", Case("Concat", [("a", x), ("b", x[:, :1, :]), ("c", x[:, :2, :])], {"axis": -2}))
        add(f"Split-{n}", Case("Split", [("x", x)], {"axis": 2}, consts=[("s", np.array([1, 3], np.int64))],
                               n_outputs=2))
        add(f"Slice-{n}", Case("Slice", [("x", x)], consts=[("st", np.array([-1, 3], np.int64)),
                                                           ("en", np.array([-100, 0], np.int64)),
                                                           ("ax", np.array([2, 1], np.int64)),
                                                           ("sp", np.array([-2, -1], np.int64))]))
        add(f"Gather-{n}", Case("Gather", [("x", x), ("i", np.array([[-1, 0], [2, 1]], np.int64))], {"axis": 1}))
        add(f"Identity-{n}", Case("Identity", [("x", x)]))
        add(f"Where-{n}", Case("Where", [("c", sample(np.bool_, (3, 1), rng)), ("a", x), ("b", x[:1, :1, :])]))
        for mode in ["constant", "reflect", "edge", "wrap"]:
            add(f"Pad-{mode}-{n}", Case("Pad", [("x", x)], {"mode": mode},
                                        consts=[("p", np.array([1, 2, 0, 3], np.int64)),
                                                ("v", np.array(sample(t, (), rng))),
                                                ("ax", np.array([2, 0], np.int64))]))
        add(f"ConstantOfShape-{n}", Case("ConstantOfShape", [("s", np.array([2, 3], np.int64))],
                                         {"value": numpy_helper.from_array(sample(t, (1,), rng), "v")}))
        add(f"Shape-{n}", Case("Shape", [("x", x)], {"start": -2}))
        add(f"Size-{n}", Case("Size", [("x", x)]))
        for to in ANY:
            src = sample(t, (3, 5), rng, lo=0 if np.dtype(to).kind == "u" else -20)
            add(f"Cast-{n}-to-{tname(to)}",
                Case("Cast", [("x", src)], {"to": helper.np_dtype_to_tensor_dtype(np.dtype(to))}))

    for t in NUMERIC:
        n = tname(t)
        a, b = sample(t, (2, 3, 4), rng, -4, 4), sample(t, (3, 1), rng, -4, 4)
        for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]:
            add(f"{op}-{n}", Case(op, [("a", a), ("b", b)]))
        for op in ["Max", "Min"]:
            add(f"{op}-{n}", Case(op, [("a", a), ("b", b), ("c", sample(t, (4,), rng, -4, 4))]))
        for op in ["ArgMax", "ArgMin"]:
            for keep in [0, 1]:
                for last in [0, 1]:
                    add(f"{op}-k{keep}-l{last}-{n}",
                        Case(op, [("x", a)], {"axis": -2, "keepdims": keep, "select_last_index": last}))
    add("Equal-bool", Case("Equal", [("a", sample(np.bool_, (2, 3), rng)), ("b", sample(np.bool_, (3,), rng))]))
    for t in FLOATS:
        n = tname(t)
        for op in ["Sum", "Mean"]:
            add(f"{op}-{n}", Case(op, [("a", sample(t, (2, 3), rng)), ("b", sample(t, (3,), rng)),
                                      ("c", sample(t, (2, 1), rng))], rtol=1e-3 if t == np.float16 else 1e-6))
        add(f"Dropout-{n}", Case("Dropout", [("x", sample(t, (2, 3), rng))], n_outputs=2))
        add(f"Dropout-ratio-{n}", Case("Dropout", [("x", sample(t, (2, 3), rng))],
                                       consts=[("r", np.array(0.3, np.float32)), ("tm", np.array(False))],
                                       n_outputs=2))
    for op in ["And", "Or", "Xor"]:
        add(op, Case(op, [("a", sample(np.bool_, (2, 3, 4), rng)), ("b", sample(np.bool_, (3, 1), rng))]))
    add("Not", Case("Not", [("a", sample(np.bool_, (2, 3), rng))]))
    for t, (s, l, d) in [(np.float32, (1.5, -3.0, -0.75)), (np.float64, (0.0, 1.0, 0.125)),
                         (np.int16, (-7, 9, 4)), (np.int32, (10, -10, -3)), (np.int64, (5, 5, 1))]:
        # start is a graph input (the CLI needs one); limit and delta are initializers.
        add(f"Range-{tname(t)}", Case("Range", [("s", np.array(s, t))], consts=[("l", np.array(l, t)),
                                                                               ("d", np.array(d, t))]))

    # Older opsets: parameters as attributes.
    x = sample(np.float32, (2, 1, 6), rng)
    add("Squeeze-op11", Case("Squeeze", [("x", x)], {"axes": [-2]}, opset=11))
    add("Squeeze-all", Case("Squeeze", [("x", x)]))
    add("Unsqueeze-op11", Case("Unsqueeze", [("x", x)], {"axes": [1, 4]}, opset=11))
    add("Split-op11", Case("Split", [("x", x)], {"axis": -1, "split": [2, 4]}, n_outputs=2, opset=11))
    add("Split-op11-equal", Case("Split", [("x", x)], {"axis": 2}, n_outputs=3, opset=11))
    add("Split-op18-uneven", Case("Split", [("x", x[:, :, :5])], {"axis": 2, "num_outputs": 3}, n_outputs=3,
                                  opset=18))
    add("Pad-op11-reflect", Case("Pad", [("x", x)], {"mode": "reflect"},
                                 consts=[("p", np.array([0, 0, 7, 1, 0, 2], np.int64))], opset=11))
    add("Pad-op13-constant", Case("Pad", [("x", x)], consts=[("p", np.array([1, 0, 0, 1, 2, 3], np.int64)),
                                                          ("v", np.array(2.5, np.float32))], opset=13))
    # numpy.pad refuses negative pads (crops); the expected value is padding, then cropping.
    y = np.pad(x, [(1, 1), (0, 2), (0, 0)], mode="reflect")[:, :, 2:5]
    add("Pad-negative-reflect", Case("Pad", [("x", x)], {"mode": "reflect"},
                                     consts=[("p", np.array([1, 0, -2, 1, 2, -1], np.int64))], expected=[y]))
    add("Dropout-op11", Case("Dropout", [("x", x)], {"ratio": 0.2}, n_outputs=2, opset=11))
    add("ArgMax-op11", Case("ArgMax", [("x", x)], {"axis": 2, "keepdims": 0}, opset=11))
    add("Reshape-op13-zero", Case("Reshape", [("x", x)], consts=[("s", np.array([0, 0, 3, 2], np.int64))], opset=13))
    add("Shape-op13", Case("Shape", [("x", x)], opset=13))

    # Parameters as graph inputs: the plan depends on their values.
    add("Reshape-dynamic", Case("Reshape", [("x", x), ("s", np.array([3, -1], np.int64))]))
    add("Slice-dynamic", Case("Slice", [("x", x), ("st", np.array([1, -1], np.int32)),
                                        ("en", np.array([2**31 - 1, -2**31], np.int32)),
                                        ("ax", np.array([0, -1], np.int32))]))
    add("Slice-dynamic-steps", Case("Slice", [("x", x), ("st", np.array([5], np.int32)),
                                              ("en", np.array([-2**31], np.int32)), ("ax", np.array([-1], np.int32)),
                                              ("sp", np.array([-2], np.int32))]))
    add("Tile-dynamic", Case("Tile", [("x", x), ("r", np.array([2, 3, 1], np.int64))]))
    add("Expand-dynamic", Case("Expand", [("x", x), ("s", np.array([3, 1, 1, 1], np.int64))]))
    add("ConstantOfShape-dynamic", Case("ConstantOfShape", [("s", np.array([0, 4], np.int64))]))
    add("Range-dynamic", Case("Range", [("s", np.array(3, np.int64)), ("l", np.array(-4, np.int64)),
                                        ("d", np.array(-2, np.int64))]))
    add("Pad-dynamic", Case("Pad", [("x", x), ("p", np.array([0, 1, 1, 0, 0, 2], np.int64))], {"mode": "edge"}))
    add("Squeeze-dynamic", Case("Squeeze", [("x", x), ("a", np.array([1], np.int64))]))
    add("Split-dynamic", Case("Split", [("x", x), ("s", np.array([0, 6], np.int64))], {"axis": -1},
                              n_outputs=2, opset=13))
    add("Gather-int32-scalar", Case("Gather", [("x", x), ("i", np.array(-3, np.int32))], {"axis": -1}))
    add("Slice-empty", Case("Slice", [("x", x)], consts=[("st", np.array([4], np.int64)),
                                                        ("en", np.array([1], np.int64))],
                            node_inputs=["x", "st", "en"]))
    return cases


CASES = build_cases()


def reference(case: Case) -> list[np.ndarray]:
    if case.expected is not None:
        return case.expected
    feeds = {n: a for n, a in case.inputs}
    return ReferenceEvaluator(case.model()).run(None, feeds)


@pytest.mark.parametrize("label", list(CASES))
def test_matches_onnx_reference(label, nibble_bin, test_out):
    case = CASES[label]
    work = fresh_dir(test_out / "tensor_ops" / sanitize(label))
    model_path = work / "model.onnx"
    onnx.save(case.model(), str(model_path))
    args = []
    for n, a in case.inputs:
        np.save(work / f"in_{n}.npy", a)
        args += ["-i", f"{n}={work / f'in_{n}.npy'}"]
    out = work / "out"
    run = run_cli([nibble_bin, "run", model_path, *args, "-o", out], TIMEOUT_S)
    assert run.returncode == 0, f"{label}: nibble failed:\n{run.stderr}"
    want = reference(case)
    for i, w in enumerate(want):
        w = np.asarray(w)
        got = np.load(out / f"y{i}.npy")
        assert got.dtype == w.dtype and got.shape == w.shape, \
            f"{label} output {i}: nibble {got.dtype}{got.shape}, reference {w.dtype}{w.shape}"
        if case.rtol:
            np.testing.assert_allclose(got, w, rtol=case.rtol, err_msg=label)
        else:
            np.testing.assert_array_equal(got, w, err_msg=label)
