// AVX-512 K-quant quantizers, bit-exact with ref_kquants.c and ref_kquants_low.c. The expensive part
// is ggml's search for each sub-block's scale (Q6_K: 19 candidates over 16 values; Q4_K/Q5_K: 22 or
// 17 scale-and-min fits over 32 values; Q2_K: 17 over 16 values; Q3_K: up to five refinement passes over
// 16 values); it is a chain of sequential float
// sums within a sub-block, so instead of splitting a sub-block across lanes (which would reorder its
// sums), each of 16 lanes runs one whole sub-block: one Q6_K or Q2_K super-block or two Q4_K/Q5_K
// super-blocks per pass, every lane doing exactly the scalar operations in the scalar order
// (separate multiply and add, no FMA). The steps after the search are the scalar ones
// (qk_kquant_store_*, qk_kquant_finish_q{3,6}_k).
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

enum { LANES = 16, MAX_SUB = 32 };

/// ggml's nearest_int in every lane (see ref_kquants.c).
static inline __m512i nearest_epi32(__m512 v) {
    __m512i bits = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.f)));
    return _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
}

static inline __m512i clamp_epi32(__m512i v, int hi) {
    return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_setzero_si512()), _mm512_set1_epi32(hi));
}

/// Gathers 16 sub-blocks of n values laid out one after another: out[i] holds value i of each.
static inline void gather_x16(const float *x, int n, __m512 *out) {
    const __m512i lane_base = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(n));
    for (int i = 0; i < n; ++i) out[i] = _mm512_i32gather_ps(_mm512_add_epi32(lane_base, _mm512_set1_epi32(i)), x, 4);
}

/// Per lane, the first value of largest magnitude (k_largest_magnitude); its magnitude in *amax.
static inline __m512 largest_magnitude_x16(const __m512 *xt, int n, __m512 *amax) {
    __m512 max = _mm512_setzero_ps();
    *amax = _mm512_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __mmask16 larger = _mm512_cmp_ps_mask(_mm512_abs_ps(xt[i]), *amax, _CMP_GT_OQ);
        *amax = _mm512_mask_blend_ps(larger, *amax, _mm512_abs_ps(xt[i]));
        max = _mm512_mask_blend_ps(larger, max, xt[i]);
    }
    return max;
}

/// Stores signed codes + nmax for 16 sub-blocks of n (lane-major, as the scalar code lays them out);
/// an all-zero sub-block's codes are 0 (the scalar memset), not nmax.
static inline void store_signed_codes_x16(const __m512i *Lt, int n, __mmask16 zero, int nmax, int8_t *L) {
    int32_t lanes[LANES];
    for (int i = 0; i < n; ++i) {
        _mm512_storeu_si512(lanes, _mm512_maskz_add_epi32((__mmask16)~zero, Lt[i], _mm512_set1_epi32(nmax)));
        for (int lane = 0; lane < LANES; ++lane) L[lane * n + i] = (int8_t)lanes[lane];
    }
}

/// Super-blocks i and i+1 of x for a paired pass; an odd last one is copied into `padded` with a
/// zero super-block after it (its lanes are flat and ignored).
static inline const float *super_block_pair(const float *x, size_t i, size_t count, float padded[2 * QK_K]) {
    if (i + 1 < count) return x + i * QK_K;
    memcpy(padded, x + i * QK_K, QK_K * sizeof(float));
    memset(padded + QK_K, 0, QK_K * sizeof(float));
    return padded;
}

/// The weighted error term of one value: squared, or absolute (Q2_K's use_mad).
static inline __m512 error_term(__m512 w, __m512 diff, int use_mad) {
    return _mm512_mul_ps(w, use_mad ? _mm512_abs_ps(diff) : _mm512_mul_ps(diff, diff));
}

