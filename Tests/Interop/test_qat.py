"""Quantization-aware training on real data: the digits MLP (scripts/make-digits-fixture.py) trained
further with fake-quantized weights, evaluated on the held-out test split that neither training saw;
and a QAT job through a live quantd, its report, per-epoch metrics and `quantctl jobs report --plot`."""
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open

from conftest import BIN, ROOT
from service import Quantd

sys.path.insert(0, str(ROOT / "scripts"))
import digits_eval as digits  # noqa: E402

QUANTCTL = BIN / "quantctl"


@pytest.fixture(scope="module")
def fixture(digits_fixture):
    out, summary = digits_fixture
    return out, summary["fp32_test_accuracy"]


@pytest.mark.parametrize("name", ["int2", "ternary"])
def test_qat_recovers_what_post_training_quantization_loses(fixture, name, tmp_path):
    out, fp32 = fixture
    ptq, qat, report = digits.ptq_and_qat(QUANTCTL, out, name, tmp_path)
    assert qat >= fp32 - 0.02, (name, qat, fp32)       # the goal: within 2 points of fp32
    assert ptq <= fp32 - 0.03, (name, ptq, fp32)       # post-training quantization is well below
    assert qat > ptq + 0.02
    training = report["training"]
    assert len(training["epochs"]) == 20 and training["spec"]["seed"] == 1
    assert training["evaluation"]["qat_accuracy"] >= training["evaluation"]["ptq_accuracy"]


def test_exported_weights_are_quantized_and_biases_trained(fixture, tmp_path):
    out, _ = fixture
    _, _, _ = digits.ptq_and_qat(QUANTCTL, out, "int2", tmp_path)
    with safe_open(str(tmp_path / "int2.qat.safetensors"), framework="np") as f:
        info = json.loads(f.metadata()["quantization"])
        assert {n: t["bits"] for n, t in info["tensors"].items()} == {f"layers.{i}.weight": 2 for i in range(3)}
        assert f.get_tensor("layers.0.weight").dtype == np.uint8
    weights = digits.weights_of(tmp_path / "int2.qat.safetensors")
    for i in range(3):
        assert len(np.unique(weights[f"layers.{i}.weight"][0])) <= 4   # two bits: at most four values per row
    original = digits.weights_of(out / "digits-mlp.safetensors")
    assert not np.array_equal(weights["layers.0.bias"], original["layers.0.bias"])


def test_qat_job_through_the_server(fixture, tmp_path):
    out, _ = fixture
    server = Quantd()
    try:
        model = server.post("/v1/models", data=(out / "digits-mlp.safetensors").read_bytes()).json()["id"]
        dataset = server.post("/v1/datasets?name=digits-train", data=(out / "digits-train.safetensors").read_bytes())
        assert dataset.status_code == 201, dataset.text
        training = {**digits.QAT_TRAINING, "dataset_id": dataset.json()["id"]}
        job = server.post("/v1/jobs", json={"model_id": model, "kind": "qat", "recipe": digits.QAT_RECIPES["ternary"], "training": training})
        assert job.status_code == 202, job.text
        assert job.json()["kind"] == "qat"
        done = server.wait_job(job.json()["id"], timeout=300)
        assert done["status"] == "succeeded", done
        assert done["progress"]["total"] == 20
        report = server.get(f"/v1/jobs/{done['id']}/report").json()
        epochs = report["training"]["epochs"]
        assert [e["epoch"] for e in epochs] == list(range(1, 21))
        assert all(0 <= e["validation_accuracy"] <= 1 and e["train_loss"] > 0 for e in epochs)
        evaluation = report["training"]["evaluation"]
        assert set(evaluation) >= {"fp32_accuracy", "ptq_accuracy", "qat_accuracy"}
        assert report["summary"]["training"]["epochs"] == 20
        # The server's artifact is the one `quantctl qat` makes locally with the same request.
        artifact = server.get(f"/v1/jobs/{done['id']}/artifact").content
        digits.ptq_and_qat(QUANTCTL, out, "ternary", tmp_path)
        assert hashlib.sha256(artifact).hexdigest() == hashlib.sha256((tmp_path / "ternary.qat.safetensors").read_bytes()).hexdigest()
        # The terminal chart of the epochs.
        shown = subprocess.run([str(QUANTCTL), "jobs", "report", done["id"], "--plot", "--server", server.url, "--api-key", server.admin_key],
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert "training loss" in shown.stdout and "validation accuracy (%)" in shown.stdout and "epoch 20" in shown.stdout
        assert shown.stdout.count("*") >= 40
        # Out of scope: a k-means recipe, named in the 422.
        refused = server.post("/v1/jobs", json={"model_id": model, "kind": "qat", "recipe": {"preset": "kmeans-4"}, "training": training})
        assert refused.status_code == 422 and refused.json()["field"] == "weights.method", refused.text
    finally:
        server.stop()
