"""The reference forward pass (QuantCore.DecoderForward, fp32 on OpenBLAS) and `quantctl evaluate`,
against an fp32 NumPy forward of each synthetic checkpoint and against llama.cpp itself running
the GGUFs we write; perplexity and KL divergence against llama.cpp's own llama-perplexity."""
import json
import subprocess

import numpy as np
import pytest

import hf_checkpoints
import llama_runtime
from conftest import ROOT, quantctl_json, run_tool
from test_llama_cpp import convert, tokenizer_of

DECODERS = list(hf_checkpoints.ARCHITECTURES)


def our_logits(model, tokens, tmp_path):
    (tmp_path / "tokens.json").write_text(json.dumps(tokens))
    run_tool("logits", model, tmp_path / "tokens.json", tmp_path / "logits.bin")
    return np.fromfile(tmp_path / "logits.bin", dtype=np.float32).reshape(len(tokens), -1)


@pytest.mark.parametrize("kind", DECODERS)
def test_forward_pass_matches_numpy_and_llama_cpp(checkpoints, kind, tmp_path):
    directory = checkpoints[kind]
    config, tensors = hf_checkpoints.load_checkpoint(directory)
    tokens = tokenizer_of(directory).encode(hf_checkpoints.SAMPLE_TEXT, add_special_tokens=False).ids[:48]
    reference = hf_checkpoints.forward(config, tensors, tokens)
    scale = np.abs(reference).max()
    # The checkpoint itself: fp32 against NumPy's float64.
    assert np.abs(our_logits(directory, tokens, tmp_path) - reference).max() <= 1e-4 * scale
    for name in ["f16", "q8_0", "q4_k_m"]:
        gguf = convert(directory, name, tmp_path)
        ours = our_logits(gguf, tokens, tmp_path)
        with llama_runtime.Model(gguf) as model:
            theirs = model.logits(tokens)
        if name == "f16":
            # Our F16 GGUF dequantizes to the BF16 checkpoint exactly; llama.cpp's F16 activations differ by ~1e-3.
            assert np.abs(ours - reference).max() <= 1e-4 * scale
            assert np.abs(ours - theirs).max() <= 2e-3 * scale
        else:
            # Our weights are exactly the blocks' values in fp32; llama.cpp rounds activations to 8 bits.
            assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] >= 0.9995


