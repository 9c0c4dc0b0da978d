"""Bad input through the `nibble run` CLI: a clear one-line error, never a crash.

The contract each test checks (see assert_clean_failure):
  * the exit code is non-zero and in 1..127: a negative code (killed by a
    signal) or >= 128 (a shell's report of one) is a crash, not an error;
  * stderr has exactly one line starting with "nibble: error:", and that line
    names what is wrong: the node, tensor, input or file, as each test asks;
  * no sanitizer report, uncaught C++ exception or hang.
Randomly corrupted models may also load and run (exit 0): a flipped bit in a
weight is still a valid model.

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_cli_errors.py
    NIBBLE_CORRUPTIONS=3000 ...   # more random corruptions than the default 300
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from nibble_cli import CliRun, fresh_dir, run_cli, run_cli_raw, sanitize

from make_models import GraphBuilder

TIMEOUT_S = 30
CORRUPTION_COUNT = int(os.environ.get("NIBBLE_CORRUPTIONS", "300"))
# Signals show in the exit code; these are the crashes that exit "normally"
# (ASan exits 1) or print before aborting.
CRASH_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                 "terminate called")
INPUT = "pixels"  # a distinctive input name, so "the message names the input" means something
INPUT_SHAPE = [1, 3, 4, 4]


# ---- models and how to run them ------------------------------------------------------

def small_model() -> onnx.ModelProto:
    """Conv, Relu, Reshape, Gemm, Gather: small, yet with int64 shape and index data to corrupt."""
    b = GraphBuilder(seed=7)
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, INPUT_SHAPE)]
    x = b.conv(INPUT, "conv", 3, 2, 3, bias=True)
    x = b.node("Relu", [x], "relu")
    x = b.node("Reshape", [x, b.const("flatten.shape", np.array([1, -1], np.int64))], "flatten")
    x = b.gemm(x, "fc", 32, 3)
    b.node("Gather", [x, b.const("class_ids", np.array([0, 2], np.int64))], "scores", axis=1)
    return b.model("small", inputs, [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])])


def model_with(nodes, initializers=(), extra_inputs=()) -> onnx.ModelProto:
    """A hand-made graph from INPUT (and `extra_inputs`, shape [1]) to "out", shaped like INPUT.

    Used where the point is the input or a tensor, not the ops: with nothing
    but Relu or Add in the graph, a test fails for its own reason only.
    """
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, INPUT_SHAPE if n == INPUT else [1])
              for n in (INPUT, *extra_inputs)]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, INPUT_SHAPE)]
    graph = helper.make_graph(nodes, "bad", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def relu_model() -> onnx.ModelProto:
    return model_with([helper.make_node("Relu", [INPUT], ["out"], name="relu")])


def pixels(dtype=np.float32, shape=INPUT_SHAPE) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


@pytest.fixture
def workdir(request, test_out: Path) -> Path:
    return fresh_dir(test_out / "cli_errors" / sanitize(request.node.name))


def save_model(model: onnx.ModelProto | bytes, path: Path) -> Path:
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def run_model(nibble_bin: Path, model_path: Path, workdir: Path, inputs: dict[str, np.ndarray] | None = None,
              raw_input_args: list[str] | None = None, timeout: float = TIMEOUT_S) -> CliRun:
    """`nibble run MODEL -i NAME=FILE ... -o OUT`; by default one valid `pixels` input."""
    args = list(raw_input_args or [])
    for name, value in (inputs if inputs is not None else {INPUT: pixels()}).items():
        path = workdir / f"in_{sanitize(name)}.npy"
        np.save(path, value)
        args += ["-i", f"{name}={path}"]
    out_dir = fresh_dir(workdir / "out")
    return run_cli([nibble_bin, "run", model_path, *args, "-o", out_dir], timeout)


def crash_report(run: CliRun) -> str | None:
    """Why this run counts as a crash rather than an error, or None."""
    if run.returncode < 0:
        return f"killed by signal {-run.returncode}"
    if run.returncode >= 128:
        return f"exit code {run.returncode} (a shell's report of signal {run.returncode - 128}?)"
    marker = next((m for m in CRASH_MARKERS if m in run.stderr), None)
    return f"stderr contains {marker!r}" if marker else None


def error_line_problem(run: CliRun) -> str | None:
    """What is wrong with a failing run's error report, or None."""
    if crash := crash_report(run):
        return crash
    lines = [line for line in run.stderr.splitlines() if line.startswith("nibble: error:")]
    if len(lines) != 1:
        return f"expected exactly one line starting 'nibble: error:' on stderr, found {len(lines)}"
    return None


