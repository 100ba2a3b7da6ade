"""Synthetic Hugging Face checkpoints (random weights, a BPE tokenizer trained here with the PyPI
`tokenizers` package on this repository's docs) and an fp32 NumPy forward pass of them: the reference
the llama.cpp tests compare against."""
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]

# The split regexes of Llama 3 and Qwen2 tokenizer.json files (llama.cpp's llama-bpe and qwen2).
LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]

# Unicode, digits, whitespace runs, special tokens, long words.
SAMPLE_TEXT = (
    "Hello world! Quantization keeps 4096 weights per row in 12.5 MB.\n\n"
    "  Tabs\tand   spaces,   and\n\n\nnewlines. Ünïcödé: naïve café, 日本語のテキスト, emoji 🦙🚀, "
    "Ελληνικά and русский. <|eot_id|> 3.14159 1234567890 supercalifragilisticexpialidocious "
    "pneumonoultramicroscopicsilicovolcanoconiosis I've been 'told he's there, 'RE you sure?"
)

ARCHITECTURES = {
    "llama3": dict(arch="LlamaForCausalLM", model_type="llama", split=LLAMA3_SPLIT, tied=False, rope="llama3"),
    "llama3-tied": dict(arch="LlamaForCausalLM", model_type="llama", split=LLAMA3_SPLIT, tied=True, rope="llama3"),
    "mistral": dict(arch="MistralForCausalLM", model_type="mistral", split=LLAMA3_SPLIT, tied=False, rope=None),
    # Llama 2: a SentencePiece BPE tokenizer.model with byte fallback (llama.cpp's "llama" vocabulary).
    "llama2": dict(arch="LlamaForCausalLM", model_type="llama", split=None, tied=False, rope=None, sentencepiece=True),
    "qwen2": dict(arch="Qwen2ForCausalLM", model_type="qwen2", split=QWEN2_SPLIT, tied=True, rope=None, qkv_bias=True),
    "qwen3": dict(arch="Qwen3ForCausalLM", model_type="qwen3", split=QWEN2_SPLIT, tied=False, rope=None, qk_norm=True),
}


def corpus():
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))]
    return texts + [(ROOT / "README.md").read_text(encoding="utf-8"), SAMPLE_TEXT]


def train_tokenizer(split, vocab_size=600):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    bos = tok.token_to_id(SPECIALS[0])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{SPECIALS[0]} $A", pair=f"{SPECIALS[0]} $A {SPECIALS[0]} $B",
                                      special_tokens=[(SPECIALS[0], bos)]),
    ])
    return tok


class SentencePieceTokenizer:
    """A SentencePiece BPE model trained here as Llama 2's was (byte fallback, digits split,
    whitespace kept), with the `tokenizers`-like calls the tests use."""

    def __init__(self, model_bytes):
        import sentencepiece
        self.model_bytes = model_bytes
        self.sp = sentencepiece.SentencePieceProcessor(model_proto=model_bytes)

    def get_vocab_size(self):
        return self.sp.get_piece_size()

    def token_to_id(self, token):
        return {"<|begin_of_text|>": self.sp.bos_id(), "<|end_of_text|>": self.sp.eos_id()}.get(token, self.sp.piece_to_id(token))

    def encode(self, text, add_special_tokens=True):
        ids = self.sp.encode(text)
        return type("Encoding", (), {"ids": ([self.sp.bos_id()] if add_special_tokens else []) + ids})()


def train_sentencepiece(vocab_size=600):
    import io
    import sentencepiece
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([line for text in corpus() for line in text.splitlines() if line.strip()]), model_writer=model,
        vocab_size=vocab_size, model_type="bpe", byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        character_coverage=0.9995, minloglevel=2)
    return SentencePieceTokenizer(model.getvalue())


