"""Our Swift tokenizer (ModelArchitectures.Tokenizer, through interop-tool) against the PyPI
`tokenizers` package, id for id, with and without special tokens, for every kind it reads:
byte-level BPE (Llama 3 and Qwen2 splits), BPE with byte fallback after a Metaspace-style
normalizer (Llama 2's tokenizer.json), and WordPiece (the real all-MiniLM-L6-v2)."""
import json
import os
import subprocess
from pathlib import Path

import pytest
from tokenizers import Tokenizer

import hf_checkpoints
from conftest import BIN, ROOT, run_tool

CORPUS = [
    hf_checkpoints.SAMPLE_TEXT,
    "", " ", "   ", "\n", "\t\t", "a", "Hello", " Hello", "Hello  world", "HELLO World!!!", "don't you'll we'VE",
    "1234567890 12 3.14159 1,000,000 +42 -7 1e-5", "x=y+z*2; /* comment */ // done", "trailing spaces   ",
    "line one\nline two\r\nline three\n\n\n  indented", "tabs\tand\u00a0non-breaking\u2003spaces",
    "naïve café résumé Ångström", "日本語のテキストと漢字", "中文字符和标点。", "한국어 텍스트", "Ελληνικά", "русский язык",
    "emoji 🦙🚀👩‍👩‍👧 ✅", "mixed日本English123", "<|begin_of_text|>start<|eot_id|>end<|end_of_text|>",
    "[CLS] not special here [SEP]", "supercalifragilisticexpialidocious " * 3, "a" * 300, "ab" * 150,
    "Pneumonoultramicroscopicsilicovolcanoconiosis!", "É é Ü ü ß ẞ ﬁ ﬀ ℌ ①", "\u0000\u0001 control \u200b zero width",
] + [line for line in (ROOT / "docs" / "MODELS.md").read_text().splitlines() if line.strip()][:60]


def ours(tokenizer_json, tmp_path):
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps(CORPUS))
    return json.loads(run_tool("tokenize", tokenizer_json, texts))


def compare(tokenizer_json, tmp_path, reference=None):
    reference = reference or Tokenizer.from_file(str(tokenizer_json))
    got = ours(tokenizer_json, tmp_path)
    for text, plain, special in zip(CORPUS, got["plain"], got["special"]):
        assert plain == reference.encode(text, add_special_tokens=False).ids, repr(text[:80])
        assert special == reference.encode(text).ids, repr(text[:80])


@pytest.mark.parametrize("split", ["llama3", "qwen2"])
def test_byte_level_bpe(split, tmp_path):
    tokenizer = hf_checkpoints.train_tokenizer(hf_checkpoints.LLAMA3_SPLIT if split == "llama3" else hf_checkpoints.QWEN2_SPLIT)
    if split == "qwen2":  # Qwen2's tokenizer.json normalizes to NFC
        from tokenizers import normalizers
        tokenizer.normalizer = normalizers.NFC()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    compare(path, tmp_path)


def test_gpt2_byte_level_with_its_own_regex(tmp_path):
    from tokenizers import decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(hf_checkpoints.corpus(), trainers.BpeTrainer(
        vocab_size=500, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    compare(path, tmp_path)


def test_bpe_with_byte_fallback_as_llama2_ships_it(tmp_path):
    """Llama 2's tokenizer.json: Prepend("▁") and Replace(" ", "▁"), no pre-tokenizer, BPE over the
    whole text with byte fallback; built from a sentencepiece model as transformers converts it."""
    spm = hf_checkpoints.train_sentencepiece()
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(hf_checkpoints.llama2_tokenizer_json(spm)))
    reference = Tokenizer.from_file(str(path))
    compare(path, tmp_path, reference)
    # and the same ids as sentencepiece itself
    for text in CORPUS[:25]:
        if "\u0000" in text or "<|" in text:
            continue
        assert reference.encode(text, add_special_tokens=False).ids == spm.sp.encode(text), repr(text)


def test_wordpiece_of_the_real_minilm(tmp_path):
    checkpoint = Path(os.environ.get("QS_REAL_MODEL", ROOT / ".venv/models/all-minilm-l6-v2-checkpoint/model.safetensors")).parent
    path = checkpoint / "tokenizer.json"
    reference = Tokenizer.from_file(str(path))
    reference.no_padding()
    reference.no_truncation()
    data = json.loads(path.read_text())
    data["padding"] = None
    data["truncation"] = None
    copy = tmp_path / "tokenizer.json"
    copy.write_text(json.dumps(data))
    compare(copy, tmp_path, reference)


def test_unsupported_components_are_named(tmp_path):
    for component, value, name in [("normalizer", {"type": "Precompiled", "precompiled_charsmap": ""}, "Precompiled"),
                                   ("pre_tokenizer", {"type": "UnicodeScripts"}, "UnicodeScripts"),
                                   ("model", {"type": "Unigram", "vocab": []}, "Unigram")]:
        document = {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, component: value}
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(document))
        texts = tmp_path / "t.json"
        texts.write_text("[\"a\"]")
        result = subprocess.run([str(BIN / "interop-tool"), "tokenize", str(path), str(texts)], capture_output=True, text=True)
        assert result.returncode != 0 and name in result.stderr, result.stderr
