"""Calibration on real activations: an MLP trained on scikit-learn's digits (scripts/make-digits-fixture.py)
and the inputs of its layers. The goals of W8A8 static, GPTQ and AdaRound are checked on held-out
test accuracy and on the server's per-layer output SQNR; artifacts are read with safetensors and
dequantized by the NumPy reference (docs/dequantize.py)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from conftest import BIN, ROOT
from wire_schemas import report_errors

sys.path.insert(0, str(ROOT / "scripts"))
import digits_eval as digits  # noqa: E402

QUANTCTL = BIN / "quantctl"


@pytest.fixture(scope="module")
def fixture(digits_fixture):
    return digits_fixture


@pytest.fixture(scope="module")
def fp32(fixture):
    out, summary = fixture
    weights = digits.weights_of(out / "digits-mlp.safetensors")
    accuracy = digits.accuracy(weights, out / "digits-test.safetensors")
    assert accuracy == pytest.approx(summary["fp32_test_accuracy"])
    assert accuracy > 0.95
    return weights, accuracy


def held_out_logit_sqnr(fixture, fp32_weights, weights):
    data = load_file(str(fixture / "digits-test.safetensors"))
    ref = digits.logits(fp32_weights, data["x"])
    got = digits.logits(weights, data["x"])
    return 10 * np.log10((ref**2).sum() / ((ref - got) ** 2).sum())


def test_capture_example_reproduces_the_fixture_dataset(fixture, tmp_path):
    out, _ = fixture
    x = load_file(str(out / "digits-train.safetensors"))["x"]
    np.save(tmp_path / "x.npy", x)
    subprocess.run([sys.executable, str(ROOT / "docs" / "capture_calibration.py"), str(out / "digits-mlp.safetensors"),
                    str(tmp_path / "x.npy"), str(tmp_path / "captured.safetensors")], check=True)
    captured, expected = load_file(str(tmp_path / "captured.safetensors")), load_file(str(out / "digits-calibration.safetensors"))
    assert captured.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(captured[name], expected[name], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("calibrator", ["kl", "mse"])
def test_w8a8_static_is_within_half_a_point_of_fp32(fixture, fp32, calibrator, tmp_path):
    out, _ = fixture
    fp32_weights, fp32_accuracy = fp32
    recipe = {"preset": "int8", "activations": {"mode": "static", "dataset_id": "digits", "calibrator": calibrator}}
    report = digits.quantize(QUANTCTL, out, recipe, tmp_path / "w8a8.safetensors", tmp_path)
    assert report_errors(report) == []
    with safe_open(str(tmp_path / "w8a8.safetensors"), framework="np") as f:
        for i in range(3):
            scale = f.get_tensor(f"layers.{i}.input_scale")
            assert scale.dtype == np.float32 and scale.shape == (1,)
            # The scale in the file is the one the report states.
            layer = next(t for t in report["tensors"] if t["name"] == f"layers.{i}.weight")
            assert layer["calibration"]["input_scale"] == pytest.approx(float(scale[0]), rel=1e-5)
            assert layer["calibration"]["static_calibrator"] == calibrator
    accuracy = digits.accuracy(digits.weights_of(tmp_path / "w8a8.safetensors"), out / "digits-test.safetensors", "static")
    assert accuracy >= fp32_accuracy - 0.005, (accuracy, fp32_accuracy)


def test_w8a8_dynamic_and_asymmetric_static(fixture, fp32, tmp_path):
    out, _ = fixture
    _, fp32_accuracy = fp32
    report = digits.quantize(QUANTCTL, out, {"preset": "int8", "activations": {"mode": "dynamic"}}, tmp_path / "dyn.safetensors", tmp_path)
    with safe_open(str(tmp_path / "dyn.safetensors"), framework="np") as f:
        assert not any(k.endswith(".input_scale") for k in f.keys())
    weights = digits.weights_of(tmp_path / "dyn.safetensors")
    assert digits.accuracy(weights, out / "digits-test.safetensors", "dynamic") >= fp32_accuracy - 0.005
    summary = report["summary"]["calibration"]
    assert summary["activations"]["mode"] == "dynamic"
    # The int8 GEMM's speed against OpenBLAS's sgemm on the same layers, and which kernels ran it.
    assert summary["int8_gemm_isa"] in ("avx512-vnni", "avx2", "scalar") and summary["fp32_gemm_ms"] > 0 and summary["int8_speedup"] > 0
    recipe = {"preset": "int8", "activations": {"mode": "static", "dataset_id": "d", "calibrator": "minmax", "symmetric": False}}
    digits.quantize(QUANTCTL, out, recipe, tmp_path / "asym.safetensors", tmp_path)
    with safe_open(str(tmp_path / "asym.safetensors"), framework="np") as f:
        zero = f.get_tensor("layers.0.input_zero_point")
        assert zero.dtype == np.int8 and zero.shape == (1,)
    weights = digits.weights_of(tmp_path / "asym.safetensors")
    assert digits.accuracy(weights, out / "digits-test.safetensors", "static") >= fp32_accuracy - 0.005


@pytest.mark.parametrize("bits", [4, 3])
def test_gptq_beats_round_to_nearest(fixture, fp32, bits, tmp_path):
    out, _ = fixture
    fp32_weights, _ = fp32
    nearest = digits.quantize(QUANTCTL, out, digits.weight_recipe("nearest", bits), tmp_path / "rtn.safetensors", tmp_path)
    gptq = digits.quantize(QUANTCTL, out, digits.weight_recipe("gptq", bits), tmp_path / "gptq.safetensors", tmp_path)
    ours, theirs = digits.output_sqnr(gptq, "weight_only"), digits.output_sqnr(nearest, "weight_only")
    assert ours.keys() == theirs.keys() and len(ours) == 3
    for name in ours:
        assert ours[name] > theirs[name], (name, ours[name], theirs[name])
        # The report's own round-to-nearest baseline is the plain recipe's result.
        assert digits.output_sqnr(gptq, "weight_only_nearest")[name] == pytest.approx(theirs[name], abs=1e-3)
    # Same layout as round-to-nearest: same tensors, dtypes and shapes.
    with safe_open(str(tmp_path / "rtn.safetensors"), framework="np") as a, safe_open(str(tmp_path / "gptq.safetensors"), framework="np") as b:
        assert {k: a.get_slice(k).get_shape() for k in a.keys()} == {k: b.get_slice(k).get_shape() for k in b.keys()}
    test = out / "digits-test.safetensors"
    rtn_weights, gptq_weights = digits.weights_of(tmp_path / "rtn.safetensors"), digits.weights_of(tmp_path / "gptq.safetensors")
    # Accuracy: not worse by more than one test sample. At int4 and int3 this MLP is saturated
    # (round-to-nearest is already within 1 of 540 test samples of fp32), and which borderline sample
    # flips depends on the BLAS kernels' rounding (OpenBLAS picks them by CPU: on an AVX2-only machine
    # GPTQ int3 lost one sample to round-to-nearest), so the held-out model output below is the
    # measure that must clearly improve.
    one_sample = 1 / load_file(str(test))["x"].shape[0]
    assert digits.accuracy(gptq_weights, test) >= digits.accuracy(rtn_weights, test) - one_sample - 1e-9
    assert held_out_logit_sqnr(out, fp32_weights, gptq_weights) > held_out_logit_sqnr(out, fp32_weights, rtn_weights) + 3


def test_gptq_accuracy_across_models(tmp_path):
    """Three more MLPs (fixture seeds 1-3; docs/ACCURACY.md has 20 by scripts/gptq_across_models.py):
    at int3 g128 GPTQ's mean test accuracy is clearly above round-to-nearest's; at int4 g128, where
    round-to-nearest loses a sample or two at most, GPTQ stays at least as close to fp32."""
    configs = [(4, 128), (3, 128)]
    runs = list(digits.nearest_and_gptq_across_models(QUANTCTL, [1, 2, 3], configs, tmp_path))
    nearest3, gptq3 = (np.mean([r[(3, 128)][i] for _, _, r, _ in runs]) for i in (0, 1))
    assert gptq3 > nearest3 + 0.005, (gptq3, nearest3)
    nearest4, gptq4 = (np.mean([abs(r[(4, 128)][i] - fp32) for _, fp32, r, _ in runs]) for i in (0, 1))
    assert gptq4 <= nearest4, (gptq4, nearest4)


def test_gptq_beats_round_to_nearest_on_a_narrow_mlp(tmp_path):
    """A 64-32-16-10 MLP, which 4-bit weights do hurt (about a point): over five models (seeds 0-4),
    GPTQ's mean test accuracy beats round-to-nearest's at int4 g128 and int3 g128, and its output
    SQNR beats it on every layer of every model."""
    configs = [(4, 128), (3, 128)]
    runs = list(digits.nearest_and_gptq_across_models(QUANTCTL, range(5), configs, tmp_path, hidden=(32, 16)))
    for config in configs:
        nearest, gptq = (np.mean([r[config][i] for _, _, r, _ in runs]) for i in (0, 1))
        assert gptq > nearest + 0.002, (config, gptq, nearest)
        for seed, _, _, layers in runs:
            theirs, ours = layers[config]
            assert all(ours[name] > theirs[name] for name in theirs), (seed, config, ours, theirs)


def test_gptq_recovers_int2_accuracy(fixture, fp32, tmp_path):
    out, _ = fixture
    test = out / "digits-test.safetensors"
    digits.quantize(QUANTCTL, out, digits.weight_recipe("nearest", 2), tmp_path / "rtn.safetensors", tmp_path)
    digits.quantize(QUANTCTL, out, digits.weight_recipe("gptq", 2), tmp_path / "gptq.safetensors", tmp_path)
    rtn = digits.accuracy(digits.weights_of(tmp_path / "rtn.safetensors"), test)
    gptq = digits.accuracy(digits.weights_of(tmp_path / "gptq.safetensors"), test)
    assert gptq > rtn + 0.2, (gptq, rtn)


@pytest.mark.parametrize("bits", [4, 3, 2])
def test_adaround_beats_round_to_nearest(fixture, bits, tmp_path):
    out, _ = fixture
    report = digits.quantize(QUANTCTL, out, digits.weight_recipe("adaround", bits), tmp_path / "ada.safetensors", tmp_path)
    assert report_errors(report) == []
    ours, nearest = digits.output_sqnr(report, "weight_only"), digits.output_sqnr(report, "weight_only_nearest")
    assert len(ours) == 3
    for name in ours:
        assert ours[name] > nearest[name], (name, ours[name], nearest[name])
        assert next(t for t in report["tensors"] if t["name"] == name)["calibration"]["rounding"] == "adaround"


def test_the_report_output_sqnr_is_what_the_artifact_computes(fixture, tmp_path):
    """The server's weight-only output SQNR equals X·Ŵᵀ against X·Wᵀ computed here from the file."""
    out, _ = fixture
    report = digits.quantize(QUANTCTL, out, digits.weight_recipe("gptq", 4), tmp_path / "g.safetensors", tmp_path)
    weights, original = digits.weights_of(tmp_path / "g.safetensors"), load_file(str(out / "digits-mlp.safetensors"))
    inputs = load_file(str(out / "digits-calibration.safetensors"))
    for name, sqnr in digits.output_sqnr(report, "weight_only").items():
        x = inputs[name.replace(".weight", ".input")].astype(np.float64)
        ref, got = x @ original[name].T.astype(np.float64), x @ weights[name].T.astype(np.float64)
        assert 10 * np.log10((ref**2).sum() / ((ref - got) ** 2).sum()) == pytest.approx(sqnr, abs=0.05)


