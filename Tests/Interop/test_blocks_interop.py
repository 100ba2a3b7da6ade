"""ggml block formats: our kernels (every variant on this CPU) against gguf-py's quants, byte for byte."""
import os
import subprocess

import gguf
import numpy as np
import pytest

from conftest import BIN

TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4"]
ISAS = ["scalar", "avx2", "avx512"]


def tool(isa, *args):
    env = dict(os.environ)
    if isa != "avx512":
        env["QK_FORCE_ISA"] = isa
    out = subprocess.run([str(BIN / "interop-tool"), *map(str, args)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def tricky(n_blocks, seed):
    rng = np.random.default_rng(seed)
    blocks = []
    for i in range(n_blocks):
        kind = i % 7
        if kind == 0:
            b = np.where(rng.integers(0, 2, 32) == 0, 0.0, -0.0)
        elif kind == 1:
            b = np.full(32, 1.25)
        elif kind == 2:
            b = rng.standard_normal(32)
            b[3], b[20] = 5.0, -5.0
        elif kind == 3:
            b = (np.arange(32) - 16) * 0.5
        elif kind == 4:
            b = rng.standard_normal(32) * 1e-30
        else:
            b = rng.standard_normal(32) * rng.uniform(0.01, 100)
        blocks.append(b)
    return np.concatenate(blocks).astype(np.float32)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("qtype", TYPES)
def test_quantize_matches_gguf_py(qtype, isa, tmp):
    x = tricky(700, seed=TYPES.index(qtype))
    src, dst = tmp / "x.f32", tmp / "q.bin"
    src.write_bytes(x.tobytes())
    used = tool(isa, "isa")
    tool(isa, "quantize-blocks", qtype, src, dst)
    ours = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
    theirs = gguf.quants.quantize(x.reshape(-1, 32 * 7), gguf.GGMLQuantizationType[qtype]).reshape(-1).copy()
    ours = ours.copy()
    # One known divergence of gguf-py from ggml's C reference: in a block of only zeros, the sign of
    # the zero stored in d (Q4_0, Q5_0: C divides +0 by -8; gguf-py takes the first element) or in m
    # (Q4_1, Q5_1: C keeps the first element; numpy's min picks any zero) can differ. We follow C.
    # Mask just that sign bit in all-zero blocks, after checking both sides store a zero there.
    size = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "MXFP4": 17}[qtype]
    sign_byte = {"Q4_0": 1, "Q5_0": 1, "Q4_1": 3, "Q5_1": 3}.get(qtype)
    if sign_byte is not None:
        zero_blocks = np.flatnonzero(np.all(x.reshape(-1, 32) == 0, axis=1))
        at = zero_blocks * size + sign_byte
        assert np.all((ours[at] & 0x7F) == 0) and np.all((theirs[at] & 0x7F) == 0)
        assert np.all(ours[at - 1] == 0) and np.all(theirs[at - 1] == 0)
        ours[at] &= 0x7F
        theirs[at] &= 0x7F
    mismatched = np.flatnonzero(ours != theirs)
    assert mismatched.size == 0, f"{qtype} on {used}: first differing byte {mismatched[:5]}"


@pytest.mark.parametrize("qtype", TYPES)
def test_dequantize_matches_gguf_py(qtype, tmp):
    x = tricky(300, seed=99)
    blocks = gguf.quants.quantize(x.reshape(-1, 32), gguf.GGMLQuantizationType[qtype])
    src, dst = tmp / "q.bin", tmp / "y.f32"
    src.write_bytes(blocks.tobytes())
    tool("avx512", "dequantize-blocks", qtype, src, dst)
    ours = np.frombuffer(dst.read_bytes(), dtype=np.float32)
    theirs = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType[qtype]).reshape(-1).astype(np.float32)
    np.testing.assert_array_equal(ours, theirs)
