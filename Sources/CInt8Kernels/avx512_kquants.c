// AVX-512 K-quant quantizers, bit-exact with ref_kquants.c and ref_kquants_low.c. The expensive part
// is ggml's search for each sub-block's scale (Q6_K: 19 candidates over 16 values; Q4_K/Q5_K: 22 or
// 17 scale-and-min fits over 32 values; Q2_K: 17 over 16 values; Q3_K: up to five refinement passes over
// 16 values); it is a chain of sequential float
// sums within a sub-block, so instead of splitting a sub-block across lanes (which would reorder its
// sums), each of 16 lanes runs one whole sub-block: one Q6_K or Q2_K super-block or two Q4_K/Q5_K
// super-blocks per pass, every lane doing exactly the scalar operations in the scalar order
// (separate multiply and add, no FMA): the searches of kquant_search.h on 16 lanes. The steps after
// the search are the scalar ones (qk_kquant_store_*, qk_kquant_finish_q{3,6}_k).
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

#include "simd_avx512.h"
#include "kquant_search.h"

enum { LANES = V_LANES };

/// Super-blocks i and i+1 of x for a paired pass; an odd last one is copied into `padded` with a
/// zero super-block after it (its lanes are flat and ignored).
static inline const float *super_block_pair(const float *x, size_t i, size_t count, float padded[2 * QK_K]) {
    if (i + 1 < count) return x + i * QK_K;
    memcpy(padded, x + i * QK_K, QK_K * sizeof(float));
    memset(padded + QK_K, 0, QK_K * sizeof(float));
    return padded;
}

/// Two super-blocks per search pass (super_block_pair).
static void quantize_scale_min(const float *x, size_t n, const qk_kquant_search *search, qk_kquant_store store, void *blocks) {
    float scales[LANES], mins[LANES];
    uint8_t L[LANES * 32];
    float padded[2 * QK_K];
    const size_t count = n / QK_K;
    for (size_t i = 0; i < count; i += 2) {
        const float *pair = super_block_pair(x, i, count, padded);
        search_scale_min(pair, 32, 0, NULL, search, scales, mins, L);
        store(blocks, i, pair, scales, mins, L);
        if (i + 1 < count) store(blocks, i + 1, pair + QK_K, scales + 8, mins + 8, L + QK_K);
    }
}

/// Q6_K with importance weights qw laid out as x, or NULL for the reference's x^2.
void qk_quantize_q6_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n) {
    qk_block_q6_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        search_signed(x, qw ? qw + i * QK_K : NULL, 32, 16, scales, L);
        qk_kquant_finish_q6_k(x, scales, L, &y[i]);
    }
}

void qk_quantize_q6_k_avx512(const float *x, void *blocks, size_t n) { qk_quantize_q6_k_weighted_avx512(x, NULL, blocks, n); }

/// make_qkx3_quants (ref_kquants_weighted.c) is search_scale_min's search with given weights, 37
/// candidates from -0.9 in steps of 0.05 (its `max <= min` flat test equals `max == min` for finite
/// input). Two super-blocks per pass (super_block_pair).
static void quantize_weighted_scale_min(const float *x, const float *qw, void *blocks, size_t n_per_row, int nmax, int q5) {
    const qk_kquant_search search = {nmax, -0.9f, 0.05f, 36};
    float scales[LANES], mins[LANES], sw[16], weights[2 * QK_K], padded[2 * QK_K];
    uint8_t L[2 * QK_K];
    const size_t count = n_per_row / QK_K;
    for (size_t i = 0; i < count; i += 2) {
        const float *pair = super_block_pair(x, i, count, padded);
        qk_kquant_importance_weights(pair, qw + i * QK_K, weights, sw);
        if (i + 1 < count) qk_kquant_importance_weights(pair + QK_K, qw + (i + 1) * QK_K, weights + QK_K, sw + 8);
        else memset(weights + QK_K, 0, QK_K * sizeof(float));
        search_scale_min(pair, 32, 0, weights, &search, scales, mins, L);
        for (size_t b = 0; b < 2 && i + b < count; ++b) {
            qk_kquant_weighted_store_q45(blocks, i + b, pair + b * QK_K, nmax, q5, scales + 8 * b, mins + 8 * b, sw + 8 * b, L + b * QK_K);
        }
    }
}

