"""Artifacts of `quantctl quantize`, checked with the PyPI packages: safetensors loads every one, the
documented Python dequantizer (docs/dequantize.py) reproduces `quantctl dequantize`, and gguf reads
every GGUF artifact with Q* tensors byte-identical to gguf.quants.quantize."""
import importlib.util
import json
import pathlib

import gguf
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from conftest import ROOT, quantctl

spec = importlib.util.spec_from_file_location("dequantize_doc", ROOT / "docs" / "dequantize.py")
dequantize_doc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dequantize_doc)

LINEAR = ["int8", "int8-tensor", "uint8-asym", "int4-g128", "int4-g128-asym", "int4-channel", "int4-g128-mse", "int3-g64-mse",
          "binary", "ternary", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "mxfp8", "mxfp6", "mxfp4", "mxint8",
          "kmeans-4", "kmeans-3", "int8-pow2", "int4-g16-2level", "auto"]
BLOCKS = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "MXFP4"]  # MXFP4: a gguf recipe (no preset)


def model(path):
    """A small model with awkward shapes: odd row lengths, rank 3 and 4, a tail shorter than a group,
    bf16 and fp16 inputs, integer and rank-1 tensors that must be copied."""
    rng = np.random.default_rng(1)
    tensors = {
        "layers.0.attn.weight": rng.standard_normal((64, 256)).astype(np.float32),
        "layers.0.mlp.weight": (rng.standard_normal((48, 160)) * 3).astype(np.float32),  # 160 = 128 + a tail of 32
        "layers.0.conv.weight": rng.standard_normal((8, 4, 3, 32)).astype(np.float32),
        "layers.0.proj.weight": rng.standard_normal((5, 6, 64)).astype(np.float16),
        "layers.0.norm.weight": np.ones(256, np.float32),
        "positions": np.arange(32, dtype=np.int64),
        "lm_head.weight": np.abs(rng.standard_normal((32, 96))).astype(np.float32),  # all positive: zero point 0
    }
    save_file(tensors, str(path), metadata={"format": "pt", "source": "interop"})
    return tensors


def recipe_file(tmp, text):
    p = tmp / "recipe.json"
    p.write_text(text)
    return p


