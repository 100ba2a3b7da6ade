// AVX-512 K-quant quantizers: kquant_rows.h on 16 lanes. The expensive part is ggml's search for
// each sub-block's scale (Q6_K: 19 candidates over 16 values; Q4_K/Q5_K: 22 or 17 scale-and-min fits
// over 32 values; Q2_K: 17 over 16 values; Q3_K: up to five refinement passes over 16 values); it is a
// chain of sequential float sums within a sub-block, so instead of splitting a sub-block across lanes
// (which would reorder its sums), each lane runs one whole sub-block in the scalar order (separate
// multiply and add, no FMA). Also IQ4_NL.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

#include "simd_avx512.h"
#include "kquant_search.h"
#include "kquant_rows.h"

enum { LANES = V_LANES };

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
