"""Real Brevitas exports, committed as test fixtures for tests/python/test_brevitas_models.py.

This script is NOT run by CI (CI has neither torch nor Brevitas): it was run once by hand and its
output, tests/models/brevitas/, is committed. Re-run it only to change the fixtures.

How to run it (torch comes from Debian's python3-torch, never from PyPI):

    apt-get install python3-torch            # torch 1.13.0a0 for /usr/bin/python3 (Debian 12)
    /usr/bin/python3 -m venv --system-site-packages /tmp/brevitas-venv
    /tmp/brevitas-venv/bin/pip install --no-deps brevitas==0.13.4 onnxoptimizer==0.4.2
    echo numpy==1.24.2 > /tmp/c.txt           # keep Debian's numpy, which torch 1.13 was built with
    /tmp/brevitas-venv/bin/pip install -c /tmp/c.txt dependencies==2.0.1 packaging unfoldNd \
        onnx==1.17.0 "setuptools<81" typing-extensions
    /tmp/brevitas-venv/bin/python tests/models/make_brevitas_models.py [OUTDIR]

(--no-deps because brevitas' metadata asks for torch>=1.13, which pip does not see as met by
Debian's "1.13.0a0+gitunknown", and would otherwise download a multi-GB torch wheel. The export
needs onnx and onnxoptimizer only; brevitas' "export" extra also lists onnxscript and qonnx, which
the TorchScript exporter used with torch < 2.5 does not import.)

Versions the committed fixtures were made with: brevitas 0.13.4, torch 1.13.0a0 (Debian
python3-torch 1.13.1+dfsg-4), onnx 1.17.0, onnxoptimizer 0.4.2, numpy 1.24.2, Python 3.11.2.
The exporter is the TorchScript one (torch.onnx.export; torch < 2.5 has no dynamo exporter).

Every network is built from a fixed seed, calibrated on seeded random data with
brevitas.graph.calibrate.calibration_mode (so the activation scales come from statistics, not
from their init values), then exported twice:

    <name>.qonnx.onnx   brevitas.export.export_qonnx      (Quant / BipolarQuant / Trunc nodes)
    <name>.qcdq.onnx    brevitas.export.export_onnx_qcdq  (QuantizeLinear -> Clip -> DequantizeLinear)

when Brevitas can export the layer types in that form (see QCDQ_UNSUPPORTED). The output is
byte-for-byte reproducible with the versions above. Beside them:

    <name>.input.npy     a small seeded batch (float32)
    <name>.expected.npy  Brevitas' own quantized forward pass on it (torch, eval mode): an oracle
                         independent of qonnx's executor and of ONNX Runtime
    manifest.json        per model: the exports written, input/output names, the grid the output
                         lies on ("output_step", below), the Brevitas layers with their bit-widths,
                         and why a QCDQ form is missing or not equivalent to the model

The models (all on a 1x1x28x28 image, except the MLP on a 1x64 vector; batch axis dynamic):

  cnn_w4w2      QuantIdentity int8 -> QuantConv2d 4-bit per-channel weights, Int32Bias -> QuantReLU
                uint4 -> MaxPool -> QuantConv2d 2-bit per-tensor weights, Int32Bias -> QuantReLU
                uint2 -> MaxPool -> flatten -> QuantLinear 8-bit weights, Int32Bias (float output)
  bnn           FINN-style binary net: QuantIdentity int8 -> QuantConv2d binary weights
                (SignedBinaryWeightPerTensorConst) -> BatchNorm2d -> QuantIdentity bipolar
                (SignedBinaryActPerTensorConst) -> MaxPool -> binary QuantConv2d -> BatchNorm2d ->
                bipolar -> MaxPool -> flatten -> binary QuantLinear (float output).
                QONNX only: Brevitas has no QCDQ form of a binary quantizer.
  mlp_res       QuantIdentity int8 -> QuantLinear 3-bit weights (float bias, Brevitas' default) ->
                QuantReLU uint3 -> QuantLinear 3-bit -> residual add of the two branches through one
                shared QuantIdentity int3 -> QuantReLU uint3 -> QuantLinear 3-bit -> QuantIdentity
                int8 (the output is quantized)
  trunc_pool    QuantIdentity int8 -> QuantConv2d 4-bit per-channel, Int32Bias -> QuantReLU uint4 ->
                TruncAvgPool2d 2x2 to 4 bits, rounding floor (TruncTo8bit.let(bit_width=4)) ->
                QuantConv2d 4-bit, Int32Bias -> QuantReLU uint4 -> TruncAvgPool2d 7x7 to 8 bits, rounding
                round (RoundTo8bit, the default) -> flatten -> QuantLinear 4-bit, Int32Bias (float output).
                QONNX: Pad(0) -> AveragePool -> Trunc (6 inputs, qonnx Trunc v2: x, scale, zeropt,
                in_bitwidth, out_scale, out_bitwidth; lowercase rounding_mode).
                QCDQ: Brevitas writes each TruncAvgPool2d as Pad(0) -> AveragePool -> QuantizeLinear ->
                Clip -> DequantizeLinear, which rounds half to even where the model floors, and decides
                the exact ties of a 2x2 mean (k + 0.5 codes) by float rounding: that file is NOT
                equivalent to the Brevitas model (see QCDQ_NOT_EQUIVALENT).

"output_step" in the manifest is the grid the output lies on: the output quantizer's scale when the
graph ends with one (mlp_res), else the last layer's accumulator scale (input scale x weight scale,
per output channel), which Int32Bias biases also lie on.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

import brevitas
import brevitas.nn as qnn
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.graph.calibrate import calibration_mode
from brevitas.quant import (Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Int32Bias, RoundTo8bit,
                            SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst, TruncTo8bit)

HERE = Path(__file__).resolve().parent
OUT = HERE / "brevitas"
BATCH = 8           # rows in <name>.input.npy
CALIB_BATCHES = 40  # > brevitas' default collect_stats_steps (30)

# Brevitas (0.13.4) cannot write these in QCDQ form (export_onnx_qcdq raises the message given).
QCDQ_UNSUPPORTED = {"bnn": "AssertionError: Binary quant not supported"}
# Brevitas writes these in QCDQ form, but the file computes something else than the model.
QCDQ_NOT_EQUIVALENT = {
    "trunc_pool": "TruncAvgPool2d is exported as AveragePool -> QuantizeLinear (round half to even) where "
                  "Brevitas floors (pool1), and the 2x2 mean's exact k+0.5 ties are decided by float rounding"}

TruncTo4bit = TruncTo8bit.let(bit_width=4)


class CnnW4W2(nn.Module):
    input_shape = (1, 28, 28)

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 8, 3, padding=1, weight_quant=Int8WeightPerChannelFloat,
                                     weight_bit_width=4, bias=True, bias_quant=Int32Bias)
        self.relu1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(8, 8, 3, padding=1, weight_quant=Int8WeightPerTensorFloat,
                                     weight_bit_width=2, bias=True, bias_quant=Int32Bias)
        self.relu2 = qnn.QuantReLU(bit_width=2, return_quant_tensor=True)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(8 * 7 * 7, 10, weight_bit_width=8, bias=True, bias_quant=Int32Bias)

    def forward(self, x):
        x = self.inp(x)
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class Bnn(nn.Module):
    input_shape = (1, 28, 28)

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 16, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(16, 16, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = qnn.QuantLinear(16 * 5 * 5, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        x = self.inp(x)
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class MlpRes(nn.Module):
    input_shape = (64,)

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 32, weight_bit_width=3, bias=True)
        self.relu1 = qnn.QuantReLU(bit_width=3, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(32, 32, weight_bit_width=3, bias=True)
        self.shared = qnn.QuantIdentity(bit_width=3, return_quant_tensor=True)
        self.relu2 = qnn.QuantReLU(bit_width=3, return_quant_tensor=True)
        self.fc3 = qnn.QuantLinear(32, 10, weight_bit_width=3, bias=True)
        self.out = qnn.QuantIdentity(bit_width=8, return_quant_tensor=False)

    def forward(self, x):
        h = self.relu1(self.fc1(self.inp(x)))
        y = self.shared(self.fc2(h)) + self.shared(h)
        return self.out(self.fc3(self.relu2(y)))


class TruncPool(nn.Module):
    input_shape = (1, 28, 28)

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 8, 3, padding=1, weight_quant=Int8WeightPerChannelFloat,
                                     weight_bit_width=4, bias=True, bias_quant=Int32Bias)
        self.relu1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool1 = qnn.TruncAvgPool2d(kernel_size=2, stride=2, trunc_quant=TruncTo4bit)  # floor
        self.conv2 = qnn.QuantConv2d(8, 8, 3, padding=1, weight_bit_width=4, bias=True, bias_quant=Int32Bias)
        self.relu2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.pool2 = qnn.TruncAvgPool2d(kernel_size=7, stride=7, trunc_quant=RoundTo8bit)  # round, the default
        self.fc = qnn.QuantLinear(8 * 2 * 2, 10, weight_bit_width=4, bias=True, bias_quant=Int32Bias)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(self.inp(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


MODELS = {"cnn_w4w2": CnnW4W2, "bnn": Bnn, "mlp_res": MlpRes, "trunc_pool": TruncPool}


def data(gen: torch.Generator, shape, n: int) -> torch.Tensor:
    # Non-negative-mean "images" with some outliers, so the int8 input scale is not symmetric noise.
    return (torch.randn((n, *shape), generator=gen) * 0.8 + 0.2).float()


def layer_summary(model: nn.Module) -> list[dict]:
    """Brevitas' own view of every quantized layer: its bit-widths, for the test's expectations."""
    rows = []
    for name, m in model.named_modules():
        if isinstance(m, (qnn.QuantConv2d, qnn.QuantLinear)):
            rows.append({"module": name, "type": type(m).__name__,
                         "weight_bits": int(m.quant_weight().bit_width.item()),
                         "weight_scale_shape": list(m.quant_weight().scale.shape)})
        elif isinstance(m, (qnn.QuantIdentity, qnn.QuantReLU)):
            rows.append({"module": name, "type": type(m).__name__,
                         "bits": int(m.act_quant.bit_width().item()),
                         "signed": bool(m.act_quant.is_signed),
                         "scale": float(m.act_quant.scale().item())})
        elif isinstance(m, qnn.TruncAvgPool2d):
            rows.append({"module": name, "type": type(m).__name__,
                         "bits": int(m.trunc_quant.bit_width().item() if callable(m.trunc_quant.bit_width)
                                     else m.trunc_quant.bit_width)})
    return rows


def build(name: str, seed: int):
    torch.manual_seed(seed)
    model = MODELS[name]()
    gen = torch.Generator().manual_seed(seed + 1000)
    shape = model.input_shape
    # Calibration: activation scales from statistics (weights keep their seeded random init; the
    # BatchNorm running statistics come from the same passes).
    model.train()
    with torch.no_grad(), calibration_mode(model):
        for _ in range(CALIB_BATCHES):
            model(data(gen, shape, 16))
    model.eval()
    if name == "bnn":
        # Give the BatchNorm affine parameters non-trivial values (thresholds not at the mean).
        with torch.no_grad():
            for bn in (model.bn1, model.bn2):
                bn.weight.uniform_(0.5, 1.5, generator=gen)
                bn.bias.uniform_(-0.3, 0.3, generator=gen)
    x = data(gen, shape, BATCH)
    with torch.no_grad():
        y = model(x)
        if isinstance(getattr(model, "out", None), qnn.QuantIdentity):
            step = model.out.act_quant.scale()
        else:  # float output: the last layer's accumulator scale, from its output QuantTensor
            model.fc.return_quant_tensor = True
            yq = model(x)
            model.fc.return_quant_tensor = False
            assert torch.equal(yq.value, y)
            step = yq.scale
    y = y.value if hasattr(y, "value") else y
    return model, x, y.detach(), step.detach().reshape(-1)


def export(model: nn.Module, x: torch.Tensor, path: Path, exporter) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exporter(model, x[:1], export_path=str(path), input_names=["x"], output_names=["y"],
                 dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    onnx.checker.check_model(onnx.load(str(path)))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"brevitas": brevitas.__version__, "torch": torch.__version__, "onnx": onnx.__version__,
                "models": {}}
    for seed, name in enumerate(MODELS):
        model, x, y, step = build(name, seed)
        exports = {"qonnx": f"{name}.qonnx.onnx"}
        export(model, x, out / exports["qonnx"], export_qonnx)
        if name not in QCDQ_UNSUPPORTED:
            exports["qcdq"] = f"{name}.qcdq.onnx"
            export(model, x, out / exports["qcdq"], export_onnx_qcdq)
        np.save(out / f"{name}.input.npy", x.numpy().astype(np.float32))
        np.save(out / f"{name}.expected.npy", y.numpy().astype(np.float32))
        entry = {"exports": exports, "input": "x", "output": "y", "input_shape": list(x.shape),
                 "layers": layer_summary(model)}
        if name in QCDQ_UNSUPPORTED:
            entry["qcdq_unsupported"] = QCDQ_UNSUPPORTED[name]
        if name in QCDQ_NOT_EQUIVALENT:
            entry["qcdq_not_equivalent"] = QCDQ_NOT_EQUIVALENT[name]
        entry["output_quantized"] = isinstance(getattr(model, "out", None), qnn.QuantIdentity)
        entry["output_step"] = [float(v) for v in step]  # one value, or one per output channel
        manifest["models"][name] = entry
        sizes = ", ".join(f"{f} {(out / f).stat().st_size} B" for f in exports.values())
        print(f"{name}: {sizes}; output {tuple(y.shape)}")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
