// AVX-512 variants of the linear kernels. Each must equal its scalar reference in ref_linear.c
// (bit-exact), on any shape: every loop ends in a masked tail instead of a scalar remainder.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma"))), apply_to = function)

static inline __mmask16 tail_mask16(size_t remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}

/// Min/max of a run, skipping non-finite values; returns how many were non-finite.
static size_t range_run(const float *x, size_t len, float *mn, float *mx) {
    __m512 lo0 = _mm512_set1_ps(INFINITY), lo1 = lo0, hi0 = _mm512_set1_ps(-INFINITY), hi1 = hi0;
    const __m512 zero = _mm512_setzero_ps();
    size_t nonfinite = 0, i = 0;
    for (; i + 32 <= len; i += 32) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        // x - x is NaN exactly when x is Inf or NaN.
        __mmask16 fa = _mm512_cmp_ps_mask(_mm512_sub_ps(a, a), zero, _CMP_EQ_OQ);
        __mmask16 fb = _mm512_cmp_ps_mask(_mm512_sub_ps(b, b), zero, _CMP_EQ_OQ);
        if ((fa & fb) != 0xFFFF) nonfinite += (size_t)(32 - __builtin_popcount(fa) - __builtin_popcount(fb));
        lo0 = _mm512_mask_min_ps(lo0, fa, lo0, a);
        hi0 = _mm512_mask_max_ps(hi0, fa, hi0, a);
        lo1 = _mm512_mask_min_ps(lo1, fb, lo1, b);
        hi1 = _mm512_mask_max_ps(hi1, fb, hi1, b);
    }
    for (; i < len; i += 16) {
        __mmask16 m = tail_mask16(len - i);
        __m512 a = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 fa = _mm512_mask_cmp_ps_mask(m, _mm512_sub_ps(a, a), zero, _CMP_EQ_OQ);
        nonfinite += (size_t)(__builtin_popcount(m) - __builtin_popcount(fa));
        lo0 = _mm512_mask_min_ps(lo0, fa, lo0, a);
        hi0 = _mm512_mask_max_ps(hi0, fa, hi0, a);
    }
    *mn = _mm512_reduce_min_ps(_mm512_min_ps(lo0, lo1));
    *mx = _mm512_reduce_max_ps(_mm512_max_ps(hi0, hi1));
    return nonfinite;
}

size_t qk_minmax_avx512(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs) {
    size_t groups = qk_groups_per_row(cols, group), nonfinite = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t begin = g * group, len = begin + group < cols ? group : cols - begin;
            nonfinite += range_run(x + r * cols + begin, len, &mins[r * groups + g], &maxs[r * groups + g]);
        }
    return nonfinite;
}

static inline __m128i quantize16(__m512 x, __m512 inv, __m512 lo, __m512 hi, __m512i zp) {
    __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x, inv), lo), hi);
    __m512i q = _mm512_add_epi32(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    return _mm512_cvtepi32_epi8(q);
}

/// One run sharing a scale and zero point.
static void quantize_run(const float *x, size_t len, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                         uint8_t *out) {
    const __m512 inv = _mm512_set1_ps(inv_scale);
    const __m512 lo = _mm512_set1_ps((float)(qmin - zero_point)), hi = _mm512_set1_ps((float)(qmax - zero_point));
    const __m512i zp = _mm512_set1_epi32(zero_point);
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        __m128i a = quantize16(_mm512_loadu_ps(x + i), inv, lo, hi, zp);
        __m128i b = quantize16(_mm512_loadu_ps(x + i + 16), inv, lo, hi, zp);
        __m128i c = quantize16(_mm512_loadu_ps(x + i + 32), inv, lo, hi, zp);
        __m128i d = quantize16(_mm512_loadu_ps(x + i + 48), inv, lo, hi, zp);
        _mm_storeu_si128((__m128i *)(out + i), a);
        _mm_storeu_si128((__m128i *)(out + i + 16), b);
        _mm_storeu_si128((__m128i *)(out + i + 32), c);
        _mm_storeu_si128((__m128i *)(out + i + 48), d);
    }
    for (; i < len; i += 16) {
        __mmask16 m = tail_mask16(len - i);
        __m128i q = quantize16(_mm512_maskz_loadu_ps(m, x + i), inv, lo, hi, zp);
        _mm_mask_storeu_epi8(out + i, m, q);
    }
}