def assert_clean_failure(run: CliRun, *mentions: str) -> str:
    """Assert the run failed cleanly with an error line naming each of `mentions`; return that line."""
    context = f"\n  command: {run.command_line}\n  exit code: {run.returncode}\n  stderr:\n{run.stderr.strip()[-3000:]}"
    assert run.returncode != 0, "nibble succeeded on input it should reject" + context
    problem = error_line_problem(run)
    assert problem is None, problem + context
    line = next(line for line in run.stderr.splitlines() if line.startswith("nibble: error:"))
    missing = [m for m in mentions if m not in line]
    assert not missing, f"the error line does not name {missing}: {line!r}" + context
    return line


def ort_output(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {INPUT: x})[0]


# ---- the baseline: without it every "rejects X" test could pass by rejecting all ------

@pytest.mark.parametrize("make", [small_model, relu_model], ids=["small_model", "relu_model"])
def test_untouched_model_runs_and_matches_ort(make, nibble_bin, workdir):
    model = make()
    run = run_model(nibble_bin, save_model(model, workdir / "m.onnx"), workdir)
    assert run.returncode == 0, f"{run.command_line}\n{run.stderr}"
    output = model.graph.output[0].name
    np.testing.assert_allclose(np.load(workdir / "out" / f"{output}.npy"), ort_output(model, pixels()),
                               rtol=1e-4, atol=1e-5)


# ---- unreadable model files ----------------------------------------------------------

def test_missing_model_file(nibble_bin, workdir):
    assert_clean_failure(run_model(nibble_bin, workdir / "no_such_model.onnx", workdir), "no_such_model.onnx")


def _graph_field_span(model: onnx.ModelProto) -> tuple[int, int]:
    """Byte range of ModelProto.graph (field 7) in model.SerializeToString().

    Protobuf writes fields in number order, so the graph follows fields 1-6.
    A cut strictly inside this range leaves a length-delimited field short:
    the file cannot parse, whatever a lenient reader does.
    """
    head = onnx.ModelProto()
    head.CopyFrom(model)
    for field in ("graph", "opset_import", "metadata_props", "training_info", "functions"):
        head.ClearField(field)
    start = len(head.SerializeToString())
    graph_len = len(model.graph.SerializeToString())
    tag_and_length = 1 + _varint_size(graph_len)
    return start, start + tag_and_length + graph_len


