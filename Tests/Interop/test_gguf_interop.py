"""GGUF: files written by the PyPI `gguf` package are read by us identically (and written back
byte for byte), and files we write are read by its GGUFReader."""
import json

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q

from conftest import dump, quantctl, quantctl_json, run_tool


def python_file(path, alignment=None):
    rng = np.random.default_rng(3)
    w = gguf.GGUFWriter(str(path), "llama")
    if alignment:
        w.add_custom_alignment(alignment)
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1e-300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "ünïcode ✓")
    w.add_array("t.arr.int", [1, 2, 3])
    w.add_array("t.arr.float", [0.5, -2.25])
    w.add_array("t.arr.str", ["a", "bc", ""])
    w.add_array("t.arr.bool", [True, False])
    w.add_tokenizer_model("gpt2")
    w.add_tensor("f32", rng.standard_normal((3, 32)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal((2, 7)).astype(np.float16))
    w.add_tensor("i8", rng.integers(-128, 127, (5,), dtype=np.int8))
    w.add_tensor("i32", rng.integers(-9, 9, (2, 2), dtype=np.int32))
    w.add_tensor("f64", rng.standard_normal((4,)))
    for qt in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.BF16):
        data = gguf.quants.quantize(rng.standard_normal((2, 64)).astype(np.float32), qt)
        w.add_tensor(f"q.{qt.name}", data, raw_dtype=qt)
    w.add_tensor("four.d", rng.standard_normal((2, 1, 3, 32)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_we_read_python_files(tmp):
    path = tmp / "py.gguf"
    python_file(path)
    ref = gguf.GGUFReader(str(path))
    ours = dump(path)
    assert ours["version"] == 3
    ref_fields = [f for f in ref.fields.values() if not f.name.startswith("GGUF.")]
    assert [m["key"] for m in ours["metadata"]] == [f.name for f in ref_fields]
    for field, mine in zip(ref_fields, ours["metadata"]):
        assert mine["type"] == field.types[0].value, field.name
        value = mine["value"]
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            assert value["array"] == field.types[1].value
            items = [field.parts[i] for i in field.data]
            if field.types[1] == gguf.GGUFValueType.STRING:
                assert value["items"] == [bytes(p).decode() for p in items], field.name
            elif field.types[1] == gguf.GGUFValueType.FLOAT32:
                assert value["items"] == [int(p.view(np.uint32)[0]) for p in items], field.name
            else:
                assert value["items"] == [p[0].item() for p in items], field.name
        elif field.types[0] == gguf.GGUFValueType.STRING:
            assert value == bytes(field.parts[-1]).decode(), field.name
        elif field.types[0] == gguf.GGUFValueType.FLOAT32:
            assert value["f32_bits"] == int(field.parts[-1].view(np.uint32)[0])
        elif field.types[0] == gguf.GGUFValueType.FLOAT64:
            assert value["f64_bits"] == int(field.parts[-1].view(np.uint64)[0])
        else:
            assert value == field.parts[-1][0].item(), field.name
    assert len(ours["tensors"]) == len(ref.tensors)
    for mine, theirs in zip(ours["tensors"], ref.tensors):
        assert mine["name"] == theirs.name
        assert mine["type_id"] == theirs.tensor_type.value
        assert mine["dims"] == [int(d) for d in theirs.shape]
        assert mine["offset"] == theirs.data_offset - ref.data_offset
        assert bytes.fromhex(mine["data_hex"]) == theirs.data.tobytes(), theirs.name


def test_roundtrip_is_byte_identical(tmp):
    for alignment in (None, 64):
        src, dst = tmp / f"py{alignment}.gguf", tmp / f"rt{alignment}.gguf"
        python_file(src, alignment)
        run_tool("roundtrip", src, dst)
        assert src.read_bytes() == dst.read_bytes()


def test_python_reads_our_sample(tmp):
    path = tmp / "ours.gguf"
    run_tool("sample-gguf", path)
    ref = gguf.GGUFReader(str(path))
    assert ref.alignment == 64
    fields = {f.name: f for f in ref.fields.values()}

    def scalar(name):
        return fields[name].contents()

    assert scalar("general.architecture") == "llama"
    assert scalar("u8") == 200 and scalar("i8") == -100 and scalar("u16") == 60000 and scalar("i16") == -30000
    assert scalar("u32") == 4_000_000_000 and scalar("i32") == -2_000_000_000
    assert scalar("f32") == 3.25 and scalar("bool") is True and scalar("str") == "héllo 😀"
    assert scalar("u64") == 18_000_000_000_000_000_000 and scalar("i64") == -9_000_000_000_000_000_000
    assert scalar("f64") == -0.125
    assert scalar("arr.u8") == [1, 2, 255] and scalar("arr.i16") == [-32768, 7]
    assert scalar("arr.f32") == [0.5, -1.5] and scalar("arr.bool") == [True, False]
    assert scalar("arr.str") == ["a", "", "über"] and scalar("arr.u64") == [1, 1 << 40]
    assert scalar("arr.f64") == [1e-300, 2.5] and scalar("arr.empty") == []
    tensors = {t.name: t for t in ref.tensors}
    pattern = lambda n: (np.arange(n) - n // 2).astype(np.float32) * np.float32(0.37)
    np.testing.assert_array_equal(tensors["f32"].data.reshape(-1), pattern(6))
    assert list(tensors["f32"].shape) == [3, 2]
    np.testing.assert_array_equal(tensors["f16"].data.reshape(-1), pattern(5).astype(np.float16))
    assert tensors["q8_0"].tensor_type == Q.Q8_0 and list(tensors["q8_0"].shape) == [64, 2]
    assert tensors["four.d"].tensor_type == Q.Q4_0 and list(tensors["four.d"].shape) == [32, 3, 1, 2]
    raw = (np.arange(6 * 18) * 37 + 11).astype(np.uint8)
    assert tensors["four.d"].data.tobytes() == raw.tobytes()


def test_ggml_type_table_matches_reference():
    ours = json.loads(run_tool("ggml-types"))
    for name, (type_id, block, size) in ours.items():
        qt = Q[name]
        assert qt.value == type_id, name
        if name == "Q8_1":
            # gguf-py still lists the old fp32 layout (40 bytes); ggml-common.h has two fp16 fields
            # (36 bytes). Q8_1 is a runtime intermediate that no model file stores.
            assert (block, size) == (32, 36)
            continue
        assert gguf.GGML_QUANT_SIZES[qt] == (block, size), name


def test_inspect_gguf(tmp):
    path = tmp / "py.gguf"
    python_file(path)
    report = quantctl_json("inspect", path)
    ref = gguf.GGUFReader(str(path))
    assert report["format"] == "gguf" and report["gguf_version"] == 3
    assert report["tensor_count"] == len(ref.tensors)
    assert report["parameter_count"] == sum(int(t.n_elements) for t in ref.tensors)
    assert [t["shape"] for t in report["tensors"]] == [[int(d) for d in reversed(t.shape)] for t in ref.tensors]
    assert report["metadata"]["t.str"] == "ünïcode ✓"
