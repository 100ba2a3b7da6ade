"""Reference dequantizer for QuantService safetensors artifacts (docs/ARTIFACT-LAYOUT.md).

Uses only `safetensors` and `numpy`. Returns {name: float32 array} for every tensor of the
original model: quantized tensors are rebuilt from codes and scales, the rest come back as stored.
fp8 and E8M0 tensors are read as raw bytes (safetensors' numpy loader has no float8 types) and
decoded with the tables below.
"""
import json
import struct

import numpy as np
from safetensors import safe_open


def unpack(codes, bits, count, signed):
    """Row-wise LSB-first bit fields -> integers. codes: uint8 [..., ceil(count*bits/8)]."""
    rows = codes.reshape(-1, codes.shape[-1])
    bit_stream = np.unpackbits(rows, axis=1, bitorder="little")[:, : count * bits]
    fields = bit_stream.reshape(rows.shape[0], count, bits).astype(np.int32)
    values = (fields << np.arange(bits, dtype=np.int32)).sum(axis=2)
    if signed:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return values


def minifloat_values(ebits, mbits, bias, specials):
    """Value of every code of a minifloat. specials: "fn" (e4m3: only S.1111.111 is NaN), "ieee"
    (e5m2: exponent all ones is Inf/NaN) or "none" (fp6, fp4: every code finite)."""
    codes = np.arange(1 << (1 + ebits + mbits))
    sign = np.where((codes >> (ebits + mbits)) & 1, -1.0, 1.0)
    e = (codes >> mbits) & ((1 << ebits) - 1)
    m = (codes & ((1 << mbits) - 1)).astype(np.float64)
    values = sign * np.where(e == 0, m / 2**mbits * 2.0 ** (1 - bias), (1 + m / 2**mbits) * 2.0 ** (e - bias))
    top = e == (1 << ebits) - 1
    if specials == "fn":
        values[top & (m == (1 << mbits) - 1)] = np.nan
    elif specials == "ieee":
        values[top] = np.where(m[top] == 0, sign[top] * np.inf, np.nan)
    return values.astype(np.float32)


FP8 = {"fp8-e4m3": minifloat_values(4, 3, 7, "fn"), "fp8-e5m2": minifloat_values(5, 2, 15, "ieee")}
# MX elements: (bits, value of each code). MXINT8 is int8 x 2^-6.
MX = {
    "mxfp8": (8, FP8["fp8-e4m3"]),
    "mxfp6-e3m2": (6, minifloat_values(3, 2, 3, "none")),
    "mxfp6-e2m3": (6, minifloat_values(2, 3, 1, "none")),
    "mxfp4": (4, minifloat_values(2, 1, 1, "none")),
    "mxint8": (8, (np.arange(256, dtype=np.uint8).view(np.int8) / 64).astype(np.float32)),
}


def row_codes(data, columns, bits):
    """Unsigned codes, one row per line: bytes at 8 bits, else LSB-first bit fields per row."""
    rows = data.reshape(-1, columns if bits == 8 else (columns * bits + 7) // 8)
    return rows if bits == 8 else unpack(rows, bits, columns, False)


def raw_bytes(path):
    """{name: uint8 array of its bytes} straight from the file (for dtypes numpy lacks)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], np.uint8)
            for k, v in header.items() if k != "__metadata__"}


def dequantize(path):
    out = {}
    raw = raw_bytes(path)
    with safe_open(path, framework="np") as f:
        info = json.loads((f.metadata() or {}).get("quantization", '{"tensors": {}}'))
        tensors = info["tensors"]
        derived = {n + s for n, t in tensors.items() if t["method"] in ("linear", "ternary", "binary", "mx") or "format" in t
                   for s in (".scale", ".zero_point", ".super_scale")} | {n + ".codebook" for n, t in tensors.items() if t["method"] == "kmeans"}
        for name in f.keys():
            if name in derived:
                continue
            t = tensors.get(name)
            if t is not None and t.get("format") in FP8:  # fp8 codes x an F32 scale per tensor or channel
                shape = t["shape"]
                s = f.get_tensor(name + ".scale").astype(np.float32)
                s = s.reshape([shape[0]] + [1] * (len(shape) - 1)) if t["granularity"] == "channel" else s.reshape(())
                out[name] = (FP8[t["format"]][raw[name]].reshape(shape) * s).astype(np.float32)
                continue
            if t is not None and t["method"] == "kmeans":  # indices into an F32 codebook per tensor or channel
                shape, bits = t["shape"], t["bits"]
                q = row_codes(raw[name], shape[-1], bits)
                book = f.get_tensor(name + ".codebook").astype(np.float32).reshape(-1, 1 << bits)
                rows_per_book = q.shape[0] // book.shape[0]
                out[name] = np.take_along_axis(np.repeat(book, rows_per_book, axis=0), q.astype(np.int64), axis=1).reshape(shape)
                continue
            if t is not None and t["method"] == "mx":  # element x 2^(e8m0 - 127), one scale per 32 along rows
                shape, (bits, values) = t["shape"], MX[t["format"]]
                q = row_codes(raw[name], shape[-1], bits)
                scale = 2.0 ** (raw[name + ".scale"].astype(np.float64) - 127)
                scale = np.repeat(scale.reshape(q.shape[0], -1), t["block_size"], axis=1)[:, : shape[-1]]
                out[name] = (values[q] * scale).astype(np.float32).reshape(shape)
                continue
            if t is not None and t["method"] == "binary":  # 1-bit fields: 1 = +scale, 0 = -scale
                shape = t["shape"]
                u = unpack(f.get_tensor(name), 1, shape[-1], False).reshape(shape)
                s = f.get_tensor(name + ".scale").astype(np.float32).reshape([shape[0]] + [1] * (len(shape) - 1))
                out[name] = ((2 * u - 1).astype(np.float32) * s).astype(np.float32)
                continue
            if t is None or t["method"] not in ("linear", "ternary"):  # ternary: 2-bit symmetric codes
                out[name] = f.get_tensor(name).astype(np.float32)
                continue
            shape, bits, symmetric = t["shape"], t["bits"], t["symmetric"]
            codes = f.get_tensor(name)
            if bits < 8:
                q = unpack(codes, bits, shape[-1] if shape else 1, symmetric).reshape(shape)
            else:
                q = codes.astype(np.int32).reshape(shape)
            scale = f.get_tensor(name + ".scale").astype(np.float32)
            if "scale_bits" in t:  # two-level: integer group scales x one F32 super-scale per row
                scale = scale * f.get_tensor(name + ".super_scale").astype(np.float32)[..., None]
            zero = f.get_tensor(name + ".zero_point").astype(np.int32) if not symmetric else np.zeros_like(scale, np.int32)
            if t["granularity"] == "tensor":
                s, z = scale.reshape(()), zero.reshape(())
            elif t["granularity"] == "channel":
                view = [1] * len(shape)
                view[t["axis"]] = shape[t["axis"]]
                s, z = scale.reshape(view), zero.reshape(view)
            else:  # group: one scale per group_size values along the last dimension
                g = t["group_size"]
                s = np.repeat(scale, g, axis=-1)[..., : shape[-1]]
                z = np.repeat(zero, g, axis=-1)[..., : shape[-1]]
            out[name] = ((q - z).astype(np.float32) * s).astype(np.float32)
    return out
