"""Reference dequantizer for QuantService safetensors artifacts (docs/FORMAT.md).

Uses only `safetensors` and `numpy`. Returns {name: float32 array} for every tensor of the
original model: quantized tensors are rebuilt from codes and scales, the rest come back as stored.
"""
import json

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


def dequantize(path):
    out = {}
    with safe_open(path, framework="np") as f:
        info = json.loads((f.metadata() or {}).get("quantization", '{"tensors": {}}'))
        tensors = info["tensors"]
        derived = {n + s for n, t in tensors.items() if t["method"] in ("linear", "ternary", "binary") for s in (".scale", ".zero_point")}
        for name in f.keys():
            if name in derived:
                continue
            t = tensors.get(name)
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
