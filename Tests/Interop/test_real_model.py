"""A real model (all-MiniLM-L6-v2, from a PyPI package): inspect counts and a lossless round trip."""
import json
import os
import pathlib

import numpy as np
from safetensors import safe_open

from conftest import quantctl, quantctl_json, run_tool

MODEL = pathlib.Path(os.environ.get("QS_REAL_MODEL", ".venv/models/all-minilm-l6-v2-checkpoint/model.safetensors"))


def test_inspect_real_model_counts():
    assert MODEL.exists(), "make test fetches the model; run `make test` or set QS_REAL_MODEL"
    report = quantctl_json("inspect", MODEL)
    with safe_open(str(MODEL), framework="np") as f:
        names = list(f.keys())
        shapes = {n: list(f.get_slice(n).get_shape()) for n in names}
        metadata = f.metadata()
    assert report["tensor_count"] == len(names) == 104
    assert report["parameter_count"] == sum(int(np.prod(s)) for s in shapes.values()) == 22_713_728
    assert {t["name"]: t["shape"] for t in report["tensors"]} == shapes
    assert report["metadata"] == metadata


def test_real_model_round_trip(tmp):
    out = tmp / "copy.safetensors"
    run_tool("roundtrip", MODEL, out)
    with safe_open(str(MODEL), framework="np") as a, safe_open(str(out), framework="np") as b:
        assert list(a.keys()) == list(b.keys())
        for name in a.keys():
            np.testing.assert_array_equal(a.get_tensor(name), b.get_tensor(name))


def test_mse_clipping_beats_minmax_on_the_real_model(tmp):
    """Issue goal: int4-g128-mse beats int4-g128 (min-max) on mean weight SQNR, on a real model."""
    reports = {}
    for preset in ("int4-g128", "int4-g128-mse"):
        out, report = tmp / f"{preset}.safetensors", tmp / f"{preset}.json"
        result = quantctl("quantize", MODEL, "-o", out, "--preset", preset, "--report", report)
        assert result.returncode == 0, result.stderr
        reports[preset] = json.loads(report.read_text())["summary"]
    assert reports["int4-g128-mse"]["mean_sqnr_db"] > reports["int4-g128"]["mean_sqnr_db"], reports
    assert reports["int4-g128-mse"]["bits_per_weight"] == reports["int4-g128"]["bits_per_weight"]
