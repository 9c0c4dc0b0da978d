"""Running the `nibble` CLI from tests: where it is, where output goes, how it is called.

Environment:
  NIBBLE_BIN       the nibble executable (default: build/nibble, relative to the repo root)
  NIBBLE_TEST_OUT  where generated models, inputs and outputs go (default: build/test-out)
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The model generators live in tests/models; make them importable as plain modules.
sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))


def path_from_env(var: str, default: str) -> Path:
    p = Path(os.environ.get(var, default))
    return p if p.is_absolute() else REPO_ROOT / p


def sanitize(name: str) -> str:
    """The file name the CLI gives an output: anything outside [A-Za-z0-9._-] becomes '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def fresh_dir(path: Path) -> Path:
    """An empty directory: stale files from an earlier run must not pass for new output."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass
class CliRun:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def command_line(self) -> str:
        return " ".join(self.cmd)


def run_cli_raw(args: list, timeout: float) -> CliRun:
    """Run the CLI; subprocess.TimeoutExpired propagates (for callers that collect failures)."""
    cmd = [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    return CliRun(cmd, p.returncode, p.stdout, p.stderr)


def run_cli(args: list, timeout: float) -> CliRun:
    """Run the CLI; a hang becomes a test failure that shows the command."""
    try:
        return run_cli_raw(args, timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"nibble did not finish within {timeout:.0f} s (hang?):\n  {' '.join(map(str, e.cmd))}",
                    pytrace=False)
