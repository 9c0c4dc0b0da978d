"""ONNX Runtime as the oracle for quantized graphs, made exact where it can be.

On x86 CPUs without VNNI (AVX2, or AVX-512 without its VNNI extension), ORT's
MLAS multiplies uint8 x int8 with vpmaddubsw, which adds two products in
saturating int16: 255 * 127 * 2 > 32767, so a conv or matmul whose inputs are
large in both can come out wrong (microsoft/onnxruntime#6004, #16105). nibble's
AVX2 kernels multiply in int16 with vpmaddwd and are exact, so there the two
differ by whole codes. ORT's session option session.x64quantprecision widens
constant int8 weights that leave [-64, 63] to its exact uint8 x uint8 path;
weights that are graph inputs stay on the saturating one, and for those the
ONNX reference evaluator (onnx.reference, exact by construction) is the oracle.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


_FLAGS = _cpu_flags()
# True where ORT's u8 x s8 products can saturate: an x86 SIMD level below VNNI.
U8S8_MAY_SATURATE = bool(_FLAGS & {"sse4_1", "avx2"}) and not (_FLAGS & {"avx512_vnni", "avx_vnni"})


def session_options() -> ort.SessionOptions:
    """Quiet session options with exact u8 x s8 products for constant weights (a no-op on VNNI CPUs)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.x64quantprecision", "1")
    return opts


# ---- the exact oracle where ORT's products can saturate ----------------------------------

# Input positions of the quantized multiply ops: (A or x, its zero point, B or w, its zero point),
# and for the QLinear forms (a scale, b scale, y scale, y zero point, bias).
_INTEGER_OPS = {"MatMulInteger": (0, 2, 1, 3), "ConvInteger": (0, 2, 1, 3)}
_QLINEAR_OPS = {"QLinearMatMul": ((0, 2, 3, 5), (1, 4, 6, 7, None)),
                "QLinearConv": ((0, 2, 3, 5), (1, 4, 6, 7, 8))}


def saturates_in_ort(model, feeds) -> bool:
    """Whether ORT may saturate on this one-node model: a uint8 x int8 (or int8 x int8, which
    ORT shifts to uint8 x int8) multiply on a CPU without VNNI."""
    node = model.graph.node[0]
    pos = _INTEGER_OPS.get(node.op_type) or (_QLINEAR_OPS.get(node.op_type) or (None,))[0]
    if pos is None or not U8S8_MAY_SATURATE:
        return False
    values = _values(model, feeds)
    return values[node.input[pos[2]]].dtype == np.int8


def _values(model, feeds) -> dict:
    import onnx.numpy_helper
    out = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    out.update(feeds)
    return out


def _conv(x, w, attrs: dict):
    """Convolution of int64 arrays (zero points already taken off, so padding is 0), NC... layout."""
    nd = w.ndim - 2
    ksz = w.shape[2:]
    strides = list(attrs.get("strides", [1] * nd))
    dil = list(attrs.get("dilations", [1] * nd))
    group = int(attrs.get("group", 1))
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    begin, end = [], []
    for i in range(nd):
        span = (ksz[i] - 1) * dil[i] + 1
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, (-(-x.shape[2 + i] // strides[i]) - 1) * strides[i] + span - x.shape[2 + i])
            b = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(b), end.append(total - b)
        elif auto == "VALID":
            begin.append(0), end.append(0)
        else:
            pads = list(attrs.get("pads", [0] * 2 * nd))
            begin.append(pads[i]), end.append(pads[nd + i])
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(begin, end)))
    out = [(xp.shape[2 + i] - ((ksz[i] - 1) * dil[i] + 1)) // strides[i] + 1 for i in range(nd)]
    n, m, cg = x.shape[0], w.shape[0], w.shape[1]
    mg = m // group
    y = np.zeros([n, m] + out, np.int64)
    for tap in np.ndindex(*ksz):
        sl = tuple(slice(tap[i] * dil[i], tap[i] * dil[i] + (out[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(nd))
        xs = xp[(slice(None), slice(None)) + sl]
        for g in range(group):
            wt = w[(slice(g * mg, (g + 1) * mg), slice(None)) + tap]  # [mg, cg]
            y[:, g * mg:(g + 1) * mg] += np.einsum("mc,nc...->nm...", wt, xs[:, g * cg:(g + 1) * cg])
    return y


def exact_outputs(model, feeds) -> dict:
    """The node's outputs in exact integer arithmetic (int64 sums, ONNX semantics): the oracle where
    saturates_in_ort. QLinear forms requantize as the ONNX reference does: the float32 multiplier
    x_scale * w_scale / y_scale applied in double, rounded half to even, plus y_zero_point, saturated."""
    from onnx import helper
    node = model.graph.node[0]
    values = _values(model, feeds)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    get = lambda i: values[node.input[i]] if i is not None and i < len(node.input) and node.input[i] else None
    conv = node.op_type in ("ConvInteger", "QLinearConv")
    pos = _INTEGER_OPS.get(node.op_type) or _QLINEAR_OPS[node.op_type][0]
    a, za, b, zb = (get(i) for i in pos)
    a = a.astype(np.int64) - (0 if za is None else za.astype(np.int64))
    b64 = b.astype(np.int64)
    if zb is not None:
        zb = zb.astype(np.int64)
        # Per output channel (conv: axis 0 of w) or per column (matmul: the last axis).
        b64 = b64 - (zb.reshape((-1,) + (1,) * (b.ndim - 1)) if conv and zb.ndim == 1 else zb)
    acc = _conv(a, b64, attrs) if conv else np.matmul(a, b64)
    if node.op_type in _INTEGER_OPS:
        return {node.output[0]: acc.astype(np.int32)}
    sa, sb, sy, zy, bias = (get(i) for i in _QLINEAR_OPS[node.op_type][1])
    mult = (np.float32(sa) * np.asarray(sb, np.float32) / np.float32(sy)).astype(np.float32)
    if conv:
        mult = mult.reshape((-1,) + (1,) * (acc.ndim - 2)) if mult.ndim == 1 else mult
        if bias is not None:
            acc = acc + bias.astype(np.int64).reshape((-1,) + (1,) * (acc.ndim - 2))
    y = np.rint(acc.astype(np.float64) * mult.astype(np.float64)) + np.int64(zy)
    info = np.iinfo(zy.dtype)
    return {node.output[0]: np.clip(y, info.min, info.max).astype(zy.dtype)}
