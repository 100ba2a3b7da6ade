// AVX2 dequantizers of the K-quants (Q2_K ... Q6_K). Each super-block's 256 integer codes are
// pulled out of their bit fields 32 at a time, then turned into floats 8 at a time with the
// sub-block's scale. The arithmetic is the reference's, operation for operation (a multiply, then
// a subtraction where there is a min, never fused), so the floats are the same bits.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

// y[0..count) = scale * code (- min), count a multiple of 8; codes are int8.
static inline void emit(const int8_t *codes, size_t count, float scale, float min, int has_min, float *y) {
    const __m256 s = _mm256_set1_ps(scale), m = _mm256_set1_ps(min);
    for (size_t i = 0; i < count; i += 8) {
        __m256 v = _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(codes + i)))));
        _mm256_storeu_ps(y + i, has_min ? _mm256_sub_ps(v, m) : v);
    }
}

static inline __m256i load32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline void store32(int8_t *p, __m256i v) { _mm256_storeu_si256((__m256i *)p, v); }
// Bytes shifted right by `n` within each byte (AVX2 shifts only 16-bit lanes), masked.
static inline __m256i bits_at(__m256i v, int n, int mask) { return _mm256_and_si256(_mm256_srli_epi16(v, n), _mm256_set1_epi8((char)mask)); }

void qk_dequantize_q2_k_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q2_k *x = blocks;
    int8_t codes[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) {
        const float d = qk_fp16_to_fp32(x[i].d), min = qk_fp16_to_fp32(x[i].dmin);
        // Half h: 32 bytes, each holding the codes of sub-blocks 8h + 2s and 8h + 2s + 1 at shift 2s.
        for (int h = 0; h < 2; h++) {
            __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) store32(codes + 128 * h + 32 * s, bits_at(q, 2 * s, 3));
        }
        for (int j = 0; j < 16; ++j) {
            const uint8_t sc = x[i].scales[j];
            emit(codes + 16 * j, 16, d * (sc & 0xF), min * (sc >> 4), 1, y + 16 * j);
        }
    }
}

void qk_dequantize_q3_k_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q3_k *x = blocks;
    int8_t codes[QK_K];
    const __m256i four = _mm256_set1_epi8(4), zero = _mm256_setzero_si256();
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) {
        const float d = qk_fp16_to_fp32(x[i].d);
        __m256i hmask = load32(x[i].hmask);
        for (int h = 0; h < 2; h++) {
            __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                // Sub-blocks j = 8h + 2s (+1) take high bit j / 2 = 4h + s of their hmask bytes.
                __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + s)));
                __m256i high = _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), zero), four);
                store32(codes + 128 * h + 32 * s, _mm256_sub_epi8(_mm256_or_si256(bits_at(q, 2 * s, 3), high), four));
            }
        }
        for (int j = 0; j < 16; ++j) emit(codes + 16 * j, 16, d * (qk_q3_scale_code(x[i].scales, j) - 32), 0, 0, y + 16 * j);
    }
}

// Q4_K and Q5_K: chunk c of 64 elements is the low then the high nibbles of qs[32c ... 32c + 31],
// plus 16 where bit 2c (2c + 1) of qh is set (Q5_K).
static void dequantize_scale_min(uint16_t d16, uint16_t dmin16, const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, float *y) {
    const float d = qk_fp16_to_fp32(d16), min = qk_fp16_to_fp32(dmin16);
    int8_t codes[64];
    const __m256i sixteen = _mm256_set1_epi8(16), zero = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++, qs += 32, y += 64) {
        __m256i q = load32(qs);
        __m256i low = _mm256_and_si256(q, _mm256_set1_epi8(0xF)), high = bits_at(q, 4, 0xF);
        if (qh) {
            __m256i h = load32(qh);
            __m256i b1 = _mm256_set1_epi8((char)(1 << (2 * c))), b2 = _mm256_set1_epi8((char)(2 << (2 * c)));
            low = _mm256_add_epi8(low, _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b1), zero), sixteen));
            high = _mm256_add_epi8(high, _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, b2), zero), sixteen));
        }
        store32(codes, low);
        store32(codes + 32, high);
        uint8_t sc, m;
        qk_k_scale_min(2 * c, packed, &sc, &m);
        emit(codes, 32, d * sc, min * m, 1, y);
        qk_k_scale_min(2 * c + 1, packed, &sc, &m);
        emit(codes + 32, 32, d * sc, min * m, 1, y + 32);
    }
}

void qk_dequantize_q4_k_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q4_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) dequantize_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, y);
}

void qk_dequantize_q5_k_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q5_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++, y += QK_K) dequantize_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y);
}

void qk_dequantize_q6_k_avx2(const void *blocks, float *y, size_t n) {
    const qk_block_q6_k *x = blocks;
    int8_t codes[128];
    const __m256i thirty_two = _mm256_set1_epi8(32);
    for (size_t i = 0; i < n / QK_K; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            __m256i l0 = load32(ql), l1 = load32(ql + 32), h = load32(qh);
            // Four runs of 32: low nibbles of ql[0..32) and ql[32..64), then their high nibbles,
            // each with two bits of qh above them, minus 32.
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, _mm256_set1_epi8(0xF)), _mm256_slli_epi16(bits_at(h, 0, 3), 4));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, _mm256_set1_epi8(0xF)), _mm256_slli_epi16(bits_at(h, 2, 3), 4));
            __m256i q3 = _mm256_or_si256(bits_at(l0, 4, 0xF), _mm256_slli_epi16(bits_at(h, 4, 3), 4));
            __m256i q4 = _mm256_or_si256(bits_at(l1, 4, 0xF), _mm256_slli_epi16(bits_at(h, 6, 3), 4));
            store32(codes, _mm256_sub_epi8(q1, thirty_two));
            store32(codes + 32, _mm256_sub_epi8(q2, thirty_two));
            store32(codes + 64, _mm256_sub_epi8(q3, thirty_two));
            store32(codes + 96, _mm256_sub_epi8(q4, thirty_two));
            // Element l of run r (l < 16 or not) takes scale sc[2r + l / 16]: d * sc first, as the reference.
            for (int r = 0; r < 4; r++) {
                emit(codes + 32 * r, 16, d * sc[2 * r], 0, 0, y + 32 * r);
                emit(codes + 32 * r + 16, 16, d * sc[2 * r + 1], 0, 0, y + 32 * r + 16);
            }
        }
    }
}

#pragma clang attribute pop
#endif
