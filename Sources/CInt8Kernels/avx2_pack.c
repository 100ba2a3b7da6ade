// AVX2 bit packing. Widths 4, 2 and 1 have byte-aligned vector layouts (two, four or eight codes
// to a byte), packed 32 codes at a time; 4-bit codes are also unpacked 32 at a time (the int4
// path). Other widths, and what is left of a row, go eight fields to a 64-bit word
// (pack_words.c): AVX2 has no byte-granular variable shifts to do better.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

/// What of one row the vector paths pack (32 codes at a time); the columns taken.
static size_t pack_row(const uint8_t *src, size_t cols, int bits, uint8_t *dst) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), crumb = _mm256_set1_epi8(3);
    const __m256i pairs4 = _mm256_set1_epi16(0x1001), pairs2 = _mm256_set1_epi16(0x0401), quads2 = _mm256_set1_epi32(0x00100001);
    // The low byte of each 32-bit lane, four to a 128-bit half.
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                               0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    size_t c = 0;
    if (bits == 4) {
        for (; c + 32 <= cols; c += 32) {
            // (lo & 15) + 16 * (hi & 15) per byte pair, narrowed: 32 codes -> 16 bytes.
            __m256i w = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)(src + c)), nibble), pairs4);
            __m256i narrow = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
            _mm_storeu_si128((__m128i *)(dst + c / 2), _mm256_castsi256_si128(narrow));
        }
    } else if (bits == 2) {
        for (; c + 32 <= cols; c += 32) {
            __m256i w = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)(src + c)), crumb), pairs2);
            __m256i bytes = _mm256_shuffle_epi8(_mm256_madd_epi16(w, quads2), low_bytes);
            uint32_t lo = (uint32_t)_mm256_extract_epi32(bytes, 0), hi = (uint32_t)_mm256_extract_epi32(bytes, 4);
            memcpy(dst + c / 4, &lo, 4);
            memcpy(dst + c / 4 + 4, &hi, 4);
        }
    } else if (bits == 1) {
        for (; c + 32 <= cols; c += 32) {
            uint32_t mask = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)(src + c)), 7));
            memcpy(dst + c / 8, &mask, 4);
        }
    }
    return c;
}

void qk_pack_avx2(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out) {
    qk_pack_rows(codes, rows, cols, bits, out, pack_row);
}

/// 4-bit codes, 32 at a time; the columns taken.
static size_t unpack_row(const uint8_t *src, size_t cols, int bits, int sign_extend, uint8_t *dst) {
    const __m256i low = _mm256_set1_epi16(0x0F), eight = _mm256_set1_epi8(8);
    size_t c = 0;
    if (bits == 4) {
        for (; c + 32 <= cols; c += 32) {
            __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + c / 2)));
            // Each 16-bit lane holds one byte: its low nibble to the low byte, high to the high.
            __m256i v = _mm256_or_si256(_mm256_and_si256(w, low), _mm256_slli_epi16(_mm256_srli_epi16(w, 4), 8));
            if (sign_extend) v = _mm256_sub_epi8(_mm256_xor_si256(v, eight), eight);
            _mm256_storeu_si256((__m256i *)(dst + c), v);
        }
    }
    return c;
}

void qk_unpack_avx2(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out) {
    qk_unpack_rows(packed, rows, cols, bits, sign_extend, out, unpack_row);
}

#pragma clang attribute pop
#endif