void qk_quantize_q4_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 15, 0);
}

void qk_quantize_q5_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 31, 1);
}

void qk_quantize_q3_k_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q3_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        search_q3_k(x, scales, L);
        qk_kquant_finish_q3_k(x, scales, L, &y[i]);
    }
}

void qk_quantize_q2_k_avx512(const float *x, void *blocks, size_t n) {
    float scales[LANES], mins[LANES];
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        search_scale_min(x, 16, 1, NULL, &qk_q2_k_search, scales, mins, L);
        qk_kquant_store_q2_k(blocks, i, x, scales, mins, L);
    }
}

void qk_quantize_q4_k_avx512(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q4_k_search, qk_kquant_store_q4_k, blocks); }
void qk_quantize_q5_k_avx512(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q5_k_search, qk_kquant_store_q5_k, blocks); }

/// ggml's quantize_row_q2_K_impl: search_scale_min's search over 16 values with the given weights and
/// squared error, 37 candidates; the finish is the scalar one.
void qk_quantize_q2_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    const qk_kquant_search search = {3, -0.9f, 0.05f, 36};
    float scales[LANES], mins[LANES], weights[QK_K], sw[16];
    uint8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q2_k(x, qw, weights, sw);
        search_scale_min(x, 16, 0, weights, &search, scales, mins, L);
        qk_kquant_weighted_finish_q2_k(x, scales, mins, sw, L, (qk_block_q2_k *)blocks + i);
    }
}

/// ggml's quantize_row_q3_K_impl: the signed search with nmax 4 and the given weights per lane.
void qk_quantize_q3_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    float scales[16], weights[QK_K], sw[16];
    int8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q3_k(x, qw, weights, sw);
        search_signed(x, weights, 4, 16, scales, L);
        qk_kquant_weighted_finish_q3_k(x, scales, sw, L, (qk_block_q3_k *)blocks + i);
    }
}

// MARK: - IQ4_NL

/// ggml's best_index_int8 in every lane: the same bisection (four halvings take 15 to 1), then the
/// same comparison of the two distances; NaN ends at 15 as in the scalar code.
static inline __m512i iq4nl_index_x16(__m512 x, __m512 levels) {
    __m512i ml = _mm512_setzero_si512(), mu = _mm512_set1_epi32(15);
    for (int step = 0; step < 4; ++step) {
        const __mmask16 open = _mm512_cmpgt_epi32_mask(_mm512_sub_epi32(mu, ml), _mm512_set1_epi32(1));
        const __m512i mid = _mm512_srli_epi32(_mm512_add_epi32(ml, mu), 1);
        const __mmask16 below = _mm512_cmp_ps_mask(x, _mm512_permutexvar_ps(mid, levels), _CMP_LT_OQ);
        mu = _mm512_mask_blend_epi32(open & below, mu, mid);
        ml = _mm512_mask_blend_epi32(open & (__mmask16)~below, ml, mid);
    }
    const __m512i lower = _mm512_sub_epi32(mu, _mm512_set1_epi32(1));
    const __m512 below_gap = _mm512_sub_ps(x, _mm512_permutexvar_ps(lower, levels));
    const __m512 above_gap = _mm512_sub_ps(_mm512_permutexvar_ps(mu, levels), x);
    __m512i index = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(below_gap, above_gap, _CMP_LT_OQ), mu, lower);
    index = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, _mm512_set1_ps(qk_iq4nl_levels[15]), _CMP_GE_OQ), index, _mm512_set1_epi32(15));
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, _mm512_set1_ps(qk_iq4nl_levels[0]), _CMP_LE_OQ), index, _mm512_setzero_si512());
}

