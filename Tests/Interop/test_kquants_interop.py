"""ggml's Q6_K super-blocks. gguf-py decodes Q6_K but has no encoder, so the checks are: gguf-py's
dequantizer reads our blocks to exactly our own dequantization (the layout), and an independent
NumPy port of ggml's quantize_row_q6_K_ref arithmetic (float32, ggml's evaluation order) gives our
bytes exactly (the arithmetic)."""
import gguf
import numpy as np
import pytest

from conftest import BIN  # noqa: F401  (the interop tool is built by the session)
from test_blocks_interop import tool

F = np.float32


def nearest_int(v):
    """ggml's nearest_int on float32 arrays: the rounded integer left in the mantissa of v + 1.5*2^23."""
    shifted = (v.astype(F) + F(12582912.0)).astype(F)
    return (shifted.view(np.int32) & 0x007FFFFF) - 0x00400000


def signed_scales(x, nmax):
    """make_qx_quants(16, nmax, x, L, rmse_type=1) for every row of x [subblocks, 16] at once; the
    sums run element by element in float32, as the C loop does. Returns (scale, L) per row."""
    rows, n = x.shape
    amax_at = np.argmax(np.abs(x), axis=1)  # first maximum, like the C loop's strict '>'
    mx = x[np.arange(rows), amax_at]
    zero = np.abs(mx) < F(1e-15)
    safe = np.where(zero, F(1), mx).astype(F)

    def sums(iscale):
        level = np.clip(nearest_int((iscale[:, None] * x).astype(F)), -nmax, nmax - 1)
        sumlx, suml2 = np.zeros(rows, F), np.zeros(rows, F)
        for i in range(n):
            w = (x[:, i] * x[:, i]).astype(F)
            l = level[:, i].astype(F)
            sumlx = (sumlx + ((w * x[:, i]).astype(F) * l).astype(F)).astype(F)
            suml2 = (suml2 + ((w * l).astype(F) * l).astype(F)).astype(F)
        return level, sumlx, suml2

    level, sumlx, suml2 = sums((F(-nmax) / safe).astype(F))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 != 0, (sumlx / suml2).astype(F), F(0)).astype(F)
    best = (scale * sumlx).astype(F)
    for step in [s for s in range(-9, 10) if s != 0]:
        candidate = (-(F(nmax) + (F(0.1) * F(step)).astype(F)).astype(F) / safe).astype(F)
        lv, slx, sl2 = sums(candidate)
        better = (sl2 > 0) & ((slx * slx).astype(F) > (best * sl2).astype(F))
        level = np.where(better[:, None], lv, level)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(better, (slx / sl2).astype(F), scale).astype(F)
        best = np.where(better, (scale * slx).astype(F), best).astype(F)
    scale = np.where(zero, F(0), scale).astype(F)
    level = np.where(zero[:, None], -nmax, level)
    return scale, (level + nmax).astype(np.int32)


