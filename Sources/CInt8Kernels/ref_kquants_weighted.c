// K-quants with importance weights: ggml's quantize_row_q{2,3,4,5}_K_impl step by step, the path
// llama.cpp's quantize takes with an importance matrix. `qw` holds one weight per column of the row
// (llama.cpp: the mean squared activation of that input column over the calibration data); the
// searches then favour the columns whose inputs are large. Without weights the references in
// ref_kquants.c apply, as in ggml. Checked against a NumPy port of the same functions.
#include "internal.h"
#include <math.h>
#include <string.h>

/// ggml's make_qkx3_quants with weights and squared error: make_qkx2_quants with 37 candidates
/// (-0.9 + 0.05 k). Its flat test `max <= min` is make_qkx2_quants' `max == min`: min is at most
/// the smallest value, so max < min cannot happen (and NaN fails both).
static float qkx3_search(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min, uint8_t *Laux) {
    return qk_kquant_scale_min_search(n, nmax, x, weights, L, the_min, Laux, -0.9f, 0.05f, 36, 0);
}

/// ggml's make_qp_quants: unsigned codes in [0, nmax] for n non-negative values (the sub-block
/// scales or mins of a super-block) under one scale, weighted by qw (the sub-blocks' weight sums):
/// 9 candidate scales, then up to five passes that move single codes while the fit improves.
static float qp_search(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
    if (max < K_GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; ++i) L[i] = (uint8_t)k_nearest_int(iscale * x[i]);
    float scale = 1 / iscale;
    float best = 0;
    for (int i = 0; i < n; ++i) {
        float diff = x[i] - scale * L[i];
        best += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            int l = k_nearest_int(iscale_is * x[i]);
            l = l < nmax ? l : nmax;
            float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best) {
            best = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = k_nearest_int(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;  // ggml keeps the low byte; the sums below use l itself
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = k_nearest_int(x[i] * sl2 / slx);
                new_l = new_l < nmax ? new_l : nmax;
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++changed;
                    }
                }
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// The search weights of one Q4_K/Q5_K super-block from its importance weights qw (its 256
/// columns): qw_j * sqrt(sigma^2 + x_j^2), sigma^2 = 2 mean(x^2); and each sub-block's weight sum.
void qk_kquant_importance_weights(const float *x, const float *qw, float weights[QK_K], float sw[8]) {
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = 2 * sum_x2 / QK_K;
    for (int j = 0; j < QK_K / 32; ++j) {
        for (int l = 0; l < 32; ++l) weights[32 * j + l] = qw[32 * j + l] * sqrtf(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l) sumw += weights[32 * j + l];
        sw[j] = sumw;
    }
}

/// After the search: the 8 scales and 8 mins coded to 6 bits by qp_search (weighted by sw), packed,
/// and every code again against them. Q5_K caps the codes at 63 as ggml does; Q4_K stores them as
/// they come (qp_search never exceeds 63 for non-negative input).
void qk_kquant_weighted_finish(const float *x, int nmax, int cap, const float scales[8], const float mins[8], const float sw[8],
                               uint16_t *d16, uint16_t *dmin16, uint8_t packed[12], uint8_t L[QK_K]) {
    uint8_t Ls[8], Lm[8];
    const float d_block = qp_search(QK_K / 32, 63, scales, Ls, sw);
    const float m_block = qp_search(QK_K / 32, 63, mins, Lm, sw);
    if (cap) {
        for (int j = 0; j < QK_K / 32; ++j) {
            Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
            Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
        }
    }
    qk_kquant_pack_scale_min(Ls, Lm, packed);
    *d16 = qk_fp32_to_fp16(d_block);
    *dmin16 = qk_fp32_to_fp16(m_block);
    qk_kquant_requantize_scale_min(x, nmax, *d16, *dmin16, packed, L);
}

/// Super-block `index` of a Q5_K (q5) or Q4_K row from its search's scales, mins and codes: the
/// weighted finish, then the packing (the fast variants' step after their search).
void qk_kquant_weighted_store_q45(void *blocks, size_t index, const float *x, int nmax, int q5, const float scales[8], const float mins[8],
                                  const float sw[8], uint8_t L[QK_K]) {
    if (q5) {
        qk_block_q5_k *y = (qk_block_q5_k *)blocks + index;
        qk_kquant_weighted_finish(x, nmax, 1, scales, mins, sw, &y->d, &y->dmin, y->scales, L);
        qk_kquant_pack_q5_k(L, y->qh, y->qs);
    } else {
        qk_block_q4_k *y = (qk_block_q4_k *)blocks + index;
        qk_kquant_weighted_finish(x, nmax, 0, scales, mins, sw, &y->d, &y->dmin, y->scales, L);
        qk_kquant_pack_q4_k(L, y->qs);
    }
}

/// One Q4_K/Q5_K super-block with importance weights qw: scale and min per sub-block of 32 by
/// make_qkx3_quants, then the weighted finish.
static void weighted_scale_min(const float *x, const float *qw, int nmax, int cap, uint16_t *d16, uint16_t *dmin16, uint8_t packed[12],
                               uint8_t L[QK_K]) {
    uint8_t Laux[32];
    float weights[QK_K], sw[8], mins[8], scales[8];
    qk_kquant_importance_weights(x, qw, weights, sw);
    for (int j = 0; j < QK_K / 32; ++j) scales[j] = qkx3_search(32, nmax, x + 32 * j, weights + 32 * j, L + 32 * j, &mins[j], Laux);
    qk_kquant_weighted_finish(x, nmax, cap, scales, mins, sw, d16, dmin16, packed, L);
}

void qk_quantize_q4_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_block_q4_k *y = blocks;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        weighted_scale_min(x, qw, 15, 0, &y[i].d, &y[i].dmin, y[i].scales, L);
        qk_kquant_pack_q4_k(L, y[i].qs);
    }
}

