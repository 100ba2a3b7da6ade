// AVX2 error statistics (hosts without AVX-512), as avx512_error.c: reconstruct r in registers and
// accumulate in float vectors over runs of at most 2048 elements (256 per lane, as the AVX-512
// version's 4096 over 16 lanes), then in double.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

typedef struct { __m256 xx, ee, xr, rr, worst; } accum;

static inline void accumulate(accum *a, __m256 x, __m256 r) {
    __m256 e = _mm256_sub_ps(x, r);
    a->xx = _mm256_add_ps(a->xx, _mm256_mul_ps(x, x));
    a->ee = _mm256_add_ps(a->ee, _mm256_mul_ps(e, e));
    a->xr = _mm256_add_ps(a->xr, _mm256_mul_ps(x, r));
    a->rr = _mm256_add_ps(a->rr, _mm256_mul_ps(r, r));
    a->worst = _mm256_max_ps(a->worst, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), e));
}

static inline double sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

static inline void flush(accum *a, qk_error_stats *stats) {
    stats->sum_xx += sum8(a->xx);
    stats->sum_ee += sum8(a->ee);
    stats->sum_xr += sum8(a->xr);
    stats->sum_rr += sum8(a->rr);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a->worst), _mm256_extractf128_ps(a->worst, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    const float worst = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    if (worst > stats->max_abs) stats->max_abs = worst;
    a->xx = a->ee = a->xr = a->rr = a->worst = _mm256_setzero_ps();
}

static inline __m256i lanes_below(size_t remaining) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(remaining >= 8 ? 8 : remaining)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static const size_t flush_every = 2048;

void qk_error_avx2(const float *x, const float *r, size_t n, qk_error_stats *stats) {
    accum a = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t since = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        accumulate(&a, _mm256_loadu_ps(x + i), _mm256_loadu_ps(r + i));
        if ((since += 8) >= flush_every) { flush(&a, stats); since = 0; }
    }
    if (i < n) {
        __m256i m = lanes_below(n - i);
        accumulate(&a, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(r + i, m));
    }
    flush(&a, stats);
}

void qk_linear_error_avx2(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                          const float *scales, const int32_t *zero_points, qk_error_stats *stats) {
    accum a = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t groups = qk_groups_per_row(cols, group), since = 0;
    for (size_t row = 0; row < rows; row++) {
        for (size_t g = 0; g < groups; g++) {
            size_t s = row * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            const __m256 scale = _mm256_set1_ps(scales[s]);
            const __m256i zp = _mm256_set1_epi32(zero_points ? zero_points[s] : 0);
            const float *xp = x + row * cols + begin;
            const uint8_t *qp = q + row * cols + begin;
            for (size_t i = 0; i < len; i += 8) {
                size_t count = len - i < 8 ? len - i : 8;
                uint8_t bytes[8] = {0};
                memcpy(bytes, qp + i, count);  // never reads past the codes
                __m128i packed = _mm_loadl_epi64((const __m128i *)bytes);
                __m256i codes = is_signed ? _mm256_cvtepi8_epi32(packed) : _mm256_cvtepu8_epi32(packed);
                __m256i m = lanes_below(count);
                __m256 r = _mm256_and_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(codes, zp)), scale), _mm256_castsi256_ps(m));
                accumulate(&a, _mm256_maskload_ps(xp + i, m), r);
                if ((since += 8) >= flush_every) { flush(&a, stats); since = 0; }
            }
        }
    }
    flush(&a, stats);
}

#pragma clang attribute pop
#endif
