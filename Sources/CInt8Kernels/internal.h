// Private declarations shared by the kernel files: ggml block structs (with size checks, as
// ggml-common.h does), the prepared-B layout of the GEMM, and each variant's functions.
#ifndef QK_INTERNAL_H
#define QK_INTERNAL_H

// ggml's reference quantizers round `x*id + 8.5f` twice; a fused multiply-add rounds once and gives
// different codes. Never let the compiler contract across our float expressions.
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "CInt8Kernels.h"
#include <assert.h>
#include <math.h>
#include <string.h>

#define QK_BLOCK 32

typedef struct { uint16_t d; int8_t qs[32]; } qk_block_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } qk_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } qk_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } qk_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } qk_block_q5_1;
/* MXFP4: an E8M0 exponent byte, then 32 E2M1 codes as nibbles (q[j] | q[j+16] << 4). */
typedef struct { uint8_t e; uint8_t qs[16]; } qk_block_mxfp4;
/* IQ4_NL: an fp16 scale, then 32 indices into the non-uniform table as nibbles (q[j] | q[j+16] << 4). */
typedef struct { uint16_t d; uint8_t qs[16]; } qk_block_iq4_nl;
_Static_assert(sizeof(qk_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(qk_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(qk_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(qk_block_q5_0) == 22, "Q5_0 block is 22 bytes");
_Static_assert(sizeof(qk_block_q5_1) == 24, "Q5_1 block is 24 bytes");
_Static_assert(sizeof(qk_block_mxfp4) == 17, "MXFP4 block is 17 bytes");
_Static_assert(sizeof(qk_block_iq4_nl) == 18, "IQ4_NL block is 18 bytes");
/* Q6_K: 256 values; low nibbles, high bit pairs, 16 int8 sub-block scales, fp16 super-scale last. */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } qk_block_q6_k;
_Static_assert(sizeof(qk_block_q6_k) == 210, "Q6_K block is 210 bytes");
/* Q4_K, Q5_K: fp16 d and dmin, 8 x (6-bit scale, 6-bit min) in 12 bytes, [high bits,] nibbles. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } qk_block_q4_k;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } qk_block_q5_k;
_Static_assert(sizeof(qk_block_q4_k) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(qk_block_q5_k) == 176, "Q5_K block is 176 bytes");

/// B of the GEMM, packed for VNNI: panels of 16 columns; within a panel, for each group of 4 k,
/// 64 bytes = 16 columns x 4 consecutive k. N is padded to 16 and K to 4 with zeros.
struct qk_gemm_b {
    size_t n, k, n_pad, k_pad;
    int8_t *packed;   // n_pad * k_pad bytes
    int32_t *colsum;  // n_pad sums of each column of B (for the u8 x s8 compensation)
};

static inline int8_t qk_gemm_b_at(const qk_gemm_b *b, size_t n, size_t k) {
    return b->packed[(n / 16) * (b->k_pad * 16) + (k / 4) * 64 + (n % 16) * 4 + (k % 4)];
}

static inline size_t qk_groups_per_row(size_t cols, size_t group) { return group == 0 ? 1 : (cols + group - 1) / group; }

// Scalar references.
size_t qk_minmax_ref(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs);
void qk_quantize_ref(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                     const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);
void qk_quantize_cols_ref(const float *x, size_t rows, size_t cols, const float *inv_scales, const int32_t *zero_points,
                          int32_t qmin, int32_t qmax, uint8_t *out);
void qk_dequantize_ref(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                       const int32_t *zero_points, float *out);
void qk_dequantize_cols_ref(const uint8_t *q, int is_signed, size_t rows, size_t cols, const float *scales,
                            const int32_t *zero_points, float *out);
void qk_pack_ref(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out);
void qk_unpack_ref(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out);
size_t qk_minmax_cols_ref(const float *x, size_t rows, size_t cols, float *mins, float *maxs);
size_t qk_minmax_cols_avx2(const float *x, size_t rows, size_t cols, float *mins, float *maxs);
// Eight fields to a 64-bit word, one row, cols a multiple of 8 (pack_words.c).
void qk_pack_words(const uint8_t *codes, size_t cols, int bits, uint8_t *out);
void qk_unpack_words(const uint8_t *packed, size_t cols, int bits, int sign_extend, uint8_t *out);
// A whole row of any length: words, then the reference for the last (fewer than eight) fields.
void qk_pack_row_words(const uint8_t *codes, size_t cols, int bits, uint8_t *out);
void qk_unpack_row_words(const uint8_t *packed, size_t cols, int bits, int sign_extend, uint8_t *out);
// The row loop of the vector packs: 8-bit codes copied, otherwise `vector` packs (or unpacks) what it
// can of one row, returning the columns it took (a multiple of 8, 0 for a width it lacks), and the
// rest of the row goes through the words above.
typedef size_t (*qk_pack_row_fn)(const uint8_t *codes, size_t cols, int bits, uint8_t *out);
typedef size_t (*qk_unpack_row_fn)(const uint8_t *packed, size_t cols, int bits, int sign_extend, uint8_t *out);
void qk_pack_rows(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out, qk_pack_row_fn vector);
void qk_unpack_rows(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out, qk_unpack_row_fn vector);
void qk_pack_avx2(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out);
void qk_dequantize_q2_k_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q3_k_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_k_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q5_k_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q6_k_avx2(const void *blocks, float *y, size_t n);
void qk_unpack_avx2(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out);
void qk_f16_to_f32_ref(const uint16_t *in, float *out, size_t n);
void qk_bf16_to_f32_ref(const uint16_t *in, float *out, size_t n);
void qk_e4m3_to_f32_ref(const uint8_t *in, float *out, size_t n);
void qk_e5m2_to_f32_ref(const uint8_t *in, float *out, size_t n);
void qk_quantize_q8_0_ref(const float *x, void *blocks, size_t n);
void qk_quantize_q4_0_ref(const float *x, void *blocks, size_t n);
void qk_quantize_q4_1_ref(const float *x, void *blocks, size_t n);
void qk_quantize_q5_0_ref(const float *x, void *blocks, size_t n);
void qk_quantize_q5_1_ref(const float *x, void *blocks, size_t n);
void qk_quantize_mxfp4_ref(const float *x, void *blocks, size_t n);
void qk_quantize_iq4_nl_ref(const float *x, void *blocks, size_t n);
/* IQ4_NL's 16 levels, ascending (ggml's kvalues_iq4nl): the one table every variant reads. */
extern const int8_t qk_iq4nl_levels[16];
void qk_dequantize_q8_0_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_0_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_1_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_q5_0_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_q5_1_ref(const void *blocks, float *y, size_t n);
void qk_quantize_q6_k_ref(const float *x, void *blocks, size_t n);
void qk_dequantize_q6_k_ref(const void *blocks, float *y, size_t n);
/* K-quants: Q4_K/Q5_K's per-sub-block search settings, and the steps after the search that the
   scalar and AVX-512 quantizers share (ref_kquants.c). */
#define QK_K 256
#define K_GROUP_EPS 1e-15f

/// ggml's nearest_int: adding 1.5 * 2^23 leaves the rounded integer (ties to even) in the mantissa.
/// Only meaningful for |v| < 2^22; larger values (never produced from finite input here, since codes
/// are clamped right after) give a wrong but defined result.
static inline int k_nearest_int(float v) {
    float shifted = v + 12582912.f;
    int bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

static inline int k_clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/// The magnitude of the largest value of x[0..n) and, in *max, that value (the first of equals, as
/// ggml's strict '>').
static inline float k_largest_magnitude(int n, const float *x, float *max) {
    float amax = 0;
    *max = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            *max = x[i];
        }
    }
    return amax;
}

float qk_kquant_scale_min_search(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min, uint8_t *Laux,
                                 float rmin, float rdelta, int nstep, int use_mad);
/* Q2_K: fp16 d and dmin after 16 (4-bit scale | 4-bit min << 4) bytes and 2-bit codes. Q3_K: high
   bits, 2-bit codes, 16 6-bit signed scales packed in 12 bytes, fp16 d. */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } qk_block_q2_k;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } qk_block_q3_k;
