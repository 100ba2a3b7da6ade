"""Calibration results on the digits MLP, for docs/ACCURACY.md.

    python scripts/calibration_accuracy.py QUANTCTL

Builds the fixture (scripts/make-digits-fixture.py), then quantizes with `quantctl quantize --dataset`
and evaluates in NumPy on the held-out split: test accuracy, and the SQNR of the model's logits
against fp32 ("held-out output SQNR"). Per-layer output SQNRs are the report's (on the calibration
inputs). Prints Markdown.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import digits_eval as digits


def main(quantctl):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        summary = digits.make_fixture(tmp)
        test = tmp / "digits-test.safetensors"
        fp32 = digits.weights_of(tmp / "digits-mlp.safetensors")
        data = load_file(str(test))
        reference = digits.logits(fp32, data["x"])

        def held_out(weights, activations=None):
            got = digits.logits(weights, data["x"], activations)
            return 10 * np.log10((reference**2).sum() / ((reference - got) ** 2).sum())

        print(f"Digits MLP 64-256-128-10 (ReLU), {summary['train_samples']} training samples as calibration data, "
              f"{summary['test_samples']} held-out test samples; fp32 test accuracy {100 * summary['fp32_test_accuracy']:.2f} %.\n")
        print("| int8 weights (channel) + activations | test accuracy | vs fp32 | held-out output SQNR | layer output SQNR (0 / 1 / 2) |")
        print("|---|---|---|---|---|")
        rows = [("weight-only", {"preset": "int8", "activations": {"mode": "dynamic", "dataset_id": "d"}}, None, "weight_only")]
        for calibrator in ["minmax", "percentile", "mse", "kl"]:
            rows.append((f"W8A8 static, {calibrator}", {"preset": "int8", "activations": {"mode": "static", "dataset_id": "d", "calibrator": calibrator}},
                         "static", "w8a8_static"))
        rows.append(("W8A8 dynamic (per token)", {"preset": "int8", "activations": {"mode": "dynamic", "dataset_id": "d"}}, "dynamic", "w8a8_dynamic"))
        for label, recipe, activations, key in rows:
            report = digits.quantize(quantctl, tmp, recipe, tmp / "a.safetensors", tmp)
            weights = digits.weights_of(tmp / "a.safetensors")
            accuracy = digits.accuracy(weights, test, activations)
            layers = " / ".join(f"{v:.1f}" for v in digits.output_sqnr(report, key).values())
            print(f"| {label} | {100 * accuracy:.2f} % | {100 * (accuracy - summary['fp32_test_accuracy']):+.2f} | "
                  f"{held_out(weights, activations):.1f} dB | {layers} dB |")
        print()
        print("| weights (group 128) | rounding | test accuracy | held-out output SQNR | layer output SQNR (0 / 1 / 2) |")
        print("|---|---|---|---|---|")
        for bits in [4, 3, 2]:
            for method in ["nearest", "gptq", "adaround"]:
                report = digits.quantize(quantctl, tmp, digits.weight_recipe(method, bits), tmp / "w.safetensors", tmp)
                weights = digits.weights_of(tmp / "w.safetensors")
                layers = " / ".join(f"{v:.1f}" for v in digits.output_sqnr(report, "weight_only").values())
                print(f"| int{bits} | {method} | {100 * digits.accuracy(weights, test):.2f} % | {held_out(weights):.1f} dB | {layers} dB |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
