// The AVX2 int8 GEMM, exact for every int8 input. AVX2 has two ways to multiply bytes:
// vpmaddubsw (u8 x s8, pairs summed into a saturating int16) and vpmaddwd (s16 x s16, pairs
// summed into int32). vpmaddubsw does twice the work per instruction, but 255 * 127 * 2 does not
// fit an int16, so signed activations would need a shift to u8 and a bias correction, and the sum
// of two products can still saturate. vpmaddwd on sign-extended values cannot overflow (two
// products of at most 128 * 128 fit an int32 lane), so that is the path taken: the operands are
// widened to int16 before the products, as FBGEMM and oneDNN pack theirs, and the inner loop is
// vpmaddwd + vpaddd only.
//
// Blocking: B is widened a group of 16-column panels at a time and A a chunk of 6-row blocks at a
// time (each row's int16 pairs broadcast as int32 words), both sized to stay in L2; a 6 x 16
// micro-kernel keeps twelve accumulators in registers and reads one B pair-row and six A pairs per
// step. The operands are widened per call (A once per group), which is cheap next to the products.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <stdlib.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

enum { MR = 6, NR = 16, PAIR_ROW_BYTES = NR * 2 * 2 };

// Rows [0, rows) of A widened to int16 (the rest of the block, and k up to 2 * pairs, zero):
// row r's pair p, (a[r][2p], a[r][2p+1]), is the int32 word out[r * pairs + p], ready to broadcast.
static void pack_a(const int8_t *a, size_t lda, size_t rows, size_t k, size_t pairs, int32_t *out) {
    for (size_t r = 0; r < MR; r++) {
        int16_t *row = (int16_t *)(out + r * pairs);
        size_t i = 0;
        if (r < rows) {
            for (; i + 16 <= k; i += 16) _mm256_storeu_si256((__m256i *)(row + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + r * lda + i))));
            for (; i < k; i++) row[i] = a[r * lda + i];
        }
        for (; i < 2 * pairs; i++) row[i] = 0;
    }
}

// One 16-column panel of the prepared B (steps of 4 k x 16 columns, 4 bytes per column) widened to
// pair rows: for pair p, the 16 columns' (b[2p], b[2p+1]) as int16, 64 bytes.
static void widen_panel(const int8_t *panel, size_t k_pad, int16_t *out) {
    // Within a 4-column chunk (16 bytes: c0k0 c0k1 c0k2 c0k3 c1k0 ...), the even pair's bytes, then the odd pair's.
    const __m128i order = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    for (size_t s = 0; s < k_pad / 4; s++) {
        int16_t *even = out + (2 * s) * (PAIR_ROW_BYTES / 2), *odd = even + PAIR_ROW_BYTES / 2;
        for (size_t chunk = 0; chunk < 4; chunk++) {
            __m128i bytes = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(panel + s * 64 + chunk * 16)), order);
            __m256i wide = _mm256_cvtepi8_epi16(bytes);
            _mm_storeu_si128((__m128i *)(even + chunk * 8), _mm256_castsi256_si128(wide));
            _mm_storeu_si128((__m128i *)(odd + chunk * 8), _mm256_extracti128_si256(wide, 1));
        }
    }
}

// C[rows, 16 columns from n0] from one A block and one widened panel.
static void micro(const int32_t *ap, const int16_t *bp, size_t pairs, size_t rows, size_t m0, size_t n0, size_t n_total,
                  int32_t *c32, float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    __m256i acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t p = 0; p < pairs; p++) {
        __m256i b0 = _mm256_load_si256((const __m256i *)(bp + p * 32)), b1 = _mm256_load_si256((const __m256i *)(bp + p * 32 + 16));
        for (int r = 0; r < MR; r++) {
            __m256i a = _mm256_set1_epi32(ap[(size_t)r * pairs + p]);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(a, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(a, b1));
        }
    }
    for (size_t r = 0; r < rows; r++) {
        size_t m = m0 + r;
        for (size_t half = 0; half < 2; half++) {
            size_t n = n0 + half * 8;
            if (n >= n_total) break;
            size_t valid = n_total - n < 8 ? n_total - n : 8;
            if (c32) {
                if (valid == 8) {
                    _mm256_storeu_si256((__m256i *)(c32 + m * ldc + n), acc[r][half]);
                } else {
                    int32_t lanes[8];
                    _mm256_storeu_si256((__m256i *)lanes, acc[r][half]);
                    for (size_t j = 0; j < valid; j++) c32[m * ldc + n + j] = lanes[j];
                }
            } else {
                // The reference's order: ((float)acc * a_scale) * b_scale, rounded the same way.
                __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][half]), _mm256_set1_ps(a_scales[m]));
                if (valid == 8) {
                    _mm256_storeu_ps(cf + m * ldc + n, _mm256_mul_ps(v, _mm256_loadu_ps(b_scales + n)));
                } else {
                    float lanes[8];
                    _mm256_storeu_ps(lanes, v);
                    for (size_t j = 0; j < valid; j++) cf[m * ldc + n + j] = lanes[j] * b_scales[n + j];
                }
            }
        }
    }
}

// Scratch for one thread's calls, kept between calls: a fresh allocation of this size is mapped anew
// by malloc and page-faulted on every call. At most about 512 KiB a thread (see the budgets below).
static _Thread_local struct { void *memory; size_t bytes; } scratch;

static void *scratch_of(size_t bytes) {
    if (scratch.bytes < bytes) {
        free(scratch.memory);
        scratch.memory = aligned_alloc(64, (bytes + 63) / 64 * 64);
        scratch.bytes = scratch.memory ? bytes : 0;
    }
    return scratch.memory;
}

