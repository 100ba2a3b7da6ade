// AVX2 variants (for hosts without AVX-512): the streaming linear kernels and fp16 conversion
// (the GEMM is in avx2_gemm.c).
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline __m256i tail_mask8(size_t remaining) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(remaining >= 8 ? 8 : remaining)), index);
}

size_t qk_minmax_avx2(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs) {
    // Vector min/max for runs of finite values; the scalar reference for anything else.
    size_t groups = qk_groups_per_row(cols, group), nonfinite = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t begin = g * group, len = begin + group < cols ? group : cols - begin;
            const float *p = x + r * cols + begin;
            __m256 lo = _mm256_set1_ps(INFINITY), hi = _mm256_set1_ps(-INFINITY), bad = _mm256_setzero_ps();
            size_t i = 0;
            for (; i + 8 <= len; i += 8) {
                __m256 v = _mm256_loadu_ps(p + i);
                bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_NEQ_UQ));
                lo = _mm256_min_ps(lo, v);
                hi = _mm256_max_ps(hi, v);
            }
            if (_mm256_movemask_ps(bad)) {
                nonfinite += qk_minmax_ref(p, 1, len, len, &mins[r * groups + g], &maxs[r * groups + g]);
                continue;
            }
            float l[8], h[8];
            _mm256_storeu_ps(l, lo);
            _mm256_storeu_ps(h, hi);
            float mn = l[0], mx = h[0];
            for (int j = 1; j < 8; j++) {
                if (l[j] < mn) mn = l[j];
                if (h[j] > mx) mx = h[j];
            }
            for (; i < len; i++) {
                if (!isfinite(p[i])) { nonfinite++; continue; }
                if (p[i] < mn) mn = p[i];
                if (p[i] > mx) mx = p[i];
            }
            mins[r * groups + g] = mn;
            maxs[r * groups + g] = mx;
        }
    return nonfinite;
}

void qk_quantize_avx2(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                      const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out) {
    size_t groups = qk_groups_per_row(cols, group);
    const __m256i shuffle = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                                             -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t s = r * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            int32_t zp = zero_points ? zero_points[s] : 0;
            __m256 inv = _mm256_set1_ps(inv_scales[s]);
            __m256 lo = _mm256_set1_ps((float)(qmin - zp)), hi = _mm256_set1_ps((float)(qmax - zp));
            __m256i vzp = _mm256_set1_epi32(zp);
            const float *p = x + r * cols + begin;
            uint8_t *o = out + r * cols + begin;
            size_t i = 0;
            for (; i + 8 <= len; i += 8) {
                __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), inv), lo), hi);
                __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), vzp);
                __m256i bytes = _mm256_shuffle_epi8(q, shuffle);
                uint32_t a = (uint32_t)_mm256_extract_epi32(bytes, 0), b = (uint32_t)_mm256_extract_epi32(bytes, 4);
                memcpy(o + i, &a, 4);
                memcpy(o + i + 4, &b, 4);
            }
            if (i < len) qk_quantize_ref(p + i, 1, len - i, len - i, &inv_scales[s], zero_points ? &zero_points[s] : NULL, qmin, qmax, o + i);
        }
}

void qk_dequantize_avx2(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                        const int32_t *zero_points, float *out) {
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t s = r * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            __m256 scale = _mm256_set1_ps(scales[s]);
            __m256i zp = _mm256_set1_epi32(zero_points ? zero_points[s] : 0);
            const uint8_t *p = q + r * cols + begin;
            float *o = out + r * cols + begin;
            size_t i = 0;
            for (; i + 8 <= len; i += 8) {
                __m128i bytes = _mm_loadl_epi64((const __m128i *)(p + i));
                __m256i v = is_signed ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
                _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zp)), scale));
            }
            if (i < len) qk_dequantize_ref(p + i, is_signed, 1, len - i, len - i, &scales[s], zero_points ? &zero_points[s] : NULL, o + i);
        }
}

size_t qk_minmax_cols_avx2(const float *x, size_t rows, size_t cols, float *mins, float *maxs) {
    // Row by row, eight columns at a time against the running mins and maxs (in L1 for any
    // realistic width). Non-finite lanes (v - v is not 0) are replaced by the running value.
    size_t bad = 0, vector_cols = cols / 8 * 8;
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t c = 0; c < vector_cols; c += 8) {
            __m256 v = _mm256_loadu_ps(row + c), lo = _mm256_loadu_ps(mins + c), hi = _mm256_loadu_ps(maxs + c);
            __m256 finite = _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_EQ_OQ);
            bad += (size_t)__builtin_popcount((unsigned)(~_mm256_movemask_ps(finite) & 0xFF));
            // minps(a, b) = a < b ? a : b and maxps(a, b) = a > b ? a : b: the operand order gives
            // Swift's min (v < lo ? v : lo) and max (v >= hi ? v : hi), signed zeros included.
            _mm256_storeu_ps(mins + c, _mm256_blendv_ps(lo, _mm256_min_ps(v, lo), finite));
            _mm256_storeu_ps(maxs + c, _mm256_blendv_ps(hi, _mm256_max_ps(hi, v), finite));
        }
        if (vector_cols < cols) bad += qk_minmax_cols_ref(row + vector_cols, 1, cols - vector_cols, mins + vector_cols, maxs + vector_cols);
    }
    return bad;
}

void qk_f16_to_f32_avx2(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = qk_fp16_to_fp32(in[i]);
    (void)tail_mask8;
}

#pragma clang attribute pop
#endif
