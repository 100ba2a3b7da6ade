// Int8 GEMM with AVX-512 VNNI (vpdpbusd: u8 x s8 -> s32). A is made unsigned by adding 128; the
// extra 128 * sum_k B[n, k] is subtracted in the epilogue (the column sums of qk_gemm_prepare).
// Micro-kernel: 8 rows x 32 columns, 16 accumulators; loops run n outer, m inner so a 32-column
// panel of B stays in L1/L2 while rows of A stream through.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <stdlib.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma"))), apply_to = function)

#define MR 8

static inline void epilogue(__m512i acc, const qk_gemm_b *b, size_t m, size_t n0, int32_t *c32, float *cf, size_t ldc,
                            const float *a_scales, const float *b_scales) {
    if (n0 >= b->n) return;
    size_t left = b->n - n0;
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m512i comp = _mm512_slli_epi32(_mm512_loadu_si512(b->colsum + n0), 7);
    __m512i exact = _mm512_sub_epi32(acc, comp);
    if (c32) {
        _mm512_mask_storeu_epi32(c32 + m * ldc + n0, mask, exact);
    } else {
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_set1_ps(a_scales[m]));
        v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mask, b_scales + n0));
        _mm512_mask_storeu_ps(cf + m * ldc + n0, mask, v);
    }
}

/// Rows [m0, m0 + rows) (rows <= MR) against panels p and p + 1 (pair = 2) or p alone (pair = 1).
static inline void micro(const uint8_t *au, size_t lda_u, size_t rows, const qk_gemm_b *b, size_t p, int pair,
                         size_t m0, int32_t *c32, float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    __m512i acc0[MR], acc1[MR];
    for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_si512();
    const int8_t *b0 = b->packed + p * (b->k_pad * 16);
    const int8_t *b1 = pair == 2 ? b0 + b->k_pad * 16 : b0;
    size_t steps = b->k_pad / 4;
    for (size_t s = 0; s < steps; s++) {
        __m512i w0 = _mm512_load_si512(b0 + s * 64);
        __m512i w1 = _mm512_load_si512(b1 + s * 64);
        for (int r = 0; r < MR; r++) {
            int32_t quad;
            memcpy(&quad, au + r * lda_u + s * 4, 4);
            __m512i a = _mm512_set1_epi32(quad);
            acc0[r] = _mm512_dpbusd_epi32(acc0[r], a, w0);
            if (pair == 2) acc1[r] = _mm512_dpbusd_epi32(acc1[r], a, w1);
        }
    }
    for (size_t r = 0; r < rows; r++) {
        epilogue(acc0[r], b, m0 + r, p * 16, c32, cf, ldc, a_scales, b_scales);
        if (pair == 2) epilogue(acc1[r], b, m0 + r, p * 16 + 16, c32, cf, ldc, a_scales, b_scales);
    }
}

void qk_gemm_avx512(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                    float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    if (m_end <= m_begin || b->n == 0) return;
    size_t rows = m_end - m_begin, rows_pad = (rows + MR - 1) / MR * MR;
    // A + 128 as unsigned bytes, K padded to 4 (the padding meets zeros in B, so its value is moot).
    uint8_t *au = aligned_alloc(64, (rows_pad * b->k_pad + 63) / 64 * 64);
    if (!au) {
        qk_gemm_ref(b, a, lda, m_begin, m_end, c32, cf, ldc, a_scales, b_scales);
        return;
    }
    memset(au, 0x80, rows_pad * b->k_pad);
    for (size_t r = 0; r < rows; r++) {
        const int8_t *src = a + (m_begin + r) * lda;
        uint8_t *dst = au + r * b->k_pad;
        size_t k = 0;
        for (; k + 64 <= b->k; k += 64)
            _mm512_storeu_si512(dst + k, _mm512_xor_si512(_mm512_loadu_si512(src + k), _mm512_set1_epi8((char)0x80)));
        for (; k < b->k; k++) dst[k] = (uint8_t)(src[k] ^ 0x80);
    }
    size_t panels = b->n_pad / 16;
    for (size_t p = 0; p < panels; p += 2) {
        int pair = p + 1 < panels ? 2 : 1;
        for (size_t r = 0; r < rows; r += MR) {
            size_t count = rows - r < MR ? rows - r : MR;
            if (pair == 2)
                micro(au + r * b->k_pad, b->k_pad, count, b, p, 2, m_begin + r, c32, cf, ldc, a_scales, b_scales);
            else
                micro(au + r * b->k_pad, b->k_pad, count, b, p, 1, m_begin + r, c32, cf, ldc, a_scales, b_scales);
        }
    }
    free(au);
}

/// Peak: 16 independent VNNI accumulators, no memory traffic.
static double peak_vnni(size_t iterations, int32_t *sink) {
    __m512i acc[16];
    for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_epi32(j);
    __m512i a = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
    for (size_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 16; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, w);
        __asm__ volatile("" : "+v"(a));  // keep the loop from being folded
    }
    __m512i s = acc[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_epi32(s, acc[j]);
    *sink = _mm512_reduce_add_epi32(s);
    return (double)iterations * 16 * 64 * 2;
}

#pragma clang attribute pop

double qk_gemm_peak(size_t iterations, int isa, int32_t *sink) {
    if (isa == QK_ISA_AVX2) return qk_int8_exact_peak_avx2(iterations, sink);
    return qk_int8_peak(iterations, isa, sink);
}

double qk_int8_peak(size_t iterations, int isa, int32_t *sink) {
    if (isa >= QK_ISA_AVX512) return peak_vnni(iterations, sink);
    if (isa >= QK_ISA_AVX2) return qk_int8_maddubs_peak_avx2(iterations, sink);
    int32_t acc[8] = {0};
    for (size_t i = 0; i < iterations; i++)
        for (int j = 0; j < 8; j++) acc[j] += (int8_t)(i + (size_t)j) * (int8_t)(j + 1);
    *sink = acc[0] + acc[7];
    return (double)iterations * 8 * 2;
}
#endif
