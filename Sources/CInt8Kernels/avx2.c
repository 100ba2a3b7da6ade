// AVX2 variants (for hosts without AVX-512): the streaming linear kernels, fp16 conversion and a
// GEMM that widens to 16 bits (vpmaddwd), which is exact for every int8 input, unlike vpmaddubsw.
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

void qk_f16_to_f32_avx2(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = qk_fp16_to_fp32(in[i]);
    (void)tail_mask8;
}

void qk_gemm_avx2(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                  float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    size_t panels = b->n_pad / 16, steps = b->k_pad / 4;
    for (size_t m = m_begin; m < m_end; m++) {
        const int8_t *arow = a + m * lda;
        for (size_t p = 0; p < panels; p++) {
            const int8_t *panel = b->packed + p * (b->k_pad * 16);
            // acc[j] holds columns 4j..4j+3, two partial sums each.
            __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
            for (size_t s = 0; s < steps; s++) {
                int8_t quad[4] = {0, 0, 0, 0};
                for (int t = 0; t < 4 && s * 4 + (size_t)t < b->k; t++) quad[t] = arow[s * 4 + (size_t)t];
                int64_t a16 = (int64_t)(uint16_t)quad[0] | (int64_t)(uint16_t)quad[1] << 16 |
                              (int64_t)(uint16_t)quad[2] << 32 | (int64_t)(uint16_t)quad[3] << 48;
                __m256i av = _mm256_set1_epi64x(a16);
                const int8_t *w = panel + s * 64;
                for (int j = 0; j < 4; j++) {
                    __m256i w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + j * 16)));
                    acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(av, w16));
                }
            }
            for (int j = 0; j < 4; j++) {
                int32_t lanes[8];
                _mm256_storeu_si256((__m256i *)lanes, acc[j]);
                for (int c = 0; c < 4; c++) {
                    size_t n = p * 16 + (size_t)j * 4 + (size_t)c;
                    if (n >= b->n) continue;
                    int32_t v = lanes[2 * c] + lanes[2 * c + 1];
                    if (c32) c32[m * ldc + n] = v;
                    else cf[m * ldc + n] = ((float)v * a_scales[m]) * b_scales[n];
                }
            }
        }
    }
}

#pragma clang attribute pop
#endif
