"""Smoke test of bench/lowbit_table.py: the low-bit table runs end to end on the Fashion-MNIST CNN.

Runs `bench/lowbit_table.py --quick` (Fashion only, the first 500 test images, a few runs, 1 thread;
well under a minute) with --json, and checks: every configuration has a row with a positive latency and
a top-1 in [0, 100]; W8A8 is within 1 point of float on that subset; W4A8's packed weight bytes are at
most 60% of W8A8's; the markdown table has a row per configuration.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "lowbit_table.py"
FASHION = Path("/usr/share/datasets/fashion-mnist")
CONFIGS = ("W8A8", "W4A8", "W4A4", "W3A3", "W2A2", "W1A1", "mixed")
BUDGET_S = 60


@pytest.fixture(scope="module")
def quick_run(nibble_bin: Path, test_out: Path):
    for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if not (FASHION / f).exists():
            pytest.skip(f"{FASHION / f} missing (apt-get install dataset-fashion-mnist)")
    work = test_out / "lowbit-table"
    out_json = work / "quick.json"
    work.mkdir(parents=True, exist_ok=True)
    out_json.unlink(missing_ok=True)
    cmd = [sys.executable, str(SCRIPT), "--quick", "--nibble", str(nibble_bin), "--work", str(work),
           "--json", str(out_json)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * BUDGET_S, cwd=REPO_ROOT)
    wall = time.perf_counter() - t0
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    data = json.loads(out_json.read_text())
    return p, data, wall


def rows_by_label(data) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for r in data["rows"]:
        assert r["model"] == "fashion_cnn", r["model"]
        rows.setdefault(r["label"], []).append(r)
    return rows


def test_runs_within_budget(quick_run):
    _, _, wall = quick_run
    assert wall < BUDGET_S, f"--quick took {wall:.0f} s (budget {BUDGET_S} s)"


@pytest.mark.parametrize("label", CONFIGS)
def test_every_config_measured(quick_run, label):
    _, data, _ = quick_run
    rows = rows_by_label(data).get(label)
    assert rows, f"no {label} row: {[r['label'] for r in data['rows']]}"
    expected_methods = {"minmax", "mse"} if label in ("W3A3", "W2A2", "W1A1") else {"minmax"}
    assert {r["method"] for r in rows} == expected_methods, rows
    for r in rows:
        assert not r["error"] and not r["timing_error"], r
        assert r["ms"]["1"] is not None and r["ms"]["1"] > 0, r
        assert r["top1"] is not None and 0 <= r["top1"] <= 100, r
        assert r["file_bytes"] > 0 and r["packed_bytes"] > 0, r


def test_reference_rows(quick_run):
    _, data, _ = quick_run
    rows = rows_by_label(data)
    fl, ort = rows["float"][0], rows["ORT int8"][0]
    assert fl["top1"] is not None and 0 <= fl["top1"] <= 100, fl
    assert ort["ms"]["1"] is not None and ort["ms"]["1"] > 0, ort


def test_w8a8_close_to_float(quick_run):
    _, data, _ = quick_run
    rows = rows_by_label(data)
    fl, w8 = rows["float"][0]["top1"], rows["W8A8"][0]["top1"]
    assert abs(w8 - fl) <= 1.0, f"W8A8 {w8:.2f}% vs float {fl:.2f}% on 500 images"


def test_w4a8_packs_at_least_40_percent_smaller(quick_run):
    _, data, _ = quick_run
    rows = rows_by_label(data)
    w8, w4 = rows["W8A8"][0]["packed_bytes"], rows["W4A8"][0]["packed_bytes"]
    assert w4 <= 0.6 * w8, f"packed weight bytes: W4A8 {w4}, W8A8 {w8}"


def test_markdown_has_every_row(quick_run):
    p, _, _ = quick_run
    section = p.stdout.split("#### fashion_cnn", 1)[1]
    for label in CONFIGS:
        assert f"| **{label}** |" in section, label
    assert "| float |" in section and "| ORT int8 |" in section