void qk_quantize_avx512(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                        const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out) {
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t s = r * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            quantize_run(x + r * cols + begin, len, inv_scales[s], zero_points ? zero_points[s] : 0, qmin, qmax,
                         out + r * cols + begin);
        }
}

void qk_quantize_cols_avx512(const float *x, size_t rows, size_t cols, const float *inv_scales,
                             const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 m = tail_mask16(cols - c);
            __m512i zp = zero_points ? _mm512_maskz_loadu_epi32(m, zero_points + c) : _mm512_setzero_si512();
            __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmin), zp));
            __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmax), zp));
            __m128i q = quantize16(_mm512_maskz_loadu_ps(m, x + r * cols + c), _mm512_maskz_loadu_ps(m, inv_scales + c), lo,
                                   hi, zp);
            _mm_mask_storeu_epi8(out + r * cols + c, m, q);
        }
}

static inline __m512i load_codes16(const uint8_t *q, __mmask16 m, int is_signed) {
    __m128i bytes = _mm_maskz_loadu_epi8(m, q);
    return is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

static void dequantize_run(const uint8_t *q, int is_signed, size_t len, float scale, int32_t zero_point, float *out) {
    const __m512 s = _mm512_set1_ps(scale);
    const __m512i zp = _mm512_set1_epi32(zero_point);
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        __m512i a = load_codes16(q + i, 0xFFFF, is_signed), b = load_codes16(q + i + 16, 0xFFFF, is_signed);
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, zp)), s));
        _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(b, zp)), s));
    }
    for (; i < len; i += 16) {
        __mmask16 m = tail_mask16(len - i);
        __m512i a = load_codes16(q + i, m, is_signed);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, zp)), s));
    }
}

void qk_dequantize_avx512(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                          const int32_t *zero_points, float *out) {
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < groups; g++) {
            size_t s = r * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            dequantize_run(q + r * cols + begin, is_signed, len, scales[s], zero_points ? zero_points[s] : 0,
                           out + r * cols + begin);
        }
}

void qk_dequantize_cols_avx512(const uint8_t *q, int is_signed, size_t rows, size_t cols, const float *scales,
                               const int32_t *zero_points, float *out) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c += 16) {
            __mmask16 m = tail_mask16(cols - c);
            __m512i zp = zero_points ? _mm512_maskz_loadu_epi32(m, zero_points + c) : _mm512_setzero_si512();
            __m512i a = load_codes16(q + r * cols + c, m, is_signed);
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, zp)), _mm512_maskz_loadu_ps(m, scales + c));
            _mm512_mask_storeu_ps(out + r * cols + c, m, v);
        }
}

// MARK: - Bit packing. 1, 2 and 4 bits have vector paths; 8 bits are copied, other widths go through words.