_Static_assert(sizeof(qk_block_q2_k) == 84, "Q2_K block is 84 bytes");
_Static_assert(sizeof(qk_block_q3_k) == 110, "Q3_K block is 110 bytes");
void qk_quantize_q2_k_ref(const float *x, void *blocks, size_t n);
void qk_dequantize_q2_k_ref(const void *blocks, float *y, size_t n);
void qk_quantize_q3_k_ref(const float *x, void *blocks, size_t n);
void qk_dequantize_q3_k_ref(const void *blocks, float *y, size_t n);
typedef struct { int nmax; float rmin, rdelta; int nstep; } qk_kquant_search;
extern const qk_kquant_search qk_q4_k_search, qk_q5_k_search, qk_q2_k_search;
void qk_kquant_store_q2_k(void *blocks, size_t i, const float *x, const float scales[16], const float mins[16], uint8_t L[QK_K]);
void qk_quantize_q2_k_avx512(const float *x, void *blocks, size_t n);
void qk_kquant_finish_q3_k(const float *x, const float scales[16], int8_t L[QK_K], void *block);
void qk_kquant_pack_q3_scales(const int8_t codes[16], uint8_t packed[12]);
/// Q3_K's 6-bit scale code of sub-block j (biased by 32) from its 12 packed bytes.
static inline int qk_q3_scale_code(const uint8_t packed[12], int j) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    return low | (((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}
void qk_kquant_requantize_q3_k(const float *x, int8_t L[QK_K], void *block);
void qk_kquant_requantize_q2_k(const float *x, uint8_t L[QK_K], void *block);
void qk_quantize_q3_k_avx512(const float *x, void *blocks, size_t n);
/* Writes super-block i of `blocks` from its searched sub-block scales, mins and codes. */
typedef void (*qk_kquant_store)(void *blocks, size_t i, const float *x, const float scales[8], const float mins[8], uint8_t L[QK_K]);
void qk_kquant_store_q4_k(void *blocks, size_t i, const float *x, const float scales[8], const float mins[8], uint8_t L[QK_K]);
void qk_kquant_store_q5_k(void *blocks, size_t i, const float *x, const float scales[8], const float mins[8], uint8_t L[QK_K]);
void qk_kquant_finish_q6_k(const float *x, const float scales[16], int8_t L[QK_K], void *block);
float qk_kquant_signed_scale(int n, int nmax, const float *x, const float *qw, int8_t *L);
void qk_kquant_pack_scale_min(const uint8_t ls[8], const uint8_t lm[8], uint8_t packed[12]);
/// Q4_K's and Q5_K's 6-bit scale and min of sub-block j from their 12 packed bytes (ggml's
/// get_scale_min_k4).
static inline void qk_k_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
void qk_kquant_requantize_scale_min(const float *x, int nmax, uint16_t d16, uint16_t dmin16, const uint8_t packed[12], uint8_t L[QK_K]);
void qk_kquant_pack_q4_k(const uint8_t L[QK_K], uint8_t qs[128]);
void qk_kquant_pack_q5_k(const uint8_t L[QK_K], uint8_t qh[32], uint8_t qs[128]);
/* K-quants with importance weights (ref_kquants_weighted.c). */
void qk_kquant_importance_weights(const float *x, const float *qw, float weights[QK_K], float sw[8]);
void qk_kquant_weighted_finish(const float *x, int nmax, int cap, const float scales[8], const float mins[8], const float sw[8],
                               uint16_t *d16, uint16_t *dmin16, uint8_t packed[12], uint8_t L[QK_K]);
void qk_kquant_weighted_store_q45(void *blocks, size_t index, const float *x, int nmax, int q5, const float scales[8], const float mins[8],
                                  const float sw[8], uint8_t L[QK_K]);
void qk_quantize_q4_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q6_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_kquant_importance_weights_q2_k(const float *x, const float *qw, float weights[QK_K], float sw[16]);
void qk_kquant_weighted_finish_q2_k(const float *x, const float scales[16], const float mins[16], const float sw[16], uint8_t L[QK_K],
                                   void *block);
void qk_kquant_importance_weights_q3_k(const float *x, const float *qw, float weights[QK_K], float sw[16]);
void qk_kquant_weighted_finish_q3_k(const float *x, const float scales[16], const float sw[16], int8_t L[QK_K], void *block);
void qk_quantize_q2_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q2_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q3_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q3_k_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q4_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q6_k_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_iq4_nl_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_iq4_nl_weighted_avx512(const float *x, const float *qw, void *blocks, size_t n_per_row);
/* Blocks of 32 with importance weights (ref_legacy_weighted.c, ref_iq4nl.c). A row is quantized by
   qk_legacy_weighted_row, which can hand groups of 8 blocks to a vector search (search8: their
   values and weights laid out one block after another; it writes each block's scale, ggml's the_min
   and codes as the scalar searches do) and runs the rest, or everything when search8 is NULL, through
   the scalar searches. */
typedef enum { QK_LEGACY_Q4_0, QK_LEGACY_Q4_1, QK_LEGACY_Q5_0, QK_LEGACY_Q5_1 } qk_legacy_type;
typedef void (*qk_legacy_search8_fn)(const float *x, const float *weights, int nmax, int has_min, float scales[8], float the_min[8],
                                     uint8_t L[8 * QK_BLOCK]);
void qk_legacy_weighted_row(const float *x, const float *qw, void *blocks, size_t n_per_row, qk_legacy_type type, qk_legacy_search8_fn search8);
void qk_quantize_q4_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q4_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_iq4_nl_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q6_k_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q4_k_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q5_k_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q4_k_ref(const float *x, void *blocks, size_t n);
void qk_dequantize_q4_k_ref(const void *blocks, float *y, size_t n);
void qk_quantize_q5_k_ref(const float *x, void *blocks, size_t n);
void qk_dequantize_q5_k_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_mxfp4_ref(const void *blocks, float *y, size_t n);
void qk_dequantize_iq4_nl_ref(const void *blocks, float *y, size_t n);
void qk_gemm_ref(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                 float *cf, size_t ldc, const float *a_scales, const float *b_scales);

void qk_linear_error_ref(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                         const float *scales, const int32_t *zero_points, qk_error_stats *stats);
void qk_error_ref(const float *x, const float *r, size_t n, qk_error_stats *stats);
double qk_candidate_error_ref(const float *x, size_t n, qk_candidate c, double bound);

// x86 variants (defined only when compiling for x86_64).
#if defined(__x86_64__)
#define QK_HAVE_X86 1
size_t qk_minmax_avx512(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs);
void qk_quantize_avx512(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                        const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);
void qk_quantize_cols_avx512(const float *x, size_t rows, size_t cols, const float *inv_scales,
                             const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);
void qk_dequantize_avx512(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                          const int32_t *zero_points, float *out);
void qk_dequantize_cols_avx512(const uint8_t *q, int is_signed, size_t rows, size_t cols, const float *scales,
                               const int32_t *zero_points, float *out);
void qk_pack_avx512(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out);
void qk_unpack_avx512(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out);
void qk_f16_to_f32_avx512(const uint16_t *in, float *out, size_t n);
void qk_bf16_to_f32_avx512(const uint16_t *in, float *out, size_t n);
void qk_e4m3_to_f32_avx512(const uint8_t *in, float *out, size_t n);
void qk_e5m2_to_f32_avx512(const uint8_t *in, float *out, size_t n);
void qk_quantize_q8_0_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q4_0_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q4_1_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q5_0_avx512(const float *x, void *blocks, size_t n);
void qk_quantize_q5_1_avx512(const float *x, void *blocks, size_t n);
void qk_dequantize_q8_0_avx512(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_0_avx512(const void *blocks, float *y, size_t n);
void qk_linear_error_avx512(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                            const float *scales, const int32_t *zero_points, qk_error_stats *stats);
void qk_error_avx512(const float *x, const float *r, size_t n, qk_error_stats *stats);
double qk_candidate_error_avx512(const float *x, size_t n, qk_candidate c, double bound);
void qk_gemm_avx512(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                    float *cf, size_t ldc, const float *a_scales, const float *b_scales);

size_t qk_minmax_avx2(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs);
void qk_quantize_avx2(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                      const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);
void qk_dequantize_avx2(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                        const int32_t *zero_points, float *out);
void qk_f16_to_f32_avx2(const uint16_t *in, float *out, size_t n);
/* AVX2 block quantizers and error statistics (avx2_blocks.c, avx2_error.c). */
void qk_quantize_q8_0_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q4_0_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q4_1_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q5_0_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q5_1_avx2(const float *x, void *blocks, size_t n);
void qk_dequantize_q8_0_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_0_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q4_1_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q5_0_avx2(const void *blocks, float *y, size_t n);
void qk_dequantize_q5_1_avx2(const void *blocks, float *y, size_t n);
void qk_error_avx2(const float *x, const float *r, size_t n, qk_error_stats *stats);
/* AVX2 K-quant and IQ4_NL quantizers (avx2_kquants.c). */
void qk_quantize_iq4_nl_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_iq4_nl_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q4_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q4_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q3_k_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q6_k_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q4_k_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q5_k_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q2_k_avx2(const float *x, void *blocks, size_t n);
void qk_quantize_q2_k_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q3_k_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q4_k_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q5_k_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_quantize_q6_k_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row);
void qk_linear_error_avx2(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                          const float *scales, const int32_t *zero_points, qk_error_stats *stats);
/* The int8 register peaks of AVX2 (avx2_gemm.c): vpmaddwd on int16, and vpmaddubsw. */
double qk_int8_exact_peak_avx2(size_t iterations, int32_t *sink);
double qk_int8_maddubs_peak_avx2(size_t iterations, int32_t *sink);
void qk_gemm_avx2(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                  float *cf, size_t ldc, const float *a_scales, const float *b_scales);
#endif

#endif