/// The search of qk_kquant_scale_min_search for 16 sub-blocks of sub values at once: x holds them
/// one after another; writes each one's scale, min (as ggml's the_min) and codes. Q4_K and Q5_K
/// (sub 32) weigh values by rms(x) + |x| and measure squared error; Q2_K (sub 16) weighs by |x| and
/// measures absolute error. Inlined into one copy per format, so sub and the flags are constants.
static inline __attribute__((always_inline)) void search_x16(const float *x, const int sub, const int q2, const float *given,
                                                             const qk_kquant_search *search, float scales[LANES], float mins[LANES], uint8_t *L) {
    __m512 xt[MAX_SUB], wt[MAX_SUB];
    __m512i Lt[MAX_SUB], Lx[MAX_SUB];
    gather_x16(x, sub, xt);
    if (given) {  // importance-weighted search weights, laid out as x
        gather_x16(given, sub, wt);
    } else if (q2) {
        for (int i = 0; i < sub; ++i) wt[i] = _mm512_abs_ps(xt[i]);
    } else {
        // Weights: rms(x) + |x| per sub-block.
        __m512 sum_x2 = _mm512_setzero_ps();
        for (int i = 0; i < sub; ++i) sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(xt[i], xt[i]));
        const __m512 av = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.f)));
        for (int i = 0; i < sub; ++i) wt[i] = _mm512_add_ps(av, _mm512_abs_ps(xt[i]));
    }

    __m512 min = xt[0], max = xt[0], sum_w = wt[0], sum_x = _mm512_mul_ps(wt[0], xt[0]);
    for (int i = 1; i < sub; ++i) {
        min = _mm512_min_ps(xt[i], min);  // (x < min) ? x : min, as the scalar `if`
        max = _mm512_max_ps(xt[i], max);
        sum_w = _mm512_add_ps(sum_w, wt[i]);
        sum_x = _mm512_add_ps(sum_x, _mm512_mul_ps(wt[i], xt[i]));
    }
    min = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(min, _mm512_setzero_ps(), _CMP_GT_OQ), min, _mm512_setzero_ps());
    const __mmask16 flat = _mm512_cmp_ps_mask(max, min, _CMP_EQ_OQ);
    const __m512 nmax = _mm512_set1_ps((float)search->nmax);

    __m512 iscale = _mm512_div_ps(nmax, _mm512_sub_ps(max, min));
    __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.f), iscale);
    __m512 best = _mm512_setzero_ps();
    for (int i = 0; i < sub; ++i) {
        Lt[i] = clamp_epi32(nearest_epi32(_mm512_mul_ps(iscale, _mm512_sub_ps(xt[i], min))), search->nmax);
        __m512 diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(Lt[i])), min), xt[i]);
        best = _mm512_add_ps(best, error_term(wt[i], diff, q2));
    }
    for (int is = 0; is <= search->nstep; ++is) {
        const float offset = search->rmin + search->rdelta * is + search->nmax;  // the scalar expression
        iscale = _mm512_div_ps(_mm512_set1_ps(offset), _mm512_sub_ps(max, min));
        __m512 sum_l = _mm512_setzero_ps(), sum_l2 = _mm512_setzero_ps(), sum_xl = _mm512_setzero_ps();
        for (int i = 0; i < sub; ++i) {
            Lx[i] = clamp_epi32(nearest_epi32(_mm512_mul_ps(iscale, _mm512_sub_ps(xt[i], min))), search->nmax);
            const __m512 l = _mm512_cvtepi32_ps(Lx[i]);
            const __m512 wl = _mm512_mul_ps(wt[i], l);
            sum_l = _mm512_add_ps(sum_l, wl);
            sum_l2 = _mm512_add_ps(sum_l2, _mm512_mul_ps(wl, l));
            sum_xl = _mm512_add_ps(sum_xl, _mm512_mul_ps(wl, xt[i]));
        }
        const __m512 D = _mm512_sub_ps(_mm512_mul_ps(sum_w, sum_l2), _mm512_mul_ps(sum_l, sum_l));
        const __mmask16 ok = _mm512_cmp_ps_mask(D, _mm512_setzero_ps(), _CMP_GT_OQ) & (__mmask16)~flat;
        if (!ok) continue;
        __m512 this_scale = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_w, sum_xl), _mm512_mul_ps(sum_x, sum_l)), D);
        __m512 this_min = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_l2, sum_x), _mm512_mul_ps(sum_l, sum_xl)), D);
        const __mmask16 positive = _mm512_cmp_ps_mask(this_min, _mm512_setzero_ps(), _CMP_GT_OQ);
        this_min = _mm512_mask_blend_ps(positive, this_min, _mm512_setzero_ps());
        this_scale = _mm512_mask_blend_ps(positive, this_scale, _mm512_div_ps(sum_xl, sum_l2));
        __m512 error = _mm512_setzero_ps();
        for (int i = 0; i < sub; ++i) {
            __m512 diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(this_scale, _mm512_cvtepi32_ps(Lx[i])), this_min), xt[i]);
            error = _mm512_add_ps(error, error_term(wt[i], diff, q2));
        }
        const __mmask16 better = ok & _mm512_cmp_ps_mask(error, best, _CMP_LT_OQ);
        if (!better) continue;
        for (int i = 0; i < sub; ++i) Lt[i] = _mm512_mask_blend_epi32(better, Lt[i], Lx[i]);
        best = _mm512_mask_blend_ps(better, best, error);
        scale = _mm512_mask_blend_ps(better, scale, this_scale);
        min = _mm512_mask_blend_ps(better, min, this_min);
    }
    // Flat sub-blocks: codes 0, scale 0, min as clamped (the scalar early return).
    scale = _mm512_mask_blend_ps(flat, scale, _mm512_setzero_ps());
    _mm512_storeu_ps(scales, scale);
    _mm512_storeu_ps(mins, _mm512_sub_ps(_mm512_setzero_ps(), min));
    int32_t lanes[LANES];
    for (int i = 0; i < sub; ++i) {
        _mm512_storeu_si512(lanes, _mm512_maskz_mov_epi32((__mmask16)~flat, Lt[i]));
        for (int lane = 0; lane < LANES; ++lane) L[lane * sub + i] = (uint8_t)lanes[lane];
    }
}

