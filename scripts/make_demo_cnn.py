"""Writes models/demo_cnn.onnx: a small Fashion-MNIST-shaped CNN (1x1x28x28 ->
10 logits) with seeded random weights, the bundled default of `scripts/demo.sh`
until a trained model replaces it. Deterministic: same bytes on every run."""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/demo_cnn.onnx")
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def conv_bn_relu(x, cin, cout, name):
        w = const(f"{name}.w", rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9)))
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.conv"], pads=[1, 1, 1, 1], name=f"{name}.conv"))
        bn = [const(f"{name}.{p}", v) for p, v in [
            ("gamma", rng.uniform(0.8, 1.2, cout)), ("beta", rng.standard_normal(cout) * 0.1),
            ("mean", rng.standard_normal(cout) * 0.1), ("var", rng.uniform(0.5, 1.5, cout))]]
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv"] + bn, [f"{name}.bn"], name=f"{name}.bn"))
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.relu"], name=f"{name}.relu"))
        nodes.append(helper.make_node("MaxPool", [f"{name}.relu"], [f"{name}.pool"], kernel_shape=[2, 2],
                                      strides=[2, 2], name=f"{name}.pool"))
        return f"{name}.pool"

    x = conv_bn_relu("input", 1, 16, "block1")
    x = conv_bn_relu(x, 16, 32, "block2")
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten"))
    w = const("fc.w", rng.standard_normal((10, 32 * 7 * 7)) * np.sqrt(1.0 / (32 * 49)))
    b = const("fc.b", np.zeros(10))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["logits"], transB=1, name="fc"))
    graph = helper.make_graph(
        nodes, "demo_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="nibble")
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


if __name__ == "__main__":
    main()
