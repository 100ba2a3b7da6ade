// AVX2 K-quant quantizers (hosts without AVX-512): kquant_rows.h on 8 lanes. Also the legacy blocks
// with importance weights and IQ4_NL, which the AVX-512 table uses too.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "simd_avx2.h"
#include "kquant_search.h"
#include "kquant_rows.h"

enum { LANES = V_LANES };

// MARK: - Q4_0 ... Q5_1 with importance weights

/// Eight consecutive blocks of 32 for qk_legacy_weighted_row: the signed search (Q4_0, Q5_0) or the
/// scale-and-min search with make_qkx3_quants' 37 candidates (Q4_1, Q5_1), one block per lane.
static void legacy_search8(const float *x, const float *weights, int nmax, int has_min, float scales[LANES], float the_min[LANES],
                           uint8_t L[LANES * QK_BLOCK]) {
    if (has_min) {
        const qk_kquant_search search = {nmax, -0.9f, 0.05f, 36};
        search_scale_min(x, QK_BLOCK, 0, weights, &search, scales, the_min, L);
    } else {
        search_signed(x, weights, nmax, QK_BLOCK, scales, (int8_t *)L);
        memset(the_min, 0, LANES * sizeof(float));
    }
}

void qk_quantize_q4_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_0, legacy_search8);
}

void qk_quantize_q4_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_1, legacy_search8);
}

void qk_quantize_q5_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_0, legacy_search8);
}

void qk_quantize_q5_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_1, legacy_search8);
}

// MARK: - IQ4_NL

/// The 16 levels as two vectors of floats, for lookups with two vpermps.
typedef struct { __m256 low, high; } iq4nl_table;

static inline __m256 iq4nl_level(iq4nl_table t, __m256i index) {
    const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.low, index), _mm256_permutevar8x32_ps(t.high, index), upper);
}

/// ggml's best_index_int8 in every lane: the same bisection (four halvings take 15 to 1), then the
/// same comparison of the two distances; NaN ends at 15 as in the scalar code.
static inline __m256i iq4nl_index8(__m256 x, iq4nl_table t) {
    __m256i ml = _mm256_setzero_si256(), mu = _mm256_set1_epi32(15);
    for (int step = 0; step < 4; ++step) {
        const __m256i open = _mm256_cmpgt_epi32(_mm256_sub_epi32(mu, ml), _mm256_set1_epi32(1));
        const __m256i mid = _mm256_srli_epi32(_mm256_add_epi32(ml, mu), 1);
        const __m256i below = _mm256_castps_si256(_mm256_cmp_ps(x, iq4nl_level(t, mid), _CMP_LT_OQ));
        mu = _mm256_blendv_epi8(mu, mid, _mm256_and_si256(open, below));
        ml = _mm256_blendv_epi8(ml, mid, _mm256_andnot_si256(below, open));
    }
    const __m256i lower = _mm256_sub_epi32(mu, _mm256_set1_epi32(1));
    const __m256 below_gap = _mm256_sub_ps(x, iq4nl_level(t, lower));
    const __m256 above_gap = _mm256_sub_ps(iq4nl_level(t, mu), x);
    __m256i index = _mm256_blendv_epi8(mu, lower, _mm256_castps_si256(_mm256_cmp_ps(below_gap, above_gap, _CMP_LT_OQ)));
    index = _mm256_blendv_epi8(index, _mm256_set1_epi32(15), _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_set1_ps(qk_iq4nl_levels[15]), _CMP_GE_OQ)));
    return _mm256_blendv_epi8(index, _mm256_setzero_si256(), _mm256_castps_si256(_mm256_cmp_ps(x, _mm256_set1_ps(qk_iq4nl_levels[0]), _CMP_LE_OQ)));
}

/// Σ w·q·x and Σ w·q·q over a block per lane, in the scalar order, for inverse scale `id`.
static inline void iq4nl_sums8(const __m256 *xt, const __m256 *wt, __m256 id, iq4nl_table t, __m256 *sumqx, __m256 *sumq2) {
    *sumqx = *sumq2 = _mm256_setzero_ps();
    for (int j = 0; j < QK_BLOCK; ++j) {
        const __m256 q = iq4nl_level(t, iq4nl_index8(_mm256_mul_ps(id, xt[j]), t));
        const __m256 wq = _mm256_mul_ps(wt[j], q);
        *sumqx = _mm256_add_ps(*sumqx, _mm256_mul_ps(wq, xt[j]));
        *sumq2 = _mm256_add_ps(*sumq2, _mm256_mul_ps(wq, q));
    }
}

