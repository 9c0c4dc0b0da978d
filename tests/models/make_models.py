#!/usr/bin/env python3
"""Generate the reference float models nibble is tested and benchmarked on.

The models have the architecture of well-known networks (torchvision ResNet-18
and MobileNetV2, a small transformer encoder) but random, seeded weights: the
differential tests need realistic graphs and realistic activation ranges, not
trained accuracy, and generating them keeps ~60 MB of weights out of git.

    python tests/models/make_models.py --out build/models [--only resnet18] [--verify]

Everything is deterministic: the same seed yields byte-identical files.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17; newer IR would shut out older readers

TRANSFORMER_VOCAB = 1000  # token ids fed to transformer_encoder.onnx must be < this


class GraphBuilder:
    """Accumulates nodes and initializers with unique, readable names.

    Names matter: nibble's error messages quote node and tensor names, so they
    should look like the ones a real exporter writes ("layer1.0.conv1.weight").
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._used: Counter[str] = Counter()

    def unique(self, name: str) -> str:
        self._used[name] += 1
        n = self._used[name]
        return name if n == 1 else f"{name}_{n - 1}"

    def const(self, name: str, value) -> str:
        name = self.unique(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        """Add a node; its one output is named after it."""
        name = self.unique(name)
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def model(self, graph_name: str, inputs, outputs, opset: int = OPSET) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, self.initializers)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                 producer_name="nibble/tests/models", ir_version=IR_VERSION)

    # ---- layers shared by the CNNs -------------------------------------------------

    def conv(self, x: str, name: str, c_in: int, c_out: int, k: int, stride: int = 1,
             group: int = 1, gain: float = 2.0, bias: bool = False) -> str:
        # He-normal (gain 2 for a ReLU after): keeps the second moment roughly
        # constant, so a deep stack of random layers neither explodes nor vanishes.
        fan_in = (c_in // group) * k * k
        w = self.rng.normal(0.0, math.sqrt(gain / fan_in), (c_out, c_in // group, k, k))
        inputs = [x, self.const(f"{name}.weight", w.astype(np.float32))]
        if bias:
            inputs.append(self.const(f"{name}.bias", self.rng.normal(0, 0.01, c_out).astype(np.float32)))
        pad = k // 2
        return self.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                         pads=[pad] * 4, group=group, dilations=[1, 1])

    def batchnorm(self, x: str, name: str, c: int, gamma_range=(0.8, 1.2)) -> str:
        # Positive, non-unit running variance and non-zero mean, so folding BN
        # into the conv (a pass nibble will have) is exercised for real.
        rng = self.rng
        gamma = rng.uniform(*gamma_range, c)
        beta = rng.normal(0.0, 0.1, c)
        mean = rng.normal(0.0, 0.1, c)
        var = rng.uniform(0.5, 1.5, c)
        params = [self.const(f"{name}.{p}", v.astype(np.float32))
                  for p, v in (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
        return self.node("BatchNormalization", [x, *params], name, epsilon=1e-5, momentum=0.9)

    def gemm(self, x: str, name: str, n_in: int, n_out: int) -> str:
        # Stored as torch.nn.Linear is ([out, in], transB=1), as exporters write it.
        w = self.rng.normal(0.0, 1.0 / math.sqrt(n_in), (n_out, n_in)).astype(np.float32)
        b = self.rng.normal(0.0, 0.01, n_out).astype(np.float32)
        return self.node("Gemm", [x, self.const(f"{name}.weight", w), self.const(f"{name}.bias", b)],
                         name, alpha=1.0, beta=1.0, transB=1)


def _image_io(classes: int = 1000):
    return ([helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])])


def _rename_last_output(b: GraphBuilder, old: str, new: str) -> None:
    for n in b.nodes:
        n.output[:] = [new if o == old else o for o in n.output]


# ---- ResNet-18 -----------------------------------------------------------------------

def make_resnet18(seed: int = 18) -> onnx.ModelProto:
    b = GraphBuilder(seed)
    x = b.conv("input", "conv1", 3, 64, 7, stride=2)
    x = b.node("Relu", [b.batchnorm(x, "bn1", 64)], "relu")
    x = b.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])

    c_in = 64
    for stage, (c_out, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        for block in range(2):
            s = stride if block == 0 else 1
            p = f"layer{stage}.{block}"
            y = b.conv(x, f"{p}.conv1", c_in, c_out, 3, stride=s)
            y = b.node("Relu", [b.batchnorm(y, f"{p}.bn1", c_out)], f"{p}.relu1")
            y = b.conv(y, f"{p}.conv2", c_out, c_out, 3)
            # A smaller gamma on the branch's last BN, so the residual sum grows
            # gently (~x1.2 per block) instead of doubling eight times over.
            y = b.batchnorm(y, f"{p}.bn2", c_out, gamma_range=(0.3, 0.5))
            if s != 1 or c_in != c_out:
                x = b.conv(x, f"{p}.downsample.0", c_in, c_out, 1, stride=s)
                x = b.batchnorm(x, f"{p}.downsample.1", c_out, gamma_range=(0.5, 0.7))
            x = b.node("Relu", [b.node("Add", [y, x], f"{p}.add")], f"{p}.relu2")
            c_in = c_out

    x = b.node("GlobalAveragePool", [x], "avgpool")
    x = b.node("Flatten", [x], "flatten", axis=1)
    x = b.gemm(x, "fc", 512, 1000)
    _rename_last_output(b, x, "logits")
    return b.model("resnet18", *_image_io())


# ---- MobileNetV2 ---------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s), as in torchvision.
_MOBILENETV2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def make_mobilenetv2(seed: int = 2) -> onnx.ModelProto:
    b = GraphBuilder(seed)
    # ReLU6 is Clip with min/max as inputs (opset >= 11); one shared pair of
    # scalars, as the PyTorch exporter writes them.
    lo = b.const("relu6.min", np.array(0.0, np.float32))
    hi = b.const("relu6.max", np.array(6.0, np.float32))

    def conv_bn(x, name, c_in, c_out, k, stride=1, group=1, relu6=True):
        # The linear bottleneck (no ReLU6) gets gain 1: nothing halves its energy.
        y = b.conv(x, f"{name}.0", c_in, c_out, k, stride=stride, group=group, gain=2.0 if relu6 else 1.0)
        y = b.batchnorm(y, f"{name}.1", c_out, gamma_range=(0.8, 1.2) if relu6 else (0.6, 0.9))
        return b.node("Clip", [y, lo, hi], f"{name}.2") if relu6 else y

    x = conv_bn("input", "features.0", 3, 32, 3, stride=2)
    c_in, idx = 32, 1
    for t, c, n, s in _MOBILENETV2_SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p, hidden = f"features.{idx}.conv", c_in * t
            y, j = x, 0
            if t != 1:
                y = conv_bn(y, f"{p}.{j}", c_in, hidden, 1)
                j += 1
            y = conv_bn(y, f"{p}.{j}", hidden, hidden, 3, stride=stride, group=hidden)  # depthwise
            y = conv_bn(y, f"{p}.{j + 1}", hidden, c, 1, relu6=False)
            x = b.node("Add", [x, y], f"features.{idx}.add") if stride == 1 and c_in == c else y
            c_in, idx = c, idx + 1

    x = conv_bn(x, f"features.{idx}", c_in, 1280, 1)
    x = b.node("GlobalAveragePool", [x], "avgpool")
    # Reshape rather than Flatten (ResNet has Flatten), so both lowerings are covered.
    x = b.node("Reshape", [x, b.const("flatten.shape", np.array([1, -1], np.int64))], "flatten")
    x = b.gemm(x, "classifier.1", 1280, 1000)
    _rename_last_output(b, x, "logits")
    return b.model("mobilenetv2", *_image_io())


# ---- Transformer encoder -------------------------------------------------------------

def make_transformer_encoder(seed: int = 64, layers: int = 2, d_model: int = 64, heads: int = 4,
                             ffn: int = 128, seq: int = 16) -> onnx.ModelProto:
    b = GraphBuilder(seed)
    rng = b.rng
    head_dim = d_model // heads

    def linear(x, name, n_in, n_out):
        # MatMul of [1, seq, n_in] by [n_in, n_out]: the batched, broadcasting form.
        w = rng.normal(0, 1 / math.sqrt(n_in), (n_in, n_out)).astype(np.float32)
        bias = rng.normal(0, 0.02, n_out).astype(np.float32)
        y = b.node("MatMul", [x, b.const(f"{name}.weight", w)], f"{name}.matmul")
        return b.node("Add", [y, b.const(f"{name}.bias", bias)], f"{name}.add")

    def layer_norm(x, name):
        scale = rng.uniform(0.8, 1.2, d_model).astype(np.float32)
        bias = rng.normal(0, 0.05, d_model).astype(np.float32)
        return b.node("LayerNormalization", [x, b.const(f"{name}.weight", scale), b.const(f"{name}.bias", bias)],
                      name, axis=-1, epsilon=1e-5)

    split_shape = b.const("heads.shape", np.array([1, seq, heads, head_dim], np.int64))
    merge_shape = b.const("merge.shape", np.array([1, seq, d_model], np.int64))
    # The 1/sqrt(head_dim) scale is a Sqrt node on a constant, as some exporters
    # leave it: constant folding must cope with it (and the Div must be right).
    sqrt_dk = b.node("Sqrt", [b.const("attn.head_dim", np.array(float(head_dim), np.float32))], "attn.sqrt_dk")
    sqrt2 = b.const("gelu.sqrt2", np.array(math.sqrt(2.0), np.float32))
    half = b.const("gelu.half", np.array(0.5, np.float32))
    one = b.const("gelu.one", np.array(1.0, np.float32))

    emb = rng.normal(0, 1, (TRANSFORMER_VOCAB, d_model)).astype(np.float32)
    x = b.node("Gather", [b.const("embed.weight", emb), "input_ids"], "embed", axis=0)
    pos = rng.normal(0, 0.1, (seq, d_model)).astype(np.float32)
    x = b.node("Add", [x, b.const("pos_embed", pos)], "pos_add")  # [1,seq,d] + [seq,d]

    for i in range(layers):
        p = f"layers.{i}"

        def heads_of(t, name, perm):
            t = b.node("Reshape", [t, split_shape], f"{name}.split")
            return b.node("Transpose", [t], f"{name}.transpose", perm=perm)

        q = heads_of(linear(x, f"{p}.attn.q", d_model, d_model), f"{p}.attn.q", [0, 2, 1, 3])
        k = heads_of(linear(x, f"{p}.attn.k", d_model, d_model), f"{p}.attn.k", [0, 2, 3, 1])  # K^T
        v = heads_of(linear(x, f"{p}.attn.v", d_model, d_model), f"{p}.attn.v", [0, 2, 1, 3])
        scores = b.node("MatMul", [q, k], f"{p}.attn.scores")  # [1,h,seq,seq]
        scores = b.node("Div", [scores, sqrt_dk], f"{p}.attn.scale")
        probs = b.node("Softmax", [scores], f"{p}.attn.softmax", axis=-1)
        ctx = b.node("MatMul", [probs, v], f"{p}.attn.context")  # [1,h,seq,hd]
        ctx = b.node("Transpose", [ctx], f"{p}.attn.merge_transpose", perm=[0, 2, 1, 3])
        ctx = b.node("Reshape", [ctx, merge_shape], f"{p}.attn.merge")
        attn = linear(ctx, f"{p}.attn.out", d_model, d_model)
        x = layer_norm(b.node("Add", [x, attn], f"{p}.attn.residual"), f"{p}.norm1")

        h = linear(x, f"{p}.ffn.fc1", d_model, ffn)
        # GELU as the exporter writes it for opset < 20: x * 0.5 * (1 + erf(x / sqrt 2)).
        g = b.node("Erf", [b.node("Div", [h, sqrt2], f"{p}.ffn.gelu.div")], f"{p}.ffn.gelu.erf")
        g = b.node("Add", [g, one], f"{p}.ffn.gelu.add")
        g = b.node("Mul", [h, g], f"{p}.ffn.gelu.mul")
        g = b.node("Mul", [g, half], f"{p}.ffn.gelu.half")
        h = linear(g, f"{p}.ffn.fc2", ffn, d_model)
        x = layer_norm(b.node("Add", [x, h], f"{p}.ffn.residual"), f"{p}.norm2")

    # An output name with '/' and ':' so the CLI's file-name sanitizing is exercised.
    out_name = "encoder/last_hidden_state:0"
    _rename_last_output(b, x, out_name)
    return b.model(
        "transformer_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, seq, d_model])],
    )


MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "resnet18": make_resnet18,
    "mobilenetv2": make_mobilenetv2,
    "transformer_encoder": make_transformer_encoder,
}


