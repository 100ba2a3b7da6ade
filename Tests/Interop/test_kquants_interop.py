"""ggml's K-quant super-blocks (Q2_K to Q6_K). gguf-py decodes them but has no encoder, so the checks
are: gguf-py's dequantizer reads our blocks to exactly our own dequantization (the layout), and a
NumPy port of ggml's quantize_row_q{2,3,4,5,6}_K_ref arithmetic (float32, ggml's evaluation order),
written apart from the C, gives our bytes exactly (the arithmetic)."""
import gguf
import numpy as np
import pytest

from conftest import BIN  # noqa: F401  (the interop tool is built by the session)
from test_blocks_interop import ISAS, tool

F = np.float32


def nearest_int(v):
    """ggml's nearest_int on float32 arrays: the rounded integer left in the mantissa of v + 1.5*2^23."""
    shifted = (v.astype(F) + F(12582912.0)).astype(F)
    return (shifted.view(np.int32) & 0x007FFFFF) - 0x00400000


def signed_scales(x, nmax, weights=None):
    """make_qx_quants(16, nmax, x, L, rmse_type=1, weights) for every row of x [subblocks, 16] at
    once (weights x^2 when None); the sums run element by element in float32, as the C loop does.
    Returns (scale, L) per row."""
    rows, n = x.shape
    amax_at = np.argmax(np.abs(x), axis=1)  # first maximum, like the C loop's strict '>'
    mx = x[np.arange(rows), amax_at]
    zero = np.abs(mx) < F(1e-15)
    safe = np.where(zero, F(1), mx).astype(F)

    def sums(iscale):
        level = np.clip(nearest_int((iscale[:, None] * x).astype(F)), -nmax, nmax - 1)
        sumlx, suml2 = np.zeros(rows, F), np.zeros(rows, F)
        for i in range(n):
            w = (x[:, i] * x[:, i]).astype(F) if weights is None else weights[:, i]
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


