// AVX2 variants of ggml's block quantizers for hosts without AVX-512, bit-exact with ref_blocks.c by
// the rules avx512_blocks.c follows: the reference's fp32 operations (separate multiply and add;
// this target builds with -ffp-contract=off), truncating conversions where it casts, ties away from
// zero where it calls roundf, and its choice among equal extremes. A block of 32 is four vectors.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "simd_avx2.h"

static inline uint16_t fp16_of(float v) {
    return (uint16_t)_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline void load_block(const float *b, __m256 v[4]) {
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(b + 8 * k);
}

static inline float block_absmax(const __m256 v[4]) {
    return vf_reduce_max(_mm256_max_ps(_mm256_max_ps(vf_abs(v[0]), vf_abs(v[1])), _mm256_max_ps(vf_abs(v[2]), vf_abs(v[3]))));
}

/// roundf(): round half away from zero, exactly (t = trunc(v); add ±1 when |v - t| >= 0.5).
static inline __m256i round_away8(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(vf_abs(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, one)));
}

/// 32 int32 codes in [-128, 127] (q[0] holding elements 0-7 ...) as 32 bytes in order.
static inline void store_bytes(int8_t *dst, const __m256i q[4]) {
    // packs works within 128-bit lanes: dword k of the result holds elements 4k..4k+3 of the
    // interleaved order [q0 lo, q1 lo, q2 lo, q3 lo | q0 hi, q1 hi, q2 hi, q3 hi].
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256((__m256i *)dst, _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

/// qs[j] = low nibble of code j | low nibble of code j + 16 << 4, for j < 16.
static inline void store_nibbles(uint8_t *qs, const __m256i q[4]) {
    const __m256i low4 = _mm256_set1_epi32(0x0F);
    __m256i p0 = _mm256_or_si256(_mm256_and_si256(q[0], low4), _mm256_slli_epi32(_mm256_and_si256(q[2], low4), 4));
    __m256i p1 = _mm256_or_si256(_mm256_and_si256(q[1], low4), _mm256_slli_epi32(_mm256_and_si256(q[3], low4), 4));
    __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(p0, p1), 0xD8);  // 16 words in order
    _mm_storeu_si128((__m128i *)qs, _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1)));
}

/// Bit 4 of each code j into bit j of qh (the fifth bit of Q5_0/Q5_1).
static inline void store_high_bits(uint8_t *qh, const __m256i q[4]) {
    uint32_t bits = 0;
    for (int k = 0; k < 4; k++) bits |= (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(q[k], 27))) << (8 * k);
    memcpy(qh, &bits, 4);
}

void qk_quantize_q8_0_avx2(const float *x, void *blocks, size_t n) {
    qk_block_q8_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m256 v[4];
        __m256i q[4];
        load_block(x + i * QK_BLOCK, v);
        const float d = block_absmax(v) / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp16_of(d);
        const __m256 vid = _mm256_set1_ps(id);
        for (int k = 0; k < 4; k++) q[k] = round_away8(_mm256_mul_ps(v[k], vid));
        store_bytes(y[i].qs, q);
    }
}

/// The reference's signed extreme: the first element of largest magnitude, or +0 when all are zero.
static inline float signed_absmax(const float *b, const __m256 v[4], float amax) {
    const __m256 target = _mm256_set1_ps(amax);
    uint32_t mask = 0x80000000u;  // a stop for ctz when nothing compares equal (NaN)
    for (int k = 0; k < 4; k++) mask |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(vf_abs(v[k]), target, _CMP_EQ_OQ)) << (8 * k);
    const float value = b[__builtin_ctz(mask)];
    return amax == 0.0f ? 0.0f : value;
}

/// min(top, (int)(v * id + bias)) for the four vectors of a block.
static inline void offset_codes(const __m256 v[4], __m256 offset, float id, float bias, int top, __m256i q[4]) {
    const __m256 vid = _mm256_set1_ps(id), vbias = _mm256_set1_ps(bias);
    const __m256i vtop = _mm256_set1_epi32(top);
    for (int k = 0; k < 4; k++) {
        q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v[k], offset), vid), vbias)), vtop);
    }
}

/// One Q4_0/Q5_0 block: d = the signed value of largest magnitude / -levels, codes
/// min(top, (int8)(x * id + levels + 0.5)).
static inline uint16_t signed_block_codes(const float *b, float levels, int top, __m256i q[4]) {
    __m256 v[4];
    load_block(b, v);
    const float d = signed_absmax(b, v, block_absmax(v)) / -levels;
    const float id = d ? 1.0f / d : 0.0f;
    // Subtracting +0 leaves every value, -0 included (-0 - +0 = -0), as the reference reads it.
    offset_codes(v, _mm256_setzero_ps(), id, levels + 0.5f, top, q);
    return fp16_of(d);
}

void qk_quantize_q4_0_avx2(const float *x, void *blocks, size_t n) {
    qk_block_q4_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m256i q[4];
        y[i].d = signed_block_codes(x + i * QK_BLOCK, 8, 15, q);
        store_nibbles(y[i].qs, q);
    }
}

void qk_quantize_q5_0_avx2(const float *x, void *blocks, size_t n) {
    qk_block_q5_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m256i q[4];
        y[i].d = signed_block_codes(x + i * QK_BLOCK, 16, 31, q);
        store_nibbles(y[i].qs, q);
        store_high_bits(y[i].qh, q);
    }
}

