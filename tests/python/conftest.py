"""Session fixtures for the tests that drive the `nibble` CLI (see nibble_cli.py for the environment)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nibble_cli import path_from_env

import make_models  # importable once nibble_cli has extended sys.path


@pytest.fixture(scope="session")
def nibble_bin() -> Path:
    path = path_from_env("NIBBLE_BIN", "build/nibble")
    if not (path.is_file() and os.access(path, os.X_OK)):
        # A failure, not a skip: a green run without the binary would be a lie.
        pytest.fail(f"nibble executable not found at {path}; build it (cmake --build build) "
                    f"or point NIBBLE_BIN at it", pytrace=False)
    return path


@pytest.fixture(scope="session")
def test_out() -> Path:
    out = path_from_env("NIBBLE_TEST_OUT", "build/test-out")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def reference_models(test_out: Path) -> dict[str, Path]:
    """The three reference models, generated once per session.

    Regenerated every session rather than reused from disk, so a change to
    make_models.py is never tested against a stale file (it takes about a second).
    """
    model_dir = test_out / "models"
    return {name: Path(make_models.write_model(name, str(model_dir))) for name in make_models.MODELS}