void qk_quantize_q5_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_block_q5_k *y = blocks;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        weighted_scale_min(x, qw, 31, 1, &y[i].d, &y[i].dmin, y[i].scales, L);
        qk_kquant_pack_q5_k(L, y[i].qh, y[i].qs);
    }
}

/* Q6_K with weights is qk_quantize_q6_k_weighted_ref in ref_kquants.c: the reference with the
   importance weights in place of x^2. */

/// The search weights of one super-block's 16 sub-blocks of 16: qw_j * sqrt(sigma^2 + x_j^2), with
/// sigma^2 the mean square (Q2_K) or twice it (Q3_K), as ggml has them; and each sub-block's sum.
static void importance_weights_16(const float *x, const float *qw, int twice, float weights[QK_K], float sw[16]) {
    float sum_x2 = 0;
    for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
    const float sigma2 = twice ? 2 * sum_x2 / QK_K : sum_x2 / QK_K;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[16 * j + l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weights[16 * j + l];
        sw[j] = sumw;
    }
}

void qk_kquant_importance_weights_q2_k(const float *x, const float *qw, float weights[QK_K], float sw[16]) {
    importance_weights_16(x, qw, 0, weights, sw);
}

void qk_kquant_importance_weights_q3_k(const float *x, const float *qw, float weights[QK_K], float sw[16]) {
    importance_weights_16(x, qw, 1, weights, sw);
}

/// Q3_K after the sub-block search: the 16 scales' own signed search (weighted by the sub-blocks'
/// sums) gives their 6-bit codes and d, then the codes again.
void qk_kquant_weighted_finish_q3_k(const float *x, const float scales[16], const float sw[16], int8_t L[QK_K], void *block) {
    qk_block_q3_k *y = block;
    int8_t Ls[16];
    y->d = qk_fp32_to_fp16(qk_kquant_signed_scale(16, 32, scales, sw, Ls));
    qk_kquant_pack_q3_scales(Ls, y->scales);
    qk_kquant_requantize_q3_k(x, L, y);
}

/// Q2_K after the search: the 16 scales and mins coded to 4 bits by qp_search, then the codes again.
void qk_kquant_weighted_finish_q2_k(const float *x, const float scales[16], const float mins[16], const float sw[16], uint8_t L[QK_K],
                                   void *block) {
    qk_block_q2_k *y = block;
    uint8_t Ls[16], Lm[16];
    y->d = qk_fp32_to_fp16(qp_search(16, 15, scales, Ls, sw));
    y->dmin = qk_fp32_to_fp16(qp_search(16, 15, mins, Lm, sw));
    for (int j = 0; j < 16; ++j) y->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    qk_kquant_requantize_q2_k(x, L, y);
}

/// ggml's quantize_row_q2_K_impl: make_qkx3_quants over 16 values with codes 0...3.
void qk_quantize_q2_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    uint8_t L[QK_K], Laux[16];
    float weights[QK_K], sw[16], scales[16], mins[16];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q2_k(x, qw, weights, sw);
        for (int j = 0; j < 16; ++j) scales[j] = qkx3_search(16, 3, x + 16 * j, weights + 16 * j, L + 16 * j, &mins[j], Laux);
        qk_kquant_weighted_finish_q2_k(x, scales, mins, sw, L, (qk_block_q2_k *)blocks + i);
    }
}

/// ggml's quantize_row_q3_K_impl: the signed scale search (make_qx_quants) over each sub-block with
/// the weights, then the same search over the 16 scales (weighted by the sub-blocks' sums) for
/// their 6-bit codes under d.
void qk_quantize_q3_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    int8_t L[QK_K];
    float weights[QK_K], sw[16], scales[16];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q3_k(x, qw, weights, sw);
        for (int j = 0; j < 16; ++j) scales[j] = qk_kquant_signed_scale(16, 4, x + 16 * j, weights + 16 * j, L + 16 * j);
        qk_kquant_weighted_finish_q3_k(x, scales, sw, L, (qk_block_q3_k *)blocks + i);
    }
}