def _varint_size(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


TRUNCATIONS = ["empty", "graph_missing", "inside_graph_length", "graph_10pct", "graph_50pct", "graph_90pct",
               "graph_last_byte_missing", "last_byte_missing"]


@pytest.mark.parametrize("cut", TRUNCATIONS)
def test_truncated_model(cut, nibble_bin, workdir):
    model = small_model()
    data = model.SerializeToString()
    start, end = _graph_field_span(model)
    assert data[start] == (7 << 3 | 2), "graph field not where expected; _graph_field_span is wrong"
    offset = {
        "empty": 0,
        "graph_missing": start,  # parses, as a model with no graph at all
        "inside_graph_length": start + 2,
        "graph_10pct": start + (end - start) // 10,
        "graph_50pct": start + (end - start) // 2,
        "graph_90pct": start + (end - start) * 9 // 10,
        "graph_last_byte_missing": end - 1,
        "last_byte_missing": len(data) - 1,
    }[cut]
    path = save_model(data[:offset], workdir / f"truncated_{cut}.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir), path.name)


def _structural_positions(data: bytes, model: onnx.ModelProto) -> np.ndarray:
    """Byte offsets outside every initializer's raw_data: tags, lengths, names, dims, attributes."""
    weight = np.zeros(len(data), bool)
    for t in model.graph.initializer:
        if len(t.raw_data) >= 8:
            at = data.find(t.raw_data)
            if at >= 0:
                weight[at:at + len(t.raw_data)] = True
    return np.flatnonzero(~weight)


def _mutate(data: bytes, structural: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """One seeded corruption; returns the bytes and a description for the report."""
    b = bytearray(data)
    # Half the edits aim at structure: a corrupted weight usually still loads,
    # and the parser, shape checks and planner are what this test is for.
    def position():
        return int(rng.choice(structural)) if rng.random() < 0.5 else int(rng.integers(len(b)))
    kind = int(rng.integers(4))
    count = int(rng.integers(1, 5))
    if kind == 0:
        spots = [position() for _ in range(count)]
        for p in spots:
            b[p] = int(rng.integers(256))
        return bytes(b), f"random bytes at {spots}"
    if kind == 1:
        spots = [(position(), int(rng.integers(8))) for _ in range(count)]
        for p, bit in spots:
            b[p] ^= 1 << bit
        return bytes(b), f"bit flips (offset, bit) {spots}"
    if kind == 2:
        # Values that turn varints into huge lengths, dims and indices.
        spots = [(position(), int(rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF]))) for _ in range(count)]
        for p, v in spots:
            b[p] = v
        return bytes(b), f"boundary bytes (offset, value) {spots}"
    p, n = position(), int(rng.integers(1, 9))
    if rng.random() < 0.5:
        del b[p:p + n]
        return bytes(b), f"deleted {n} bytes at {p}"
    b[p:p] = b[p:p + n]
    return bytes(b), f"duplicated {n} bytes at {p}"


def test_random_corruption_never_crashes(nibble_bin, workdir):
    model = small_model()
    data = model.SerializeToString()
    structural = _structural_positions(data, model)
    np.save(workdir / "pixels.npy", pixels())
    problems, succeeded = [], 0
    for seed in range(CORRUPTION_COUNT):
        mutant, how = _mutate(data, structural, np.random.default_rng(seed))
        path = save_model(mutant, workdir / "mutant.onnx")
        out_dir = fresh_dir(workdir / "out")
        try:
            run = run_cli_raw([nibble_bin, "run", path, "-i", f"{INPUT}={workdir / 'pixels.npy'}", "-o", out_dir],
                              TIMEOUT_S)
        except subprocess.TimeoutExpired:
            problem = f"no answer within {TIMEOUT_S} s"
        else:
            problem = crash_report(run) if run.returncode == 0 else error_line_problem(run)
            succeeded += run.returncode == 0 and problem is None
        if problem:
            kept = save_model(mutant, workdir / f"failing_mutant_{seed:04d}.onnx")
            problems.append(f"mutation {seed} ({how}): {problem}; kept as {kept}")
    assert not problems, (f"{len(problems)} of {CORRUPTION_COUNT} corrupted models crashed or failed unclearly "
                          f"(re-run one: {nibble_bin} run MUTANT -i {INPUT}={workdir / 'pixels.npy'} -o OUT):\n  "
                          + "\n  ".join(problems[:20]))
    # The mutations must reach the parser, not only the weights, or the test proves little.
    assert succeeded < CORRUPTION_COUNT * 0.9, \
        f"{succeeded} of {CORRUPTION_COUNT} mutants ran fine: the corruption reaches too little structure"


# ---- graphs nibble cannot run ----------------------------------------------------------

def test_unknown_op_names_the_node(nibble_bin, workdir):
    model = model_with([helper.make_node("Relu", [INPUT], ["r"], name="relu_before"),
                        helper.make_node("FooBar", ["r"], ["out"], name="mystery_node")])
    line = assert_clean_failure(run_model(nibble_bin, save_model(model, workdir / "m.onnx"), workdir),
                                "mystery_node", "FooBar")
    assert "relu_before" not in line, f"the error blames a supported node: {line!r}"


def test_every_unknown_op_is_named_in_one_message(nibble_bin, workdir):
    # Reporting all unsupported nodes at once saves a user one round trip per node.
    model = model_with([helper.make_node("FooBar", [INPUT], ["a"], name="first_unknown"),
                        helper.make_node("Relu", ["a"], ["b"], name="relu_between"),
                        helper.make_node("BazQux", ["b"], ["out"], name="second_unknown")])
    assert_clean_failure(run_model(nibble_bin, save_model(model, workdir / "m.onnx"), workdir),
                         "first_unknown", "FooBar", "second_unknown", "BazQux")


# ---- bad inputs ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [[1, 3, 5, 5], [1, 3, 4], [2, 3, 4, 4], [1, 3, 4, 4, 1]],
                         ids=["bigger_spatial", "lower_rank", "other_batch", "higher_rank"])
