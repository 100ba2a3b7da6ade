"""The README's promises, followed as a new user would: its curl block run as it is, and quantctl
against a live quantd with the key found in ./data/admin.key (where `make run` puts it)."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
from safetensors.numpy import load_file, save_file

from conftest import BIN
from service import Quantd

ROOT = pathlib.Path(__file__).resolve().parents[2]


def user_directory(tmp_path):
    """A working directory laid out like the repository after `make run`: data/ with the key, and
    a model to quantize."""
    rng = np.random.default_rng(3)
    save_file({"layer.weight": rng.standard_normal((64, 256)).astype(np.float32),
               "layer.bias": rng.standard_normal(64).astype(np.float32)}, str(tmp_path / "model.safetensors"))
    server = Quantd(data_dir=tmp_path / "data")
    return server


def test_readme_curl_block_runs_as_written(tmp_path):
    block = re.search(r"<!-- curl-flow.*?-->\n```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    server = user_directory(tmp_path)
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, env={**os.environ, "QUANT_SERVER": server.url})
        assert result.returncode == 0, result.stderr
        job = json.loads(result.stdout.strip().splitlines()[-1])
        assert job["status"] == "succeeded", job
        out = load_file(str(tmp_path / "out.safetensors"))
        assert any(name.startswith("layer.weight") for name in out), list(out)
        report = json.loads((tmp_path / "report.json").read_text())
        assert {t["name"] for t in report["tensors"]} == {"layer.weight", "layer.bias"}
    finally:
        server.stop()


def quantctl(cwd, *args, env=None):
    return subprocess.run([str(BIN.resolve() / "quantctl"), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("QUANT_")}, **(env or {})})


def test_quantctl_against_the_server_finds_the_key(tmp_path):
    server = user_directory(tmp_path)
    try:
        result = quantctl(tmp_path, "quantize", "model.safetensors", "--server", server.url, "--preset", "int4-g128", "-o", "out.safetensors")
        assert result.returncode == 0, result.stderr
        assert "succeeded" in result.stdout and "bits per weight" in result.stdout
        artifact = load_file(str(tmp_path / "out.safetensors"))
        assert any(name.startswith("layer.weight") and name != "layer.weight" for name in artifact), list(artifact)
        assert artifact["layer.bias"].dtype == np.float32  # kept as it was

        # The same through the environment, with JSON for scripts.
        env = {"QUANT_SERVER": server.url}
        listed = json.loads(quantctl(tmp_path, "models", "list", "--json", env=env).stdout)
        assert [m["name"] for m in listed] == ["model"]
        model_id = listed[0]["id"]
        submitted = json.loads(quantctl(tmp_path, "jobs", "submit", model_id, "--preset", "q8_0", "--json", env=env).stdout)
        waited = json.loads(quantctl(tmp_path, "jobs", "wait", submitted["id"], "--json", env=env).stdout)
        assert waited["status"] == "succeeded" and waited["summary"]["bits_per_weight"] > 8
        download = quantctl(tmp_path, "jobs", "download", submitted["id"], "-o", "q8.gguf", env=env)
        assert download.returncode == 0, download.stderr
        assert (tmp_path / "q8.gguf").read_bytes()[:4] == b"GGUF"
        report = json.loads(quantctl(tmp_path, "jobs", "report", submitted["id"], "--json", env=env).stdout)
        assert {t["name"] for t in report["tensors"]} == {"layer.weight", "layer.bias"}
        text = quantctl(tmp_path, "jobs", "list", env=env)
        assert submitted["id"] in text.stdout

        # Exit codes: 1 for a user error (unknown id, bad key), 3 when no server answers.
        missing = quantctl(tmp_path, "jobs", "status", "job_nope", env=env)
        assert missing.returncode == 1 and "does not exist" in missing.stderr
        bad_key = quantctl(tmp_path, "models", "list", "--api-key", "qs_wrong", env=env)
        assert bad_key.returncode == 1 and "401" in bad_key.stderr
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        no_key = quantctl(elsewhere, "models", "list", env=env)
        assert no_key.returncode == 1 and "no API key" in no_key.stderr
    finally:
        server.stop()
    down = quantctl(tmp_path, "models", "list", "--server", server.url)
    assert down.returncode == 3 and "make run" in down.stderr
