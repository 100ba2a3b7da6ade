"""The reference forward pass (QuantCore.DecoderForward, fp32 on OpenBLAS) and `quantctl evaluate`,
against an fp32 NumPy forward of each synthetic checkpoint and against llama.cpp itself running
the GGUFs we write; perplexity as llama-perplexity defines it, computed from llama.cpp's logits."""
import json
import subprocess

import numpy as np
import pytest

import hf_checkpoints
import llama_runtime
from conftest import BIN, ROOT, run_tool
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


def llama_cpp_perplexity(gguf, tokens, context, bos, chunks):
    """llama-perplexity's definition, on llama.cpp's own logits."""
    nll, count = 0.0, 0
    with llama_runtime.Model(gguf) as model:
        for chunk in range(min(chunks, len(tokens) // context)):
            window = tokens[chunk * context:(chunk + 1) * context]
            if bos is not None:
                window[0] = bos
            logits = model.logits(window).astype(np.float64)
            for position in range(context // 2, context - 1):
                row = logits[position] - logits[position].max()
                nll -= row[window[position + 1]] - np.log(np.exp(row).sum())
                count += 1
    return float(np.exp(nll / count))


# The untied checkpoints: tied ones have logits ~200 wide (embeddings of unit scale), a perplexity
# of 1e82 that no comparison can use.
@pytest.mark.parametrize("kind", ["llama3", "mistral", "qwen3"])
@pytest.mark.parametrize("name", ["f16", "q4_k_m"])
def test_perplexity_within_half_a_percent_of_llama_cpp(checkpoints, kind, name, tmp_path):
    directory = checkpoints[kind]
    gguf = convert(directory, name, tmp_path)
    text = tmp_path / "text.txt"
    text.write_text((ROOT / "docs" / "MODELS.md").read_text() + (ROOT / "README.md").read_text())
    result = subprocess.run([str(BIN / "quantctl"), "evaluate", str(directory), "--quantized", str(gguf), "--text", str(text),
                             "--context", "64", "--chunks", "6", "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert ours["chunks"] == 6 and ours["tokens_scored"] == 6 * 31
    tokens = tokenizer_of(directory).encode(text.read_text(), add_special_tokens=False).ids
    bos = tokenizer_of(directory).encode("a").ids[0]
    theirs = llama_cpp_perplexity(gguf, tokens, 64, bos, 6)
    assert abs(ours["perplexity_quantized"] / theirs - 1) <= 0.005, (ours, theirs)
    if name == "f16":
        assert ours["kl_divergence_mean"] < 1e-3 and ours["top1_agreement"] > 0.9
    assert ours["kl_divergence_p99"] >= ours["kl_divergence_mean"] >= 0