def test_mismatched_dataset_names_the_layer(fixture, tmp_path):
    out, _ = fixture
    from safetensors.numpy import save_file
    save_file({"layers.1.input": np.zeros((4, 100), np.float32)}, str(tmp_path / "bad.safetensors"))
    (tmp_path / "r.json").write_text('{"weights": {"method": "gptq", "bits": 4, "dataset_id": "x"}}')
    result = subprocess.run([str(QUANTCTL), "quantize", str(out / "digits-mlp.safetensors"), "-o", str(tmp_path / "o.safetensors"),
                             "--recipe", str(tmp_path / "r.json"), "--dataset", str(tmp_path / "bad.safetensors")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "layers.1" in result.stderr and "100 features" in result.stderr and "256" in result.stderr


def test_compressed_tensors_export_carries_input_scales(fixture, fp32, tmp_path):
    """GPTQ int4 weights and static int8 inputs in vLLM's layout: `input_scale` next to
    `weight_packed`, and `input_activations` in the quantization_config."""
    out, _ = fixture
    recipe = {"weights": {"method": "gptq", "bits": 4, "granularity": "group", "group_size": 64, "dataset_id": "d"},
              "activations": {"mode": "static", "dataset_id": "d", "calibrator": "mse"}, "output": {"format": "compressed-tensors"}}
    digits.quantize(QUANTCTL, out, recipe, tmp_path / "ct.safetensors", tmp_path)
    with safe_open(str(tmp_path / "ct.safetensors"), framework="np") as f:
        names = set(f.keys())
        config = __import__("json").loads(f.metadata()["quantization_config"])
    for i in range(3):
        assert {f"layers.{i}.weight_packed", f"layers.{i}.weight_scale", f"layers.{i}.input_scale"} <= names
    group = config["config_groups"]["group_0"]
    assert group["input_activations"] == {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "tensor", "group_size": None,
                                          "dynamic": False, "observer": "mse"}
    assert group["weights"]["group_size"] == 64


def test_dataset_uploads_hostile_and_wrong(tmp_path):
    """Garbage, GGUF, a model without `<layer>.input`, bad shapes: clear 4xx answers, nothing kept."""
    from safetensors.numpy import save_file
    from service import Quantd
    server = Quantd()
    try:
        def upload(data):
            return server.post("/v1/datasets", data=data)
        assert upload(b"not a model at all").status_code == 415
        assert upload(b"GGUF" + bytes(60)).status_code in (415, 422)
        save_file({"w": np.zeros((2, 2), np.float32)}, str(tmp_path / "w.safetensors"))
        answer = upload((tmp_path / "w.safetensors").read_bytes())
        assert answer.status_code == 422 and "`<layer>.input`" in answer.json()["detail"], answer.text
        save_file({"fc.input": np.zeros(8, np.float32)}, str(tmp_path / "flat.safetensors"))
        answer = upload((tmp_path / "flat.safetensors").read_bytes())
        assert answer.status_code == 422 and "fc.input" in answer.json()["detail"], answer.text
        save_file({"fc.input": np.zeros((4, 8), np.int32)}, str(tmp_path / "int.safetensors"))
        assert upload((tmp_path / "int.safetensors").read_bytes()).status_code == 422
        save_file({"x": np.zeros((4, 8), np.float32), "y": np.zeros(5, np.int64)}, str(tmp_path / "xy.safetensors"))
        answer = upload((tmp_path / "xy.safetensors").read_bytes())
        assert answer.status_code == 422 and "one row per sample" in answer.json()["detail"], answer.text
        assert server.get("/v1/datasets").json()["datasets"] == []
        assert not any((server.data_dir / "tmp").iterdir())
    finally:
        server.stop()
