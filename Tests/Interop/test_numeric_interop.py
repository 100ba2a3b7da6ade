"""Numeric conversions, bit-exact against ml_dtypes (and numpy's float16)."""
import ml_dtypes
import numpy as np
import pytest

from conftest import run_tool

FORMATS = {
    "fp16": np.float16, "bf16": ml_dtypes.bfloat16, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2, "fp8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "fp8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn, "fp4_e2m1": ml_dtypes.float4_e2m1fn, "e8m0": ml_dtypes.float8_e8m0fnu,
}
FINITE_ONLY = {"fp6_e2m3", "fp6_e3m2", "fp4_e2m1"}
BITS = {"fp16": 16, "bf16": 16, "fp6_e2m3": 6, "fp6_e3m2": 6, "fp4_e2m1": 4}


def code_dtype(name):
    return np.uint16 if BITS.get(name, 8) == 16 else np.uint8


def all_codes(name):
    return np.arange(2 ** BITS.get(name, 8), dtype=np.uint32).astype(code_dtype(name))


def inputs(name):
    """Every code's value, every midpoint between neighbours (the ties), their nudges up and down,
    specials, and a million random fp32 bit patterns."""
    values = all_codes(name).view(FORMATS[name]) if BITS.get(name, 8) in (8, 16) else all_codes(name).view(FORMATS[name])
    exact = np.unique(values.astype(np.float32)[np.isfinite(values.astype(np.float32))])
    mids = ((exact[:-1].astype(np.float64) + exact[1:]) / 2).astype(np.float32)
    nudged = np.concatenate([np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf))])
    big = exact.max() * np.array([1.01, 1.5, 2, 1e10], dtype=np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4e38, -3.4e38, 2 ** -130, 2 ** -127.5], np.float32)
    rng = np.random.default_rng(11)
    random = rng.integers(0, 2 ** 32, size=1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([exact, -exact, mids, -mids, nudged, -nudged, big, -big, specials, random]).astype(np.float32)


def ours(command, name, array, tmp, *extra):
    src, dst = tmp / "in.bin", tmp / "out.bin"
    src.write_bytes(array.tobytes())
    run_tool(command, name, src, dst, *extra)
    return dst.read_bytes()


def same_bits(a, b):
    """Equal, with every NaN equal to every NaN (payloads are not part of the contract)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    both_nan = np.isnan(a) & np.isnan(b)
    return np.all(both_nan | (a.view(np.uint32) == b.view(np.uint32)))


@pytest.mark.parametrize("name", list(FORMATS))
def test_decode_every_code(name, tmp):
    codes = all_codes(name)
    got = np.frombuffer(ours("decode", name, codes, tmp), dtype=np.float32)
    expected = codes.view(FORMATS[name]).astype(np.float32) if BITS.get(name, 8) >= 8 else codes.astype(np.uint8).view(FORMATS[name]).astype(np.float32)
    assert same_bits(got, expected)


@pytest.mark.parametrize("name", list(FORMATS))
def test_encode_matches_ml_dtypes(name, tmp):
    x = inputs(name)
    if name in FINITE_ONLY:
        # No NaN encoding exists; ml_dtypes' result depends on the NaN's payload. Quantizers reject
        # NaN before converting (docs/INPUT-FORMATS.md), so NaN is outside this contract.
        x = x[~np.isnan(x)]
    got = np.frombuffer(ours("encode", name, x, tmp), dtype=code_dtype(name))
    expected = x.astype(FORMATS[name]).view(code_dtype(name) if BITS.get(name, 8) >= 8 else np.uint8)
    got_values = got.view(FORMATS[name]).astype(np.float32) if BITS.get(name, 8) >= 8 else got.view(FORMATS[name]).astype(np.float32)
    exp_values = expected.view(FORMATS[name]).astype(np.float32)
    mismatch = ~((np.isnan(got_values) & np.isnan(exp_values)) | (got == expected))
    if mismatch.any():
        i = np.flatnonzero(mismatch)[:5]
        pytest.fail(f"{name}: {mismatch.sum()} mismatches, e.g. x={x[i]} ours={got[i]} ml_dtypes={expected[i]}")


@pytest.mark.parametrize("name", [n for n in FORMATS if n not in ("e8m0",)])
def test_saturating_encode_is_clip_then_convert(name, tmp):
    x = inputs(name)
    x = x[~np.isnan(x)]
    top = np.float32(ml_dtypes.finfo(FORMATS[name]).max) if name not in ("fp16",) else np.float32(65504)
    got = np.frombuffer(ours("encode", name, x, tmp, "--saturate"), dtype=code_dtype(name))
    expected = np.clip(x, -top, top).astype(FORMATS[name]).view(code_dtype(name) if BITS.get(name, 8) >= 8 else np.uint8)
    assert np.array_equal(got, expected)
