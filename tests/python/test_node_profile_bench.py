"""Smoke test of bench/node_profile.py on the Fashion-MNIST CNN: after bench/compare.py has made the
int8 models, the per-node table lists nibble's conv layers with ONNX Runtime's times matched to them
by name, and a total row with positive times."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FASHION_TRAIN = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


@pytest.fixture(scope="module")
def profile_run(nibble_bin: Path, test_out: Path) -> subprocess.CompletedProcess:
    if not FASHION_TRAIN.exists():
        pytest.skip(f"{FASHION_TRAIN} missing (apt-get install dataset-fashion-mnist)")
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime not installed")
    work = test_out / "node-profile-bench"
    prep = [sys.executable, str(REPO_ROOT / "bench" / "compare.py"), "--models", "fashion_cnn", "--threads", "1",
            "--quick", "--nibble", str(nibble_bin), "--work", str(work)]
    p = subprocess.run(prep, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    assert p.returncode == 0, f"{' '.join(prep)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    cmd = [sys.executable, str(REPO_ROOT / "bench" / "node_profile.py"), "--models", "fashion_cnn", "--rounds", "1",
           "--runs", "5", "--warmup", "2", "--nibble", str(nibble_bin), "--work", str(work)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    return p


def rows(stdout: str) -> dict[str, list[str]]:
    out = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and not cells[0].startswith("---") and cells[0] != "layers":
            out[cells[0]] = cells
    return out


def test_conv_layers_matched_with_ort(profile_run):
    r = rows(profile_run.stdout)
    convs = [k for k in r if k.startswith("Conv")]
    assert convs, profile_run.stdout
    for k in convs:
        nibble_ms, ort_ms = float(r[k][2]), float(r[k][3])
        assert nibble_ms > 0 and ort_ms > 0, r[k]  # ORT's fused node found under the float node's name
        assert re.fullmatch(r"\d+\.\d\d", r[k][5]), r[k]


def test_total_row(profile_run):
    total = rows(profile_run.stdout)["**all**"]
    assert float(total[2]) > 0 and float(total[3]) > 0, total