def q6_k_reference(x):
    """quantize_row_q6_K_ref for x (a multiple of 256 float32 values): 210-byte blocks."""
    blocks = x.reshape(-1, 256)
    out = np.zeros((blocks.shape[0], 210), np.uint8)
    scales, codes = signed_scales(blocks.reshape(-1, 16), 32)
    scales, codes = scales.reshape(-1, 16), codes.reshape(-1, 256)
    for b in range(blocks.shape[0]):
        s = scales[b]
        at = int(np.argmax(np.abs(s)))
        max_scale = s[at]
        if abs(max_scale) < F(1e-15):
            continue
        iscale = (F(-128.0) / max_scale).astype(F) if isinstance(max_scale, np.ndarray) else F(F(-128.0) / max_scale)
        d16 = np.float16(F(F(1) / iscale))
        sub = np.minimum(127, nearest_int((iscale * s).astype(F))).astype(np.int8)
        L = codes[b].copy()
        for j in range(16):
            d = F(F(d16) * F(int(sub[j])))
            if d == 0:
                continue
            L[16 * j:16 * j + 16] = np.clip(nearest_int((blocks[b, 16 * j:16 * j + 16] / d).astype(F)), -32, 31) + 32
        ql, qh = np.zeros(128, np.uint8), np.zeros(64, np.uint8)
        for half in range(2):
            j = 128 * half
            for l in range(32):
                q = [int(L[j + l + 32 * k]) for k in range(4)]
                ql[64 * half + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
                ql[64 * half + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
                qh[32 * half + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
        out[b, :128], out[b, 128:192] = ql, qh
        out[b, 192:208] = sub.view(np.uint8)
        out[b, 208:210] = np.array([d16], np.float16).view(np.uint8)
    return out.reshape(-1)


def super_blocks(count, seed):
    """Super-blocks with the cases that matter: zeros, a constant, tiny values (below ggml's 1e-15
    threshold), one sub-block far larger than the rest (small sub-scales round to 0), outliers,
    negative-dominated blocks, and plain Gaussians of many scales."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = i % 8
        if kind == 0:
            b = np.zeros(256)
        elif kind == 1:
            b = np.full(256, -0.75)
        elif kind == 2:
            b = rng.standard_normal(256) * 1e-20
        elif kind == 3:
            b = rng.standard_normal(256) * 1e-3
            b[40:56] *= 1e5
        elif kind == 4:
            b = rng.standard_normal(256)
            b[7], b[200] = -40.0, 25.0
        elif kind == 5:
            b = -np.abs(rng.standard_normal(256))
        else:
            b = rng.standard_normal(256) * rng.uniform(1e-3, 1e3)
        out.append(b)
    return np.concatenate(out).astype(F)


def test_q6_k_matches_the_numpy_port_of_ggml_and_gguf_py_reads_it(tmp):
    x = super_blocks(96, seed=6)
    src, dst, back = tmp / "x.f32", tmp / "q.bin", tmp / "y.f32"
    src.write_bytes(x.tobytes())
    tool("avx512", "quantize-blocks", "Q6_K", src, dst)
    ours = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
    assert ours.size == 96 * 210
    expected = q6_k_reference(x)
    mismatched = np.flatnonzero(ours != expected)
    assert mismatched.size == 0, f"first differing bytes {mismatched[:8]} (block {mismatched[0] // 210})"
    # Layout: gguf-py's decoder gives exactly our dequantization.
    tool("avx512", "dequantize-blocks", "Q6_K", dst, back)
    mine = np.frombuffer(back.read_bytes(), dtype=F)
    theirs = gguf.quants.dequantize(ours.reshape(-1, 210), gguf.GGMLQuantizationType.Q6_K).reshape(-1)
    assert np.array_equal(mine.view(np.uint32), theirs.astype(F).view(np.uint32))
    # And it is a good 6-bit quantizer: per super-block, error within one step of the largest
    # sub-block; super-blocks whose values all stay under ggml's 1e-15 threshold become zeros.
    err = np.abs(mine - x).reshape(-1, 256).max(axis=1)
    amax = np.abs(x).reshape(-1, 256).max(axis=1)
    tiny = amax < 1e-15
    assert np.all(mine.reshape(-1, 256)[tiny] == 0) and tiny.sum() == 24  # the zero and the tiny kinds
    assert np.all(err[~tiny] <= amax[~tiny] / 31)


@pytest.mark.parametrize("rows", [1, 3])
def test_q6_k_refuses_partial_super_blocks(rows, tmp):
    src, dst = tmp / "x.f32", tmp / "q.bin"
    src.write_bytes(np.ones(rows * 256 + 32, F).tobytes())
    with pytest.raises(AssertionError, match="multiple of 256"):
        tool("avx512", "quantize-blocks", "Q6_K", src, dst)


def test_q6_k_preset_end_to_end(tmp):
    """`quantctl quantize --preset q6_k`: rows that are not whole super-blocks are an error naming the
    tensor and an override; with the override, gguf-py reads the artifact, each Q6_K tensor is the
    reference's bytes, and `quantctl dequantize` gives gguf-py's dequantization."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import save_file

    from conftest import quantctl

    rng = np.random.default_rng(3)
    tensors = {
        "blk.0.ffn_up.weight": rng.standard_normal((32, 512)).astype(F),
        "blk.0.attn_q.weight": (rng.standard_normal((16, 256)) * 0.02).astype(F),
        "blk.0.odd.weight": rng.standard_normal((8, 96)).astype(F),
        "output_norm.weight": np.ones(256, F),
    }
    src, out, back = tmp / "m.safetensors", tmp / "q.gguf", tmp / "back.safetensors"
    save_file(tensors, str(src))
    refused = quantctl("quantize", src, "-o", out, "--preset", "q6_k")
    assert refused.returncode == 1 and "blk.0.odd.weight" in refused.stderr and "block of 256" in refused.stderr
    assert '"type": "Q8_0"' in refused.stderr and not out.exists()
    recipe = tmp / "r.json"
    recipe.write_text(json.dumps({"preset": "q6_k", "overrides": [{"match": "blk.0.odd.weight", "weights": {"method": "gguf", "type": "Q8_0"}}]}))
    done = quantctl("quantize", src, "-o", out, "--recipe", recipe)
    assert done.returncode == 0, done.stderr
    by_name = {t.name: t for t in gguf.GGUFReader(str(out)).tensors}
    Q = gguf.GGMLQuantizationType
    assert by_name["blk.0.odd.weight"].tensor_type == Q.Q8_0
    assert by_name["output_norm.weight"].tensor_type == Q.F32
    assert quantctl("dequantize", out, "-o", back).returncode == 0
    with safe_open(str(back), framework="np") as f:
        for name in ["blk.0.ffn_up.weight", "blk.0.attn_q.weight"]:
            t = by_name[name]
            assert t.tensor_type == Q.Q6_K and list(reversed([int(d) for d in t.shape])) == list(tensors[name].shape)
            assert t.data.tobytes() == q6_k_reference(tensors[name]).tobytes(), name
            theirs = gguf.quants.dequantize(np.asarray(t.data), Q.Q6_K).reshape(tensors[name].shape)
            np.testing.assert_array_equal(f.get_tensor(name), theirs)
