// Scalar references for ggml's low-bit K-quants, super-blocks of 256 values in 16 sub-blocks of 16:
// - Q2_K: per sub-block a 4-bit scale and a 4-bit min under fp16 d and dmin; 2-bit codes.
// - Q3_K: per sub-block a 6-bit signed scale under one fp16 d; 3-bit signed codes split into two
//   low bits `qs` and a high-bit mask `hmask`.
// The arithmetic follows ggml's quantize_row_q{2,3}_K_ref step by step (what llama.cpp's quantize
// runs without an importance matrix), with the same float evaluation order and no contraction.
// Checked against a NumPy port of the same reference and gguf-py's decoders (Tests/Interop).
#include "internal.h"
#include <math.h>
#include <string.h>

/// Packs 2-bit codes as ggml does: byte l of each 32-byte group holds elements l, l+32, l+64, l+96
/// of its 128 values, lowest bits first.
static void pack_two_bit_codes(const uint8_t L[QK_K], uint8_t qs[64]) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/// The 16 two-bit codes of sub-block j (elements 16j ... 16j + 15).
static void two_bit_codes(const uint8_t qs[64], int j, int out[16]) {
    const uint8_t *q = qs + (j / 8) * 32 + (j % 2) * 16;
    const int shift = 2 * ((j % 8) / 2);
    for (int l = 0; l < 16; ++l) out[l] = (q[l] >> shift) & 3;
}

/// Q2_K's search settings (ggml's): codes 0...3, candidates -0.5 + 0.1 k, k = 0...15.
const qk_kquant_search qk_q2_k_search = {3, -0.5f, 0.1f, 15};

/// Super-block i of `blocks` from its 16 searched sub-block scales, mins and codes: 4-bit scales and
/// mins under fp16 d and dmin, then every code again against the stored (rounded) scales.
void qk_kquant_store_q2_k(void *blocks, size_t i, const float *x, const float scales[16], const float mins[16], uint8_t L[QK_K]) {
    qk_block_q2_k *y = (qk_block_q2_k *)blocks + i;
    const float q4scale = 15.f;
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    memset(y->scales, 0, 16);
    y->d = y->dmin = 0;
    if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) y->scales[j] = (uint8_t)k_nearest_int(iscale * scales[j]);
        y->d = qk_fp32_to_fp16(max_scale / q4scale);
    }
    if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j) y->scales[j] |= (uint8_t)(k_nearest_int(iscale * mins[j]) << 4);
        y->dmin = qk_fp32_to_fp16(max_min / q4scale);
    }
    qk_kquant_requantize_q2_k(x, L, y);
}

/// Every code of a Q2_K super-block again against its stored scales, d and dmin, then packed.
void qk_kquant_requantize_q2_k(const float *x, uint8_t L[QK_K], void *block) {
    qk_block_q2_k *y = block;
    for (int j = 0; j < 16; ++j) {
        const float d = qk_fp16_to_fp32(y->d) * (y->scales[j] & 0xF);
        if (!d) continue;  // keeps the codes of the search, as ggml does
        const float dm = qk_fp16_to_fp32(y->dmin) * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = (uint8_t)k_clamp(k_nearest_int((x[16 * j + ii] + dm) / d), 0, 3);
    }
    pack_two_bit_codes(L, y->qs);
}

void qk_quantize_q2_k_ref(const float *x, void *blocks, size_t n) {
    const qk_kquant_search *search = &qk_q2_k_search;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = qk_kquant_scale_min_search(16, search->nmax, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, search->rmin,
                                                   search->rdelta, search->nstep, 1);
        }
        qk_kquant_store_q2_k(blocks, i, x, scales, mins, L);
    }
}

void qk_dequantize_q2_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q2_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) {
        const float d = qk_fp16_to_fp32(x[i].d), min = qk_fp16_to_fp32(x[i].dmin);
        int codes[16];
        for (int j = 0; j < 16; ++j) {
            const uint8_t sc = x[i].scales[j];
            const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
            two_bit_codes(x[i].qs, j, codes);
            for (int l = 0; l < 16; ++l) y[16 * j + l] = dl * codes[l] - ml;
        }
    }
}

