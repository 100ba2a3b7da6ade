// AVX-512 error statistics: reconstruct r in registers (never stored) and accumulate in float
// vectors over runs of at most 256 elements, then in double.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma"))), apply_to = function)

typedef struct { __m512 xx, ee, xr, rr, worst; } accum;

static inline void accumulate(accum *a, __m512 x, __m512 r) {
    __m512 e = _mm512_sub_ps(x, r);
    a->xx = _mm512_add_ps(a->xx, _mm512_mul_ps(x, x));
    a->ee = _mm512_add_ps(a->ee, _mm512_mul_ps(e, e));
    a->xr = _mm512_add_ps(a->xr, _mm512_mul_ps(x, r));
    a->rr = _mm512_add_ps(a->rr, _mm512_mul_ps(r, r));
    a->worst = _mm512_max_ps(a->worst, _mm512_abs_ps(e));
}

static inline void flush(accum *a, qk_error_stats *stats) {
    stats->sum_xx += _mm512_reduce_add_ps(a->xx);
    stats->sum_ee += _mm512_reduce_add_ps(a->ee);
    stats->sum_xr += _mm512_reduce_add_ps(a->xr);
    stats->sum_rr += _mm512_reduce_add_ps(a->rr);
    float worst = _mm512_reduce_max_ps(a->worst);
    if (worst > stats->max_abs) stats->max_abs = worst;
    a->xx = a->ee = a->xr = a->rr = a->worst = _mm512_setzero_ps();
}

static inline __mmask16 mask_for(size_t remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}

void qk_error_avx512(const float *x, const float *r, size_t n, qk_error_stats *stats) {
    accum a = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    size_t since = 0;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = mask_for(n - i);
        accumulate(&a, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, r + i));
        if ((since += 16) >= 4096) { flush(&a, stats); since = 0; }
    }
    flush(&a, stats);
}

void qk_linear_error_avx512(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                            const float *scales, const int32_t *zero_points, qk_error_stats *stats) {
    accum a = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    size_t groups = qk_groups_per_row(cols, group), since = 0;
    for (size_t row = 0; row < rows; row++) {
        for (size_t g = 0; g < groups; g++) {
            size_t s = row * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            __m512 scale = _mm512_set1_ps(scales[s]);
            __m512i zp = _mm512_set1_epi32(zero_points ? zero_points[s] : 0);
            const float *xp = x + row * cols + begin;
            const uint8_t *qp = q + row * cols + begin;
            for (size_t i = 0; i < len; i += 16) {
                __mmask16 m = mask_for(len - i);
                __m128i bytes = _mm_maskz_loadu_epi8(m, qp + i);
                __m512i codes = is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
                __m512 r = _mm512_maskz_mul_ps(m, _mm512_cvtepi32_ps(_mm512_sub_epi32(codes, zp)), scale);
                accumulate(&a, _mm512_maskz_loadu_ps(m, xp + i), r);
                if ((since += 16) >= 4096) { flush(&a, stats); since = 0; }
            }
        }
    }
    flush(&a, stats);
}

#pragma clang attribute pop
#endif