def random_inputs(model: onnx.ModelProto, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random input per graph input: N(0,1) floats, in-range token ids for ints."""
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if np.issubdtype(dtype, np.integer):
            feeds[vi.name] = rng.integers(0, TRANSFORMER_VOCAB, shape).astype(dtype)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def write_model(name: str, out_dir: str) -> str:
    """Generate model `name`, check it, save it as OUT_DIR/NAME.onnx; return the path."""
    model = MODELS[name]()
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.onnx")
    onnx.save(model, path)
    return path


def _verify_with_ort(path: str) -> None:
    import onnxruntime as ort

    model = onnx.load(path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = random_inputs(model, np.random.default_rng(0))
    for vi, y in zip(sess.get_outputs(), sess.run(None, feeds)):
        print(f"  {vi.name}: shape={list(y.shape)} mean={y.mean():+.4f} std={y.std():.4f} "
              f"min={y.min():+.4f} max={y.max():+.4f} finite={np.isfinite(y).all()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to write NAME.onnx files into")
    ap.add_argument("--only", choices=sorted(MODELS), action="append",
                    help="generate only this model (repeatable)")
    ap.add_argument("--verify", action="store_true", help="run each model in ONNX Runtime and print output stats")
    args = ap.parse_args(argv)
    for name in args.only or MODELS:
        path = write_model(name, args.out)
        print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")
        if args.verify:
            _verify_with_ort(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