def make_checkpoint(directory, kind, hidden=256, layers=2, heads=4, kv_heads=2, intermediate=512, shards=2, seed=0,
                    dtype="bfloat16", outliers=0):
    """Writes a checkpoint directory (config.json, tokenizer files, safetensors shards and index).

    outliers > 0 gives that many hidden channels norm weights 10-20x the others, so their
    activations dominate every layer's input, as in trained LLMs (Dettmers et al., LLM.int8()):
    the structure activation-aware methods (AWQ, GPTQ) find and round-to-nearest ignores."""
    spec = ARCHITECTURES[kind]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if spec.get("sentencepiece"):
        tok = train_sentencepiece()
        (directory / "tokenizer.model").write_bytes(tok.model_bytes)
    else:
        tok = train_tokenizer(spec["split"])
        tok.save(str(directory / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    head_dim = hidden // heads
    config = {
        "architectures": [spec["arch"]], "model_type": spec["model_type"], "hidden_size": hidden,
        "intermediate_size": intermediate, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "vocab_size": vocab, "tie_word_embeddings": spec["tied"], "torch_dtype": dtype,
        "bos_token_id": tok.token_to_id(SPECIALS[0]), "eos_token_id": tok.token_to_id(SPECIALS[1]),
    }
    if spec["rope"] == "llama3":
        config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 64}
    if spec.get("qk_norm"):
        config["head_dim"] = head_dim
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    specials = ["<s>", "</s>"] if spec.get("sentencepiece") else SPECIALS[:2]
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": specials[0], "eos_token": specials[1], "add_bos_token": True,
        "chat_template": "{% for m in messages %}{{ m['content'] }}<|eot_id|>{% endfor %}",
    }))
    (directory / "generation_config.json").write_text(json.dumps({"bos_token_id": config["bos_token_id"]}))

    rng = np.random.default_rng(seed)

    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    tensors = {"model.embed_tokens.weight": (rng.standard_normal((vocab, hidden))).astype(np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        tensors[p + "self_attn.q_proj.weight"] = w(heads * head_dim, hidden)
        tensors[p + "self_attn.k_proj.weight"] = w(kv_heads * head_dim, hidden)
        tensors[p + "self_attn.v_proj.weight"] = w(kv_heads * head_dim, hidden)
        tensors[p + "self_attn.o_proj.weight"] = w(hidden, heads * head_dim)
        if spec.get("qkv_bias"):
            for name, rows in (("q", heads), ("k", kv_heads), ("v", kv_heads)):
                tensors[p + f"self_attn.{name}_proj.bias"] = (0.1 * rng.standard_normal(rows * head_dim)).astype(np.float32)
        if spec.get("qk_norm"):
            tensors[p + "self_attn.q_norm.weight"] = (1 + 0.1 * rng.standard_normal(head_dim)).astype(np.float32)
            tensors[p + "self_attn.k_norm.weight"] = (1 + 0.1 * rng.standard_normal(head_dim)).astype(np.float32)
        tensors[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        tensors[p + "mlp.gate_proj.weight"] = w(intermediate, hidden)
        tensors[p + "mlp.up_proj.weight"] = w(intermediate, hidden)
        tensors[p + "mlp.down_proj.weight"] = w(hidden, intermediate)
    tensors["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
    if outliers:
        channels = rng.choice(hidden, outliers, replace=False)
        for i in range(layers):
            for norm in ("input_layernorm", "post_attention_layernorm"):
                tensors[f"model.layers.{i}.{norm}.weight"][channels] *= rng.uniform(10, 20, outliers).astype(np.float32)
    if not spec["tied"]:
        tensors["lm_head.weight"] = w(vocab, hidden)
    if dtype == "bfloat16":
        # Round to bf16 (nearest even) so the file and the reference hold the same values.
        tensors = {k: to_bf16(v) for k, v in tensors.items()}
    write_shards(directory, tensors, shards, dtype)
    return directory


def to_bf16(x):
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def write_shards(directory, tensors, shards, dtype):
    import ml_dtypes
    names = list(tensors)
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        arrays = {n: tensors[n].astype(ml_dtypes.bfloat16) if dtype == "bfloat16" else tensors[n] for n in part}
        save_file(arrays, str(directory / file), metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    total = sum(v.size * (2 if dtype == "bfloat16" else 4) for v in tensors.values())
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))


def load_checkpoint(directory):
    import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy for safetensors)
    from safetensors.numpy import load_file
    directory = Path(directory)
    tensors = {}
    for file in sorted(directory.glob("*.safetensors")):
        for name, value in load_file(str(file)).items():
            tensors[name] = np.asarray(value, dtype=np.float32)
    return json.loads((directory / "config.json").read_text()), tensors


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_frequencies(config, head_dim):
    theta = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type") == "llama3":  # transformers' _compute_llama3_parameters
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelen = 2 * np.pi / inv_freq
        scaled = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        inv_freq = np.where(medium, smoothed, scaled)
    return inv_freq


def forward(config, tensors, tokens):
    """fp32 logits [len(tokens), vocab] of a Llama/Mistral/Qwen2/Qwen3 checkpoint (transformers' math)."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim", hidden // heads)
    eps = config["rms_norm_eps"]
    n = len(tokens)
    x = tensors["model.embed_tokens.weight"][tokens].astype(np.float64)
    angles = np.outer(np.arange(n), rope_frequencies(config, head_dim))
    cos, sin = np.cos(np.concatenate([angles, angles], -1)), np.sin(np.concatenate([angles, angles], -1))

    def rope(v):  # v: [n, h, d], rotate_half on the stored (half-split) layout
        half = v.shape[-1] // 2
        rotated = np.concatenate([-v[..., half:], v[..., :half]], -1)
        return v * cos[:, None, :] + rotated * sin[:, None, :]

    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t = lambda name: tensors[p + name].astype(np.float64)
        h = rms_norm(x, t("input_layernorm.weight"), eps)
        q, k, v = (h @ t(f"self_attn.{c}_proj.weight").T for c in "qkv")
        if p + "self_attn.q_proj.bias" in tensors:
            q, k, v = q + t("self_attn.q_proj.bias"), k + t("self_attn.k_proj.bias"), v + t("self_attn.v_proj.bias")
        q, k, v = q.reshape(n, heads, head_dim), k.reshape(n, kv_heads, head_dim), v.reshape(n, kv_heads, head_dim)
        if p + "self_attn.q_norm.weight" in tensors:
            q, k = rms_norm(q, t("self_attn.q_norm.weight"), eps), rms_norm(k, t("self_attn.k_norm.weight"), eps)
        q, k = rope(q), rope(k)
        groups = heads // kv_heads
        k, v = np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(head_dim) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = np.einsum("hqk,khd->qhd", scores / scores.sum(-1, keepdims=True), v).reshape(n, heads * head_dim)
        x = x + attention @ t("self_attn.o_proj.weight").T
        h = rms_norm(x, t("post_attention_layernorm.weight"), eps)
        gate = h @ t("mlp.gate_proj.weight").T
        x = x + ((gate / (1 + np.exp(-gate))) * (h @ t("mlp.up_proj.weight").T)) @ t("mlp.down_proj.weight").T
    x = rms_norm(x, tensors["model.norm.weight"].astype(np.float64), eps)
    head = tensors.get("lm_head.weight", tensors["model.embed_tokens.weight"])
    return x @ head.astype(np.float64).T


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def bert_embedding(config, tensors, tokens):
    """fp32 sentence embedding of a BERT checkpoint with sentence-transformers mean pooling (one
    sequence, token type 0), before normalization: transformers' BertModel math."""
    from math import erf, sqrt
    t = lambda name: tensors[name].astype(np.float64)
    n, heads, eps = len(tokens), config["num_attention_heads"], config["layer_norm_eps"]
    x = t("embeddings.word_embeddings.weight")[tokens] + t("embeddings.position_embeddings.weight")[:n]
    x = layer_norm(x + t("embeddings.token_type_embeddings.weight")[0], t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"), eps)
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        dense = lambda name, v: v @ t(p + name + ".weight").T + t(p + name + ".bias")
        q, k, v = (dense(f"attention.self.{c}", x).reshape(n, heads, -1) for c in ("query", "key", "value"))
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(q.shape[-1])
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = np.einsum("hqk,khd->qhd", scores / scores.sum(-1, keepdims=True), v).reshape(n, -1)
        x = layer_norm(x + dense("attention.output.dense", attention), t(p + "attention.output.LayerNorm.weight"), t(p + "attention.output.LayerNorm.bias"), eps)
        h = dense("output.dense", gelu(dense("intermediate.dense", x)))
        x = layer_norm(x + h, t(p + "output.LayerNorm.weight"), t(p + "output.LayerNorm.bias"), eps)
    return x.mean(0)


def llama2_tokenizer_json(spm):
    """A SentencePiece BPE model as transformers' LlamaConverter writes it to tokenizer.json: the
    vocabulary by piece id, merges from every split of a piece into two pieces (ordered by the
    merged piece's id, then the parts'), byte fallback, and the Prepend/Replace normalizer."""
    sp = spm.sp
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    for piece, index in vocab.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                merges.append((left, right, index))
    merges.sort(key=lambda m: (m[2], vocab[m[0]], vocab[m[1]]))
    special = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i in (sp.unk_id(), sp.bos_id(), sp.eos_id())]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [sp.bos_id()], "tokens": ["<s>"]}}},
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False, "vocab": vocab,
                  "merges": [[left, right] for left, right, _ in merges]},
    }
