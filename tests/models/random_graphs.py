#!/usr/bin/env python3
"""Small random ONNX graphs for differential testing against ONNX Runtime.

`make_random_graph(seed)` chains 2-8 randomly chosen operators, each with
randomly chosen attributes (groups, dilations, strides, auto_pad, broadcasting,
negative axes, optional inputs left out, parameters as initializers or as
Constant nodes...). The generator tracks every shape itself, so every graph is
valid by construction; `onnx.checker` with strict shape inference re-checks that.

Choices that would make ONNX Runtime's answer depend on an unspecified detail
are avoided (see the comments at each op): a differential test is only useful
if a mismatch means a bug in nibble.

    python tests/models/random_graphs.py --seed 7 --out /tmp/g7.onnx   # to reproduce one
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import GraphBuilder  # noqa: E402

MAX_ELEMENTS = 8192  # keeps each graph fast to run a few hundred times
MAX_DIM = 64
MAX_RANK = 5

UNARY = ["Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Clip", "Abs", "Neg", "Erf"]
BINARY = ["Add", "Sub", "Mul", "Div"]
# Every op the generator can emit; tests may pass a subset to make_random_graph.
OPS = UNARY + BINARY + [
    "Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "BatchNormalization", "Softmax", "Concat", "Transpose", "Reshape", "Flatten", "Pad", "Resize",
    "ReduceMean", "ReduceMax", "ReduceSum", "Slice", "Gather", "Squeeze", "Unsqueeze",
]

# How often each op is drawn, relative to 1.0. The ops with the most
# attributes (and so the most ways to be wrong) are drawn most; the ten
# one-liner activations share the weight of about five ops.
OP_WEIGHTS = {**{op: 0.5 for op in UNARY}, "Conv": 4.0, "Gemm": 1.5, "MatMul": 2.0, "MaxPool": 1.5,
              "AveragePool": 1.5, "Resize": 2.0, "Pad": 1.5, "Slice": 1.5,
              "ReduceMean": 0.7, "ReduceMax": 0.5, "ReduceSum": 0.5, "Squeeze": 0.5, "Unsqueeze": 0.5}

SPATIAL_RANKS = (3, 4)  # NCW and NCHW: 1-D and 2-D convolutions and pools


def _numel(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _fits(shape) -> bool:
    return len(shape) <= MAX_RANK and _numel(shape) <= MAX_ELEMENTS and all(1 <= d <= MAX_DIM for d in shape)


class _Generator:
    def __init__(self, seed: int, ops: list[str]):
        self.rng = np.random.default_rng(seed)
        self.b = GraphBuilder(seed)
        self.ops = ops
        weights = np.array([OP_WEIGHTS.get(op, 1.0) for op in ops])
        self.op_probs = weights / weights.sum()
        self.shape: dict[str, tuple[int, ...]] = {}
        self.producer: dict[str, str] = {}  # tensor -> op type that made it
        self.inputs: list[onnx.ValueInfoProto] = []

    # ---- helpers ---------------------------------------------------------------------

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def add_input(self, name: str, shape) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.shape[name] = tuple(shape)
        return name

    def emit(self, op: str, inputs: list[str], shape, **attrs) -> str:
        out = self.b.node(op, inputs, op, **attrs)
        self.shape[out] = tuple(int(d) for d in shape)
        self.producer[out] = op
        return out

    def weight(self, name: str, shape, std: float = 1.0) -> str:
        return self.b.const(name, self.rng.normal(0.0, std, shape).astype(np.float32))

    def param(self, name: str, values) -> str:
        """An int64/float parameter input (shape, pads, axes, scales...).

        Exporters write these both as initializers and as Constant nodes;
        nibble must treat the two alike, so both forms appear.
        """
        arr = np.asarray(values)
        if self.chance(0.25):
            return self.b.node("Constant", [], f"{name}.const", value=numpy_helper.from_array(arr, "value"))
        return self.b.const(name, arr)

    def broadcastable_shape(self, shape) -> tuple[int, ...]:
        """A shape that broadcasts against `shape`: leading dims dropped, some dims set to 1."""
        drop = int(self.rng.integers(0, len(shape) + 1))
        return tuple(d if self.chance(0.5) else 1 for d in shape[drop:])

    def axis(self, rank: int) -> int:
        """A valid axis, negative half the time (nibble must normalize both)."""
        a = int(self.rng.integers(rank))
        return a - rank if self.chance(0.5) else a

    def same_shape_branch(self, x: str, bounded: bool = False) -> str:
        """A cheap unary op on x: the second operand that turns a chain into a DAG.

        `bounded` picks a saturating op, for products: x * Relu(x) squares
        magnitudes, and a few of those make a test of float noise.
        """
        ops = ["Sigmoid", "Tanh"] if bounded else ["Relu", "Sigmoid", "Neg", "Tanh"]
        return self.emit(self.pick(ops), [x], self.shape[x])

    # ---- elementwise -----------------------------------------------------------------

    def op_unary(self, x: str, op: str):
        s = self.shape[x]
        if op == "LeakyRelu":
            return self.emit(op, [x], s, alpha=float(self.rng.uniform(0.01, 0.3)))
        if op == "HardSigmoid":
            alpha, beta = float(self.rng.uniform(0.1, 0.4)), float(self.rng.uniform(0.3, 0.7))
            return self.emit(op, [x], s, alpha=alpha, beta=beta)
        if op == "Clip":
            lo = float(self.rng.uniform(-1.5, 0.0))
            hi = lo + float(self.rng.uniform(0.2, 3.0))
            # min and max are optional inputs; an empty name skips min.
            kind = self.pick(["both", "min", "max"])
            lo_name = self.b.const("clip.min", np.array(lo, np.float32)) if kind != "max" else ""
            hi_name = self.b.const("clip.max", np.array(hi, np.float32)) if kind != "min" else None
            inputs = [x, lo_name] + ([hi_name] if hi_name else [])
            return self.emit(op, inputs, s)
        return self.emit(op, [x], s)

    def op_binary(self, x: str, op: str):
        s = self.shape[x]
        other_shape = self.broadcastable_shape(s)
        if self.chance(0.15):
            other_shape = (2,) + s  # the constant, not x, sets the output rank
        if not _fits(np.broadcast_shapes(s, other_shape)):
            return None
        roll = self.rng.random()
        if op == "Div":
            # Only constant divisors, bounded away from zero: a differential
            # test of x/0 or x/tiny only measures noise.
            mag = self.rng.uniform(0.5, 2.0, other_shape) * self.rng.choice([-1.0, 1.0], other_shape)
            other = self.b.const("div.divisor", mag.astype(np.float32))
        elif roll < 0.25 and len(self.inputs) == 1:
            other = self.add_input("input2", other_shape)  # a second graph input
        elif roll < 0.4:
            other, other_shape = self.same_shape_branch(x, bounded=op == "Mul"), s
        else:
            other = self.weight(f"{op.lower()}.b", other_shape)
        inputs = [other, x] if op != "Div" and self.chance(0.3) else [x, other]
        return self.emit(op, inputs, np.broadcast_shapes(s, other_shape))

    # ---- convolution and pooling -----------------------------------------------------

    @staticmethod
    def _conv_out(size, k, stride, dilation, pad_begin, pad_end, ceil_mode=False):
        span = size + pad_begin + pad_end - ((k - 1) * dilation + 1)
        if span < 0:
            return 0
        return (-(-span // stride) if ceil_mode else span // stride) + 1

    def _spatial_attrs(self, spatial, kernel, strides, dilations, auto_pads):
        """Pick auto_pad/pads; return (attrs, output spatial dims) or None."""
        auto_pad = self.pick(auto_pads)
        attrs, out = {}, []
        if auto_pad == "NOTSET":
            k_eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
            begin = [int(self.rng.integers(0, min(k, ke))) for k, ke in zip(kernel, k_eff)]
            end = [int(self.rng.integers(0, min(k, ke))) for k, ke in zip(kernel, k_eff)]
            attrs["pads"] = begin + end
            out = [self._conv_out(n, k, st, d, pb, pe)
                   for n, k, st, d, pb, pe in zip(spatial, kernel, strides, dilations, begin, end)]
        elif auto_pad == "VALID":
            attrs["auto_pad"] = auto_pad
            out = [self._conv_out(n, k, st, d, 0, 0) for n, k, st, d in zip(spatial, kernel, strides, dilations)]
        else:  # SAME_UPPER / SAME_LOWER: output = ceil(input / stride)
            if dilations != [1] * len(spatial):
                return None  # ORT rejects SAME with dilation, so there is no oracle
            attrs["auto_pad"] = auto_pad
            out = [-(-n // st) for n, st in zip(spatial, strides)]
        return (attrs, out) if min(out) >= 1 else None

    def op_conv(self, x: str, op: str):
        s = self.shape[x]
        if len(s) not in SPATIAL_RANKS:
            return None
        n, c_in, spatial = s[0], s[1], s[2:]
        groups = self.pick([g for g in range(1, c_in + 1) if c_in % g == 0] + [1, c_in])  # favor dense and depthwise
        c_out = groups * int(self.rng.integers(1, max(1, 16 // groups) + 1))
        kernel = [int(self.pick([1, 2, 3, 3, 5])) for _ in spatial]
        strides = [int(self.pick([1, 1, 2])) for _ in spatial]
        dilations = [int(self.pick([1, 1, 2])) for _ in spatial]
        auto_pads = ["NOTSET"] * 3 + ["SAME_UPPER", "SAME_LOWER", "VALID"]
        picked = self._spatial_attrs(spatial, kernel, strides, dilations, auto_pads)
        if picked is None or c_out > MAX_DIM:
            return None
        attrs, out = picked
        out_shape = (n, c_out, *out)
        if not _fits(out_shape):
            return None
        fan_in = (c_in // groups) * _numel(kernel)
        inputs = [x, self.weight("conv.weight", (c_out, c_in // groups, *kernel), 1.0 / math.sqrt(fan_in))]
        if self.chance(0.6):
            inputs.append(self.weight("conv.bias", (c_out,), 0.1))
        # Attributes that equal their defaults are sometimes left out, as exporters do.
        if groups != 1 or self.chance(0.5):
            attrs["group"] = groups
        if strides != [1] * len(spatial) or self.chance(0.5):
            attrs["strides"] = strides
        if dilations != [1] * len(spatial) or self.chance(0.5):
            attrs["dilations"] = dilations
        if self.chance(0.5):
            attrs["kernel_shape"] = kernel
        return self.emit("Conv", inputs, out_shape, **attrs)

    def op_pool(self, x: str, op: str):
        s = self.shape[x]
        if len(s) not in SPATIAL_RANKS or self.producer.get(x) == "Pad":
            # ORT 1.20's PadFusion folds a Pad into the pool's pads and then
            # rejects the model when they reach the kernel size: no oracle.
            return None
        spatial = s[2:]
        kernel = [int(self.rng.integers(1, 4)) for _ in spatial]
        strides = [int(self.rng.integers(1, 3)) for _ in spatial]
        dilations = [1] * len(spatial)
        if op == "MaxPool" and self.chance(0.2):
            dilations = [int(self.pick([1, 2])) for _ in spatial]
        attrs = {"kernel_shape": kernel, "strides": strides}
        count_include_pad = int(op == "AveragePool" and self.chance(0.5))
        # Whether auto_pad's implicit padding counts toward the divisor is a
        # detail the spec leaves loose, so SAME only with count_include_pad=0.
        auto_pads = ["NOTSET"] * 3 + ([] if count_include_pad else ["SAME_UPPER", "SAME_LOWER", "VALID"])
        picked = self._spatial_attrs(spatial, kernel, strides, dilations, auto_pads)
        if picked is None:
            return None
        pad_attrs, out = picked
        if dilations != [1] * len(spatial) and any(pad_attrs.get("pads", [])):
            # With dilation a window can fall wholly in the padding, where the
            # max is -inf in one runtime and -FLT_MAX in another.
            pad_attrs["pads"] = [0] * (2 * len(spatial))
            out = [self._conv_out(n, k, st, d, 0, 0) for n, k, st, d in zip(spatial, kernel, strides, dilations)]
            if min(out) < 1:
                return None
        attrs.update(pad_attrs)
        if "pads" in attrs and not count_include_pad and self.chance(0.4):
            # ceil_mode only where the last window starts inside the (left-padded)
            # input: past that, ORT 1.20 and the opset-19 spec text disagree on
            # the output size, and runtimes on the divisor of the extra window.
            half = len(spatial)
            pads = attrs["pads"]
            ceil_out = [self._conv_out(n, k, st, d, pads[i], pads[i + half], ceil_mode=True)
                        for i, (n, k, st, d) in enumerate(zip(spatial, kernel, strides, dilations))]
            if all((o - 1) * st < n + pads[i] for i, (o, st, n) in enumerate(zip(ceil_out, strides, spatial))):
                attrs["ceil_mode"], out = 1, ceil_out
        if count_include_pad:
            attrs["count_include_pad"] = 1
        if dilations != [1] * len(spatial):
            attrs["dilations"] = dilations
        return self.emit(op, [x], (*s[:2], *out), **attrs)

    def op_global_pool(self, x: str, op: str):
        s = self.shape[x]
        if len(s) not in SPATIAL_RANKS:
            return None
        return self.emit(op, [x], (*s[:2], *[1] * (len(s) - 2)))

    def op_batchnorm(self, x: str, op: str):
        s = self.shape[x]
        if len(s) < 2:
            return None
        if self.producer.get(x) == "MatMul:batched":
            return None  # ORT 1.20's MatMulBnFusion assumes a 2-D weight and fails
        c = s[1]
        params = [self.b.const("bn.scale", self.rng.uniform(0.5, 1.5, c).astype(np.float32)),
                  self.b.const("bn.bias", self.rng.normal(0, 0.2, c).astype(np.float32)),
                  self.b.const("bn.mean", self.rng.normal(0, 0.2, c).astype(np.float32)),
                  self.b.const("bn.var", self.rng.uniform(0.3, 2.0, c).astype(np.float32))]
        return self.emit(op, [x, *params], s, epsilon=float(self.pick([1e-5, 1e-3])))

    # ---- linear algebra --------------------------------------------------------------

    def op_gemm(self, x: str, op: str):
        s = self.shape[x]
        if len(s) > 2:  # a CNN head: Flatten then Gemm
            s = (s[0], _numel(s[1:]))
            x = self.emit("Flatten", [x], s, axis=1)
        if len(s) != 2:
            return None
        trans_a, trans_b = self.chance(0.3), self.chance(0.5)
        m, k = (s[1], s[0]) if trans_a else s
        n = int(self.rng.integers(1, 33))
        w = self.weight("gemm.B", (n, k) if trans_b else (k, n), 1.0 / math.sqrt(k))
        inputs = [x, w]
        c_shape = self.pick([None, (n,), (1, n), (m, n), (m, 1), ()])
        if c_shape is not None:
            inputs.append(self.weight("gemm.C", c_shape, 0.1))
        attrs = {}
        if trans_a:
            attrs["transA"] = 1
        if trans_b:
            attrs["transB"] = 1
        if self.chance(0.4):
            attrs["alpha"] = float(self.rng.uniform(0.5, 1.5))
            attrs["beta"] = float(self.rng.uniform(0.5, 1.5))
        return self.emit(op, inputs, (m, n), **attrs)

    def op_matmul(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        kind = self.pick(["weight", "weight", "vector", "batched_weight", "left_weight", "self"])
        k = s[-1]
        if kind == "vector":  # a 1-D right operand drops the last dim
            if self.producer.get(x) == "Transpose":
                return None  # ORT 1.20's MatMulTransposeFusion gets Transpose -> MatMul(1-D B) wrong
            return self.emit(op, [x, self.weight("matmul.v", (k,), 1.0 / math.sqrt(k))], s[:-1])
        if len(s) == 1:
            kind = "weight"  # a 1-D left operand: [K] @ [K, N] -> [N]
        n = int(self.rng.integers(1, 33))
        # Each kind checks the output fits before adding its weight: a weight
        # left behind by a dropped op would be an unused initializer.
        if kind == "weight":
            out = (*s[:-1], n)
            if not _fits(out):
                return None
            return self.emit(op, [x, self.weight("matmul.W", (k, n), 1.0 / math.sqrt(k))], out)
        if kind == "batched_weight":  # weight with its own batch dim, broadcast against x's
            batch = int(self.pick([1, s[-3]])) if len(s) >= 3 else int(self.pick([1, 2]))
            out = (*np.broadcast_shapes(s[:-2], (batch,)), s[-2], n)
            if not _fits(out):
                return None
            y = self.emit(op, [x, self.weight("matmul.W", (batch, k, n), 1.0 / math.sqrt(k))], out)
            self.producer[y] = "MatMul:batched"
            return y
        if kind == "left_weight":  # [P, M] @ [..., M, K]
            if len(s) < 2:
                return None
            p = int(self.rng.integers(1, 17))
            out = (*s[:-2], p, s[-1])
            if not _fits(out):
                return None
            return self.emit(op, [self.weight("matmul.W", (p, s[-2]), 1.0 / math.sqrt(s[-2])), x], out)
        # t @ t^T over the last two dims, t = Tanh(x): both operands are
        # activations, as in attention; Tanh and the 1/K scale keep repeated
        # self-products from squaring magnitudes into the thousands.
        out = (*s[:-1], s[-2]) if len(s) >= 2 else None
        if out is None or not _fits(out):
            return None
        t = self.emit("Tanh", [x], s)
        perm = list(range(len(s) - 2)) + [len(s) - 1, len(s) - 2]
        tt = self.emit("Transpose", [t], [s[i] for i in perm], perm=perm)
        y = self.emit(op, [t, tt], out)
        return self.emit("Mul", [y, self.b.const("matmul.scale", np.array(1.0 / k, np.float32))], out)

    # ---- shape and layout ------------------------------------------------------------

    def op_softmax(self, x: str, op: str):
        s = self.shape[x]
        return self.emit(op, [x], s, axis=self.axis(len(s))) if s else None

    def op_concat(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        axis = self.axis(len(s))
        other_shape = list(s)
        branch = self.chance(0.5)  # the other part: a unary op of x, or a constant
        if not branch:
            other_shape[axis] = int(self.rng.integers(1, 5))
        repeat_x = self.chance(0.3)
        out = list(s)
        out[axis] = s[axis] * (2 if repeat_x else 1) + other_shape[axis]
        if not _fits(out):
            return None  # before emitting anything: a dropped branch would be a dead node
        other = self.same_shape_branch(x) if branch else self.weight("concat.c", other_shape)
        parts = [x, other] + ([x] if repeat_x else [])
        parts = [parts[i] for i in self.rng.permutation(len(parts))]
        return self.emit(op, parts, out, axis=axis)

    def op_transpose(self, x: str, op: str):
        s = self.shape[x]
        if len(s) < 2:
            return None
        if self.chance(0.2):  # no perm attribute means "reverse the dims"
            return self.emit(op, [x], s[::-1])
        perm = list(range(len(s)))
        while perm == sorted(perm):
            # Never the identity: ORT 1.20's GemmTransposeFusion treats an
            # identity Transpose before Gemm as a real one and fails.
            perm = [int(p) for p in self.rng.permutation(len(s))]
        return self.emit(op, [x], [s[p] for p in perm], perm=perm)

    def _random_factorization(self, total: int) -> list[int]:
        rank = int(self.rng.integers(1, 5))
        dims = []
        for _ in range(rank - 1):
            divisors = [d for d in range(1, min(total, MAX_DIM) + 1) if total % d == 0]
            dims.append(int(self.pick(divisors)))
            total //= dims[-1]
        return dims + [total]

    def op_reshape(self, x: str, op: str):
        s = self.shape[x]
        new = self._random_factorization(_numel(s))
        if not _fits(new):
            return None
        spec = list(new)
        if self.chance(0.3):  # 0 copies the input's dim at the same index
            same = [i for i in range(min(len(s), len(new))) if s[i] == new[i]]
            for i in same:
                if self.chance(0.5):
                    spec[i] = 0
        if self.chance(0.4):  # -1 is inferred from the element count
            spec[int(self.rng.integers(len(spec)))] = -1
        return self.emit(op, [x, self.param("reshape.shape", np.array(spec, np.int64))], new)

    def op_flatten(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        axis = int(self.rng.integers(-len(s), len(s) + 1))
        a = axis + len(s) if axis < 0 else axis
        out = (_numel(s[:a]), _numel(s[a:]))
        return self.emit(op, [x], out, axis=axis) if _fits(out) else None

    def op_squeeze(self, x: str, op: str):
        s = self.shape[x]
        ones = [i for i, d in enumerate(s) if d == 1]
        if not ones:
            return None
        if self.chance(0.2):  # no axes input: squeeze every 1
            return self.emit(op, [x], [d for d in s if d != 1])
        axes = sorted({int(self.pick(ones)) for _ in range(2)})
        spec = [a - len(s) if self.chance(0.5) else a for a in axes]
        return self.emit(op, [x, self.param("squeeze.axes", np.array(spec, np.int64))],
                         [d for i, d in enumerate(s) if i not in axes])

    def op_unsqueeze(self, x: str, op: str):
        s = self.shape[x]
        if len(s) >= MAX_RANK:
            return None
        out_rank = len(s) + 1
        axis = self.axis(out_rank)
        a = axis + out_rank if axis < 0 else axis
        out = list(s[:a]) + [1] + list(s[a:])
        return self.emit(op, [x, self.param("unsqueeze.axes", np.array([axis], np.int64))], out)

    def op_pad(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        mode = self.pick(["constant", "constant", "reflect", "edge"])
        limit = [d - 1 if mode == "reflect" else 2 for d in s]  # reflect needs pad < dim
        begin = [int(self.rng.integers(0, min(2, lim) + 1)) if self.chance(0.6) else 0 for lim in limit]
        end = [int(self.rng.integers(0, min(2, lim) + 1)) if self.chance(0.6) else 0 for lim in limit]
        out = [d + b + e for d, b, e in zip(s, begin, end)]
        if not _fits(out):
            return None
        inputs = [x, self.param("pad.pads", np.array(begin + end, np.int64))]
        if mode == "constant" and self.chance(0.5):
            inputs.append(self.b.const("pad.value", np.array(self.rng.uniform(-1, 1), np.float32)))
        return self.emit(op, inputs, out, mode=mode)

    def op_resize(self, x: str, op: str):
        s = self.shape[x]
        if len(s) != 4:
            return None
        mode = self.pick(["nearest", "linear"])
        factors = [float(self.pick([0.5, 1.0, 2.0, 3.0])) for _ in range(2)]
        if mode == "nearest":
            # Exact scale factors and modes where a tie is exact in float (or
            # cannot occur): with sizes (scale = out/in), align_corners, or a
            # ceil of x/3, a coordinate could land on either side of the
            # rounding point depending on how each runtime computes it.
            coord, nearest = self.pick([("asymmetric", "floor"), ("asymmetric", "round_prefer_floor"),
                                        ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
                                        ("pytorch_half_pixel", "floor")])
        else:
            coord, nearest = self.pick(["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"]), None
        use_sizes = mode == "linear" and self.chance(0.4)
        if use_sizes:
            out_hw = [int(self.rng.integers(1, 2 * d + 3)) for d in s[2:]]
        else:
            out_hw = [int(math.floor(d * f)) for d, f in zip(s[2:], factors)]
        out = (*s[:2], *out_hw)
        if min(out_hw) < 1 or not _fits(out):
            return None
        attrs = {"mode": mode, "coordinate_transformation_mode": coord}
        if nearest:
            attrs["nearest_mode"] = nearest
        if use_sizes:
            inputs = [x, "", "", self.param("resize.sizes", np.array(out, np.int64))]
        else:
            inputs = [x, "", self.param("resize.scales", np.array([1.0, 1.0, *factors], np.float32))]
        return self.emit(op, inputs, out, **attrs)

    def op_reduce(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        keepdims = int(self.chance(0.5))
        all_axes = self.chance(0.15)
        axes = list(range(len(s))) if all_axes else sorted({int(self.rng.integers(len(s))) for _ in range(2)})
        if op == "ReduceSum" and _numel([s[a] for a in axes]) > 32:
            return None  # long sums grow magnitudes that a later Softmax would amplify
        if keepdims:
            out = [1 if i in axes else d for i, d in enumerate(s)]
        else:
            out = [d for i, d in enumerate(s) if i not in axes]
        attrs = {} if keepdims == 1 and self.chance(0.5) else {"keepdims": keepdims}
        spec = np.array([a - len(s) if self.chance(0.5) else a for a in axes], np.int64)
        if op == "ReduceSum":  # axes became an input in opset 13 for ReduceSum only
            inputs = [x] if all_axes else [x, self.param("reduce.axes", spec)]
            return self.emit(op, inputs, out, **attrs)
        if not all_axes:
            attrs["axes"] = [int(a) for a in spec]
        return self.emit(op, [x], out, **attrs)

    def op_slice(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        axes = sorted({int(self.rng.integers(len(s))) for _ in range(int(self.rng.integers(1, 3)))})
        starts, ends, steps, out = [], [], [], list(s)
        for a in axes:
            d = s[a]
            step = int(self.pick([1, 1, 2, -1, -2]))
            start = int(self.rng.integers(-d, d))
            if step > 0:
                # ends past the dim (even INT64_MAX, as exporters write "to the end") clamp.
                end = int(self.pick([self.rng.integers(-d, d + 1), d + 5, 2**63 - 1]))
                lo = min(max(start + d if start < 0 else start, 0), d)
                hi = min(max(end + d if end < 0 else end, 0), d)
                n = max(0, -(-(hi - lo) // step))
            else:
                end = int(self.pick([self.rng.integers(-d, d), -(2**63)]))
                lo = min(max(start + d if start < 0 else start, 0), d - 1)
                hi = min(max(end + d if end < 0 else end, -1), d - 1)
                n = max(0, -(-(lo - hi) // -step))
            if n < 1:
                return None  # empty tensors are a separate concern, not tested here
            starts.append(start)
            ends.append(end)
            steps.append(step)
            out[a] = n
        spec_axes = [a - len(s) if self.chance(0.5) else a for a in axes]
        inputs = [x, self.param("slice.starts", np.array(starts, np.int64)),
                  self.param("slice.ends", np.array(ends, np.int64))]
        # axes may be left out only when they are the default 0..n-1; to give
        # steps without axes, the axes input is named "" (skipped).
        explicit_axes = self.chance(0.7) or axes != list(range(len(axes)))
        with_steps = any(st != 1 for st in steps) or self.chance(0.3)
        if explicit_axes:
            inputs.append(self.param("slice.axes", np.array(spec_axes, np.int64)))
        elif with_steps:
            inputs.append("")
        if with_steps:
            inputs.append(self.param("slice.steps", np.array(steps, np.int64)))
        return self.emit(op, inputs, out)

    def op_gather(self, x: str, op: str):
        s = self.shape[x]
        if not s:
            return None
        axis = self.axis(len(s))
        d = s[axis]
        idx_shape = self.pick([(), (int(self.rng.integers(1, 5)),), (2, 2)])
        indices = self.rng.integers(-d, d, idx_shape).astype(np.int64)  # negative indices count from the end
        a = axis + len(s) if axis < 0 else axis
        out = (*s[:a], *idx_shape, *s[a + 1:])
        if not _fits(out):
            return None
        return self.emit(op, [x, self.param("gather.indices", indices)], out, axis=axis)

    # ---- driver ----------------------------------------------------------------------

    def builder_for(self, op: str):
        if op in UNARY:
            return self.op_unary
        if op in BINARY:
            return self.op_binary
        return {
            "Conv": self.op_conv, "Gemm": self.op_gemm, "MatMul": self.op_matmul,
            "MaxPool": self.op_pool, "AveragePool": self.op_pool,
            "GlobalAveragePool": self.op_global_pool, "GlobalMaxPool": self.op_global_pool,
            "BatchNormalization": self.op_batchnorm, "Softmax": self.op_softmax, "Concat": self.op_concat,
            "Transpose": self.op_transpose, "Reshape": self.op_reshape, "Flatten": self.op_flatten,
            "Pad": self.op_pad, "Resize": self.op_resize, "ReduceMean": self.op_reduce,
            "ReduceMax": self.op_reduce, "ReduceSum": self.op_reduce, "Slice": self.op_slice,
            "Gather": self.op_gather, "Squeeze": self.op_squeeze, "Unsqueeze": self.op_unsqueeze,
        }[op]

    def first_input_shape(self):
        kind = self.pick(["nchw", "nchw", "nchw", "ncw", "nc"])
        n = int(self.pick([1, 1, 2]))
        if kind == "nchw":
            return (n, int(self.rng.integers(1, 9)), int(self.rng.integers(3, 13)), int(self.rng.integers(3, 13)))
        if kind == "ncw":
            return (n, int(self.rng.integers(1, 9)), int(self.rng.integers(3, 17)))
        return (n, int(self.rng.integers(2, 33)))

    def build(self, seed: int) -> onnx.ModelProto:
        x = self.add_input("input", self.first_input_shape())
        produced = []
        steps = int(self.rng.integers(2, 9))
        attempts = 0
        while len(produced) < steps and attempts < 200:
            attempts += 1
            op = self.ops[int(self.rng.choice(len(self.ops), p=self.op_probs))]
            y = self.builder_for(op)(x, op)
            if y is not None:
                produced.append(y)
                x = y
        if not produced:
            raise RuntimeError(f"seed {seed}: no applicable op among {self.ops}")

        # The last tensor is the output; sometimes an intermediate one too, which
        # is then both consumed and returned (a buffer the planner must not reuse).
        renames = {x: "output"}
        extra = [t for t in produced[:-1] if t not in renames]
        if extra and self.chance(0.3):
            # Odd characters make the CLI sanitize the .npy file name.
            renames[self.pick(extra)] = self.pick(["aux", "aux/0", "block:1/out"])
        for node in self.b.nodes:
            node.input[:] = [renames.get(n, n) for n in node.input]
            node.output[:] = [renames.get(n, n) for n in node.output]
        outputs = [helper.make_tensor_value_info(new, TensorProto.FLOAT, list(self.shape[old]))
                   for old, new in renames.items()]
        return self.b.model(f"random_{seed}", self.inputs, outputs)


def make_random_graph(seed: int, ops: list[str] | None = None) -> onnx.ModelProto:
    """A valid random ONNX model (opset 17) that depends only on `seed` (and `ops`)."""
    model = _Generator(seed, ops or OPS).build(seed)
    # Strict shape inference re-derives every shape; a mismatch with the
    # generator's own bookkeeping is a bug here, not in nibble.
    onnx.checker.check_model(model, full_check=True)
    return model


def describe(model: onnx.ModelProto) -> str:
    """One line per node, for failure messages."""
    lines = []
    for n in model.graph.node:
        attrs = ", ".join(f"{a.name}={helper.get_attribute_value(a)}" for a in n.attribute if a.name != "value")
        lines.append(f"  {n.op_type}({', '.join(n.input)}) -> {', '.join(n.output)}  {attrs}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write one random graph, to reproduce a failing test case.")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True, help="path of the .onnx file to write")
    args = ap.parse_args(argv)
    model = make_random_graph(args.seed)
    onnx.save(model, args.out)
    print(f"{args.out}\n{describe(model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