def q6_k_reference(x, importance=None):
    """quantize_row_q6_K_ref for x (a multiple of 256 float32 values): 210-byte blocks; with
    per-column importance weights (one row's worth), quantize_row_q6_K_impl."""
    blocks = x.reshape(-1, 256)
    out = np.zeros((blocks.shape[0], 210), np.uint8)
    weights = None if importance is None else np.tile(importance.astype(F), x.size // importance.size).reshape(-1, 16)
    scales, codes = signed_scales(blocks.reshape(-1, 16), 32, weights)
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


def scale_min_search(x, w, nmax, rmin, rdelta, nstep, use_mad=False):
    """make_qkx2_quants (squared error, or absolute error with use_mad) for every row of x
    [subblocks, n] with weights w; sums run element by element in float32 as in C. Returns
    (scale, the_min, L)."""
    rows, n = x.shape
    # min and max as C finds them (strict comparisons from x[0]), so that a block of zeros keeps
    # the sign of its first zero in the_min, which Q4_1 and Q5_1 store.
    mn, mx = x[:, 0].copy(), x[:, 0].copy()
    sum_w, sum_x = w[:, 0].copy(), (w[:, 0] * x[:, 0]).astype(F)
    for i in range(1, n):
        mn = np.where(x[:, i] < mn, x[:, i], mn)
        mx = np.where(x[:, i] > mx, x[:, i], mx)
        sum_w = (sum_w + w[:, i]).astype(F)
        sum_x = (sum_x + (w[:, i] * x[:, i]).astype(F)).astype(F)
    mn = np.where(mn > 0, F(0), mn).astype(F)
    flat = mx == mn
    span = np.where(flat, F(1), (mx - mn).astype(F)).astype(F)

    def codes(iscale, minimum):
        return np.clip(nearest_int((iscale[:, None] * (x - minimum[:, None]).astype(F)).astype(F)), 0, nmax)

    def error(scale, minimum, L):
        total = np.zeros(rows, F)
        for i in range(n):
            diff = (((scale * L[:, i].astype(F)).astype(F) + minimum).astype(F) - x[:, i]).astype(F)
            cost = np.abs(diff) if use_mad else (diff * diff).astype(F)
            total = (total + (w[:, i] * cost).astype(F)).astype(F)
        return total

    iscale = (F(nmax) / span).astype(F)
    scale = (F(1) / iscale).astype(F)
    L = codes(iscale, mn)
    best = error(scale, mn, L)
    minimum = mn.copy()
    for step in range(nstep + 1):
        # As in ggml, each later candidate is measured from the best min found so far, not the
        # data's own minimum.
        span = np.where(flat, F(1), (mx - minimum).astype(F)).astype(F)
        iscale = ((F(rmin) + (F(rdelta) * F(step)).astype(F)).astype(F) + F(nmax)).astype(F) / span
        iscale = iscale.astype(F)
        Laux = codes(iscale, minimum)
        sl, sl2, sxl = np.zeros(rows, F), np.zeros(rows, F), np.zeros(rows, F)
        for i in range(n):
            l = Laux[:, i].astype(F)
            wl = (w[:, i] * l).astype(F)
            sl = (sl + wl).astype(F)
            sl2 = (sl2 + (wl * l).astype(F)).astype(F)
            sxl = (sxl + (wl * x[:, i]).astype(F)).astype(F)
        D = ((sum_w * sl2).astype(F) - (sl * sl).astype(F)).astype(F)
        ok = D > 0
        Ds = np.where(ok, D, F(1)).astype(F)
        this_scale = (((sum_w * sxl).astype(F) - (sum_x * sl).astype(F)).astype(F) / Ds).astype(F)
        this_min = (((sl2 * sum_x).astype(F) - (sl * sxl).astype(F)).astype(F) / Ds).astype(F)
        positive = this_min > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            this_scale = np.where(positive, (sxl / sl2).astype(F), this_scale).astype(F)
        this_min = np.where(positive, F(0), this_min).astype(F)
        err = error(this_scale, this_min, Laux)
        better = ok & (err < best) & ~flat
        L = np.where(better[:, None], Laux, L)
        best = np.where(better, err, best)
        scale = np.where(better, this_scale, scale).astype(F)
        minimum = np.where(better, this_min, minimum).astype(F)
    scale = np.where(flat, F(0), scale).astype(F)
    L = np.where(flat[:, None], 0, L)
    return scale, (-minimum).astype(F), L


def scale_min_blocks(x, nmax, rmin, rdelta, nstep):
    """What Q4_K and Q5_K share: (d16, dmin16, 12 packed scale bytes, 256 codes) per super-block."""
    sub = x.reshape(-1, 32)
    sum_x2 = np.zeros(sub.shape[0], F)
    for l in range(32):
        sum_x2 = (sum_x2 + (sub[:, l] * sub[:, l]).astype(F)).astype(F)
    av = np.sqrt((sum_x2 / F(32)).astype(F)).astype(F)
    w = (av[:, None] + np.abs(sub)).astype(F)
    scales, mins, L = scale_min_search(sub, w, nmax, rmin, rdelta, nstep)
    out = []
    for b in range(x.size // 256):
        s, m, codes = scales[8 * b:8 * b + 8], mins[8 * b:8 * b + 8], L[8 * b:8 * b + 8].reshape(-1).copy()
        max_scale, max_min = max(F(0), s.max()), max(F(0), m.max())
        inv_s = F(F(63) / max_scale) if max_scale > 0 else F(0)
        inv_m = F(F(63) / max_min) if max_min > 0 else F(0)
        ls = np.minimum(63, nearest_int((inv_s * s).astype(F)) & 0xFF)
        lm = np.minimum(63, nearest_int((inv_m * m).astype(F)) & 0xFF)
        d16, dmin16 = np.float16(F(max_scale / F(63))), np.float16(F(max_min / F(63)))
        out.append(finish_scale_min(x[256 * b:256 * b + 256], nmax, ls, lm, d16, dmin16, codes))
    return out


def finish_scale_min(v256, nmax, ls, lm, d16, dmin16, codes):
    """Packs 6-bit scale and min codes into 12 bytes and codes every value again against them."""
    packed = np.zeros(12, np.int64)
    for j in range(8):
        if j < 4:
            packed[j], packed[j + 4] = ls[j], lm[j]
        else:
            packed[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4)
            packed[j - 4] |= (ls[j] >> 4) << 6
            packed[j] |= (lm[j] >> 4) << 6
    packed &= 0xFF  # bytes, as in C (codes above 63 can only come from a wrapped negative)
    for j in range(8):
        sc, mm = (packed[j] & 63, packed[j + 4] & 63) if j < 4 else \
            ((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
        d = F(F(d16) * F(sc))
        if d == 0:
            continue
        dm = F(F(dmin16) * F(mm))
        v = v256[32 * j:32 * j + 32]
        codes[32 * j:32 * j + 32] = np.clip(nearest_int(((v + dm).astype(F) / d).astype(F)), 0, nmax)
    return d16, dmin16, packed.astype(np.uint8), codes


def q4_k_reference(x):
    return q4_k_pack(scale_min_blocks(x, 15, -1.0, 0.1, 20))


def q4_k_pack(super_blocks):
    blocks = []
    for d16, dmin16, packed, L in super_blocks:
        qs = np.concatenate([L[j:j + 32] | (L[j + 32:j + 64] << 4) for j in range(0, 256, 64)]).astype(np.uint8)
        blocks.append(np.concatenate([np.array([d16, dmin16], np.float16).view(np.uint8), packed, qs]))
    return np.concatenate(blocks)


def q5_k_reference(x):
    return q5_k_pack(scale_min_blocks(x, 31, -0.5, 0.1, 15))


def q5_k_pack(super_blocks):
    blocks = []
    for d16, dmin16, packed, L in super_blocks:
        qh = np.zeros(32, np.int64)
        qs = []
        for k, j in enumerate(range(0, 256, 64)):
            lo, hi = L[j:j + 32].copy(), L[j + 32:j + 64].copy()
            qh |= ((lo > 15).astype(np.int64) << (2 * k)) | ((hi > 15).astype(np.int64) << (2 * k + 1))
            qs.append((lo & 0xF) | ((hi & 0xF) << 4))
        blocks.append(np.concatenate([np.array([d16, dmin16], np.float16).view(np.uint8), packed, qh.astype(np.uint8),
                                      np.concatenate(qs).astype(np.uint8)]))
    return np.concatenate(blocks)


def pack_two_bit(L):
    """ggml's 2-bit packing: byte l of each 32 holds elements l, l+32, l+64, l+96 of its 128."""
    return np.concatenate([L[j:j + 32] | (L[j + 32:j + 64] << 2) | (L[j + 64:j + 96] << 4) | (L[j + 96:j + 128] << 6)
                           for j in range(0, 256, 128)]).astype(np.uint8)


def q2_k_reference(x):
    """quantize_row_q2_K_ref: 84-byte blocks (16 scale|min bytes, 64 code bytes, fp16 d, dmin)."""
    sub = x.reshape(-1, 16)
    scales, mins, L = scale_min_search(sub, np.abs(sub).astype(F), 3, -0.5, 0.1, 15, use_mad=True)
    blocks = []
    for b in range(x.size // 256):
        s, m, codes = scales[16 * b:16 * b + 16], mins[16 * b:16 * b + 16], L[16 * b:16 * b + 16].reshape(-1).copy()
        max_scale, max_min = max(F(0), s.max()), max(F(0), m.max())
        packed = np.zeros(16, np.int64)
        d16 = dmin16 = np.float16(0)
        if max_scale > 0:
            packed = nearest_int((F(F(15) / max_scale) * s).astype(F)) & 0xFF
            d16 = np.float16(F(max_scale / F(15)))
        if max_min > 0:
            packed = packed | ((nearest_int((F(F(15) / max_min) * m).astype(F)) << 4) & 0xFF)
            dmin16 = np.float16(F(max_min / F(15)))
        blocks.append(q2_k_block(x[256 * b:256 * b + 256], packed, d16, dmin16, codes))
    return np.concatenate(blocks)


def q2_k_block(v256, packed, d16, dmin16, codes):
    """One Q2_K block from its scale|min bytes, d and dmin: every code again, then the bytes."""
    for j in range(16):
        d = F(F(d16) * F(packed[j] & 0xF))
        if d == 0:
            continue
        dm = F(F(dmin16) * F(packed[j] >> 4))
        v = v256[16 * j:16 * j + 16]
        codes[16 * j:16 * j + 16] = np.clip(nearest_int(((v + dm).astype(F) / d).astype(F)), 0, 3)
    return np.concatenate([np.asarray(packed).astype(np.uint8), pack_two_bit(codes), np.array([d16, dmin16], np.float16).view(np.uint8)])


def q3_scales(x, nmax=4):
    """make_q3_quants(16, nmax, x, L, do_rmse=true) for every row of x [subblocks, 16]: signed codes,
    then five passes that move single codes while the weighted fit improves. Returns (scale, L + nmax;
    all-zero rows keep L = 0 as in C)."""
    rows, n = x.shape
    at = np.argmax(np.abs(x), axis=1)
    mx = x[np.arange(rows), at]
    zero = np.abs(mx) < F(1e-15)
    iscale = (F(-nmax) / np.where(zero, F(1), mx).astype(F)).astype(F)
    L = np.clip(nearest_int((iscale[:, None] * x).astype(F)), -nmax, nmax - 1)
    sumlx, suml2 = np.zeros(rows, F), np.zeros(rows, F)
    for i in range(n):
        w, l = (x[:, i] * x[:, i]).astype(F), L[:, i].astype(F)
        sumlx = (sumlx + ((w * x[:, i]).astype(F) * l).astype(F)).astype(F)
        suml2 = (suml2 + ((w * l).astype(F) * l).astype(F)).astype(F)
    # C stops a row after a pass without changes; later passes would change nothing either.
    for _ in range(5):
        for i in range(n):
            w, xi, li = (x[:, i] * x[:, i]).astype(F), x[:, i], L[:, i].astype(F)
            slx = (sumlx - ((w * xi).astype(F) * li).astype(F)).astype(F)
            sl2 = (suml2 - ((w * li).astype(F) * li).astype(F)).astype(F)
            positive = slx > 0
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                new = np.clip(nearest_int(((xi * sl2).astype(F) / np.where(positive, slx, F(1))).astype(F)), -nmax, nmax - 1)
            nl = new.astype(F)
            slx2 = (slx + ((w * xi).astype(F) * nl).astype(F)).astype(F)
            sl22 = (sl2 + ((w * nl).astype(F) * nl).astype(F)).astype(F)
            with np.errstate(over="ignore", invalid="ignore"):
                accept = positive & (new != L[:, i]) & (sl22 > 0) & \
                    (((slx2 * slx2).astype(F) * suml2).astype(F) > ((sumlx * sumlx).astype(F) * sl22).astype(F))
            L[:, i] = np.where(accept, new, L[:, i])
            sumlx = np.where(accept, slx2, sumlx).astype(F)
            suml2 = np.where(accept, sl22, suml2).astype(F)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 > 0, (sumlx / suml2).astype(F), F(0)).astype(F)
    scale = np.where(zero, F(0), scale).astype(F)
    return scale, np.where(zero[:, None], 0, L + nmax)


def q3_k_reference(x):
    """quantize_row_q3_K_ref: 110-byte blocks (32 hmask, 64 code bytes, 12 scale bytes, fp16 d)."""
    scales, L = q3_scales(x.reshape(-1, 16))
    blocks = []
    for b in range(x.size // 256):
        s, codes = scales[16 * b:16 * b + 16], L[16 * b:16 * b + 16].reshape(-1).copy()
        max_scale = s[int(np.argmax(np.abs(s)))]
        scale_codes = [0] * 16
        d16 = np.float16(0)
        if max_scale != 0:
            iscale = F(F(-32) / max_scale)
            scale_codes = [int(np.clip(nearest_int(np.array([iscale * s[j]], F))[0], -32, 31)) + 32 for j in range(16)]
            d16 = np.float16(F(F(1) / iscale))
        blocks.append(q3_k_block(x[256 * b:256 * b + 256], scale_codes, d16, codes))
    return np.concatenate(blocks)


def q3_k_block(v256, scale_codes, d16, codes):
    """One Q3_K block from its 16 six-bit scale codes and d: every code again, then the bytes."""
    packed = np.zeros(12, np.int64)
    for j, l in enumerate(scale_codes):
        if j < 8:
            packed[j] = l & 0xF
        else:
            packed[j - 8] |= (l & 0xF) << 4
        packed[j % 4 + 8] |= (l >> 4) << (2 * (j // 4))
    for j in range(16):
        low = packed[j] & 0xF if j < 8 else packed[j - 8] >> 4
        sc = (low | (((packed[8 + j % 4] >> (2 * (j // 4))) & 3) << 4)) - 32
        d = F(F(d16) * F(sc))
        if d == 0:
            continue
        v = v256[16 * j:16 * j + 16]
        codes[16 * j:16 * j + 16] = np.clip(nearest_int((v / d).astype(F)), -4, 3) + 4
    hmask = np.zeros(32, np.int64)
    for e in range(256):
        if codes[e] > 3:
            hmask[e % 32] |= 1 << (e // 32)
    return np.concatenate([hmask.astype(np.uint8), pack_two_bit(codes & 3), packed.astype(np.uint8), np.array([d16], np.float16).view(np.uint8)])


REFERENCES = {"Q2_K": (q2_k_reference, 84), "Q3_K": (q3_k_reference, 110), "Q4_K": (q4_k_reference, 144),
              "Q5_K": (q5_k_reference, 176), "Q6_K": (q6_k_reference, 210)}


def check_bytes_and_layout(qtype, size, dst, expected, back):
    """Our blocks in `dst` equal `expected` byte for byte, and gguf-py's decoder gives exactly our
    dequantization (the layout). Returns our dequantized values."""
    ours = np.frombuffer(dst.read_bytes(), dtype=np.uint8)
    mismatched = np.flatnonzero(ours != np.asarray(expected).reshape(-1))
    assert mismatched.size == 0, f"first differing bytes {mismatched[:8]} (block {mismatched[0] // size})"
    tool("avx512", "dequantize-blocks", qtype, dst, back)
    mine = np.frombuffer(back.read_bytes(), dtype=F)
    theirs = gguf.quants.dequantize(ours.reshape(-1, size), gguf.GGMLQuantizationType[qtype]).reshape(-1)
    assert np.array_equal(mine.view(np.uint32), theirs.astype(F).view(np.uint32))
    return mine


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


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("qtype", ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"])
def test_k_quants_match_the_numpy_port_of_ggml_and_gguf_py_reads_them(qtype, isa, tmp):
    reference, size = REFERENCES[qtype]
    x = super_blocks(97, seed=6)  # odd: the vector quantizers run super-blocks in pairs
    src, dst, back = tmp / "x.f32", tmp / "q.bin", tmp / "y.f32"
    src.write_bytes(x.tobytes())
    tool(isa, "quantize-blocks", qtype, src, dst)
    assert dst.stat().st_size == 97 * size
    mine = check_bytes_and_layout(qtype, size, dst, reference(x), back)
    # And the round trip is as good as the format: within one code step of the super-block's
    # largest sub-block (a step is range/15 for 4 bits, /31 for 5, amax/31 for Q6_K's signed codes);
    # super-blocks whose values all stay under ggml's 1e-15 threshold become zeros in Q6_K.
    err = np.abs(mine - x).reshape(-1, 256).max(axis=1)
    blocks = x.reshape(-1, 256)
    if qtype == "Q6_K":
        amax = np.abs(blocks).max(axis=1)
        tiny = amax < 1e-15
        assert np.all(mine.reshape(-1, 256)[tiny] == 0) and tiny.sum() == 25  # the zero and the tiny kinds
        assert np.all(err[~tiny] <= amax[~tiny] / 31)
    elif qtype == "Q3_K":
        # Signed 3-bit codes: one step is amax/4 (+1e-6 for the 1e-20 kind, below ggml's threshold).
        assert np.all(err <= np.abs(blocks).max(axis=1) / 4 + 1e-6)
    else:
        # (+1e-6: fp16 super-scales cannot hold the steps of the 1e-20 kind, which decode to ~0.)
        span = np.maximum(blocks.max(axis=1), 0) - np.minimum(blocks.min(axis=1), 0)
        assert np.all(err <= span / {"Q2_K": 3, "Q4_K": 15, "Q5_K": 31}[qtype] + 1e-6)


@pytest.mark.parametrize("qtype", ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"])
def test_k_quants_refuse_partial_super_blocks(qtype, tmp):
    src, dst = tmp / "x.f32", tmp / "q.bin"
    src.write_bytes(np.ones(3 * 256 + 32, F).tobytes())
    with pytest.raises(AssertionError, match="multiple of 256"):
        tool("avx512", "quantize-blocks", qtype, src, dst)


@pytest.mark.parametrize("preset", ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k"])
def test_k_quant_presets_end_to_end(preset, tmp):
    """`quantctl quantize --preset q2_k ... q6_k`: rows that are not whole super-blocks are an error
    naming the tensor and an override; with the override, gguf-py reads the artifact, each K-quant
    tensor is the reference's bytes, and `quantctl dequantize` gives gguf-py's dequantization."""
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
    refused = quantctl("quantize", src, "-o", out, "--preset", preset)
    assert refused.returncode == 1 and "blk.0.odd.weight" in refused.stderr and "block of 256" in refused.stderr
    assert '"type": "Q8_0"' in refused.stderr and not out.exists()
    recipe = tmp / "r.json"
    recipe.write_text(json.dumps({"preset": preset, "overrides": [{"match": "blk.0.odd.weight", "weights": {"method": "gguf", "type": "Q8_0"}}]}))
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
            qtype = Q[preset.upper()]
            assert t.tensor_type == qtype and list(reversed([int(d) for d in t.shape])) == list(tensors[name].shape)
            assert t.data.tobytes() == REFERENCES[preset.upper()][0](tensors[name].reshape(-1)).tobytes(), name
            theirs = gguf.quants.dequantize(np.asarray(t.data), qtype).reshape(tensors[name].shape)
            np.testing.assert_array_equal(f.get_tensor(name), theirs)


def test_fallback_takes_the_rows_a_k_quant_cannot(tmp):
    """`"fallback"`: tensors whose rows are not whole super-blocks take the named type (and the report
    says so); a K-quant fallback, which could not fit them either, is a recipe error."""
    import json

    from safetensors.numpy import save_file

    from conftest import quantctl

    rng = np.random.default_rng(4)
    tensors = {"blk.0.ffn_up.weight": rng.standard_normal((8, 512)).astype(F), "blk.0.attn_q.weight": rng.standard_normal((8, 384)).astype(F)}
    src, out, report, recipe = tmp / "m.safetensors", tmp / "q.gguf", tmp / "r.json", tmp / "recipe.json"
    save_file(tensors, str(src))
    assert "\"fallback\": \"Q8_0\"" in quantctl("quantize", src, "-o", out, "--preset", "q4_k").stderr
    recipe.write_text(json.dumps({"preset": "q4_k", "weights": {"fallback": "Q5_0"}}))
    done = quantctl("quantize", src, "-o", out, "--recipe", recipe, "--report", report)
    assert done.returncode == 0, done.stderr
    Q = gguf.GGMLQuantizationType
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(out)).tensors}
    assert types == {"blk.0.ffn_up.weight": Q.Q4_K, "blk.0.attn_q.weight": Q.Q5_0}
    by_name = {t["name"]: t for t in json.loads(report.read_text())["tensors"]}
    assert by_name["blk.0.attn_q.weight"]["type"] == "Q5_0" and by_name["blk.0.ffn_up.weight"]["type"] == "Q4_K"
    recipe.write_text(json.dumps({"preset": "q4_k", "weights": {"fallback": "Q6_K"}}))
    refused = quantctl("quantize", src, "-o", out, "--recipe", recipe)
    assert refused.returncode == 1 and "weights.fallback" in refused.stderr and "blocks of 32" in refused.stderr


def test_q4_k_m_mix_end_to_end(tmp):
    """`--preset q4_k_m` on a llama.cpp-named model of 8 layers: gguf-py reads the file, each tensor
    has llama.cpp's Q4_K_M type (Q6_K value projections and FFN down in layers 0, 3, 6, 7 and the
    head; Q5_0 where rows are not whole super-blocks), each block tensor is the reference's bytes,
    and `general.file_type` is 15 (LLAMA_FTYPE_MOSTLY_Q4_K_M)."""
    from safetensors.numpy import save_file

    from conftest import quantctl

    rng = np.random.default_rng(5)
    tensors = {"token_embd.weight": rng.standard_normal((16, 256)).astype(F), "output.weight": rng.standard_normal((16, 256)).astype(F),
               "output_norm.weight": np.ones(256, F)}
    for layer in range(8):
        for name in ["attn_q", "attn_v", "attn_output", "ffn_down"]:
            tensors[f"blk.{layer}.{name}.weight"] = (rng.standard_normal((4, 256)) * 0.05).astype(F)
    tensors["blk.0.ffn_gate.weight"] = rng.standard_normal((4, 320)).astype(F)  # not whole super-blocks
    src, out = tmp / "m.safetensors", tmp / "q.gguf"
    save_file(tensors, str(src))
    done = quantctl("quantize", src, "-o", out, "--preset", "q4_k_m")
    assert done.returncode == 0, done.stderr
    reader = gguf.GGUFReader(str(out))
    Q = gguf.GGMLQuantizationType
    expected = {"token_embd.weight": Q.Q4_K, "output.weight": Q.Q6_K, "output_norm.weight": Q.F32, "blk.0.ffn_gate.weight": Q.Q5_0}
    for layer in range(8):
        more = layer in (0, 3, 6, 7)
        expected |= {f"blk.{layer}.attn_q.weight": Q.Q4_K, f"blk.{layer}.attn_output.weight": Q.Q4_K,
                     f"blk.{layer}.attn_v.weight": Q.Q6_K if more else Q.Q4_K, f"blk.{layer}.ffn_down.weight": Q.Q6_K if more else Q.Q4_K}
    assert {t.name: t.tensor_type for t in reader.tensors} == expected
    for t in reader.tensors:
        x = tensors[t.name].reshape(-1)
        if t.tensor_type in (Q.Q4_K, Q.Q6_K):
            assert t.data.tobytes() == REFERENCES[t.tensor_type.name][0](x).tobytes(), t.name
        elif t.tensor_type == Q.Q5_0:
            assert t.data.tobytes() == gguf.quants.quantize(tensors[t.name], Q.Q5_0).tobytes(), t.name
    field = reader.fields["general.file_type"]
    assert int(field.parts[field.data[0]][0]) == 15