/// The reference keeps the first element equal to the final min (max); only zeros can differ in
/// sign between "equal" candidates, so look the zero up when the extreme is zero.
static inline float first_equal(const float *b, float value) {
    if (value != 0.0f) return value;
    for (int j = 0; j < QK_BLOCK; j++)
        if (b[j] == value) return b[j];
    return value;
}

/// One Q4_1/Q5_1 block: d = (max - min) / (2^bits - 1) and m = min, codes
/// min(top, (int8)((x - min) * id + 0.5)).
static inline void min_block_codes(const float *b, int bits, int top, uint16_t *d16, uint16_t *m16, __m256i q[4]) {
    __m256 v[4];
    load_block(b, v);
    const float mn = first_equal(b, vf_reduce_min(_mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3]))));
    const float mx = first_equal(b, vf_reduce_max(_mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3]))));
    const float d = (mx - mn) / ((1 << bits) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    *d16 = fp16_of(d);
    *m16 = fp16_of(mn);
    offset_codes(v, _mm256_set1_ps(mn), id, 0.5f, top, q);
}

void qk_quantize_q4_1_avx2(const float *x, void *blocks, size_t n) {
    qk_block_q4_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m256i q[4];
        min_block_codes(x + i * QK_BLOCK, 4, 15, &y[i].d, &y[i].m, q);
        store_nibbles(y[i].qs, q);
    }
}

void qk_quantize_q5_1_avx2(const float *x, void *blocks, size_t n) {
    qk_block_q5_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        __m256i q[4];
        // 255: the reference casts to uint8 without a MIN for Q5_1.
        min_block_codes(x + i * QK_BLOCK, 5, 255, &y[i].d, &y[i].m, q);
        store_nibbles(y[i].qs, q);
        store_high_bits(y[i].qh, q);
    }
}

void qk_dequantize_q8_0_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q8_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d));
        for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x[i].qs + 8 * k)));
            _mm256_storeu_ps(y + i * QK_BLOCK + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

void qk_dequantize_q4_0_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q4_0 *x = blocks;
    const __m256i eight = _mm256_set1_epi32(8), low4 = _mm256_set1_epi32(0x0F);
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d));
        for (int k = 0; k < 2; k++) {
            __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x[i].qs + 8 * k)));
            __m256i lo = _mm256_sub_epi32(_mm256_and_si256(q, low4), eight), hi = _mm256_sub_epi32(_mm256_srli_epi32(q, 4), eight);
            _mm256_storeu_ps(y + i * QK_BLOCK + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d));
            _mm256_storeu_ps(y + i * QK_BLOCK + 16 + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d));
        }
    }
}

/// The codes of elements 8k..8k+7 (lo) and 16+8k..16+8k+7 (hi) of a block of 32 with nibbles in qs
/// and, for 5-bit types, the fifth bits in qh (bit j for element j).
static inline void block_codes8(const uint8_t *qs, uint32_t qh, int five, int k, __m256i *lo, __m256i *hi) {
    const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * k)));
    const __m256i low4 = _mm256_set1_epi32(0x0F);
    *lo = _mm256_and_si256(q, low4);
    *hi = _mm256_srli_epi32(q, 4);
    if (five) {
        const __m256i shifts = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(8 * k));
        const __m256i bits = _mm256_set1_epi32((int)qh), one = _mm256_set1_epi32(1);
        *lo = _mm256_or_si256(*lo, _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(bits, shifts), one), 4));
        *hi = _mm256_or_si256(*hi, _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(bits, _mm256_add_epi32(shifts, _mm256_set1_epi32(16))), one), 4));
    }
}

/// y = code * d + m (Q4_1, Q5_1) or (code - offset) * d (Q5_0), separate multiply and add as the reference.
static inline void dequantize_block(const uint8_t *qs, uint32_t qh, int five, float d, float m, int offset, float *y) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    const __m256i voffset = _mm256_set1_epi32(offset);
    for (int k = 0; k < 2; k++) {
        __m256i lo, hi;
        block_codes8(qs, qh, five, k, &lo, &hi);
        __m256 flo = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(lo, voffset)), vd);
        __m256 fhi = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(hi, voffset)), vd);
        if (!offset) {
            flo = _mm256_add_ps(flo, vm);
            fhi = _mm256_add_ps(fhi, vm);
        }
        _mm256_storeu_ps(y + 8 * k, flo);
        _mm256_storeu_ps(y + 16 + 8 * k, fhi);
    }
}

void qk_dequantize_q4_1_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q4_1 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) dequantize_block(x[i].qs, 0, 0, _cvtsh_ss(x[i].d), _cvtsh_ss(x[i].m), 0, y + i * QK_BLOCK);
}

void qk_dequantize_q5_0_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q5_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        dequantize_block(x[i].qs, qh, 1, _cvtsh_ss(x[i].d), 0, 16, y + i * QK_BLOCK);
    }
}

void qk_dequantize_q5_1_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q5_1 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        dequantize_block(x[i].qs, qh, 1, _cvtsh_ss(x[i].d), _cvtsh_ss(x[i].m), 0, y + i * QK_BLOCK);
    }
}

#pragma clang attribute pop
#endif
