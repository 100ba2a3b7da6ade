"""safetensors: files written by the PyPI package are read by us identically, and ours by it."""

import ml_dtypes
import numpy as np
import pytest
from safetensors import TensorSpec, deserialize, serialize_file, safe_open

from conftest import dump, quantctl, quantctl_json, run_tool

# Our dtype name -> numpy dtype (ml_dtypes for the small floats); F4 is packed two per byte.
NP_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16, "F16": np.float16,
    "BF16": ml_dtypes.bfloat16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
    "I64": np.int64, "U64": np.uint64, "C64": np.complex64, "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2, "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz, "F8_E8M0": ml_dtypes.float8_e8m0fnu,
}
# dtype names the Python serializer takes.
PY_NAMES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "F16": "float16", "BF16": "bfloat16",
    "I32": "int32", "U32": "uint32", "F32": "float32", "F64": "float64", "I64": "int64", "U64": "uint64",
    "C64": "complex64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz", "F8_E8M0": "float8_e8m0fnu", "F4": "float4_e2m1fn_x2",
}


def pattern(n):
    """The float pattern interop-tool's samples use: (k - n//2) * 0.37 in fp32."""
    return (np.arange(n, dtype=np.int64) - n // 2).astype(np.float32) * np.float32(0.37)


def unpack_f4(raw, count):
    """Element 0 in the low nibble (our documented packing, same as torch float4_e2m1fn_x2)."""
    nibbles = np.empty(count, dtype=np.uint8)
    nibbles[0::2] = raw[: (count + 1) // 2] & 0xF
    nibbles[1::2] = raw[: count // 2] >> 4
    return nibbles


def python_file(path):
    """A file written by the reference package with every dtype it supports."""
    rng = np.random.default_rng(7)
    tensors, keep = {}, []
    for ours, name in PY_NAMES.items():
        raw = rng.integers(0, 256, size=48, dtype=np.uint8)
        if ours == "BOOL":
            raw = raw & 1
        keep.append(raw)
        itemsize = {"I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8,
                    "I64": 8, "U64": 8, "C64": 8}.get(ours, 1)
        shape = (4, 12 // itemsize) if itemsize <= 4 else (48 // itemsize,)
        if ours == "F4":
            shape = (4, 12)  # storage shape: the spec doubles the last dim to 24 elements
        tensors[f"w.{ours}"] = TensorSpec(dtype=name, shape=shape, data_ptr=raw.ctypes.data, data_len=raw.nbytes)
    scalar = np.array(1.5, dtype=np.float32)
    empty = np.zeros((0, 3), dtype=np.float32)
    keep += [scalar, empty]
    tensors["scalar"] = TensorSpec(dtype="float32", shape=(), data_ptr=scalar.ctypes.data, data_len=4)
    tensors["empty"] = TensorSpec(dtype="float32", shape=(0, 3), data_ptr=empty.ctypes.data, data_len=0)
    serialize_file(tensors, str(path), metadata={"format": "np", "unicode": "ünïcode ✓"})
    return keep


def reference_view(path):
    with open(path, "rb") as f:
        data = f.read()
    return {name: info for name, info in deserialize(data)}


def test_we_read_python_files(tmp):
    path = tmp / "py.safetensors"
    python_file(path)
    ref = reference_view(path)
    ours = dump(path)
    assert ours["metadata"] == {"format": "np", "unicode": "ünïcode ✓"}
    got = {t["name"]: t for t in ours["tensors"]}
    assert set(got) == set(ref)
    for name, info in ref.items():
        assert got[name]["dtype"] == info["dtype"], name
        assert got[name]["shape"] == list(info["shape"]), name
        assert bytes.fromhex(got[name]["data_hex"]) == bytes(info["data"]), name


def test_our_float_decoding_matches_ml_dtypes(tmp):
    path = tmp / "py.safetensors"
    python_file(path)
    for t in dump(path)["tensors"]:
        if "f32_hex" not in t:
            continue
        raw = np.frombuffer(bytes.fromhex(t["data_hex"]), dtype=np.uint8)
        ours = np.frombuffer(bytes.fromhex(t["f32_hex"]), dtype=np.float32)
        if t["dtype"] == "F4":
            expected = unpack_f4(raw, ours.size).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
        else:
            expected = raw.view(NP_DTYPES[t["dtype"]]).astype(np.float32)
        np.testing.assert_array_equal(ours, expected, err_msg=t["name"])


def test_python_reads_our_sample(tmp):
    path = tmp / "ours.safetensors"
    run_tool("sample-safetensors", path)
    ref = reference_view(path)
    with safe_open(str(path), framework="np") as f:
        assert f.metadata() == {"format": "pt", "note": 'quantservice sample é"\\'}
    for name, info in ref.items():
        data = np.frombuffer(bytes(info["data"]), dtype=np.uint8)
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if name == "scalar":
            assert info["shape"] == [] and data.view(np.float32)[0] == 42.5
            continue
        if name == "empty":
            assert info["shape"] == [0, 4] and info["dtype"] == "F16" and data.size == 0
            continue
        dtype = info["dtype"]
        assert name == "t." + dtype.lower()
        values = pattern(count)
        if dtype in ("F6_E2M3", "F6_E3M2"):
            continue  # no reference packing for 6-bit types; covered by the numeric tests
        if dtype == "F4":
            expected = values.astype(ml_dtypes.float4_e2m1fn).view(np.uint8)
            packed = expected[0::2] | (expected[1::2] << 4)
            np.testing.assert_array_equal(data, packed, err_msg=name)
        elif dtype in NP_DTYPES and dtype not in ("BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "C64"):
            expected = values.astype(NP_DTYPES[dtype]).view(np.uint8)
            np.testing.assert_array_equal(data, expected, err_msg=name)
        else:
            expected = (np.arange(data.size) * 37 + 11).astype(np.uint8)
            np.testing.assert_array_equal(data, expected, err_msg=name)
    # The numpy front end loads the standard dtypes with the right shapes.
    with safe_open(str(path), framework="np") as f:
        f32 = f.get_tensor("t.f32")
        np.testing.assert_array_equal(f32.reshape(-1), pattern(f32.size))


def test_roundtrip_through_us_is_lossless(tmp):
    src, dst = tmp / "py.safetensors", tmp / "rt.safetensors"
    python_file(src)
    run_tool("roundtrip", src, dst)
    a, b = reference_view(src), reference_view(dst)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name]["dtype"] == b[name]["dtype"] and a[name]["shape"] == b[name]["shape"]
        assert bytes(a[name]["data"]) == bytes(b[name]["data"])
    with safe_open(str(dst), framework="np") as f:
        assert f.metadata() == {"format": "np", "unicode": "ünïcode ✓"}


def test_inspect_json_matches_reference(tmp):
    path = tmp / "py.safetensors"
    python_file(path)
    report = quantctl_json("inspect", path)
    ref = reference_view(path)
    assert report["format"] == "safetensors"
    assert report["tensor_count"] == len(ref)
    assert report["parameter_count"] == sum(int(np.prod(i["shape"])) if i["shape"] else 1 for i in ref.values())
    assert {t["name"]: (t["dtype"], t["shape"]) for t in report["tensors"]} == {
        n: (i["dtype"], list(i["shape"])) for n, i in ref.items()}
    assert report["metadata"] == {"format": "np", "unicode": "ünïcode ✓"}
