"""How to capture a calibration dataset: the input of every linear layer, as QuantService expects
it (`<layer>.input`, shape [samples, in_features], named after the layer's `<layer>.weight`).

    python docs/capture_calibration.py MODEL.safetensors INPUTS.npy OUT.safetensors

This version runs a plain MLP (`layers.{i}.weight` / `layers.{i}.bias`, ReLU between layers) in
NumPy. For other architectures do the same with your framework's hooks: in PyTorch, register a
forward pre-hook on every nn.Linear that appends `inputs[0].reshape(-1, in_features)` to a list
under the module's name, run a few hundred representative samples, then
`safetensors.torch.save_file({f"{name}.input": torch.cat(chunks) ...})`. Tests/Interop runs this file.
"""
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def capture(weights, x):
    """{`layers.{i}.input`: the samples layer i sees} for inputs x [samples, features]."""
    count = len([k for k in weights if k.endswith(".weight")])
    captured, h = {}, x.astype(np.float32)
    for i in range(count):
        captured[f"layers.{i}.input"] = np.ascontiguousarray(h)
        h = h @ weights[f"layers.{i}.weight"].T + weights[f"layers.{i}.bias"]
        if i < count - 1:
            h = np.maximum(h, 0)
    return captured


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    save_file(capture(load_file(sys.argv[1]), np.load(sys.argv[2])), sys.argv[3])