def llama_perplexity(gguf, text, context, chunks, *extra):
    """llama.cpp's own llama-perplexity (built from the pinned source package): its final perplexity
    and, with --kl-divergence, its mean and p99 KL divergence."""
    tool = llama_runtime.directory() / "bin" / "llama-perplexity"
    run = subprocess.run([str(tool), "-m", str(gguf), "-f", str(text), "-c", str(context), "-b", str(context), "--chunks", str(chunks),
                          "-t", "2", *map(str, extra)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    found = {}
    output = run.stdout + run.stderr
    for line in output.splitlines():
        if "Final estimate: PPL =" in line:
            found["perplexity"] = float(line.split("PPL =")[1].split()[0])
        elif "Mean PPL(Q) " in line:
            found["perplexity"] = float(line.split(":")[-1].split()[0])
        elif "Mean    KLD:" in line:
            found["kl_mean"] = float(line.split("KLD:")[1].split()[0])
        elif "99.0%   KLD:" in line:
            found["kl_p99"] = float(line.split("KLD:")[1].split()[0])
        elif "Same top p:" in line:
            found["top1"] = float(line.split("Same top p:")[1].split()[0]) / 100
    assert "perplexity" in found, output[-2000:]
    return found


# The untied checkpoints: tied ones have logits ~200 wide (embeddings of unit scale), a perplexity
# of 1e82 that no comparison can use.
@pytest.mark.parametrize("kind", ["llama3", "mistral", "qwen3"])
def test_perplexity_and_kl_divergence_against_llama_perplexity(checkpoints, kind, tmp_path):
    """Our evaluation against llama.cpp's llama-perplexity on the same text, context and chunks:
    perplexity within 0.5% for F16 and Q4_K_M; the Q4_K_M KL divergence against llama-perplexity
    --kl-divergence with the F16 file as its base (llama.cpp multiplies with activations rounded to
    F16 and, for K-quants, to 8 bits, so its KL differs by about a percent)."""
    directory = checkpoints[kind]
    text = tmp_path / "text.txt"
    text.write_text((ROOT / "docs" / "MODELS.md").read_text() + (ROOT / "README.md").read_text())
    base = tmp_path / "base.kld"
    for name in ["f16", "q4_k_m"]:
        gguf = convert(directory, name, tmp_path)
        ours = quantctl_json("evaluate", directory, "--quantized", gguf, "--text", text, "--context", "64", "--chunks", "6")
        assert ours["chunks"] == 6 and ours["tokens_scored"] == 6 * 31
        assert ours["kl_divergence_p99"] >= ours["kl_divergence_mean"] >= 0
        if name == "f16":
            theirs = llama_perplexity(gguf, text, 64, 6, "--kl-divergence-base", base)
            assert ours["kl_divergence_mean"] < 1e-3 and ours["top1_agreement"] > 0.9
        else:
            theirs = llama_perplexity(gguf, text, 64, 6, "--kl-divergence-base", base, "--kl-divergence")
            print(kind, "ours", ours, "llama-perplexity", theirs)
            # measured: 1.2-1.4% apart (mean), top-1 agreement within a token or two
            assert abs(ours["kl_divergence_mean"] / theirs["kl_mean"] - 1) <= 0.05, (ours, theirs)
            assert abs(ours["kl_divergence_p99"] / theirs["kl_p99"] - 1) <= 0.25, (ours, theirs)
            assert abs(ours["top1_agreement"] - theirs["top1"]) <= 0.03, (ours, theirs)
        assert abs(ours["perplexity_quantized"] / theirs["perplexity"] - 1) <= 0.005, (name, ours, theirs)


REAL_CHECKPOINT = hf_checkpoints.Path(__import__("os").environ.get(
    "QS_REAL_MODEL", ROOT / ".venv/models/all-minilm-l6-v2-checkpoint/model.safetensors")).parent


@pytest.mark.parametrize("name", ["f16", "q8_0", "q4_k_m"])
def test_encoder_forward_pass_on_the_real_minilm(name, tmp_path):
    """Our BERT forward pass with mean pooling: on the checkpoint against NumPy, on our GGUFs against
    llama.cpp's pooled embedding; and quantctl evaluate's cosines on real text."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
    config = json.loads((REAL_CHECKPOINT / "config.json").read_text())
    tensors = load_file(str(REAL_CHECKPOINT / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(REAL_CHECKPOINT / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    ids = tokenizer.encode("Quantization keeps the model small and its embeddings close to the original ones.").ids
    (tmp_path / "ids.json").write_text(json.dumps(ids))

    def cosine(a, b):
        return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))

    reference = hf_checkpoints.bert_embedding(config, tensors, ids)
    ours = np.array(json.loads(run_tool("embedding", REAL_CHECKPOINT, tmp_path / "ids.json")))
    assert cosine(ours, reference) >= 0.999999
    gguf = convert(REAL_CHECKPOINT, name, tmp_path)
    ours_gguf = np.array(json.loads(run_tool("embedding", gguf, tmp_path / "ids.json")))
    with llama_runtime.Model(gguf) as model:
        theirs = model.embedding(ids)
    assert cosine(ours_gguf, theirs) >= (0.9999 if name == "f16" else 0.999)
    text = tmp_path / "lines.txt"
    text.write_text("\n".join(line for line in (ROOT / "docs" / "MODELS.md").read_text().splitlines() if len(line) > 40))
    evaluation = quantctl_json("evaluate", REAL_CHECKPOINT, "--quantized", gguf, "--text", text, "--chunks", "12", "--context", "128")
    assert evaluation["texts"] == 12
    assert 1.0 + 1e-6 >= evaluation["embedding_cosine_mean"] >= evaluation["embedding_cosine_min"] >= {"f16": 0.9999, "q8_0": 0.999, "q4_k_m": 0.98}[name]
