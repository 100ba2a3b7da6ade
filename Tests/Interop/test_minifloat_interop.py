"""`method: float` (fp8 + scale) and `method: mx` artifacts, code for code against a NumPy reference
of the documented algorithm that uses ml_dtypes for every element conversion (round to nearest,
ties to even, after saturating at the element's largest finite value)."""
import json

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import quantctl
from test_pipeline_interop import dequantize_doc

FP8 = {"fp8-e4m3": ml_dtypes.float8_e4m3fn, "fp8-e5m2": ml_dtypes.float8_e5m2}
MX = {  # element dtype (None: int8), emax_elem, bits
    "mxfp8": (ml_dtypes.float8_e4m3fn, 8, 8),
    "mxfp6-e3m2": (ml_dtypes.float6_e3m2fn, 4, 6),
    "mxfp6-e2m3": (ml_dtypes.float6_e2m3fn, 2, 6),
    "mxfp4": (ml_dtypes.float4_e2m1fn, 2, 4),
    "mxint8": (None, 0, 8),
}


def weights():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((24, 200)).astype(np.float32) * np.float32(0.05)
    w[3] *= 1000          # a loud channel
    w[5, :40] = 0          # an all-zero block
    w[7, 7] = 3e-41        # an fp32 subnormal
    w[9, :32] = np.float32(2.0) ** -130
    return {"layer.weight": w, "deep.weight": rng.standard_normal((4, 3, 70)).astype(np.float32)}


def quantize(tmp, recipe):
    src, out = tmp / "m.safetensors", tmp / "a.safetensors"
    tensors = weights()
    save_file(tensors, str(src))
    (tmp / "r.json").write_text(json.dumps({"weights": recipe, "output": {"format": "safetensors"}}))
    result = quantctl("quantize", src, "-o", out, "--recipe", tmp / "r.json")
    assert result.returncode == 0, result.stderr
    return tensors, dequantize_doc.raw_bytes(str(out)), out


@pytest.mark.parametrize("fmt", FP8)
@pytest.mark.parametrize("granularity", ["tensor", "channel"])
def test_fp8_codes(fmt, granularity, tmp):
    tensors, raw, out = quantize(tmp, {"method": "float", "format": fmt, "granularity": granularity})
    dtype = FP8[fmt]
    top = np.float32(ml_dtypes.finfo(dtype).max)
    for name, w in tensors.items():
        rows = w.reshape(w.shape[0], -1)
        amax = np.abs(rows).max(axis=1) if granularity == "channel" else np.abs(w).max().reshape(1)
        scale = np.where(amax > 0, amax / top, 1).astype(np.float32)
        assert np.array_equal(raw[name + ".scale"].view(np.float32), scale), name
        q = np.clip(rows / scale.reshape(-1, 1), -top, top).astype(dtype).view(np.uint8).reshape(-1)
        assert np.array_equal(raw[name], q), (name, np.flatnonzero(raw[name] != q)[:5])
    back = dequantize_doc.dequantize(str(out))
    for name, w in tensors.items():
        assert back[name].shape == w.shape


def mx_reference(w, fmt):
    """Codes and E8M0 scale bytes of OCP MX quantization, blocks of 32 along the last dimension."""
    dtype, emax, bits = MX[fmt]
    rows = w.reshape(-1, w.shape[-1])
    blocks = -(-rows.shape[1] // 32)
    padded = np.zeros((rows.shape[0], blocks * 32), np.float32)
    padded[:, : rows.shape[1]] = rows
    amax = np.abs(padded.reshape(rows.shape[0], blocks, 32)).max(axis=2).astype(np.float64)
    exponent = np.where(amax > 0, np.frexp(amax)[1] - 1 - emax, -127).clip(-127, 127)
    x = padded.reshape(rows.shape[0], blocks, 32) * (2.0 ** -exponent)[..., None].astype(np.float32)
    if dtype is None:
        codes = np.clip(np.round(x * 64), -127, 127).astype(np.int8).view(np.uint8)
    else:
        top = np.float32(ml_dtypes.finfo(dtype).max)
        codes = np.clip(x, -top, top).astype(dtype).view(np.uint8) & ((1 << bits) - 1)
    return codes.reshape(rows.shape[0], -1)[:, : rows.shape[1]], (exponent + 127).astype(np.uint8)


@pytest.mark.parametrize("fmt", MX)
def test_mx_codes_and_scales(fmt, tmp):
    tensors, raw, out = quantize(tmp, {"method": "mx", "format": fmt})
    bits = MX[fmt][2]
    for name, w in tensors.items():
        codes, scales = mx_reference(w, fmt)
        assert np.array_equal(raw[name + ".scale"], scales.reshape(-1)), name
        stored = raw[name].reshape(codes.shape[0], -1)
        ours = stored if bits == 8 else dequantize_doc.unpack(stored, bits, codes.shape[1], False)
        assert np.array_equal(ours, codes), (name, np.argwhere(ours != codes)[:5])
    # The documented dequantizer agrees with quantctl dequantize, and both come close to the input.
    back = tmp / "back.safetensors"
    assert quantctl("dequantize", out, "-o", back).returncode == 0
    ours = dequantize_doc.dequantize(str(out))
    from safetensors.numpy import load_file
    theirs = load_file(str(back))
    for name, w in tensors.items():
        np.testing.assert_array_equal(ours[name], theirs[name])
        sqnr = 10 * np.log10((w.astype(np.float64) ** 2).sum() / ((w - theirs[name]).astype(np.float64) ** 2).sum())
        assert sqnr > {"mxfp4": 12, "mxfp6-e3m2": 18, "mxfp6-e2m3": 20}.get(fmt, 25), (name, sqnr)
