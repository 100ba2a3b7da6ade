"""Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL with importance weights (what llama.cpp's quantize does with an
imatrix for these types): our bytes equal a NumPy port of ggml's quantize_row_q{4,5}_{0,1}_impl and
quantize_iq4_nl with quant_weights (the make_qx_quants and make_qkx3_quants ports of the K-quant
tests), on every ISA table; gguf-py decodes them. That the weights lower the weighted error is
tested with the K-quants' (test_kquants_imatrix.py)."""
import numpy as np
import pytest

from test_blocks_interop import ISAS, tool, tricky
from test_iq4nl_interop import iq4_nl_reference
from test_kquants_interop import F, check_bytes_and_layout, scale_min_search, signed_scales
from test_kquants_imatrix import importance_row


def row_weights(row, qw):
    """qw * sqrt(sigma2 + x^2), sigma2 the row's mean square summed in order in float32."""
    sum_x2 = F(0)
    for v in row:
        sum_x2 = F(sum_x2 + F(v * v))
    sigma2 = F(sum_x2 / F(row.size))
    return (qw * np.sqrt((sigma2 + (row * row).astype(F)).astype(F)).astype(F)).astype(F).reshape(-1, 32)


def fp16(v):
    return np.array([v], dtype=np.float16).tobytes()


def five_bit(L):
    qs = bytes(((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4)) for j in range(16))
    qh = 0
    for j in range(16):
        qh |= ((L[j] >> 4) & 1) << j
        qh |= ((L[j + 16] >> 4) & 1) << (j + 16)
    return qh.to_bytes(4, "little"), qs


def legacy_weighted(qtype, x, importance):
    """quantize_row_{q4_0,q4_1,q5_0,q5_1}_impl for every row of importance.size values."""
    out = bytearray()
    for row in x.reshape(-1, importance.size):
        w, blocks = row_weights(row, importance.astype(F)), row.reshape(-1, 32)
        if qtype in ("Q4_0", "Q5_0"):
            scales, L = signed_scales(blocks, 8 if qtype == "Q4_0" else 16, w)
            for d, codes in zip(scales, L):
                if qtype == "Q4_0":
                    out += fp16(d) + bytes(int(codes[j]) | (int(codes[j + 16]) << 4) for j in range(16))
                else:
                    qh, qs = five_bit([int(c) for c in codes])
                    out += fp16(d) + qh + qs
        else:
            scales, mins, L = scale_min_search(blocks, w, 15 if qtype == "Q4_1" else 31, -0.9, 0.05, 36)
            for d, the_min, codes in zip(scales, mins, L):
                head = fp16(d) + fp16(-the_min)
                if qtype == "Q4_1":
                    out += head + bytes(int(codes[j]) | (int(codes[j + 16]) << 4) for j in range(16))
                else:
                    qh, qs = five_bit([int(c) for c in codes])
                    out += head + qh + qs
    return np.frombuffer(bytes(out), dtype=np.uint8)


SIZES = {"Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "IQ4_NL": 18}


def reference(qtype, x, importance):
    return iq4_nl_reference(x, importance) if qtype == "IQ4_NL" else legacy_weighted(qtype, x, importance)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("qtype", list(SIZES))
def test_weighted_blocks_match_the_numpy_port_of_ggml(qtype, isa, tmp):
    cols = 480  # 15 blocks a row: a group of 8 lanes and a tail; each kind of tricky block in every position
    x = tricky(15 * 7, seed=21)
    importance = importance_row(cols, seed=4)
    src, weights, dst, back = tmp / "x.f32", tmp / "w.f32", tmp / "q.bin", tmp / "y.f32"
    src.write_bytes(x.tobytes())
    weights.write_bytes(importance.tobytes())
    tool(isa, "quantize-blocks-weighted", qtype, src, weights, dst)
    check_bytes_and_layout(qtype, SIZES[qtype], dst, reference(qtype, x, importance), back)
