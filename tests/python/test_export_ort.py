"""nibble's ONNX export, judged by onnx's checker and ONNX Runtime.

Each case runs `nibble convert MODEL -o OUT.onnx --optimize` (import, the graph
passes, export: folded constants, BatchNorm folded into Conv, activations fused
and written back as explicit nodes), checks the output with
onnx.checker.check_model(full_check=True) (which also runs strict shape
inference against the value_info nibble writes), and runs the original and
the exported model in ONNX Runtime on the same inputs.

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_export_ort.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nibble_cli import REPO_ROOT, fresh_dir, run_cli

import make_models

RTOL, ATOL = 1e-4, 1e-5
TIMEOUT_S = 600  # a sanitizer build converting ResNet-18 is slow
FASHION = REPO_ROOT / "models" / "fashion_cnn.onnx"
MODEL_NAMES = [*make_models.MODELS, "fashion_cnn"]


def model_path(name: str, reference_models: dict[str, Path]) -> Path:
    return FASHION if name == "fashion_cnn" else reference_models[name]


def ort_run(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # From the path, so external data next to the model is found.
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def convert(nibble_bin: Path, src: Path, out: Path, *args: str) -> Path:
    run = run_cli([nibble_bin, "convert", src, "-o", out, *args], TIMEOUT_S)
    assert run.returncode == 0, f"{run.command_line}\n  exited with {run.returncode}:\n{run.stderr.strip()}"
    assert out.is_file(), f"{run.command_line}\n  wrote no {out}"
    return out


def check_and_compare(src: Path, exported: Path) -> onnx.ModelProto:
    # A path, not a ModelProto: the checker then also resolves external data.
    onnx.checker.check_model(str(exported), full_check=True)
    original = onnx.load(str(src))
    model = onnx.load(str(exported))
    assert [i.name for i in model.graph.input] == [i.name for i in original.graph.input]
    assert [o.name for o in model.graph.output] == [o.name for o in original.graph.output]
    feeds = make_models.random_inputs(original, np.random.default_rng(2024))
    want = ort_run(src, feeds)
    got = ort_run(exported, feeds)
    assert got.keys() == want.keys()
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, f"{exported.name}: output '{name}': {g.dtype}{g.shape} " \
                                                          f"vs original {w.dtype}{w.shape}"
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"{exported.name}: output '{name}'")
    return model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_optimized_export_passes_checker_and_matches_ort(name, nibble_bin, reference_models, test_out):
    src = model_path(name, reference_models)
    out_dir = fresh_dir(test_out / "export" / name)
    exported = convert(nibble_bin, src, out_dir / f"{name}.onnx", "--optimize")
    model = check_and_compare(src, exported)
    assert model.producer_name == "nibble"
    assert not (out_dir / f"{name}.onnx.data").exists(), "small models must not use external data"
    # Every node has a unique, non-empty name.
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)


def test_plain_export_of_fashion_cnn_keeps_the_graph(nibble_bin, test_out):
    out_dir = fresh_dir(test_out / "export" / "fashion_plain")
    exported = convert(nibble_bin, FASHION, out_dir / "fashion.onnx")
    model = check_and_compare(FASHION, exported)
    original = onnx.load(str(FASHION))
    assert [(n.name, n.op_type, list(n.input), list(n.output)) for n in model.graph.node] == \
           [(n.name, n.op_type, list(n.input), list(n.output)) for n in original.graph.node]
    want = {t.name: onnx.numpy_helper.to_array(t) for t in original.graph.initializer}
    got = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k


def test_fused_activations_are_written_as_nodes(nibble_bin, test_out):
    # fashion_cnn is Conv/Gemm followed by Relu: the optimizer fuses every one;
    # the export must bring each back.
    out_dir = fresh_dir(test_out / "export" / "fashion_fused")
    exported = convert(nibble_bin, FASHION, out_dir / "fashion.onnx", "--optimize")
    ops = [n.op_type for n in onnx.load(str(exported)).graph.node]
    original = [n.op_type for n in onnx.load(str(FASHION)).graph.node]
    assert ops.count("Relu") == original.count("Relu") > 0


def test_external_data_export(nibble_bin, reference_models, test_out):
    src = reference_models["resnet18"]
    out_dir = fresh_dir(test_out / "export" / "resnet18_external")
    exported = convert(nibble_bin, src, out_dir / "resnet18.onnx", "--optimize", "--external-data-above", "1024")
    data = out_dir / "resnet18.onnx.data"
    assert data.is_file()
    assert exported.stat().st_size < 1_000_000 < data.stat().st_size
    model = onnx.load(str(exported), load_external_data=False)
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all(t.external_data[0].value == "resnet18.onnx.data" for t in external)
    check_and_compare(src, exported)


def test_export_is_deterministic(nibble_bin, reference_models, test_out):
    src = reference_models["mobilenetv2"]
    out_dir = fresh_dir(test_out / "export" / "determinism")
    a = convert(nibble_bin, src, out_dir / "a.onnx", "--optimize")
    b = convert(nibble_bin, src, out_dir / "b.onnx", "--optimize")
    assert a.read_bytes() == b.read_bytes()


def test_convert_reports_a_missing_model(nibble_bin, test_out):
    out_dir = fresh_dir(test_out / "export" / "missing")
    run = run_cli([nibble_bin, "convert", out_dir / "nope.onnx", "-o", out_dir / "out.onnx"], 60)
    assert run.returncode == 1
    assert "nibble: error:" in run.stderr and "nope.onnx" in run.stderr
    assert not (out_dir / "out.onnx").exists()


def test_qdq_model_from_ort_quantizer_round_trips(nibble_bin, test_out):
    # The exporter's purpose: QDQ graphs (QuantizeLinear/DequantizeLinear over
    # int8/uint8 initializers, per-channel axes) written as ORT runs them. ORT's
    # own quantizer makes one; importing and exporting it must change nothing
    # ORT can see.
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(5)
            self.batches = iter([{"input": rng.random((1, 1, 28, 28), dtype=np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    out_dir = fresh_dir(test_out / "export" / "qdq")
    qdq = out_dir / "fashion_qdq.onnx"
    quantize_static(str(FASHION), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    exported = convert(nibble_bin, qdq, out_dir / "fashion_qdq_nibble.onnx")
    check_and_compare(qdq, exported)
    original, model = onnx.load(str(qdq)), onnx.load(str(exported))
    assert [(n.op_type, list(n.input), list(n.output)) for n in model.graph.node] == \
           [(n.op_type, list(n.input), list(n.output)) for n in original.graph.node]
    want = {t.name: onnx.numpy_helper.to_array(t) for t in original.graph.initializer}
    got = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    assert {t.dtype for t in got.values()} >= {np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int32)}
