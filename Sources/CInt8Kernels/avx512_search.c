// AVX-512 version of qk_candidate_error_ref: the same arithmetic per value and the same lane and
// reduction order, sixteen values at a time.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

static inline __m512 sq_error(__m512 x, qk_candidate c, __m512 low, __m512 high) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 zero = _mm512_set1_ps(c.zero);
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(c.inverse));
    t = _mm512_min_ps(_mm512_max_ps(t, low), high);
    __m512 q = _mm512_add_ps(_mm512_sub_ps(_mm512_add_ps(t, magic), magic), zero);
    q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(c.qmin)), _mm512_set1_ps(c.qmax));
    const __m512 e = _mm512_sub_ps(x, _mm512_mul_ps(_mm512_sub_ps(q, zero), _mm512_set1_ps(c.scale)));
    return _mm512_mul_ps(e, e);
}

static inline float reduce16(__m512 v) {
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));           // i + 8
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));                // i + 4
    __m128 d = _mm_add_ps(b, _mm_movehl_ps(b, b));                                                 // i + 2
    __m128 e = _mm_add_ss(d, _mm_shuffle_ps(d, d, 1));                                             // i + 1
    return _mm_cvtss_f32(e);
}

double qk_candidate_error_avx512(const float *x, size_t n, qk_candidate c, double bound) {
    const __m512 low = _mm512_set1_ps(c.qmin - c.zero - 1.0f), high = _mm512_set1_ps(c.qmax - c.zero + 1.0f);
    double total = 0;
    for (size_t start = 0; start < n; start += 32) {
        __m512 lanes = _mm512_setzero_ps();
        for (size_t half = 0; half < 2; half++) {
            const size_t first = start + half * 16;
            if (first >= n) break;
            const size_t count = n - first < 16 ? n - first : 16;
            const __mmask16 mask = (__mmask16)((1u << count) - 1u);
            const __m512 v = _mm512_maskz_loadu_ps(mask, x + first);
            // Masked-off lanes add nothing (the scalar reference skips them).
            lanes = _mm512_mask_add_ps(lanes, mask, lanes, sq_error(v, c, low, high));
        }
        total += reduce16(lanes);
        if (total > bound) break;
    }
    return total;
}

#pragma clang attribute pop
#endif
