"""compressed-tensors output (what vLLM loads): tensor names, int32 packing and quantization_config,
unpacked here with NumPy exactly as compressed-tensors documents it (code + 2^(bits-1), bit fields
least significant first in each row's int32 words) and compared with `quantctl dequantize`."""
import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from conftest import quantctl

MODEL = {
    "model.layers.0.self_attn.q_proj.weight": (64, 256),
    "model.layers.0.mlp.down_proj.weight": (64, 100),   # 100 inputs: a short last group, a padded last word
    "model.layers.0.mlp.up_proj.weight": (100, 64),
    "lm_head.weight": (80, 64),
}


def unpack_int32(packed, bits, columns):
    """compressed-tensors' unpack: int32 words -> unsigned fields -> signed values."""
    words = packed.astype(np.uint32)
    per_word = 32 // bits
    fields = np.stack([(words >> (bits * i)) & ((1 << bits) - 1) for i in range(per_word)], axis=-1)
    return fields.reshape(packed.shape[0], -1)[:, :columns].astype(np.int32) - (1 << (bits - 1))


@pytest.mark.parametrize("bits, granularity", [(4, {"granularity": "group", "group_size": 32}), (8, {"granularity": "channel"}),
                                               (4, {"granularity": "channel"})])
def test_layout_config_and_values(bits, granularity, tmp):
    rng = np.random.default_rng(bits)
    tensors = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in MODEL.items()}
    tensors["model.norm.weight"] = np.ones(64, np.float32)
    src, out, back = tmp / "m.safetensors", tmp / "ct.safetensors", tmp / "back.safetensors"
    save_file(tensors, str(src))
    recipe = {"weights": {"bits": bits, "symmetric": True, **granularity}, "ignore": ["lm_head.weight"],
              "output": {"format": "compressed-tensors"}}
    (tmp / "r.json").write_text(json.dumps(recipe))
    result = quantctl("quantize", src, "-o", out, "--recipe", tmp / "r.json")
    assert result.returncode == 0, result.stderr

    config = json.loads((tmp / "ct.safetensors.config.json").read_text())["quantization_config"]
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "pack-quantized"
    group = config["config_groups"]["group_0"]
    weights = group["weights"]
    assert weights["num_bits"] == bits and weights["type"] == "int" and weights["symmetric"] is True
    assert weights["strategy"] == granularity["granularity"] and weights["group_size"] == granularity.get("group_size")
    assert sorted(group["targets"]) == sorted(n[:-len(".weight")] for n in MODEL if n != "lm_head.weight")
    assert config["ignore"] == ["lm_head"]
    with safe_open(str(out), framework="np") as f:
        assert json.loads(f.metadata()["quantization_config"]) == config  # also inside the file

    stored = load_file(str(out))
    restored = load_file(str(back)) if quantctl("dequantize", out, "-o", back).returncode == 0 else None
    assert restored is not None
    np.testing.assert_array_equal(stored["lm_head.weight"], tensors["lm_head.weight"])
    for name, (rows, cols) in MODEL.items():
        if name == "lm_head.weight":
            continue
        module = name[:-len("weight")]
        packed, scale = stored[module + "weight_packed"], stored[module + "weight_scale"]
        assert packed.dtype == np.int32 and packed.shape == (rows, -(-cols * bits // 32))
        assert list(stored[module + "weight_shape"]) == [rows, cols] and stored[module + "weight_shape"].dtype == np.int64
        q = unpack_int32(packed, bits, cols)
        assert q.min() >= -(1 << (bits - 1)) and q.max() <= (1 << (bits - 1)) - 1
        group_size = granularity.get("group_size", cols)
        assert scale.shape == (rows, -(-cols // group_size))
        theirs = q * np.repeat(scale, group_size, axis=1)[:, :cols]
        np.testing.assert_array_equal(theirs.astype(np.float32), restored[name])
        snr = 10 * np.log10((tensors[name] ** 2).sum() / ((tensors[name] - theirs) ** 2).sum())
        assert snr > (15 if bits == 4 else 35), (name, snr)


def test_what_compressed_tensors_cannot_hold(tmp):
    src = tmp / "m.safetensors"
    save_file({"a.weight": np.ones((8, 32), np.float32)}, str(src))
    for weights in ({"bits": 4, "symmetric": False, "granularity": "group", "group_size": 32}, {"bits": 3, "granularity": "channel"},
                    {"method": "kmeans"}):
        (tmp / "r.json").write_text(json.dumps({"weights": weights, "output": {"format": "compressed-tensors"}}))
        result = quantctl("quantize", src, "-o", tmp / "o", "--recipe", tmp / "r.json")
        assert result.returncode == 1 and "compressed-tensors" in result.stderr or "safetensors" in result.stderr, result.stderr