/// 8 blocks of 32, one per lane, as qk_quantize_iq4_nl_ref (qw NULL: each value weighs its square)
/// or qk_quantize_iq4_nl_weighted_ref (qw laid out as x: qw * sqrt(sigma2 + x^2)).
static void iq4nl_blocks8(const float *x, const float *qw, qk_block_iq4_nl *y) {
    const iq4nl_table t = {
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)qk_iq4nl_levels))),
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qk_iq4nl_levels + 8)))),
    };
    const __m256 zero = _mm256_setzero_ps();
    __m256 xt[QK_BLOCK], wt[QK_BLOCK];
    v_gather(x, QK_BLOCK, xt);
    if (qw) {
        v_gather(qw, QK_BLOCK, wt);
        __m256 sigma2 = zero;
        for (int j = 0; j < QK_BLOCK; ++j) sigma2 = _mm256_add_ps(sigma2, _mm256_mul_ps(xt[j], xt[j]));
        sigma2 = _mm256_mul_ps(sigma2, _mm256_set1_ps(2.f / QK_BLOCK));
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = _mm256_mul_ps(wt[j], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[j], xt[j]))));
    } else {
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = _mm256_mul_ps(xt[j], xt[j]);
    }
    __m256 amax;
    const __m256 max = largest_magnitude(xt, QK_BLOCK, &amax);
    const __m256 flat = _mm256_cmp_ps(amax, _mm256_set1_ps(K_GROUP_EPS), _CMP_LT_OQ);
    __m256 sumqx, sumq2;
    // d = -max / levels[0] (-127), searched from id = 1/d, then 15 candidates id = (itry + levels[0]) / max.
    __m256 d = _mm256_div_ps(_mm256_xor_ps(max, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(qk_iq4nl_levels[0]));
    iq4nl_sums8(xt, wt, _mm256_div_ps(_mm256_set1_ps(1), d), t, &sumqx, &sumq2);
    d = _mm256_div_ps(sumqx, sumq2);
    __m256 best = _mm256_mul_ps(d, sumqx);
    for (int itry = -7; itry <= 7; ++itry) {
        iq4nl_sums8(xt, wt, _mm256_div_ps(_mm256_set1_ps((float)(itry + qk_iq4nl_levels[0])), max), t, &sumqx, &sumq2);
        const __m256 better = _mm256_and_ps(vm_gt(sumq2, zero), vm_gt(_mm256_mul_ps(sumqx, sumqx), _mm256_mul_ps(best, sumq2)));
        d = _mm256_blendv_ps(d, _mm256_div_ps(sumqx, sumq2), better);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(d, sumqx), better);
    }
    d = _mm256_andnot_ps(flat, d);
    // Codes from the float scale: id = d ? 1/d : 0 (NaN counts as non-zero, as in C).
    const __m256 id = _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1), d), _mm256_cmp_ps(d, zero, _CMP_NEQ_UQ));
    float scales[LANES];
    int32_t codes[QK_BLOCK][LANES];
    _mm256_storeu_ps(scales, d);
    for (int j = 0; j < QK_BLOCK; ++j) _mm256_storeu_si256((__m256i *)codes[j], iq4nl_index8(_mm256_mul_ps(id, xt[j]), t));
    for (int lane = 0; lane < LANES; ++lane) {
        y[lane].d = qk_fp32_to_fp16(scales[lane]);
        for (int j = 0; j < QK_BLOCK / 2; ++j) y[lane].qs[j] = (uint8_t)(codes[j][lane] | (codes[QK_BLOCK / 2 + j][lane] << 4));
    }
}

/// 8 blocks at a time; a tail of fewer goes to the reference.
void qk_quantize_iq4_nl_avx2(const float *x, void *blocks, size_t n) {
    qk_block_iq4_nl *y = blocks;
    const size_t count = n / QK_BLOCK;
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) iq4nl_blocks8(x + i * QK_BLOCK, NULL, y + i);
    if (i < count) qk_quantize_iq4_nl_ref(x + i * QK_BLOCK, y + i, (count - i) * QK_BLOCK);
}

void qk_quantize_iq4_nl_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_block_iq4_nl *y = blocks;
    const size_t count = n_per_row / QK_BLOCK;
    size_t i = 0;
    for (; i + LANES <= count; i += LANES) iq4nl_blocks8(x + i * QK_BLOCK, qw + i * QK_BLOCK, y + i);
    if (i < count) qk_quantize_iq4_nl_weighted_ref(x + i * QK_BLOCK, qw + i * QK_BLOCK, y + i, (count - i) * QK_BLOCK);
}

#pragma clang attribute pop
#endif
