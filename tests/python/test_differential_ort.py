"""nibble's float results against ONNX Runtime's, on the same models and inputs.

ONNX Runtime (CPU provider, default graph optimizations) is the oracle. Each
case writes random inputs as .npy, runs `nibble run MODEL -i ... -o OUTDIR`,
reads OUTDIR/<sanitized output name>.npy and compares every output.

    NIBBLE_BIN=build/nibble .venv/bin/python -m pytest tests/python/test_differential_ort.py
    NIBBLE_RANDOM_GRAPHS=500 ...   # more random graphs than the default 40
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nibble_cli import CliRun, fresh_dir, run_cli, sanitize

import make_models
import random_graphs

RTOL, ATOL = 1e-4, 1e-5
RANDOM_GRAPH_COUNT = int(os.environ.get("NIBBLE_RANDOM_GRAPHS", "40"))
MODEL_TIMEOUT_S = 600  # generous: a debug or sanitizer build of the reference kernels is slow
GRAPH_TIMEOUT_S = 60


def ort_outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL) -> dict[str, np.ndarray]:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = level
    opts.log_severity_level = 3  # ORT's warnings about unused initializers are noise here
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def write_inputs(feeds: dict[str, np.ndarray], directory: Path) -> list[str]:
    """Save each input as .npy; return the CLI's -i arguments for them."""
    fresh_dir(directory)
    args = []
    for name, value in feeds.items():
        path = directory / f"{sanitize(name)}.npy"
        np.save(path, value)
        # A single input may be given bare; several need NAME=FILE. Both forms
        # are part of the CLI contract, so both are used.
        args += ["-i", str(path) if len(feeds) == 1 else f"{name}={path}"]
    return args


def error_summary(actual: np.ndarray, expected: np.ndarray) -> str:
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    abs_err = np.abs(a - e)
    rel_err = abs_err / np.maximum(np.abs(e), np.finfo(np.float32).tiny)
    i_abs = np.unravel_index(np.argmax(abs_err), abs_err.shape)
    i_rel = np.unravel_index(np.argmax(rel_err), rel_err.shape)
    bad = int(np.count_nonzero(abs_err > ATOL + RTOL * np.abs(e)))
    return (f"max abs err {abs_err[i_abs]:.3g} at {tuple(map(int, i_abs))} "
            f"(nibble {a[i_abs]:.7g}, ORT {e[i_abs]:.7g}); "
            f"max rel err {rel_err[i_rel]:.3g} at {tuple(map(int, i_rel))}; "
            f"{bad} of {e.size} elements outside rtol={RTOL:g}, atol={ATOL:g}")


def run_nibble_and_compare(nibble_bin: Path, model_path: Path, feeds: dict[str, np.ndarray],
                           expected: dict[str, np.ndarray], workdir: Path, timeout: float,
                           extra_args=(), context: str = "") -> None:
    input_args = write_inputs(feeds, workdir / "inputs")
    out_dir = fresh_dir(workdir / "out")
    run: CliRun = run_cli([nibble_bin, "run", model_path, *input_args, "-o", out_dir, *extra_args], timeout)
    where = f"{model_path.name}{context}\n  command: {run.command_line}"
    assert run.returncode == 0, f"{where}\n  nibble exited with {run.returncode}:\n{run.stderr.strip()}"

    for name, want in expected.items():
        path = out_dir / f"{sanitize(name)}.npy"
        assert path.is_file(), (f"{where}\n  no file for output '{name}' (expected {path.name}); "
                                f"found {sorted(p.name for p in out_dir.iterdir())}")
        got = np.load(path)
        assert got.dtype == want.dtype, f"{where}\n  output '{name}': dtype {got.dtype}, ORT gives {want.dtype}"
        assert got.shape == want.shape, f"{where}\n  output '{name}': shape {got.shape}, ORT gives {want.shape}"
        try:
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        except AssertionError as e:
            # The summary is computed only on failure: it scans every element twice.
            raise AssertionError(f"{where}\n  output '{name}': {error_summary(got, want)}\n{e}") from None


# ---- the reference models ------------------------------------------------------------

def _compare_reference_model(name, nibble_bin, reference_models, test_out, extra_args=(), tag=""):
    path = reference_models[name]
    model = onnx.load(str(path))
    feeds = make_models.random_inputs(model, np.random.default_rng(1234))
    expected = ort_outputs(model, feeds)
    run_nibble_and_compare(nibble_bin, path, feeds, expected, test_out / "differential" / f"{name}{tag}",
                           MODEL_TIMEOUT_S, extra_args)


@pytest.mark.parametrize("name", list(make_models.MODELS))
def test_reference_model_matches_ort(name, nibble_bin, reference_models, test_out):
    _compare_reference_model(name, nibble_bin, reference_models, test_out)


def test_resnet18_two_threads_matches_ort(nibble_bin, reference_models, test_out):
    # Threading splits the work differently; the answer must stay within the
    # same tolerance of the oracle (and the run must not race).
    _compare_reference_model("resnet18", nibble_bin, reference_models, test_out,
                             extra_args=["--threads", "2"], tag="-threads2")


# ---- random graphs -------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(RANDOM_GRAPH_COUNT))
def test_random_graph_matches_ort(seed, nibble_bin, test_out):
    model = random_graphs.make_random_graph(seed)
    workdir = fresh_dir(test_out / "differential" / f"random_{seed:04d}")
    model_path = workdir / "model.onnx"
    onnx.save(model, str(model_path))
    feeds = make_models.random_inputs(model, np.random.default_rng(seed))

    expected = ort_outputs(model, feeds)
    # ORT's graph rewrites have had bugs (random_graphs.py avoids the known
    # ones); if its optimized and plain runs disagree, the oracle is unusable
    # and the generator needs fixing, whatever nibble says.
    plain = ort_outputs(model, feeds, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    for name, want in expected.items():
        if not np.allclose(plain[name], want, rtol=RTOL, atol=ATOL):
            pytest.fail(f"random graph {seed}: ONNX Runtime disagrees with itself on '{name}' "
                        f"(optimized vs. unoptimized); fix random_graphs.py, not nibble:\n"
                        f"{random_graphs.describe(model)}", pytrace=False)

    context = (f" (random graph, seed {seed}; regenerate with: "
               f"python tests/models/random_graphs.py --seed {seed} --out g.onnx)\n"
               f"{random_graphs.describe(model)}")
    run_nibble_and_compare(nibble_bin, model_path, feeds, expected, workdir, GRAPH_TIMEOUT_S, context=context)
