// AVX-512 variants of ggml's block quantizers, bit-exact with ref_blocks.c (and so with ggml's
// scalar reference, which llama.cpp's quantize tool uses). Each step keeps the reference's fp32
// operations: separate multiply and add (no FMA), truncating conversions where the reference casts,
// ties away from zero where it calls roundf, and the reference's choice among equal extremes.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <float.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma"))), apply_to = function)

static inline uint16_t fp16_of(float v) {
    return (uint16_t)_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline __m512 abs_ps(__m512 v) { return _mm512_abs_ps(v); }

/// roundf(): round half away from zero, exactly (t = trunc(v); add ±1 when |v - t| >= 0.5).
static inline __m512i round_away_epi32(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

/// max |x| of four consecutive blocks at once: one shared shuffle tree instead of four
/// reductions (the reduction, not memory, bounds the per-block quantizers).
static inline __m128 absmax4(const float *x) {
    __m512 a = _mm512_max_ps(abs_ps(_mm512_loadu_ps(x)), abs_ps(_mm512_loadu_ps(x + 16)));
    __m512 b = _mm512_max_ps(abs_ps(_mm512_loadu_ps(x + 32)), abs_ps(_mm512_loadu_ps(x + 48)));
    __m512 c = _mm512_max_ps(abs_ps(_mm512_loadu_ps(x + 64)), abs_ps(_mm512_loadu_ps(x + 80)));
    __m512 d = _mm512_max_ps(abs_ps(_mm512_loadu_ps(x + 96)), abs_ps(_mm512_loadu_ps(x + 112)));
    // 256-bit halves: ab = [max(a.lo,a.hi) | max(b.lo,b.hi)], cd likewise.
    __m512 ab = _mm512_max_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    __m512 cd = _mm512_max_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    // 128-bit quarters: lane q of the result belongs to block q (a, b, c, d).
    __m512 abcd = _mm512_max_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    abcd = _mm512_max_ps(abcd, _mm512_permute_ps(abcd, 0x4E));
    abcd = _mm512_max_ps(abcd, _mm512_permute_ps(abcd, 0xB1));
    // Element 4q of abcd now holds block q's max.
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), abcd));
}

/// max |x| of block i (starting at `b`): from a shared 4-block reduction wherever a whole group of
/// four blocks exists (computed at the group's first block into `maxima`), alone otherwise.
static inline float block_amax(const float *b, size_t i, size_t nb, float maxima[4], __m512 v0, __m512 v1) {
    if (i % 4 == 0 && i + 4 <= nb) _mm_storeu_ps(maxima, absmax4(b));
    return (i / 4 * 4 + 4 <= nb) ? maxima[i % 4] : _mm512_reduce_max_ps(_mm512_max_ps(abs_ps(v0), abs_ps(v1)));
}

void qk_quantize_q8_0_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q8_0 *y = blocks;
    size_t nb = n / QK_BLOCK;
    float maxima[4];
    for (size_t i = 0; i < nb; i++) {
        __m512 v0 = _mm512_loadu_ps(x + i * 32), v1 = _mm512_loadu_ps(x + i * 32 + 16);
        const float amax = block_amax(x + i * 32, i, nb, maxima, v0, v1);
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtepi32_epi8(round_away_epi32(_mm512_mul_ps(v0, vid))));
        _mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtepi32_epi8(round_away_epi32(_mm512_mul_ps(v1, vid))));
    }
}

/// The reference's signed extreme: the first element of largest magnitude, or +0 when all are zero.
static inline float signed_absmax(const float *b, __m512 v0, __m512 v1, float amax) {
    // Branch-free: which half holds the extreme is random, and a mispredicted branch per block
    // costs more than the whole block's arithmetic.
    __mmask16 m0 = _mm512_cmp_ps_mask(abs_ps(v0), _mm512_set1_ps(amax), _CMP_EQ_OQ);
    __mmask16 m1 = _mm512_cmp_ps_mask(abs_ps(v1), _mm512_set1_ps(amax), _CMP_EQ_OQ);
    uint32_t mask = (uint32_t)m0 | ((uint32_t)m1 << 16) | 0x80000000u;
    const float v = b[__builtin_ctz(mask)];
    return amax == 0.0f ? 0.0f : v;
}

/// The reference keeps the first element equal to the final min (max); only zeros can differ in
/// sign between "equal" candidates, so look the zero up when the extreme is zero.
static inline float first_equal(const float *b, float value) {
    if (value != 0.0f) return value;
    for (int j = 0; j < 32; j++)
        if (b[j] == value) return b[j];
    return value;
}

static inline void min_max(const float *b, __m512 v0, __m512 v1, float *mn, float *mx) {
    *mn = first_equal(b, _mm512_reduce_min_ps(_mm512_min_ps(v0, v1)));
    *mx = first_equal(b, _mm512_reduce_max_ps(_mm512_max_ps(v0, v1)));
}

/// trunc(v * id + bias), clamped above by `top` (the reference's MIN(top, (int8_t)(...))).
static inline __m512i offset_codes(__m512 v, __m512 id, __m512 bias, __m512i top) {
    return _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v, id), bias)), top);
}