@pytest.mark.parametrize("preset", LINEAR)
def test_safetensors_artifacts(preset, tmp):
    src, out, back = tmp / "m.safetensors", tmp / "a.safetensors", tmp / "back.safetensors"
    tensors = model(src)
    result = quantctl("quantize", src, "-o", out, "--preset", preset, "--report", tmp / "r.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp / "r.json").read_text())
    assert report["summary"]["tensors"] == len(tensors)
    with safe_open(str(out), framework="np") as f:  # the reference package loads it
        meta = f.metadata()
        assert meta["format"] == "pt" and meta["source"] == "interop"
        info = json.loads(meta["quantization"])
        assert info["format"] == "quantservice/1"
        assert set(info["tensors"]) == {n for n, t in tensors.items() if t.ndim >= 2}
        for name in f.keys():
            # numpy has no bfloat16 or float8 types: those are read raw by docs/dequantize.py
            f.get_tensor(name) if not f.get_slice(name).get_dtype().startswith(("BF16", "F8_")) else None
        # non-quantized tensors are copied byte for byte
        np.testing.assert_array_equal(f.get_tensor("positions"), tensors["positions"])
        np.testing.assert_array_equal(f.get_tensor("layers.0.norm.weight"), tensors["layers.0.norm.weight"])
    result = quantctl("dequantize", out, "-o", back)
    assert result.returncode == 0, result.stderr
    if preset == "bf16":
        return  # numpy cannot load BF16 through safetensors; covered by quantctl dequantize above
    ours = dequantize_doc.dequantize(str(out))
    with safe_open(str(back), framework="np") as f:
        assert set(f.keys()) == set(tensors)
        for name in f.keys():
            np.testing.assert_allclose(ours[name], f.get_tensor(name), rtol=1e-6, atol=1e-7, err_msg=name)
            if tensors[name].dtype.kind == "f":
                err = np.abs(f.get_tensor(name) - tensors[name].astype(np.float32)).max()
                bound = {"int8": 0.05, "int8-tensor": 0.05, "uint8-asym": 0.1, "fp16": 0.01, "bf16": 0.05, "binary": 20, "ternary": 20,
                         "int4-g128-mse": 5, "int3-g64-mse": 5, "mxfp4": 3, "kmeans-4": 6, "kmeans-3": 8, "int8-pow2": 0.1, "auto": 5}.get(preset, 1.0)  # clipping trades the max error for the mean
                assert err < bound, (name, err)
    for t in report["tensors"]:
        if t["method"] != "copy":
            low_bit = t["method"] in ("binary", "ternary")
            assert t["sqnr_db"] is None or t["sqnr_db"] > (0 if low_bit else 5), t
            assert t["bits_per_weight"] > 0 and t["cosine"] > (0.6 if low_bit else 0.9)


@pytest.mark.parametrize("preset", BLOCKS)
def test_gguf_artifacts_match_gguf_py(preset, tmp):
    src, out = tmp / "m.safetensors", tmp / "a.gguf"
    tensors = model(src)
    base = {"preset": preset} if preset.islower() else {"weights": {"method": "gguf", "type": preset}, "output": {"format": "gguf"}}
    rec = recipe_file(tmp, json.dumps({**base, "overrides": [
        {"match": "layers.0.proj.weight", "weights": {"method": "gguf", "type": "F16"}}]}))
    result = quantctl("quantize", src, "-o", out, "--recipe", rec)
    assert result.returncode == 0, result.stderr
    reader = gguf.GGUFReader(str(out))
    fields = {f.name: f for f in reader.fields.values()}
    assert fields["general.quantization_version"].contents() == 2
    by_name = {t.name: t for t in reader.tensors}
    assert set(by_name) == set(tensors)
    qtype = gguf.GGMLQuantizationType[preset.upper()]
    for name, value in tensors.items():
        t = by_name[name]
        assert list(reversed([int(d) for d in t.shape])) == list(value.shape), name
        if value.ndim >= 2 and name != "layers.0.proj.weight":
            assert t.tensor_type == qtype, name
            expected = gguf.quants.quantize(value.astype(np.float32), qtype)
            assert t.data.tobytes() == expected.tobytes(), name
    assert by_name["layers.0.proj.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    back = tmp / "back.safetensors"
    assert quantctl("dequantize", out, "-o", back).returncode == 0
    with safe_open(str(back), framework="np") as f:
        x = f.get_tensor("layers.0.attn.weight")
        ref = gguf.quants.dequantize(gguf.quants.quantize(tensors["layers.0.attn.weight"], qtype), qtype)
        np.testing.assert_array_equal(x, ref.reshape(x.shape))


def test_gguf_input_keeps_metadata(tmp):
    src, out = tmp / "m.gguf", tmp / "q.gguf"
    w = gguf.GGUFWriter(str(src), "llama")
    w.add_uint32("llama.context_length", 4096)
    w.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    w.add_tensor("blk.0.attn_q.weight", np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    w.add_tensor("output_norm.weight", np.ones(64, np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    assert quantctl("quantize", src, "-o", out, "--preset", "q8_0").returncode == 0
    fields = {f.name: f for f in gguf.GGUFReader(str(out)).fields.values()}
    assert fields["general.architecture"].contents() == "llama"
    assert fields["llama.context_length"].contents() == 4096
    assert fields["tokenizer.ggml.tokens"].contents() == ["a", "b", "c"]
    assert fields["general.quantization_version"].contents() == 2


@pytest.mark.parametrize("case, args, message", [
    ("malformed recipe", ["--recipe", "{RECIPE}"], "recipe"),
    ("unknown preset", ["--preset", "int3"], "unknown preset"),
    ("missing file", ["--preset", "int8"], "No such file"),
    ("unrepresentable", ["--recipe", "{UNREP}"], "GGUF cannot store"),
    ("bad block rows", ["--preset", "q4_0"], "multiple of Q4_0's block"),
])
def test_errors_exit_1_with_what_to_change(case, args, message, tmp):
    src = tmp / "m.safetensors"
    model(src)
    if case == "bad block rows":
        save_file({"w": np.zeros((4, 33), np.float32)}, str(src))
    if case == "missing file":
        src = tmp / "missing.safetensors"
    bad = recipe_file(tmp, '{"weights": {"bits": 12}}')
    unrep = tmp / "u.json"
    unrep.write_text('{"preset": "int8", "output": {"format": "gguf"}}')
    args = [a.replace("{RECIPE}", str(bad)).replace("{UNREP}", str(unrep)) for a in args]
    result = quantctl("quantize", src, "-o", tmp / "out.bin", *args)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp / "out.bin").exists()
    assert not list(tmp.glob("out.bin.partial*"))


def test_presets_command():
    result = quantctl("presets")
    assert result.returncode == 0
    for name in LINEAR + BLOCKS:
        assert name in result.stdout


def test_format_md_worked_example(tmp):
    """The worked example of docs/ARTIFACT-LAYOUT.md, byte for byte."""
    src, out = tmp / "ex.safetensors", tmp / "ex-q.safetensors"
    save_file({"w": np.array([[0.5, -1.0, 2.0, 0.25, 3.5], [-7.0, 0.0, 1.0, 1.75, -0.5]], np.float32)}, str(src))
    rec = recipe_file(tmp, '{"preset": "int4-g128", "weights": {"group_size": 4}, "targets": ["w"]}')
    assert quantctl("quantize", src, "-o", out, "--recipe", rec).returncode == 0
    with safe_open(str(out), framework="np") as f:
        assert f.get_tensor("w").tobytes() == bytes([0xD2, 0x17, 0x07, 0x09, 0x21, 0x09])
        np.testing.assert_allclose(f.get_tensor("w.scale"), [[2 / 7, 0.5], [1.0, 0.5 / 7]], rtol=1e-7)
    back = dequantize_doc.dequantize(str(out))["w"]
    assert abs(back[0, 1] - (-3 * np.float32(2 / 7))) < 1e-6 and back[1, 3] == 2.0
