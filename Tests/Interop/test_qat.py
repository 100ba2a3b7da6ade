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


@pytest.mark.parametrize("epochs", [20, 60])
def test_more_epochs_do_not_make_int2_worse(fixture, epochs, tmp_path):
    """Issue 22's finding: int2 per-channel QAT with Adam at lr 0.01 drifted from 96.2% (20 epochs)
    to 89.9% (60). With the cosine schedule (the default) and the best epoch kept, it stays within
    2 points of fp32 at both lengths."""
    out, fp32 = fixture
    _, qat, report = digits.ptq_and_qat(QUANTCTL, out, "int2", tmp_path, training={"epochs": epochs, "learning_rate": 0.01})
    print(f"int2 QAT, {epochs} epochs at lr 0.01: {qat:.4f} (fp32 {fp32:.4f}), kept epoch {report['training']['exported_epoch']}")
    assert qat >= fp32 - 0.02, (epochs, qat, fp32)
    training = report["training"]
    assert training["spec"]["schedule"] == "cosine" and training["spec"]["keep_best"] is True
    assert 1 <= training["exported_epoch"] == training["best_epoch"] <= epochs
    best = max(e["validation_accuracy"] for e in training["epochs"])
    assert training["epochs"][training["best_epoch"] - 1]["validation_accuracy"] == best


def test_training_schedule_fields_are_checked(fixture, tmp_path):
    out, _ = fixture
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"weights": {"bits": 2, "granularity": "channel"}}))
    for training, field in [({"schedule": "linear"}, "schedule"), ({"warmup_epochs": 20}, "warmup_epochs"),
                            ({"step_epochs": 5}, "step_epochs"), ({"schedule": "step", "step_gamma": 2}, "step_gamma"),
                            ({"keep_best": "yes"}, "keep_best")]:
        (tmp_path / "t.json").write_text(json.dumps({**digits.QAT_TRAINING, **training}))
        result = subprocess.run([str(QUANTCTL), "qat", str(out / "digits-mlp.safetensors"), "-o", str(tmp_path / "o.safetensors"), "--recipe", str(recipe),
                                 "--training", str(tmp_path / "t.json"), "--dataset", str(out / "digits-train.safetensors")],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 0 and field in result.stderr, (training, result.stderr)
    # PyTorch's loss name is accepted
    (tmp_path / "t.json").write_text(json.dumps({**digits.QAT_TRAINING, "epochs": 1, "loss": "cross_entropy"}))
    result = subprocess.run([str(QUANTCTL), "qat", str(out / "digits-mlp.safetensors"), "-o", str(tmp_path / "o.safetensors"), "--recipe", str(recipe),
                             "--training", str(tmp_path / "t.json"), "--dataset", str(out / "digits-train.safetensors"), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["training"]["spec"]["loss"] == "softmax_cross_entropy"