void qk_gemm_avx2(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                  float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    if (m_end <= m_begin || b->n == 0) return;
    size_t pairs = b->k_pad / 2, panels = b->n_pad / NR;
    size_t panel_bytes = pairs * PAIR_ROW_BYTES, block_bytes = pairs * MR * sizeof(int32_t);
    // Budgets of about 256 KiB each, so a group of widened B panels and a chunk of widened A rows
    // share a 1 MiB L2 with room to spare: the micro-kernel streams both from there. A is widened a
    // chunk at a time (memory stays bounded however many rows there are), again for every group.
    size_t group = panel_bytes ? (256u << 10) / panel_bytes : panels;
    if (group < 1) group = 1;
    if (group > panels) group = panels;
    size_t chunk_blocks = block_bytes ? (256u << 10) / block_bytes : 1;
    if (chunk_blocks < 1) chunk_blocks = 1;
    size_t bx_bytes = group * panel_bytes;
    uint8_t *memory = scratch_of(bx_bytes + chunk_blocks * block_bytes);
    if (!memory) {
        qk_gemm_ref(b, a, lda, m_begin, m_end, c32, cf, ldc, a_scales, b_scales);
        return;
    }
    int16_t *bx = (int16_t *)memory;
    int32_t *ap = (int32_t *)(memory + bx_bytes);
    for (size_t g = 0; g < panels; g += group) {
        size_t count = panels - g < group ? panels - g : group;
        for (size_t i = 0; i < count; i++) widen_panel(b->packed + (g + i) * (b->k_pad * NR), b->k_pad, bx + i * (panel_bytes / 2));
        for (size_t chunk = m_begin; chunk < m_end; chunk += chunk_blocks * MR) {
            size_t chunk_end = m_end - chunk < chunk_blocks * MR ? m_end : chunk + chunk_blocks * MR;
            size_t blocks = (chunk_end - chunk + MR - 1) / MR;
            for (size_t block = 0; block < blocks; block++) {
                size_t first = chunk + block * MR;
                pack_a(a + first * lda, lda, chunk_end - first < MR ? chunk_end - first : MR, b->k, pairs, ap + block * pairs * MR);
            }
            for (size_t block = 0; block < blocks; block++) {
                size_t first = chunk + block * MR, block_rows = chunk_end - first < MR ? chunk_end - first : MR;
                for (size_t i = 0; i < count; i++)
                    micro(ap + block * pairs * MR, bx + i * (panel_bytes / 2), pairs, block_rows, first, (g + i) * NR, b->n, c32, cf, ldc,
                          a_scales, b_scales);
            }
        }
    }
}

// The exact path's register peak: the kernel's instruction mix (vpmaddwd + vpaddd), no memory.
/// One lane of the accumulators' sum, stored where the compiler must keep it: the peak loops' work
/// is then live and cannot be dropped.
static inline int32_t fold_accumulators(const __m256i acc[8]) {
    __m256i s = acc[0];
    for (int j = 1; j < 8; j++) s = _mm256_add_epi32(s, acc[j]);
    int32_t out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0];
}

// Eight accumulators take eight different products (four A values times two B values, made
// opaque every iteration), so the compiler can neither share one vpmaddwd among them nor hoist
// it out of the loop. Counts 2 operations per multiply-add.
double qk_int8_exact_peak_avx2(size_t iterations, int32_t *sink) {
    __m256i acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_set1_epi32(j);
    __m256i a0 = _mm256_set1_epi16(3), a1 = _mm256_set1_epi16(5), a2 = _mm256_set1_epi16(-7), a3 = _mm256_set1_epi16(9);
    __m256i w0 = _mm256_set1_epi16(-2), w1 = _mm256_set1_epi16(4);
    for (size_t i = 0; i < iterations; i++) {
        acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(a0, w0));
        acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(a0, w1));
        acc[2] = _mm256_add_epi32(acc[2], _mm256_madd_epi16(a1, w0));
        acc[3] = _mm256_add_epi32(acc[3], _mm256_madd_epi16(a1, w1));
        acc[4] = _mm256_add_epi32(acc[4], _mm256_madd_epi16(a2, w0));
        acc[5] = _mm256_add_epi32(acc[5], _mm256_madd_epi16(a2, w1));
        acc[6] = _mm256_add_epi32(acc[6], _mm256_madd_epi16(a3, w0));
        acc[7] = _mm256_add_epi32(acc[7], _mm256_madd_epi16(a3, w1));
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));
    }
    *sink = fold_accumulators(acc);
    return (double)iterations * 8 * 16 * 2;
}

// The same with vpmaddubsw (u8 x s8 pairs, then vpmaddwd by ones to widen): eight different products
// (four A values made opaque every iteration, times two B values), so none is shared among
// accumulators or hoisted out of the loop. The int8 peak qk_int8_peak reports for AVX2.
double qk_int8_maddubs_peak_avx2(size_t iterations, int32_t *sink) {
    __m256i acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_set1_epi32(j);
    __m256i a[4] = {_mm256_set1_epi8(3), _mm256_set1_epi8(5), _mm256_set1_epi8(7), _mm256_set1_epi8(9)};
    __m256i w0 = _mm256_set1_epi8(-2), w1 = _mm256_set1_epi8(4), ones = _mm256_set1_epi16(1);
    for (size_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 8; j++)
            acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(a[j / 2], j % 2 ? w1 : w0), ones));
        __asm__ volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]));
    }
    *sink = fold_accumulators(acc);
    return (double)iterations * 8 * 32 * 2;
}

#pragma clang attribute pop
#endif