/// What of one row the vector paths pack (64 codes at a time, widths 1, 2 and 4); the columns taken.
static size_t pack_row(const uint8_t *src, size_t cols, int bits, uint8_t *dst) {
    if (bits != 1 && bits != 2 && bits != 4) return 0;
    const __m512i nibble = _mm512_set1_epi8(0x0F), pairs4 = _mm512_set1_epi16(0x1001);  // bytes (1, 16)
    const __m512i pairs2 = _mm512_set1_epi16(0x0401), quads2 = _mm512_set1_epi32(0x00100001);
    size_t c = 0;
    for (; c + 64 <= cols; c += 64) {
        __m512i v = _mm512_loadu_si512(src + c);
        if (bits == 4) {
            // (lo & 15) + 16 * (hi & 15) per byte pair, then narrow: 64 codes -> 32 bytes.
            __m512i w = _mm512_maddubs_epi16(_mm512_and_si512(v, nibble), pairs4);
            _mm256_storeu_si256((__m256i *)(dst + c / 2), _mm512_cvtepi16_epi8(w));
        } else if (bits == 2) {
            __m512i w = _mm512_maddubs_epi16(_mm512_and_si512(v, _mm512_set1_epi8(3)), pairs2);
            __m512i d = _mm512_madd_epi16(w, quads2);
            _mm_storeu_si128((__m128i *)(dst + c / 4), _mm512_cvtepi32_epi8(d));
        } else {
            uint64_t mask = _mm512_test_epi8_mask(v, _mm512_set1_epi8(1));
            memcpy(dst + c / 8, &mask, 8);
        }
    }
    return c;
}

void qk_pack_avx512(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out) {
    qk_pack_rows(codes, rows, cols, bits, out, pack_row);
}

/// 4-bit codes, 64 at a time; the columns taken.
static size_t unpack_row(const uint8_t *src, size_t cols, int bits, int sign_extend, uint8_t *dst) {
    if (bits != 4) return 0;
    const __m512i low = _mm512_set1_epi16(0x0F), eight = _mm512_set1_epi8(8);
    size_t c = 0;
    for (; c + 64 <= cols; c += 64) {
        __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(src + c / 2)));
        // Each 16-bit lane holds one byte: put its low nibble in the low byte, high in the high.
        __m512i v = _mm512_or_si512(_mm512_and_si512(w, low), _mm512_slli_epi16(_mm512_srli_epi16(w, 4), 8));
        if (sign_extend) v = _mm512_sub_epi8(_mm512_xor_si512(v, eight), eight);
        _mm512_storeu_si512(dst + c, v);
    }
    return c;
}

void qk_unpack_avx512(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out) {
    qk_unpack_rows(packed, rows, cols, bits, sign_extend, out, unpack_row);
}

// MARK: - Conversions to fp32

void qk_f16_to_f32_avx512(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(in + i))));
        _mm512_storeu_ps(out + i + 16, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(in + i + 16))));
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, in + i)));
    }
}

void qk_bf16_to_f32_avx512(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask16(n - i);
        __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, in + i)), 16);
        _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(v));
    }
}

void qk_e4m3_to_f32_avx512(const uint8_t *in, float *out, size_t n) {
    const __m512i mag_mask = _mm512_set1_epi32(0x7F), rebias = _mm512_set1_epi32(120 << 23);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask16(n - i);
        __m512i v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, in + i));
        __m512i mag = _mm512_and_si512(v, mag_mask);
        __m512i sign = _mm512_slli_epi32(_mm512_andnot_si512(mag_mask, v), 24);
        // Normals: move exponent and mantissa into place and rebias (7 -> 127). No reliance on
        // fp32 subnormal arithmetic, so a DAZ/FTZ mode set elsewhere cannot change the result.
        __m512 normal = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(mag, 20), rebias));
        __m512 sub = _mm512_mul_ps(_mm512_cvtepi32_ps(mag), _mm512_set1_ps(0x1p-9f));  // exponent 0: m * 2^-9
        __mmask16 is_sub = _mm512_cmplt_epi32_mask(mag, _mm512_set1_epi32(8));
        __mmask16 is_nan = _mm512_cmpeq_epi32_mask(mag, mag_mask);
        __m512 r = _mm512_mask_blend_ps(is_sub, normal, sub);
        r = _mm512_mask_blend_ps(is_nan, r, _mm512_set1_ps(NAN));
        r = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
        _mm512_mask_storeu_ps(out + i, m, r);
    }
}

void qk_e5m2_to_f32_avx512(const uint8_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask16(n - i);
        __m256i h = _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(m, in + i)), 8);
        _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(h));
    }
}

#pragma clang attribute pop
#endif
