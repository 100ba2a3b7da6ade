// Scalar references for ggml's K-quant super-blocks of 256 values:
// - Q6_K: 16 sub-blocks of 16, each with an int8 scale under one fp16 super-scale; 6-bit codes split
//   into low nibbles `ql` and high pairs `qh`.
// - Q4_K and Q5_K: 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min (packed in 12 bytes)
//   under fp16 super-scales d and dmin; 4-bit codes, plus one high bit each in `qh` for Q5_K.
// The arithmetic follows ggml's quantize_row_q{4,5,6}_K_ref step by step: the same weighted searches
// per sub-block, the same float evaluation order, no contraction (this target builds with
// -ffp-contract=off), and ggml's round-to-nearest trick. gguf-py can decode K-quants but not encode
// them, so the interop tests check the layout with gguf-py's dequantizer and the arithmetic against
// a NumPy port of the same reference.
#include "internal.h"
#include <math.h>
#include <string.h>

/// ggml's make_qx_quants (rmse_type 1): the scale of one sub-block of n values with signed codes in
/// [-nmax, nmax-1], chosen among 19 candidates to maximise (sum w x l)^2 / (sum w l^2) with w = x^2,
/// or w = qw (importance weights) when qw is not NULL; L receives codes + nmax.
float qk_kquant_signed_scale(int n, int nmax, const float *x, const float *qw, int8_t *L) {
    float max;
    if (k_largest_magnitude(n, x, &max) < K_GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = qw ? qw[i] : x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = qw ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = (int8_t)(nmax + k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void qk_kquant_finish_q6_k(const float *x, const float scales[16], int8_t L[QK_K], void *block) {
    qk_block_q6_k *y = block;
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        if (fabsf(scales[ib]) > max_abs_scale) {
            max_abs_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    memset(y, 0, sizeof *y);
    if (max_abs_scale < K_GROUP_EPS) return;  // all zero: d = 0 (fp16 +0 is all-zero bits)
    const float iscale = -128.f / max_scale;
    y->d = qk_fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        int s = k_nearest_int(iscale * scales[ib]);
        y->scales[ib] = (int8_t)(s < 127 ? s : 127);
    }
    for (int j = 0; j < QK_K / 16; ++j) {
        const float d = qk_fp16_to_fp32(y->d) * y->scales[j];
        if (!d) continue;  // keeps the codes of the search, as ggml does
        for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = (int8_t)(k_clamp(k_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
    }
    uint8_t *ql = y->ql, *qh = y->qh;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
            ql[l] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
    }
}

/// Q6_K of n values; with importance weights qw (NULL: x^2, the reference) laid out as x, ggml's
/// quantize_row_q6_K_impl, which differs from the reference only in the search's weights.
void qk_quantize_q6_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n) {
    qk_block_q6_k *y = blocks;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        const float *w = qw ? qw + i * QK_K : NULL;
        for (int ib = 0; ib < QK_K / 16; ++ib) scales[ib] = qk_kquant_signed_scale(16, 32, x + 16 * ib, w ? w + 16 * ib : NULL, L + 16 * ib);
        qk_kquant_finish_q6_k(x, scales, L, &y[i]);
    }
}

void qk_quantize_q6_k_ref(const float *x, void *blocks, size_t n) { qk_quantize_q6_k_weighted_ref(x, NULL, blocks, n); }

void qk_dequantize_q6_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q6_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

/// ggml's make_qkx2_quants: codes in [0, nmax] for x ~ scale * L - the_min, chosen among nstep + 1
/// candidate scales by the weighted squared error (or absolute error with use_mad, for Q2_K), each
/// candidate refined by a weighted least-squares fit of scale and min.
float qk_kquant_scale_min_search(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min, uint8_t *Laux,
                                 float rmin, float rdelta, int nstep, int use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = (uint8_t)k_clamp(k_nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        best_error += weights[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = k_clamp(k_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                error += weights[i] * (use_mad ? fabsf(diff) : diff * diff);
            }
            if (error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/// Q4_K's and Q5_K's search settings (ggml's): candidate offsets rmin + rdelta * k, k = 0...nstep.
const qk_kquant_search qk_q4_k_search = {15, -1.f, 0.1f, 20};
const qk_kquant_search qk_q5_k_search = {31, -0.5f, 0.1f, 15};

/// The scale and min of each sub-block of 32 of one super-block, searched with weights
/// rms(x) + |x| (ggml's), and each sub-block's codes.
static void k_search_super_block(const float *x, const qk_kquant_search *search, float scales[8], float mins[8], uint8_t L[QK_K]) {
    uint8_t Laux[32];
    float weights[32];
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = qk_kquant_scale_min_search(32, search->nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, search->rmin,
                                               search->rdelta, search->nstep, 0);
    }
}

/// Packs 8 six-bit scale codes and 8 six-bit min codes into Q4_K/Q5_K's 12 bytes.
void qk_kquant_pack_scale_min(const uint8_t ls[8], const uint8_t lm[8], uint8_t packed[12]) {
    memset(packed, 0, 12);
    for (int j = 0; j < QK_K / 32; ++j) {
        if (j < 4) {
            packed[j] = ls[j];
            packed[j + 4] = lm[j];
        } else {
            packed[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            packed[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            packed[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/// Every code again against the stored (rounded) sub-block scales and mins.
void qk_kquant_requantize_scale_min(const float *x, int nmax, uint16_t d16, uint16_t dmin16, const uint8_t packed[12], uint8_t L[QK_K]) {
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        qk_k_scale_min(j, packed, &sc, &m);
        const float d = qk_fp16_to_fp32(d16) * sc;
        if (!d) continue;  // keeps the codes of the search, as ggml does
        const float dm = qk_fp16_to_fp32(dmin16) * m;
        for (int ii = 0; ii < 32; ++ii) L[32 * j + ii] = (uint8_t)k_clamp(k_nearest_int((x[32 * j + ii] + dm) / d), 0, nmax);
    }
}

static void qk_kquant_finish(const float *x, int nmax, const float scales[8], const float mins[8], uint16_t *d16, uint16_t *dmin16,
                      uint8_t packed[12], uint8_t L[QK_K]) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < QK_K / 32; ++j) {
        ls[j] = (uint8_t)k_nearest_int(inv_scale * scales[j]);  // ggml keeps the low byte, then caps
        lm[j] = (uint8_t)k_nearest_int(inv_min * mins[j]);
        ls[j] = ls[j] < 63 ? ls[j] : 63;
        lm[j] = lm[j] < 63 ? lm[j] : 63;
    }
    qk_kquant_pack_scale_min(ls, lm, packed);
    *d16 = qk_fp32_to_fp16(max_scale / 63.f);
    *dmin16 = qk_fp32_to_fp16(max_min / 63.f);
    qk_kquant_requantize_scale_min(x, nmax, *d16, *dmin16, packed, L);
}

void qk_kquant_pack_q4_k(const uint8_t L[QK_K], uint8_t qs[128]) {
    for (int j = 0; j < QK_K; j += 64, qs += 32)
        for (int l = 0; l < 32; ++l) qs[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
}

void qk_kquant_pack_q5_k(const uint8_t L[QK_K], uint8_t qh[32], uint8_t qs[128]) {
    memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n64 = 0; n64 < QK_K; n64 += 64, qs += 32, m1 <<= 2, m2 <<= 2) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n64 + j], l2 = L[n64 + j + 32];
            if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
            if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
            qs[j] = (uint8_t)(l1 | (l2 << 4));
        }
    }
}

void qk_kquant_store_q4_k(void *blocks, size_t i, const float *x, const float scales[8], const float mins[8], uint8_t L[QK_K]) {
    qk_block_q4_k *y = (qk_block_q4_k *)blocks + i;
    qk_kquant_finish(x, qk_q4_k_search.nmax, scales, mins, &y->d, &y->dmin, y->scales, L);
    qk_kquant_pack_q4_k(L, y->qs);
}

void qk_kquant_store_q5_k(void *blocks, size_t i, const float *x, const float scales[8], const float mins[8], uint8_t L[QK_K]) {
    qk_block_q5_k *y = (qk_block_q5_k *)blocks + i;
    qk_kquant_finish(x, qk_q5_k_search.nmax, scales, mins, &y->d, &y->dmin, y->scales, L);
    qk_kquant_pack_q5_k(L, y->qh, y->qs);
}

static void quantize_scale_min(const float *x, size_t n, const qk_kquant_search *search, qk_kquant_store store, void *blocks) {
    uint8_t L[QK_K];
    float scales[8], mins[8];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        k_search_super_block(x, search, scales, mins, L);
        store(blocks, i, x, scales, mins, L);
    }
}

void qk_quantize_q4_k_ref(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q4_k_search, qk_kquant_store_q4_k, blocks); }
void qk_quantize_q5_k_ref(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q5_k_search, qk_kquant_store_q5_k, blocks); }

/// Dequantizes Q4_K (qh == NULL) or Q5_K: value = d * scale * code - dmin * min per sub-block.
static void k_dequantize_scale_min(uint16_t d16, uint16_t dmin16, const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, float *y) {
    const float d = qk_fp16_to_fp32(d16), min = qk_fp16_to_fp32(dmin16);
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < QK_K; j += 64, qs += 32, is += 2, u1 <<= 2, u2 <<= 2) {
        uint8_t sc, m;
        qk_k_scale_min(is, packed, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        qk_k_scale_min(is + 1, packed, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * ((qs[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * ((qs[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
    }
}

void qk_dequantize_q4_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q4_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) k_dequantize_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, y);
}

void qk_dequantize_q5_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q5_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) k_dequantize_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y);
}
