"""The digits MLP of scripts/make-digits-fixture.py, evaluated in NumPy: test accuracy with fp32
weights, with an artifact's weights (dequantized by docs/dequantize.py), and with int8 activations
(static scales read from the artifact's `<layer>.input_scale`, or dynamic per-token scales)
simulated exactly as an int8 runtime quantizes them. Shared by Tests/Interop/test_calibration.py and
scripts/calibration_accuracy.py."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
from dequantize import dequantize  # noqa: E402

LAYERS = 3


def make_fixture(out, seed=0, hidden=(256, 128)):
    """Runs the committed fixture script into `out`; returns its summary (fp32 accuracy...)."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-digits-fixture.py"), str(out), "--seed", str(seed),
                             "--hidden", ",".join(map(str, hidden))],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def quantize_static(x, scale, zero):
    q = np.clip(np.rint(x / scale) + zero, -128, 127)
    return ((q - zero) * scale).astype(np.float32)


def quantize_per_token(x):
    scale = np.abs(x).max(axis=1, keepdims=True) / 127
    scale[scale == 0] = 1
    return (np.clip(np.rint(x / scale), -127, 127) * scale).astype(np.float32)


def logits(weights, x, activations=None):
    """weights: {name: array}; activations: None, "dynamic", or "static" (scales from `weights`)."""
    h = x
    for i in range(LAYERS):
        if activations == "static":
            zero = weights.get(f"layers.{i}.input_zero_point", np.zeros(1, np.int8)).astype(np.float32)[0]
            h = quantize_static(h, weights[f"layers.{i}.input_scale"].astype(np.float32)[0], zero)
        elif activations == "dynamic":
            h = quantize_per_token(h)
        h = h @ weights[f"layers.{i}.weight"].T + weights[f"layers.{i}.bias"]
        if i < LAYERS - 1:
            h = np.maximum(h, 0)
    return h


def accuracy(weights, split, activations=None):
    data = load_file(str(split))
    return float((logits(weights, data["x"], activations).argmax(1) == data["y"]).mean())


def weights_of(path):
    """fp32 weights of a model or artifact (artifacts through the NumPy reference dequantizer)."""
    return dequantize(str(path))


def quantize(quantctl, fixture, recipe, out, tmp):
    """`quantctl quantize` of the digits MLP with the calibration dataset; returns the report."""
    recipe_path = Path(tmp) / (Path(out).stem + ".recipe.json")
    recipe_path.write_text(json.dumps(recipe))
    result = subprocess.run(
        [str(quantctl), "quantize", str(Path(fixture) / "digits-mlp.safetensors"), "-o", str(out), "--recipe", str(recipe_path),
         "--dataset", str(Path(fixture) / "digits-calibration.safetensors"), "--json"],
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"quantctl failed: {result.stderr}")
    return json.loads(result.stdout)


def weight_recipe(method, bits, group=128, dataset="digits"):
    """int`bits` group-`group` weights by round-to-nearest, GPTQ or AdaRound (all 2-D weights)."""
    weights = {"bits": bits, "granularity": "group", "group_size": group}
    if method == "gptq":
        weights.update({"method": "gptq", "dataset_id": dataset})
    elif method == "adaround":
        weights["rounding"] = {"method": "adaround", "dataset_id": dataset, "iterations": 1000}
    return {"weights": weights}


def nearest_and_gptq_across_models(quantctl, seeds, configs, tmp, hidden=(256, 128)):
    """Test accuracy of round-to-nearest and GPTQ on several digits MLPs (one per fixture seed):
    yields (seed, fp32 accuracy, {(bits, group): (nearest, gptq)}, {(bits, group): (nearest's, GPTQ's
    {layer: output SQNR})}). One model's accuracy moves by
    whole test samples (0.19 points), so a difference smaller than that needs many models to show."""
    for seed in seeds:
        fixture = Path(tmp) / f"seed{seed}"
        summary = make_fixture(fixture, seed, hidden)
        test = fixture / "digits-test.safetensors"
        results, layers = {}, {}
        for bits, group in configs:
            pair, sqnr = [], []
            for method in ["nearest", "gptq"]:
                out = fixture / f"{method}{bits}g{group}.safetensors"
                report = quantize(quantctl, fixture, weight_recipe(method, bits, group), out, fixture)
                pair.append(accuracy(weights_of(out), test))
                sqnr.append(output_sqnr(report, "weight_only"))
            results[(bits, group)] = tuple(pair)
            layers[(bits, group)] = tuple(sqnr)
        yield seed, summary["fp32_test_accuracy"], results, layers


def output_sqnr(report, key):
    """{tensor: output SQNR (dB)} of one evaluation of the report ("weight_only", "w8a8_static"...)."""
    return {t["name"]: t["calibration"]["output_sqnr_db"][key] for t in report["tensors"] if t.get("calibration")}


# Quantization-aware training (docs/QAT.md): the training settings of the acceptance table.
QAT_TRAINING = {"epochs": 20, "batch_size": 32, "learning_rate": 0.003, "optimizer": "adam", "seed": 1, "validation_split": 0.2}
QAT_RECIPES = {
    "int8": {"preset": "int8"},
    "int4": {"preset": "int4-channel"},
    "int2": {"weights": {"bits": 2, "granularity": "channel"}},
    "ternary": {"preset": "ternary"},
    "binary": {"preset": "binary"},
}


def ptq_and_qat(quantctl, fixture, name, tmp, training=None):
    """Held-out test accuracy of post-training quantization and of QAT with the same recipe, and the
    QAT report (trained on digits-train.safetensors, the fp32 model's own training split)."""
    fixture, tmp = Path(fixture), Path(tmp)
    stem = name.split(" ")[0]
    recipe = tmp / f"{stem}.recipe.json"
    recipe.write_text(json.dumps(QAT_RECIPES[name]))
    training_override = training
    training = tmp / "training.json"
    training.write_text(json.dumps({**QAT_TRAINING, **(training_override or {})}))
    model, test = fixture / "digits-mlp.safetensors", fixture / "digits-test.safetensors"
    ptq, qat = tmp / f"{stem}.ptq.safetensors", tmp / f"{stem}.qat.safetensors"
    subprocess.run([str(quantctl), "quantize", str(model), "-o", str(ptq), "--recipe", str(recipe)], check=True, capture_output=True, timeout=120)
    result = subprocess.run([str(quantctl), "qat", str(model), "-o", str(qat), "--recipe", str(recipe), "--training", str(training),
                             "--dataset", str(fixture / "digits-train.safetensors"), "--json"], check=True, capture_output=True, text=True, timeout=600)
    return accuracy(weights_of(ptq), test), accuracy(weights_of(qat), test), json.loads(result.stdout)