/// Two super-blocks per search pass (super_block_pair).
static void quantize_scale_min(const float *x, size_t n, const qk_kquant_search *search, qk_kquant_store store, void *blocks) {
    float scales[LANES], mins[LANES];
    uint8_t L[LANES * 32];
    float padded[2 * QK_K];
    const size_t count = n / QK_K;
    for (size_t i = 0; i < count; i += 2) {
        const float *pair = super_block_pair(x, i, count, padded);
        search_x16(pair, 32, 0, NULL, search, scales, mins, L);
        store(blocks, i, pair, scales, mins, L);
        if (i + 1 < count) store(blocks, i + 1, pair + QK_K, scales + 8, mins + 8, L + QK_K);
    }
}

/// qk_kquant_signed_scale (ref_kquants.c) with n = 16 for the 16 sub-blocks of one super-block at
/// once (Q6_K: nmax 32; Q3_K with importance weights: nmax 4): each one's scale and codes (+nmax).
static inline __attribute__((always_inline)) void search_signed_x16(const float *x, const float *qw, const int nmax, float scales[16],
                                                                    int8_t L[QK_K]) {
    enum { N = 16 };
    __m512 xt[N], wt[N], amax;
    __m512i Lt[N];
    gather_x16(x, N, xt);
    // The search's weights: x^2, or the importance weights.
    if (qw) gather_x16(qw, N, wt);
    else for (int i = 0; i < N; ++i) wt[i] = _mm512_mul_ps(xt[i], xt[i]);
    const __m512 max = largest_magnitude_x16(xt, N, &amax);
    const __mmask16 zero = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-15f), _CMP_LT_OQ);
    const __m512i lo = _mm512_set1_epi32(-nmax), hi = _mm512_set1_epi32(nmax - 1);
    __m512 iscale = _mm512_div_ps(_mm512_set1_ps((float)-nmax), max);
    __m512 sumlx = _mm512_setzero_ps(), suml2 = _mm512_setzero_ps();
    for (int i = 0; i < N; ++i) {
        Lt[i] = _mm512_min_epi32(_mm512_max_epi32(nearest_epi32(_mm512_mul_ps(iscale, xt[i])), lo), hi);
        const __m512 l = _mm512_cvtepi32_ps(Lt[i]);
        sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(wt[i], xt[i]), l));
        suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(wt[i], l), l));
    }
    __m512 scale = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(suml2, _mm512_setzero_ps(), _CMP_NEQ_UQ), sumlx, suml2);
    __m512 best = _mm512_mul_ps(scale, sumlx);
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float offset = -(nmax + 0.1f * is);  // the scalar expression
        iscale = _mm512_div_ps(_mm512_set1_ps(offset), max);
        __m512i Lx[N];
        sumlx = suml2 = _mm512_setzero_ps();
        for (int i = 0; i < N; ++i) {
            Lx[i] = _mm512_min_epi32(_mm512_max_epi32(nearest_epi32(_mm512_mul_ps(iscale, xt[i])), lo), hi);
            const __m512 l = _mm512_cvtepi32_ps(Lx[i]);
            sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(wt[i], xt[i]), l));
            suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(wt[i], l), l));
        }
        const __mmask16 better = _mm512_cmp_ps_mask(suml2, _mm512_setzero_ps(), _CMP_GT_OQ) &
                                 _mm512_cmp_ps_mask(_mm512_mul_ps(sumlx, sumlx), _mm512_mul_ps(best, suml2), _CMP_GT_OQ) & (__mmask16)~zero;
        if (!better) continue;
        for (int i = 0; i < N; ++i) Lt[i] = _mm512_mask_blend_epi32(better, Lt[i], Lx[i]);
        scale = _mm512_mask_blend_ps(better, scale, _mm512_div_ps(sumlx, suml2));
        best = _mm512_mask_blend_ps(better, best, _mm512_mul_ps(scale, sumlx));
    }
    _mm512_storeu_ps(scales, _mm512_mask_blend_ps(zero, scale, _mm512_setzero_ps()));
    store_signed_codes_x16(Lt, N, zero, nmax, L);
}

