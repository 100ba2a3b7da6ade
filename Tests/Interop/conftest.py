"""Shared fixtures: paths to our binaries (built by `make test` before pytest runs)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bin_dir() -> Path:
    if "QS_BIN_DIR" in os.environ:
        return Path(os.environ["QS_BIN_DIR"])
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


BIN = _bin_dir()


def run_tool(*args, check=True):
    """Runs interop-tool; returns stdout."""
    result = subprocess.run([str(BIN / "interop-tool"), *map(str, args)], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"interop-tool {args} failed: {result.stderr}")
    return result.stdout


def dump(path):
    return json.loads(run_tool("dump", path))


def quantctl(*args, timeout=60):
    return subprocess.run([str(BIN / "quantctl"), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def quantctl_json(*args, timeout=300):
    """Runs quantctl with --json, which must succeed; returns what it printed, parsed."""
    result = quantctl(*args, "--json", timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


@pytest.fixture(scope="session")
def digits_fixture(tmp_path_factory):
    """The digits MLP, its calibration inputs and data splits (scripts/make-digits-fixture.py), made
    once for the calibration and QAT tests: (directory, the script's summary)."""
    import sys
    sys.path.insert(0, str(ROOT / "scripts"))
    import digits_eval
    out = tmp_path_factory.mktemp("digits")
    return out, digits_eval.make_fixture(out)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """The synthetic Hugging Face checkpoints of hf_checkpoints.py, one per architecture, made once."""
    import hf_checkpoints
    root = tmp_path_factory.mktemp("hf")
    return {kind: hf_checkpoints.make_checkpoint(root / kind, kind) for kind in hf_checkpoints.ARCHITECTURES}