def test_wrong_input_shape(shape, nibble_bin, workdir):
    path = save_model(relu_model(), workdir / "relu.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir, {INPUT: pixels(shape=shape)}), INPUT)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_wrong_input_dtype(dtype, nibble_bin, workdir):
    # No silent conversion: a float64 file fed to a float32 input is a user mistake to report.
    path = save_model(relu_model(), workdir / "relu.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir, {INPUT: pixels(dtype)}), INPUT)


def test_missing_input_is_named(nibble_bin, workdir):
    model = model_with([helper.make_node("Add", [INPUT, "offset"], ["out"], name="add_offset")],
                       extra_inputs=["offset"])
    path = save_model(model, workdir / "two_inputs.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir, {INPUT: pixels()}), "offset")


def test_unknown_input_name_is_named(nibble_bin, workdir):
    # A typo in an input name must not be ignored silently.
    path = save_model(relu_model(), workdir / "relu.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir, {INPUT: pixels(), "pixles": pixels()}), "pixles")


@pytest.mark.parametrize("content", [b"", b"not a numpy file\n", "truncated"], ids=["empty", "text", "truncated"])
def test_unreadable_npy_input_is_named(content, nibble_bin, workdir):
    path = save_model(relu_model(), workdir / "relu.onnx")
    npy = workdir / "broken_input.npy"
    if content == "truncated":
        np.save(npy, pixels())
        content = npy.read_bytes()[:-10]
    npy.write_bytes(content)
    assert_clean_failure(run_model(nibble_bin, path, workdir, {}, ["-i", f"{INPUT}={npy}"]), npy.name)


@pytest.mark.parametrize("layout", ["big_endian", "fortran_order"])
def test_unusual_npy_layout_is_read_right_or_rejected(layout, nibble_bin, workdir):
    # Either answer is fine; a silently misread input is not. Relu keeps
    # every positive value where it was, so a misread layout shows.
    model = relu_model()
    path = save_model(model, workdir / "relu.onnx")
    x = pixels()
    stored = x.astype(">f4") if layout == "big_endian" else np.asfortranarray(x)
    run = run_model(nibble_bin, path, workdir, {INPUT: stored})
    if run.returncode != 0:
        assert_clean_failure(run)
        return
    np.testing.assert_allclose(np.load(workdir / "out" / "out.npy"), ort_output(model, x), rtol=1e-4, atol=1e-5,
                               err_msg=f"{layout} input was accepted but misread")


# ---- bad tensors ---------------------------------------------------------------------

def _tensor(name: str, dims, raw_data: bytes | None = None, float_data=None) -> TensorProto:
    # Built field by field: numpy_helper would refuse these inconsistent tensors.
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    if raw_data is not None:
        t.raw_data = raw_data
    if float_data is not None:
        t.float_data.extend(float_data)
    return t


FLOAT_BYTES = 4
N_PIXELS = int(np.prod(INPUT_SHAPE))
BAD_TENSORS = {
    # dims declaring far more data than the file holds: check before allocating
    "dims_2pow40_x_2pow40_no_data": dict(dims=[2**40, 2**40]),
    "dims_2pow20_x_2pow20_no_data": dict(dims=[2**20, 2**20]),
    # 3037000500^2 is just above INT64_MAX; 2^31 * 2^30 elements fit, their bytes do not
    "element_count_overflows_int64": dict(dims=[3037000500, 3037000500], raw_data=bytes(16)),
    "byte_size_overflows_int64": dict(dims=[2**31, 2**30], raw_data=bytes(16)),
    "negative_dim": dict(dims=[-1, 4], raw_data=bytes(16)),
    "raw_data_too_short": dict(dims=INPUT_SHAPE, raw_data=bytes((N_PIXELS - 1) * FLOAT_BYTES)),
    "raw_data_too_long": dict(dims=INPUT_SHAPE, raw_data=bytes((N_PIXELS + 1) * FLOAT_BYTES)),
    "raw_data_not_whole_floats": dict(dims=INPUT_SHAPE, raw_data=bytes(N_PIXELS * FLOAT_BYTES - 1)),
    "float_data_count_mismatch": dict(dims=INPUT_SHAPE, float_data=[0.5] * (N_PIXELS - 1)),
}


@pytest.mark.parametrize("case", list(BAD_TENSORS))
def test_inconsistent_initializer_is_named(case, nibble_bin, workdir):
    model = model_with([helper.make_node("Add", [INPUT, "bad_weight"], ["out"], name="add_weight")],
                       [_tensor("bad_weight", **BAD_TENSORS[case])])
    assert_clean_failure(run_model(nibble_bin, save_model(model, workdir / "m.onnx"), workdir), "bad_weight")


def _external_tensor(name: str, location: str) -> TensorProto:
    tensor = _tensor(name, INPUT_SHAPE)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(N_PIXELS * FLOAT_BYTES))):
        tensor.external_data.add(key=key, value=value)
    return tensor


def _add_external_model(location: str) -> onnx.ModelProto:
    return model_with([helper.make_node("Add", [INPUT, "secret_weight"], ["out"], name="add_secret")],
                      [_external_tensor("secret_weight", location)])


def test_external_data_inside_model_dir_is_read(nibble_bin, workdir):
    # The baseline for the refusals below: they must come from the path check,
    # not from external data being unsupported.
    model_dir = fresh_dir(workdir / "model_dir")
    (model_dir / "weights").mkdir()
    (model_dir / "weights" / "secret.bin").write_bytes(np.full(N_PIXELS, 0.5, np.float32).tobytes())
    path = save_model(_add_external_model("weights/secret.bin"), model_dir / "m.onnx")
    run = run_model(nibble_bin, path, workdir)
    assert run.returncode == 0, f"{run.command_line}\n{run.stderr}"
    np.testing.assert_allclose(np.load(workdir / "out" / "out.npy"), pixels() + np.float32(0.5), rtol=1e-6)


EXTERNAL_LOCATIONS = ["../../etc/passwd", "relative_path_reaching_etc_passwd", "/etc/passwd",
                      "sibling_dir_file_of_right_size", "absolute_file_of_right_size"]


@pytest.mark.parametrize("where", EXTERNAL_LOCATIONS)
def test_external_data_outside_model_dir_is_refused(where, nibble_bin, workdir):
    # A model file must not make nibble read arbitrary files. The "right size"
    # cases hold exactly the bytes the tensor needs, so a reader that follows
    # the path would succeed: only a deliberate check fails them.
    model_dir = fresh_dir(workdir / "model_dir")
    outside = workdir / "outside_weights.bin"
    outside.write_bytes(np.ones(N_PIXELS, np.float32).tobytes())
    location = {
        "relative_path_reaching_etc_passwd": os.path.relpath("/etc/passwd", model_dir),
        "sibling_dir_file_of_right_size": os.path.relpath(outside, model_dir),
        "absolute_file_of_right_size": str(outside),
    }.get(where, where)
    path = save_model(_add_external_model(location), model_dir / "m.onnx")
    assert_clean_failure(run_model(nibble_bin, path, workdir), "secret_weight")