/// Q6_K with importance weights qw laid out as x, or NULL for the reference's x^2.
void qk_quantize_q6_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n) {
    qk_block_q6_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        search_signed_x16(x, qw ? qw + i * QK_K : NULL, 32, scales, L);
        qk_kquant_finish_q6_k(x, scales, L, &y[i]);
    }
}

void qk_quantize_q6_k_avx512(const float *x, void *blocks, size_t n) { qk_quantize_q6_k_weighted_avx512(x, NULL, blocks, n); }

/// make_qkx3_quants (ref_kquants_weighted.c) is search_x16's search with given weights, 37
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
        search_x16(pair, 32, 0, weights, &search, scales, mins, L);
        for (size_t b = 0; b < 2 && i + b < count; ++b) {
            const float *v = pair + b * QK_K;
            uint8_t *codes = L + b * QK_K;
            if (q5) {
                qk_block_q5_k *y = (qk_block_q5_k *)blocks + i + b;
                qk_kquant_weighted_finish(v, nmax, 1, scales + 8 * b, mins + 8 * b, sw + 8 * b, &y->d, &y->dmin, y->scales, codes);
                qk_kquant_pack_q5_k(codes, y->qh, y->qs);
            } else {
                qk_block_q4_k *y = (qk_block_q4_k *)blocks + i + b;
                qk_kquant_weighted_finish(v, nmax, 0, scales + 8 * b, mins + 8 * b, sw + 8 * b, &y->d, &y->dmin, y->scales, codes);
                qk_kquant_pack_q4_k(codes, y->qs);
            }
        }
    }
}

void qk_quantize_q4_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 15, 0);
}

void qk_quantize_q5_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 31, 1);
}

