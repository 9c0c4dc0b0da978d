"""End to end: `nibble quantize` the bundled Fashion-MNIST CNN, then `nibble eval`
float and int8 on real test images. The int8 model must run integer-only
(fold-qdq leaves one QuantizeLinear and one DequantizeLinear) and keep its
accuracy; ONNX Runtime must load the exported QDQ model and agree with nibble."""
import os
import re
import subprocess

import numpy as np
import onnxruntime as ort
import pytest

import ort_oracle
from nibble_cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
MODEL = os.path.join(ROOT, "models", "fashion_cnn.onnx")
NORM = ["--mean", "0.2860", "--std", "0.3530"]


def _test_spec():
    return f"idx:{DATA}/t10k-images-idx3-ubyte.gz,{DATA}/t10k-labels-idx1-ubyte.gz"


@pytest.fixture(scope="module")
def int8_model(nibble_bin, test_out):
    if not os.path.exists(f"{DATA}/t10k-images-idx3-ubyte.gz"):
        pytest.fail("dataset-fashion-mnist is not installed (scripts/setup.sh installs it)")
    out = os.path.join(str(test_out), "fashion_cnn_int8.onnx")
    r = subprocess.run([str(nibble_bin), "quantize", MODEL, "--calib", f"idx:{DATA}/train-images-idx3-ubyte.gz",
                        "--calib-size", "128", "-o", out] + NORM, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "12 integer, 0 float" in r.stdout, r.stdout
    return out


def _top1(nibble_bin, model, limit):
    r = subprocess.run([str(nibble_bin), "eval", model, "--data", _test_spec(), "--limit", str(limit)] + NORM,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return float(re.search(r"top1=([0-9.]+)%", r.stdout).group(1)), r.stdout


def test_int8_accuracy_close_to_float(nibble_bin, int8_model):
    fp, _ = _top1(nibble_bin, MODEL, 2000)
    q, _ = _top1(nibble_bin, int8_model, 2000)
    assert fp > 88.0  # the trained model, not a random one
    assert abs(q - fp) <= 0.5, (fp, q)


def test_int8_model_is_smaller_and_integer_only(nibble_bin, int8_model):
    assert os.path.getsize(int8_model) < 0.35 * os.path.getsize(MODEL)
    r = subprocess.run([str(nibble_bin), "inspect", int8_model], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ops = dict(re.findall(r"^  (\S+)\s+(\d+)$", r.stdout.split("layers:")[0], re.M))
    assert ops.get("QuantizeLinear") == "1" and ops.get("DequantizeLinear") == "1", r.stdout


def test_ort_runs_the_exported_qdq_model_like_nibble(nibble_bin, int8_model, tmp_path):
    rng = np.random.default_rng(5)
    x = ((rng.random((1, 1, 28, 28)) - 0.2860) / 0.3530).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run_cli([nibble_bin, "run", int8_model, "-i", tmp_path / "x.npy", "-o", tmp_path / "out"], timeout=60)
    assert r.returncode == 0, r.stderr
    ours = np.load(tmp_path / "out" / "logits.npy")
    theirs = ort.InferenceSession(int8_model, ort_oracle.session_options(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    # Both dequantize the same int8 logits code space; allow 1 LSB of the output scale.
    lsb = np.abs(theirs).max() / 127
    assert np.abs(ours - theirs).max() <= 1.01 * lsb, np.abs(ours - theirs).max()