static inline void store_nibbles(uint8_t *qs, __m512i lo, __m512i hi) {
    const __m512i low4 = _mm512_set1_epi32(0x0F);
    __m512i packed = _mm512_or_si512(_mm512_and_si512(lo, low4), _mm512_slli_epi32(_mm512_and_si512(hi, low4), 4));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(packed));
}

static inline void store_high_bits(uint8_t *qh, __m512i lo, __m512i hi) {
    const __m512i bit4 = _mm512_set1_epi32(0x10);
    uint32_t bits = (uint32_t)_mm512_test_epi32_mask(lo, bit4) | ((uint32_t)_mm512_test_epi32_mask(hi, bit4) << 16);
    memcpy(qh, &bits, 4);
}

/// One Q4_0/Q5_0 block: d = the signed value of largest magnitude / -levels (stored as fp16), codes
/// min(top, (int8)(x * id + levels + 0.5)).
static inline void signed_block_codes(const float *b, size_t i, size_t nb, float maxima[4], float levels, __m512i top,
                                      uint16_t *d16, __m512i *q0, __m512i *q1) {
    __m512 v0 = _mm512_loadu_ps(b), v1 = _mm512_loadu_ps(b + 16);
    const float amax = block_amax(b, i, nb, maxima, v0, v1);
    const float d = signed_absmax(b, v0, v1, amax) / -levels;
    const float id = d ? 1.0f / d : 0.0f;
    *d16 = fp16_of(d);
    const __m512 vid = _mm512_set1_ps(id), bias = _mm512_set1_ps(levels + 0.5f);
    *q0 = offset_codes(v0, vid, bias, top);
    *q1 = offset_codes(v1, vid, bias, top);
}

void qk_quantize_q4_0_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q4_0 *y = blocks;
    size_t nb = n / QK_BLOCK;
    float maxima[4];
    for (size_t i = 0; i < nb; i++) {
        __m512i q0, q1;
        signed_block_codes(x + i * 32, i, nb, maxima, 8, _mm512_set1_epi32(15), &y[i].d, &q0, &q1);
        store_nibbles(y[i].qs, q0, q1);
    }
}

void qk_quantize_q5_0_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q5_0 *y = blocks;
    size_t nb = n / QK_BLOCK;
    float maxima[4];
    for (size_t i = 0; i < nb; i++) {
        __m512i q0, q1;
        signed_block_codes(x + i * 32, i, nb, maxima, 16, _mm512_set1_epi32(31), &y[i].d, &q0, &q1);
        store_nibbles(y[i].qs, q0, q1);
        store_high_bits(y[i].qh, q0, q1);
    }
}

/// One Q4_1/Q5_1 block: d = (max - min) / (2^bits - 1) and m = min (both stored as fp16), codes
/// min(top, (int8)((x - min) * id + 0.5)).
static inline void min_block_codes(const float *b, int bits, __m512i top, uint16_t *d16, uint16_t *m16, __m512i *q0, __m512i *q1) {
    __m512 v0 = _mm512_loadu_ps(b), v1 = _mm512_loadu_ps(b + 16);
    float mn, mx;
    min_max(b, v0, v1, &mn, &mx);
    const float d = (mx - mn) / ((1 << bits) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    *d16 = fp16_of(d);
    *m16 = fp16_of(mn);
    const __m512 vid = _mm512_set1_ps(id), vmin = _mm512_set1_ps(mn), half = _mm512_set1_ps(0.5f);
    *q0 = offset_codes(_mm512_sub_ps(v0, vmin), vid, half, top);
    *q1 = offset_codes(_mm512_sub_ps(v1, vmin), vid, half, top);
}

void qk_quantize_q4_1_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q4_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m512i q0, q1;
        min_block_codes(x + i * 32, 4, _mm512_set1_epi32(15), &y[i].d, &y[i].m, &q0, &q1);
        store_nibbles(y[i].qs, q0, q1);
    }
}

void qk_quantize_q5_1_avx512(const float *x, void *blocks, size_t n) {
    qk_block_q5_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m512i q0, q1;
        // 255: the reference casts to uint8 without a MIN for Q5_1.
        min_block_codes(x + i * 32, 5, _mm512_set1_epi32(255), &y[i].d, &y[i].m, &q0, &q1);
        store_nibbles(y[i].qs, q0, q1);
        store_high_bits(y[i].qh, q0, q1);
    }
}

void qk_dequantize_q8_0_avx512(const void *blocks, float *y, size_t n) {
    const qk_block_q8_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(x[i].d));
        __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x[i].qs));
        __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x[i].qs + 16)));
        _mm512_storeu_ps(y + i * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(q0), d));
        _mm512_storeu_ps(y + i * 32 + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(q1), d));
    }
}

void qk_dequantize_q4_0_avx512(const void *blocks, float *y, size_t n) {
    const qk_block_q4_0 *x = blocks;
    const __m512i eight = _mm512_set1_epi32(8), low4 = _mm512_set1_epi32(0x0F);
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(x[i].d));
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x[i].qs));
        __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low4), eight);
        __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
        _mm512_storeu_ps(y + i * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
        _mm512_storeu_ps(y + i * 32 + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
    }
}

#pragma clang attribute pop
#endif
