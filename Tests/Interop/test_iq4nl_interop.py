"""GGUF IQ4_NL: our quantizer (every ISA table on this CPU) against a NumPy port of ggml's
quantize_row_iq4_nl_ref (float32 arithmetic in ggml's order), byte for byte; gguf-py (which only
decodes IQ4_NL) reads the bytes back as we do."""
import gguf
import numpy as np
import pytest

from test_blocks_interop import ISAS, tool, tricky

F = np.float32
KVALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int8)


def best_index(x):
    """ggml's best_index_int8 over the IQ4_NL table."""
    val = KVALUES
    if x <= val[0]:
        return 0
    if x >= val[15]:
        return 15
    ml, mu = 0, 15
    while mu - ml > 1:
        mav = (ml + mu) // 2
        if x < val[mav]:
            mu = mav
        else:
            ml = mav
    return mu - 1 if x - F(val[mu - 1]) < F(val[mu]) - x else mu


def block_scale(xb, weight=None):
    """The block's scale; each value weighs its square unless weights are given."""
    weight = [F(v * v) for v in xb] if weight is None else weight
    amax, mx = F(0), F(0)
    for v in xb:
        if abs(v) > amax:
            amax, mx = abs(v), v
    if amax < F(1e-15):
        return F(0)

    def sums(iscale):
        sqx, sq2 = F(0), F(0)
        for v, w in zip(xb, weight):
            q = F(KVALUES[best_index(F(iscale * v))])
            sqx = F(sqx + F(F(w * q) * v))
            sq2 = F(sq2 + F(F(w * q) * q))
        return sqx, sq2

    d = F(-mx / F(KVALUES[0]))
    sqx, sq2 = sums(F(F(1) / d))
    d = F(sqx / sq2)
    best = F(d * sqx)
    for itry in range(-7, 8):
        sqx, sq2 = sums(F(F(itry + int(KVALUES[0])) / mx))
        if sq2 > 0 and F(sqx * sqx) > F(best * sq2):
            d = F(sqx / sq2)
            best = F(d * sqx)
    return d


def iq4_nl_reference(x, importance=None):
    """quantize_iq4_nl: without importance, quantize_row_iq4_nl_ref's arithmetic; with one weight per
    column (rows of importance.size), qw * sqrt(sigma2 + x^2), sigma2 = the block's sum of squares
    times 2/32."""
    out = bytearray()
    qw = None if importance is None else np.tile(importance.astype(F), x.size // importance.size).reshape(-1, 32)
    for i, b in enumerate(x.reshape(-1, 32)):
        weight = None
        if qw is not None:
            sigma2 = F(0)
            for v in b:
                sigma2 = F(sigma2 + F(v * v))
            sigma2 = F(sigma2 * F(F(2) / F(32)))
            weight = [F(qw[i][j] * np.sqrt(F(sigma2 + F(b[j] * b[j])))) for j in range(32)]
        with np.errstate(all="ignore"):
            d = block_scale(b, weight)
            iscale = F(F(1) / d) if d else F(0)
            codes = [best_index(F(iscale * v)) for v in b]
        out += np.array([d], dtype=np.float16).tobytes()
        out += bytes(codes[j] | (codes[16 + j] << 4) for j in range(16))
    return np.frombuffer(bytes(out), dtype=np.uint8)


@pytest.mark.parametrize("isa", ISAS)
def test_iq4_nl_matches_the_numpy_port_of_ggml(isa, tmp):
    x = tricky(140, seed=12)
    x[32 * 5:32 * 6] *= F(1e-19)  # tiny but above ggml's 1e-15 threshold: squares near underflow
    src, dst, back = tmp / "x.f32", tmp / "q.bin", tmp / "y.f32"
    src.write_bytes(x.tobytes())
    tool(isa, "quantize-blocks", "IQ4_NL", src, dst)
    ours = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
    expected = iq4_nl_reference(x)
    mismatched = np.flatnonzero(ours != expected)
    assert mismatched.size == 0, f"IQ4_NL on {tool(isa, 'isa')}: first differing bytes {mismatched[:5]}"
    tool(isa, "dequantize-blocks", "IQ4_NL", dst, back)
    mine = np.frombuffer(back.read_bytes(), dtype=np.float32)
    theirs = gguf.quants.dequantize(ours.reshape(-1, 18), gguf.GGMLQuantizationType.IQ4_NL).reshape(-1)
    np.testing.assert_array_equal(mine, theirs)
    # As good as the format: within half the widest gap between levels (24) of each block's scale.
    d = np.abs(np.frombuffer(ours.reshape(-1, 18)[:, :2].tobytes(), dtype=np.float16).astype(F))
    err = np.abs(mine - x).reshape(-1, 32).max(axis=1)
    assert np.all(err <= d * 12 + 1e-6)


def test_iq4_nl_preset_and_mix_fallback_end_to_end(tmp):
    """`--preset iq4_nl`, and `q3_k_m` on a tensor whose rows are not whole super-blocks (llama.cpp's
    IQ4_NL fallback): gguf-py reads both files, and the IQ4_NL tensors are the port's bytes."""
    from safetensors.numpy import save_file

    from conftest import quantctl

    rng = np.random.default_rng(8)
    tensors = {"blk.0.attn_q.weight": rng.standard_normal((8, 256)).astype(F), "blk.0.ffn_up.weight": rng.standard_normal((6, 320)).astype(F)}
    src = tmp / "m.safetensors"
    save_file(tensors, str(src))
    Q = gguf.GGMLQuantizationType
    for preset, expected in [("iq4_nl", {"blk.0.attn_q.weight": Q.IQ4_NL, "blk.0.ffn_up.weight": Q.IQ4_NL}),
                             ("q3_k_m", {"blk.0.attn_q.weight": Q.Q3_K, "blk.0.ffn_up.weight": Q.IQ4_NL})]:
        out = tmp / f"{preset}.gguf"
        done = quantctl("quantize", src, "-o", out, "--preset", preset)
        assert done.returncode == 0, done.stderr
        reader = gguf.GGUFReader(str(out))
        assert {t.name: t.tensor_type for t in reader.tensors} == expected
        for t in reader.tensors:
            if t.tensor_type == Q.IQ4_NL:
                assert t.data.tobytes() == iq4_nl_reference(tensors[t.name].reshape(-1)).tobytes(), (preset, t.name)