/// Σ w·q·x and Σ w·q·q over a block per lane, in the scalar order, for inverse scale `id`.
static inline void iq4nl_sums_x16(const __m512 *xt, const __m512 *wt, __m512 id, __m512 levels, __m512 *sumqx, __m512 *sumq2) {
    *sumqx = _mm512_setzero_ps();
    *sumq2 = _mm512_setzero_ps();
    for (int j = 0; j < QK_BLOCK; ++j) {
        const __m512 q = _mm512_permutexvar_ps(iq4nl_index_x16(_mm512_mul_ps(id, xt[j]), levels), levels);
        const __m512 wq = _mm512_mul_ps(wt[j], q);
        *sumqx = _mm512_add_ps(*sumqx, _mm512_mul_ps(wq, xt[j]));
        *sumq2 = _mm512_add_ps(*sumq2, _mm512_mul_ps(wq, q));
    }
}

/// 16 blocks of 32 at a time, one per lane, bit-identical to qk_quantize_iq4_nl_ref; a tail of
/// fewer than 16 blocks goes to the reference.
void qk_quantize_iq4_nl_avx512(const float *x, void *blocks, size_t n) {
    qk_block_iq4_nl *y = blocks;
    const size_t count = n / QK_BLOCK;
    // The levels as floats, for vpermps lookups.
    const __m512 levels = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)qk_iq4nl_levels)));
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        __m512 xt[QK_BLOCK], wt[QK_BLOCK], amax;
        v_gather(x + i * QK_BLOCK, QK_BLOCK, xt);
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = _mm512_mul_ps(xt[j], xt[j]);
        const __m512 max = largest_magnitude(xt, QK_BLOCK, &amax);
        const __mmask16 flat = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(K_GROUP_EPS), _CMP_LT_OQ);
        __m512 sumqx, sumq2;
        // d = -max / levels[0] (-127), searched from id = 1/d, then 15 candidates id = (itry + levels[0]) / max.
        __m512 d = _mm512_div_ps(_mm512_xor_ps(max, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(qk_iq4nl_levels[0]));
        iq4nl_sums_x16(xt, wt, _mm512_div_ps(_mm512_set1_ps(1), d), levels, &sumqx, &sumq2);
        d = _mm512_div_ps(sumqx, sumq2);
        __m512 best = _mm512_mul_ps(d, sumqx);
        for (int itry = -7; itry <= 7; ++itry) {
            iq4nl_sums_x16(xt, wt, _mm512_div_ps(_mm512_set1_ps((float)(itry + qk_iq4nl_levels[0])), max), levels, &sumqx, &sumq2);
            const __mmask16 better = _mm512_cmp_ps_mask(sumq2, _mm512_setzero_ps(), _CMP_GT_OQ) &
                                     _mm512_cmp_ps_mask(_mm512_mul_ps(sumqx, sumqx), _mm512_mul_ps(best, sumq2), _CMP_GT_OQ);
            d = _mm512_mask_div_ps(d, better, sumqx, sumq2);
            best = _mm512_mask_mul_ps(best, better, d, sumqx);
        }
        d = _mm512_maskz_mov_ps((__mmask16)~flat, d);
        // Codes from the float scale: id = d ? 1/d : 0 (NaN counts as non-zero, as in C).
        const __mmask16 nonzero = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        const __m512 id = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(1), d);
        float scales[LANES];
        int32_t codes[QK_BLOCK][LANES];
        _mm512_storeu_ps(scales, d);
        for (int j = 0; j < QK_BLOCK; ++j) _mm512_storeu_si512(codes[j], iq4nl_index_x16(_mm512_mul_ps(id, xt[j]), levels));
        for (int lane = 0; lane < LANES; ++lane) {
            y[i + lane].d = qk_fp32_to_fp16(scales[lane]);
            for (int j = 0; j < QK_BLOCK / 2; ++j) y[i + lane].qs[j] = (uint8_t)(codes[j][lane] | (codes[QK_BLOCK / 2 + j][lane] << 4));
        }
    }
    if (i < count) qk_quantize_iq4_nl_ref(x + i * QK_BLOCK, y + i, (count - i) * QK_BLOCK);
}

#pragma clang attribute pop
#endif
