"""Hugging Face checkpoints converted to GGUF by quantctl, loaded and run by llama.cpp itself (built
from the pinned llama-cpp-python source package by scripts/llama-cpp.sh).

The real all-MiniLM-L6-v2 checkpoint is converted too, and llama.cpp's pooled embedding compared
with an fp32 NumPy forward of the original.

Synthetic Llama 3 (tied and untied), Mistral, Qwen2 and Qwen3 checkpoints in two BF16 shards, with a
byte-level BPE tokenizer trained by the PyPI `tokenizers` package, are converted to F16, Q8_0 and
Q4_K_M. llama.cpp's logits are compared with an fp32 NumPy forward pass of the checkpoint, and its
token ids with the `tokenizers` package's."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

import hf_checkpoints
import llama_runtime
from conftest import BIN, ROOT

RECIPES = {
    "f16": ["--recipe-json", '{"weights": {"method": "gguf", "type": "F16"}, "output": {"format": "gguf"}}'],
    "q8_0": ["--recipe-json", '{"weights": {"method": "gguf", "type": "Q8_0"}, "output": {"format": "gguf"}}'],
    "q4_k_m": ["--preset", "q4_k_m"],
}
PROMPT = "Hello world, quantization! 12345 café <|eot_id|>"


def tokenizer_of(directory):
    """The reference tokenizer: `tokenizers` for tokenizer.json, sentencepiece for tokenizer.model."""
    if (directory / "tokenizer.model").exists():
        return hf_checkpoints.SentencePieceTokenizer((directory / "tokenizer.model").read_bytes())
    return Tokenizer.from_file(str(directory / "tokenizer.json"))


def convert(directory, name, tmp_path):
    args = RECIPES[name]
    if args[0] == "--recipe-json":
        recipe = tmp_path / f"{name}.json"
        recipe.write_text(args[1])
        args = ["--recipe", str(recipe)]
    out = tmp_path / f"{directory.name}-{name}.gguf"
    result = subprocess.run([str(BIN / "quantctl"), "quantize", str(directory), "-o", str(out), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("kind", list(hf_checkpoints.ARCHITECTURES))
@pytest.mark.parametrize("name", list(RECIPES))
def test_llama_cpp_runs_the_converted_checkpoint(checkpoints, kind, name, tmp_path):
    directory = checkpoints[kind]
    gguf = convert(directory, name, tmp_path)
    config, tensors = hf_checkpoints.load_checkpoint(directory)
    tokens = tokenizer_of(directory).encode(PROMPT, add_special_tokens=False).ids
    reference = hf_checkpoints.forward(config, tensors, tokens)
    with llama_runtime.Model(gguf) as model:
        logits = model.logits(tokens)
    assert logits.shape == reference.shape
    scale = np.abs(reference).max()
    correlation = np.corrcoef(logits.ravel(), reference.ravel())[0, 1]
    if name == "f16":
        # BF16 weights are exact in F16; what remains is llama.cpp's F16 activations (~1e-3).
        assert np.abs(logits - reference).max() <= 2e-3 * scale, f"max |diff| {np.abs(logits - reference).max()} (scale {scale})"
        # The top token agrees wherever the reference's top two are further apart than the tolerance
        # (random weights make near-ties).
        top2 = np.sort(reference, axis=-1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 4e-3 * scale
        assert clear.sum() >= len(tokens) // 2
        assert (logits.argmax(-1) == reference.argmax(-1))[clear].all()
    elif name == "q8_0":
        assert correlation >= 0.999, correlation
    else:
        assert correlation >= 0.98, correlation


@pytest.mark.parametrize("kind", list(hf_checkpoints.ARCHITECTURES))
def test_llama_cpp_tokenizes_like_tokenizers(checkpoints, kind, tmp_path):
    directory = checkpoints[kind]
    gguf = convert(directory, "q8_0", tmp_path)
    tokenizer = tokenizer_of(directory)
    texts = [hf_checkpoints.SAMPLE_TEXT, "   leading spaces", "trailing\n\n", "a\t\tb  c\r\nd", "<|begin_of_text|>x<|eot_id|>"]
    if (directory / "tokenizer.model").exists():
        texts = [t.replace("<|eot_id|>", "") for t in texts]  # the SentencePiece model has no such special token
    with llama_runtime.Model(gguf) as model:
        for text in texts:
            assert model.tokenize(text) == tokenizer.encode(text, add_special_tokens=False).ids, repr(text)
        # add_bos_token from tokenizer_config.json / the post-processor: BOS first, as `tokenizers` adds it.
        assert model.tokenize("Hi there", add_special=True) == tokenizer.encode("Hi there").ids


def test_the_gguf_says_what_llama_cpp_needs(checkpoints, tmp_path):
    import gguf
    reader = gguf.GGUFReader(convert(checkpoints["llama3"], "q4_k_m", tmp_path))

    def value(key):
        field = reader.fields[key]
        return field.contents()

    assert value("general.architecture") == "llama"
    assert value("llama.block_count") == 2 and value("llama.attention.head_count_kv") == 2
    assert value("tokenizer.ggml.model") == "gpt2" and value("tokenizer.ggml.pre") == "llama-bpe"
    assert value("general.file_type") == 15 and value("tokenizer.ggml.add_bos_token") is True
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_norm.weight"] == "F32" and types["rope_freqs.weight"] == "F32"
    assert types["output.weight"] == "Q6_K" and types["blk.0.attn_q.weight"] == "Q4_K"


def test_unsupported_architecture_is_named(checkpoints, tmp_path):
    directory = tmp_path / "gemma"
    directory.mkdir()
    for file in checkpoints["llama3"].iterdir():
        (directory / file.name).write_bytes(file.read_bytes())
    config = json.loads((directory / "config.json").read_text())
    config["architectures"] = ["Gemma2ForCausalLM"]
    (directory / "config.json").write_text(json.dumps(config))
    result = subprocess.run([str(BIN / "quantctl"), "quantize", str(directory), "-o", str(tmp_path / "x.gguf"), "--preset", "q8_0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Gemma2ForCausalLM" in result.stderr and "LlamaForCausalLM" in result.stderr and "Qwen3ForCausalLM" in result.stderr
    assert not (tmp_path / "x.gguf").exists()


REAL_CHECKPOINT = Path(os.environ.get("QS_REAL_MODEL", ROOT / ".venv/models/all-minilm-l6-v2-checkpoint/model.safetensors")).parent
MINIMUM_COSINE = {"f16": 0.9999, "q8_0": 0.999, "q4_k_m": 0.98}


@pytest.mark.parametrize("name", list(RECIPES))
def test_llama_cpp_embeds_like_the_real_minilm(name, tmp_path):
    """all-MiniLM-L6-v2 (BertModel + sentence-transformers mean pooling): llama.cpp's pooled embedding
    of our GGUF against an fp32 NumPy forward of the original checkpoint."""
    from safetensors.numpy import load_file
    assert (REAL_CHECKPOINT / "config.json").exists(), "make test fetches the checkpoint; set QS_REAL_MODEL"
    gguf = convert(REAL_CHECKPOINT, name, tmp_path)
    config = json.loads((REAL_CHECKPOINT / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(REAL_CHECKPOINT / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tensors = load_file(str(REAL_CHECKPOINT / "model.safetensors"))
    with llama_runtime.Model(gguf) as model:
        for text in ["The quick brown fox jumps over the lazy dog.", hf_checkpoints.SAMPLE_TEXT.replace("<|eot_id|>", "")]:
            ids = tokenizer.encode(text).ids
            assert model.tokenize(text, add_special=True) == ids, text
            reference = hf_checkpoints.bert_embedding(config, tensors, ids)
            embedding = model.embedding(ids)
            cosine = float(embedding @ reference / np.linalg.norm(embedding) / np.linalg.norm(reference))
            assert cosine >= MINIMUM_COSINE[name], (text, cosine)
