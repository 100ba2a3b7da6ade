#!/usr/bin/env python3
"""Makes the digits fixtures of the calibration tests (and docs/ACCURACY.md): an MLP trained on
scikit-learn's bundled digits data, its layer inputs as a calibration dataset, and the data splits.

    scripts/make-digits-fixture.py OUTDIR [--seed N] [--hidden 256,128]

--seed N (default 0) picks another train/test split and another initialisation of the MLP: the
same recipe, a different model, for results that must hold across models and not only on one.
--hidden sets the hidden layer widths (default 256,128); a narrow MLP (32,16) has less to spare,
so 4-bit weights cost it accuracy.

Writes (tensors deterministic for the pinned scikit-learn; the order of the metadata keys is not):
  digits-mlp.safetensors          layers.{i}.weight [out, in], layers.{i}.bias (F32); metadata names
                                  the activation (relu) and the loss (softmax_cross_entropy)
  digits-calibration.safetensors  layers.{i}.input [samples, in]: what layer i sees on the training set
  digits-train.safetensors        x [n, 64] (pixels / 16, F32), y [n] (I64)
  digits-test.safetensors         the held-out split, same tensors
"""
import argparse
import json
import os
import sys

import warnings

import numpy as np
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HIDDEN = (256, 128)


def layer_inputs(weights, biases, x):
    """The input of every linear layer for inputs x (ReLU between layers)."""
    inputs = []
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        inputs.append(h)
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return inputs, h


def main(out, seed=0, hidden=HIDDEN):
    os.makedirs(out, exist_ok=True)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    mlp = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", max_iter=300, random_state=seed, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fixed 300 epochs, converged or not
        mlp.fit(x_train, y_train)
    weights = [np.ascontiguousarray(c.T.astype(np.float32)) for c in mlp.coefs_]
    biases = [b.astype(np.float32) for b in mlp.intercepts_]
    tensors = {}
    for i, (w, b) in enumerate(zip(weights, biases)):
        tensors[f"layers.{i}.weight"] = w
        tensors[f"layers.{i}.bias"] = b
    save_file(tensors, os.path.join(out, "digits-mlp.safetensors"),
              metadata={"activation": "relu", "loss": "softmax_cross_entropy", "source": "scripts/make-digits-fixture.py"})
    inputs, logits = layer_inputs(weights, biases, x_train)
    save_file({f"layers.{i}.input": np.ascontiguousarray(v.astype(np.float32)) for i, v in enumerate(inputs)},
              os.path.join(out, "digits-calibration.safetensors"))
    save_file({"x": x_train, "y": y_train}, os.path.join(out, "digits-train.safetensors"))
    save_file({"x": x_test, "y": y_test}, os.path.join(out, "digits-test.safetensors"))
    _, test_logits = layer_inputs(weights, biases, x_test)
    accuracy = float((test_logits.argmax(1) == y_test).mean())
    print(json.dumps({"train_samples": len(x_train), "test_samples": len(x_test), "fp32_test_accuracy": accuracy}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=lambda v: tuple(int(w) for w in v.split(",")), default=HIDDEN)
    arguments = parser.parse_args()
    main(arguments.out, arguments.seed, arguments.hidden)