/// ggml's make_q3_quants with its rmse refinement: signed codes in [-nmax, nmax-1] (returned + nmax)
/// for one sub-block, the scale refit by weighted least squares (w = x^2) while single codes move.
static float q3_sub_block_scale(int n, int nmax, const float *x, int8_t *L) {
    float max;
    if (k_largest_magnitude(n, x, &max) < K_GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    const float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                const int new_l = k_clamp(k_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++changed;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// One Q3_K super-block from its 16 searched sub-block scales and codes: 6-bit signed scales under
/// an fp16 d, then every code again against the stored (rounded) scales.
void qk_kquant_finish_q3_k(const float *x, const float scales[16], int8_t L[QK_K], void *block) {
    qk_block_q3_k *y = block;
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
        const float scale = fabsf(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    int8_t codes[16] = {0};
    y->d = 0;
    if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) codes[j] = (int8_t)(k_clamp((int8_t)k_nearest_int(iscale * scales[j]), -32, 31) + 32);
        y->d = qk_fp32_to_fp16(1 / iscale);
    }
    qk_kquant_pack_q3_scales(codes, y->scales);
    qk_kquant_requantize_q3_k(x, L, y);
}

/// Packs 16 six-bit scale codes (0...63) into Q3_K's 12 bytes: low nibbles, then two high bits each.
void qk_kquant_pack_q3_scales(const int8_t codes[16], uint8_t packed[12]) {
    memset(packed, 0, 12);
    for (int j = 0; j < 16; ++j) {
        const int l = codes[j];
        if (j < 8) packed[j] = (uint8_t)(l & 0xF);
        else packed[j - 8] |= (uint8_t)((l & 0xF) << 4);
        packed[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

/// Every code of a Q3_K super-block again against its stored scales and d, then the high-bit mask
/// and the packed low bits.
void qk_kquant_requantize_q3_k(const float *x, int8_t L[QK_K], void *block) {
    qk_block_q3_k *y = block;
    for (int j = 0; j < 16; ++j) {
        const float d = qk_fp16_to_fp32(y->d) * (qk_q3_scale_code(y->scales, j) - 32);
        if (!d) continue;  // keeps the codes of the search, as ggml does
        for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = (int8_t)(k_clamp(k_nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
    }
    // High bit of element e: bit e / 32 of hmask[e % 32]; the low two bits pack as in Q2_K. Codes
    // are 0...7, so the high bit is bit 2 (branch-free: a test of L > 3 mispredicts half the time).
    uint8_t low[QK_K], hmask[32] = {0};
    for (int bit = 0; bit < 8; ++bit)
        for (int m = 0; m < 32; ++m) hmask[m] |= (uint8_t)(((L[32 * bit + m] >> 2) & 1) << bit);
    for (int e = 0; e < QK_K; ++e) low[e] = (uint8_t)(L[e] & 3);
    memcpy(y->hmask, hmask, 32);
    pack_two_bit_codes(low, y->qs);
}

void qk_quantize_q3_k_ref(const float *x, void *blocks, size_t n) {
    qk_block_q3_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        for (int j = 0; j < 16; ++j) scales[j] = q3_sub_block_scale(16, 4, x + 16 * j, L + 16 * j);
        qk_kquant_finish_q3_k(x, scales, L, &y[i]);
    }
}

void qk_dequantize_q3_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q3_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) {
        const float d = qk_fp16_to_fp32(x[i].d);
        int codes[16];
        for (int j = 0; j < 16; ++j) {
            const float dl = d * (qk_q3_scale_code(x[i].scales, j) - 32);
            const uint8_t *hmask = x[i].hmask + (j % 2) * 16;
            two_bit_codes(x[i].qs, j, codes);
            for (int l = 0; l < 16; ++l) y[16 * j + l] = dl * ((codes[l] | (((hmask[l] >> (j / 2)) & 1) << 2)) - 4);
        }
    }
}
