"""K-quants with and without importance weights from a calibration dataset (docs/ACCURACY.md):
digits MLPs 64-256-256-10 (scripts/make-digits-fixture.py --hidden 256,256; the 64-wide first layer
falls back to Q8_0), each K-quant layer's output SQNR on the test split's own layer inputs, and
test accuracy.

    python3 scripts/imatrix_accuracy.py QUANTCTL [--models 5] [--presets q4_k,q5_k,q6_k]
"""
import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import digits_eval as digits


def layer_sqnrs(fp32, quantized, x):
    """{layer index: output SQNR (dB)} of the K-quant layers (1 and 2), inputs through fp32."""
    out, h = {}, x
    for i in range(3):
        w = fp32[f"layers.{i}.weight"]
        if i > 0:
            exact = h @ w.T
            out[i] = 10 * np.log10((exact ** 2).sum() / ((exact - h @ quantized[f"layers.{i}.weight"].T) ** 2).sum())
        h = h @ w.T + fp32[f"layers.{i}.bias"]
        h = np.maximum(h, 0) if i < 2 else h
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("quantctl")
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--presets", default="q4_k,q5_k,q6_k")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="imatrix-"))
    print("| preset | model | layer 1 (256x256) dB | layer 2 (10x256) dB | test accuracy |")
    print("|---|---|---|---|---|")
    for preset in args.presets.split(","):
        for seed in range(args.models):
            fixture = tmp / f"seed{seed}"
            if not fixture.exists():
                digits.make_fixture(fixture, seed, hidden=(256, 256))
            fp32 = load_file(str(fixture / "digits-mlp.safetensors"))
            test = fixture / "digits-test.safetensors"
            runs = {}
            for name, weights in [("plain", {"fallback": "Q8_0"}), ("weighted", {"fallback": "Q8_0", "dataset_id": "digits"})]:
                out, back = fixture / f"{preset}-{name}.gguf", fixture / f"{preset}-{name}.safetensors"
                digits.quantize(args.quantctl, fixture, {"preset": preset, "weights": weights}, out, fixture)
                subprocess.run([args.quantctl, "dequantize", str(out), "-o", str(back)], check=True, capture_output=True)
                runs[name] = load_file(str(back))
            x = load_file(str(test))["x"]
            s = {name: layer_sqnrs(fp32, q, x) for name, q in runs.items()}
            acc = {name: digits.accuracy(q, test) for name, q in runs.items()}
            print(f"| `{preset}` | {seed} | {s['plain'][1]:.2f} -> {s['weighted'][1]:.2f} | {s['plain'][2]:.2f} -> {s['weighted'][2]:.2f} "
                  f"| {100 * acc['plain']:.2f} -> {100 * acc['weighted']:.2f} % |", flush=True)


if __name__ == "__main__":
    main()
