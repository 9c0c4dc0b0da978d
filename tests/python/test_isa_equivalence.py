"""Integer execution gives the same codes on every ISA level, thread count and
sub-8-bit kernel family.

Every x86 kernel level (NIBBLE_ISA=scalar, avx2, avxvnni, avx512vnni, amx; those this
CPU cannot run are skipped) and 1 or 2 threads must produce bit-identical
outputs for a quantized model: the fast kernels are exact, not approximately
right. Models: a "kernel zoo" CNN that reaches every integer kernel path
(strided 7x7 stem, grouped conv, depthwise 3x3 and 5x5 at strides 1 and 2 with a
channel multiplier, pointwise convs, residual Add, Mul, MaxPool, AveragePool,
Concat, Sigmoid through a table, a 3x3 conv over 64 channels that the amx level
runs on tile products, GlobalAveragePool, Gemm), quantized with
uint8 and with int8 activations, and MobileNetV2 at 224x224 (random weights).

Sub-8-bit models (W4A8, W4A4, W2A2, W1A1, the kernel zoo and the Fashion-MNIST
CNN) must give identical codes whichever kernel family runs their layers
(NIBBLE_LOWBIT_KERNEL=int8, bitserial, w4a8, binary: each is exact, and a
family that cannot compute a layer falls back to int8).

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_isa_equivalence.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from nibble_cli import fresh_dir, run_cli, sanitize

from make_models import GraphBuilder, make_mobilenetv2

TIMEOUT_S = 300
ISAS = ["scalar", "avx2", "avxvnni", "avx512vnni", "amx"]


def kernel_zoo() -> onnx.ModelProto:
    b = GraphBuilder(seed=77)
    x = b.node("Relu", [b.conv("input", "stem", 3, 16, 7, stride=2, bias=True)], "stem.relu")
    x = b.node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    g = b.node("Relu", [b.conv(x, "grouped", 16, 16, 3, group=2, bias=True)], "grouped.relu")
    d1 = b.node("Relu", [b.conv(g, "dw3s1", 16, 32, 3, group=16, bias=True)], "dw3s1.relu")  # multiplier 2
    d2 = b.conv(d1, "dw5s2", 32, 32, 5, stride=2, group=32, bias=True, gain=1.0)
    d3 = b.conv(d1, "dw3s2", 32, 32, 3, stride=2, group=32, bias=True, gain=1.0)
    s = b.node("Add", [d2, d3], "sum")
    p = b.node("Sigmoid", [b.conv(s, "pw", 32, 32, 1, bias=True)], "pw.sigmoid")
    m = b.node("Mul", [p, s], "gate")
    a = b.node("AveragePool", [m], "avg", kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1])
    c = b.node("Concat", [a, m], "concat", axis=1)
    d4 = b.node("Relu", [b.conv(c, "dw5s1", 64, 64, 5, group=64, bias=True)], "dw5s1.relu")
    w = b.node("Relu", [b.conv(c, "wide3x3", 64, 40, 3, bias=True)], "wide3x3.relu")
    y = b.node("GlobalAveragePool", [d4], "gap")
    y = b.node("Flatten", [y], "flatten", axis=1)
    b.gemm(y, "logits", 64, 10)
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 45, 37])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
               helper.make_tensor_value_info("dw5s1.relu", TensorProto.FLOAT, None),
               helper.make_tensor_value_info("concat", TensorProto.FLOAT, None),
               helper.make_tensor_value_info("wide3x3.relu", TensorProto.FLOAT, None)]
    return b.model("kernel_zoo", inputs, outputs)


def amx_residual() -> onnx.ModelProto:
    """Convs the amx level runs on tile products and the avx512vnni level in
    lanes-are-channels mode, chained as in ResNet, so the session keeps values
    between them channels-last (runtime/channels_last.h): from a MaxPool after
    a conv that reads and writes NCHW only (a shallow 1x1 stride-1 conv on a
    large map: the MaxPool transposes its result), into a conv, conv to conv,
    through a residual Add of two conv outputs, into a stride-2 3x3 conv and a
    stride-2 1x1 projection (zmm at both levels), to an Add whose output is a
    graph output (NCHW, so its inputs are too), and from a last conv into
    GlobalAveragePool, which reads channels-last."""
    b = GraphBuilder(seed=91)
    x = b.node("Relu", [b.conv("input", "c0", 64, 64, 1, bias=True)], "c0.relu")  # zmm, like ResNet's conv1
    x = b.node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Relu", [b.conv(x, "c1", 64, 64, 3, bias=True)], "c1.relu")
    r = b.node("Add", [b.conv(x, "c2", 64, 64, 3, bias=True, gain=1.0), b.conv(x, "c2b", 64, 64, 3, gain=1.0)], "res1")
    r = b.node("Relu", [r], "res1.relu")
    d = b.node("Relu", [b.conv(r, "down", 64, 96, 3, stride=2, bias=True)], "down.relu")
    e = b.conv(d, "c3", 96, 96, 3, bias=True, gain=1.0)
    s = b.node("Relu", [b.node("Add", [e, b.conv(r, "proj", 64, 96, 1, stride=2, gain=1.0)], "res2")], "res2.relu")
    f = b.node("Relu", [b.conv(s, "c4", 96, 96, 3, bias=True)], "c4.relu")
    y = b.node("Flatten", [b.node("GlobalAveragePool", [f], "gap")], "flatten", axis=1)
    b.gemm(y, "logits", 96, 10)
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 64, 33, 41])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
               helper.make_tensor_value_info("res2.relu", TensorProto.FLOAT, None)]
    return b.model("amx_residual", inputs, outputs)


MODELS = {"kernel_zoo": (kernel_zoo, (4, 3, 45, 37)), "mobilenetv2": (make_mobilenetv2, (1, 3, 224, 224)),
          "amx_residual": (amx_residual, (2, 64, 33, 41))}


@pytest.fixture(scope="module")
def workdir(test_out: Path) -> Path:
    return fresh_dir(test_out / "isa_equivalence")


def quantized(nibble_bin: Path, workdir: Path, name: str, int8_acts: bool, bits: str = "w8a8") -> tuple[Path, Path]:
    make, shape = MODELS[name]
    rng = np.random.default_rng(5)
    float_path = workdir / f"{name}.onnx"
    if not float_path.exists():
        onnx.save(make(), str(float_path))
    calib = workdir / f"{name}_calib.npy"
    np.save(calib, rng.standard_normal((8, *shape[1:])).astype(np.float32))
    x = workdir / f"{name}_x.npy"
    np.save(x, rng.standard_normal(shape).astype(np.float32))
    q = workdir / f"{name}_{'s8' if int8_acts else 'u8'}_{bits}.onnx"
    r = run_cli([nibble_bin, "quantize", float_path, "--calib", calib, "-o", q, "--bits", bits, "--no-first-last-8bit",
                 *(["--int8-activations"] if int8_acts else [])], TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    if bits == "w8a8":
        assert " 0 float" in r.stdout, f"{name}: some nodes stayed float:\n{r.stdout}"
    return q, x


def run(nibble_bin: Path, model: Path, x: Path, out: Path, isa: str, threads: int, *extra) -> dict[str, np.ndarray]:
    out = fresh_dir(out)
    r = run_cli([nibble_bin, "run", model, "-i", x, "-o", out, "--threads", threads, "--isa", isa, *extra], TIMEOUT_S)
    assert r.returncode == 0, f"{r.command_line}\n{r.stderr}"
    names = [o.name for o in onnx.load(str(model), load_external_data=False).graph.output]
    return {n: np.load(out / f"{sanitize(n)}.npy") for n in names}


def supported_isas() -> list[str]:
    """The levels this CPU runs (isa.h's rules, from /proc/cpuinfo's flags)."""
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    ok = {"scalar": True, "avx2": {"avx2", "fma"} <= flags,
          "avxvnni": {"avx2", "fma"} <= flags and ("avx_vnni" in flags or {"avx512f", "avx512vl", "avx512_vnni"} <= flags),
          "avx512vnni": {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags,
          # (the OS must grant the tile state too; Linux since 5.16 does where the CPU has it)
          "amx": {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "amx_tile", "amx_int8"} <= flags}
    return [isa for isa in ISAS if ok[isa]]


@pytest.mark.parametrize("int8_acts", [False, True], ids=["uint8", "int8"])
@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_identical_across_isas_and_threads(name, int8_acts, nibble_bin, workdir):
    if name == "mobilenetv2" and int8_acts:
        pytest.skip("one activation type is enough for the big model (the zoo covers both)")
    model, x = quantized(nibble_bin, workdir, name, int8_acts)
    isas = supported_isas()
    assert "scalar" in isas and len(isas) >= 2, isas
    base = run(nibble_bin, model, x, workdir / f"{model.stem}_scalar_1", "scalar", 1)
    assert all(np.isfinite(v).all() for v in base.values())
    for isa in isas:
        for threads in (1, 2):
            if (isa, threads) == ("scalar", 1):
                continue
            got = run(nibble_bin, model, x, workdir / f"{model.stem}_{isa}_{threads}", isa, threads)
            for out, want in base.items():
                np.testing.assert_array_equal(got[out], want, err_msg=f"{name} {out}: {isa} x{threads} vs scalar x1")


@pytest.mark.parametrize("int8_acts", [False, True], ids=["uint8", "int8"])
@pytest.mark.parametrize("isa", ["amx", "avx512vnni"])
def test_channels_last_values_where_planned_and_outputs_unchanged(isa, int8_acts, nibble_bin, workdir, monkeypatch):
    """At the amx and avx512vnni levels the values between convs that can
    (AMX tile convs, lanes-are-channels convs) stay channels-last (nibble
    inspect names each conv's layout), and neither the outputs nor what a
    value observer sees (eval --reference's per-layer SQNR) change: the same
    as with --disable-pass channels-last and as at the avx2 level, whose
    convs are NCHW only."""
    if isa not in supported_isas():
        pytest.skip(f"this CPU does not run the {isa} level")
    model, x = quantized(nibble_bin, workdir, "amx_residual", int8_acts)
    monkeypatch.setenv("NIBBLE_ISA", isa)
    r = run_cli([nibble_bin, "inspect", model], TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    layout = {}
    for line in r.stdout.splitlines():
        cols = line.split()
        if cols and cols[0] == "pool":
            layout["pool"] = line.split("]", 1)[1].strip()
        if cols and cols[0] in ("c0", "c1", "c2", "c2b", "down", "c3", "proj", "c4"):
            note = line.split("conv_q8_gemm_", 1)[1]
            layout[cols[0]] = ("amx" if note.startswith("amx") else note.split()[0]) + \
                (" " + note.split("(", 1)[1].rstrip(") ") if "channels-last" in note else "")
    # pool -> c1 channels-last (pool reads c0: NCHW); c2/c2b feed the Add
    # res1, whose output feeds down and proj, all channels-last; c3 and proj
    # feed res2, a graph output (NCHW), so their outputs are NCHW; c4 reads
    # res2 and writes for GlobalAveragePool.
    tile = "amx" if isa == "amx" else "avx512vnni"
    assert layout == {"c0": "avx512vnni", "pool": "maxpool_q8 (channels-last out)",
                      "c1": f"{tile} channels-last in and out", "c2": f"{tile} channels-last in and out",
                      "c2b": f"{tile} channels-last in and out", "down": f"{tile} channels-last in and out",
                      "c3": f"{tile} channels-last in", "proj": "avx512vnni channels-last in",
                      "c4": f"{tile} channels-last out"}, r.stdout
    monkeypatch.delenv("NIBBLE_ISA")
    base = run(nibble_bin, model, x, workdir / f"{model.stem}_cl_avx2", "avx2", 1)
    for threads in (1, 2):
        on = run(nibble_bin, model, x, workdir / f"{model.stem}_cl_on_{isa}_{threads}", isa, threads)
        off = run(nibble_bin, model, x, workdir / f"{model.stem}_cl_off_{isa}_{threads}", isa, threads,
                  "--disable-pass", "channels-last")
        for out, want in base.items():
            np.testing.assert_array_equal(on[out], want, err_msg=f"{out}: {isa} x{threads} vs avx2")
            np.testing.assert_array_equal(off[out], want, err_msg=f"{out}: {isa} x{threads} NCHW vs avx2")
    # Per-layer SQNR comes from a value observer, which sees every value NCHW.
    data = workdir / f"{model.stem}_eval_x.npy"
    np.save(data, np.load(x))
    float_model = workdir / "amx_residual.onnx"
    sqnr = {}
    for level in (isa, "avx2"):
        monkeypatch.setenv("NIBBLE_ISA", level)
        r = run_cli([nibble_bin, "eval", model, "--data", data, "--reference", float_model], TIMEOUT_S)
        assert r.returncode == 0, f"{r.command_line}\n{r.stderr}"
        sqnr[level] = [line for line in r.stdout.splitlines() if "dB" in line]
    assert sqnr[isa] and sqnr[isa] == sqnr["avx2"], sqnr