/// q3_sub_block_scale (ref_kquants_low.c) for the 16 sub-blocks of one Q3_K super-block at once:
/// signed codes in [-4, 3], then up to five passes that move single codes while the weighted fit
/// improves. A lane whose pass changed nothing stops in the scalar code; here it runs the later
/// passes, which cannot change it either (the same state gives the same decisions).
static void search_q3_k(const float *x, float scales[16], int8_t L[QK_K]) {
    enum { N = 16, NMAX = 4 };
    __m512 xt[N], wt[N], wx[N], amax;
    __m512i Lt[N];
    gather_x16(x, N, xt);
    for (int i = 0; i < N; ++i) {
        wt[i] = _mm512_mul_ps(xt[i], xt[i]);
        wx[i] = _mm512_mul_ps(wt[i], xt[i]);
    }
    const __m512 max = largest_magnitude_x16(xt, N, &amax);
    const __mmask16 zero = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-15f), _CMP_LT_OQ);
    const __m512i lo = _mm512_set1_epi32(-NMAX), hi = _mm512_set1_epi32(NMAX - 1);
    const __m512 iscale = _mm512_div_ps(_mm512_set1_ps((float)-NMAX), max);
    __m512 sumlx = _mm512_setzero_ps(), suml2 = _mm512_setzero_ps();
    for (int i = 0; i < N; ++i) {
        Lt[i] = _mm512_min_epi32(_mm512_max_epi32(nearest_epi32(_mm512_mul_ps(iscale, xt[i])), lo), hi);
        const __m512 l = _mm512_cvtepi32_ps(Lt[i]);
        sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(wx[i], l));
        suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(wt[i], l), l));
    }
    const __m512 zeros = _mm512_setzero_ps();
    for (int itry = 0; itry < 5; ++itry) {
        __mmask16 changed = 0;
        for (int i = 0; i < N; ++i) {
            const __m512 l = _mm512_cvtepi32_ps(Lt[i]);
            __m512 slx = _mm512_sub_ps(sumlx, _mm512_mul_ps(wx[i], l));
            const __mmask16 positive = _mm512_cmp_ps_mask(slx, zeros, _CMP_GT_OQ) & (__mmask16)~zero;
            if (!positive) continue;
            __m512 sl2 = _mm512_sub_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(wt[i], l), l));
            const __m512 ratio = _mm512_div_ps(_mm512_mul_ps(xt[i], sl2), _mm512_mask_blend_ps(positive, _mm512_set1_ps(1.f), slx));
            const __m512i new_l = _mm512_min_epi32(_mm512_max_epi32(nearest_epi32(ratio), lo), hi);
            const __mmask16 differs = positive & _mm512_cmpneq_epi32_mask(new_l, Lt[i]);
            if (!differs) continue;
            const __m512 nl = _mm512_cvtepi32_ps(new_l);
            slx = _mm512_add_ps(slx, _mm512_mul_ps(wx[i], nl));
            sl2 = _mm512_add_ps(sl2, _mm512_mul_ps(_mm512_mul_ps(wt[i], nl), nl));
            const __mmask16 accept = differs & _mm512_cmp_ps_mask(sl2, zeros, _CMP_GT_OQ) &
                                     _mm512_cmp_ps_mask(_mm512_mul_ps(_mm512_mul_ps(slx, slx), suml2),
                                                        _mm512_mul_ps(_mm512_mul_ps(sumlx, sumlx), sl2), _CMP_GT_OQ);
            Lt[i] = _mm512_mask_blend_epi32(accept, Lt[i], new_l);
            sumlx = _mm512_mask_blend_ps(accept, sumlx, slx);
            suml2 = _mm512_mask_blend_ps(accept, suml2, sl2);
            changed |= accept;
        }
        if (!changed) break;
    }
    const __m512 scale = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(suml2, zeros, _CMP_GT_OQ) & (__mmask16)~zero, sumlx, suml2);
    _mm512_storeu_ps(scales, scale);
    store_signed_codes_x16(Lt, N, zero, NMAX, L);
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
        search_x16(x, 16, 1, NULL, &qk_q2_k_search, scales, mins, L);
        qk_kquant_store_q2_k(blocks, i, x, scales, mins, L);
    }
}

void qk_quantize_q4_k_avx512(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q4_k_search, qk_kquant_store_q4_k, blocks); }
void qk_quantize_q5_k_avx512(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q5_k_search, qk_kquant_store_q5_k, blocks); }

/// ggml's quantize_row_q2_K_impl: search_x16's search over 16 values with the given weights and
/// squared error, 37 candidates; the finish is the scalar one.
void qk_quantize_q2_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    const qk_kquant_search search = {3, -0.9f, 0.05f, 36};
    float scales[LANES], mins[LANES], weights[QK_K], sw[16];
    uint8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q2_k(x, qw, weights, sw);
        search_x16(x, 16, 0, weights, &search, scales, mins, L);
        qk_kquant_weighted_finish_q2_k(x, scales, mins, sw, L, (qk_block_q2_k *)blocks + i);
    }
}

/// ggml's quantize_row_q3_K_impl: the signed search with nmax 4 and the given weights per lane.
void qk_quantize_q3_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    float scales[16], weights[QK_K], sw[16];
    int8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q3_k(x, qw, weights, sw);
        search_signed_x16(x, weights, 4, scales, L);
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
        gather_x16(x + i * QK_BLOCK, QK_BLOCK, xt);
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = _mm512_mul_ps(xt[j], xt[j]);
        const __m512 max = largest_magnitude_x16(xt, QK_BLOCK, &amax);
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
