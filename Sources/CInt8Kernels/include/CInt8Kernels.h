// CInt8Kernels: the int8 kernels of QuantService.
//
// Every kernel has a portable scalar reference (`*_ref`, in ref_*.c). Fast variants (AVX2,
// AVX-512) live in their own files, compiled with per-function target attributes, and are chosen
// once at start-up by a CPU check (`qk_kernels()`). Tests call every variant the machine supports
// and compare it with the reference: bit-exact for integer outputs.
//
// Conventions: row-major matrices; `rows x cols`; a "group" is a run of `group` consecutive elements
// of a row (the last group of a row may be shorter). The scale index of element (r, c) is
// `r * ceil(cols / group) + c / group`, so per-tensor is rows = 1, group = cols, and per-row
// (per-channel on axis 0) is group = cols.
#ifndef CINT8KERNELS_H
#define CINT8KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU features and variant selection

enum qk_isa { QK_ISA_SCALAR = 0, QK_ISA_AVX2 = 1, QK_ISA_AVX512 = 2 };

/// The best ISA this CPU supports (AVX-512 means F, BW, VL, DQ and VNNI; AVX2 means AVX2, FMA, F16C).
int qk_detect_isa(void);

// MARK: - Kernel signatures

/// Min and max per group; returns the number of non-finite inputs (then min/max are unspecified).
typedef size_t (*qk_minmax_fn)(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs);
/// Min and max of each column of a rows x cols matrix, folded into mins[cols] and maxs[cols] (which
/// the caller initialises, +Inf and -Inf for a fresh start). Non-finite values are skipped and
/// counted (the return value). min is `v < lo ? v : lo`, max `v >= hi ? v : hi`, as Swift's.
typedef size_t (*qk_minmax_cols_fn)(const float *x, size_t rows, size_t cols, float *mins, float *maxs);

/// q = clamp(round_half_even(x * inv_scale) + zero_point, qmin, qmax), stored as its low byte (so
/// signed codes are two's complement). `zero_points` may be NULL (all zero). Inputs must be finite.
typedef void (*qk_quantize_fn)(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                               const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);

/// The same with one scale per column (per-channel on the last axis).
typedef void (*qk_quantize_cols_fn)(const float *x, size_t rows, size_t cols, const float *inv_scales,
                                    const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out);

/// r = scale * (q - zero_point), with q read as int8 (is_signed) or uint8.
typedef void (*qk_dequantize_fn)(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                                 const float *scales, const int32_t *zero_points, float *out);

typedef void (*qk_dequantize_cols_fn)(const uint8_t *q, int is_signed, size_t rows, size_t cols,
                                      const float *scales, const int32_t *zero_points, float *out);

/// Packs the low `bits` (1-8) of each code: element i of a row takes bits [i*bits, (i+1)*bits) of the
/// row's bytes, least significant bit first; each row is padded to whole bytes
/// (row stride = ceil(cols * bits / 8)).
typedef void (*qk_pack_fn)(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out);

/// Inverse of pack; with sign_extend, fields are read as `bits`-wide two's complement.
typedef void (*qk_unpack_fn)(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend,
                             uint8_t *out);

typedef void (*qk_convert16_fn)(const uint16_t *in, float *out, size_t n);
typedef void (*qk_convert8_fn)(const uint8_t *in, float *out, size_t n);

/// ggml block formats; n is a multiple of 32. Bit-exact with ggml's quantize_row_*_ref.
typedef void (*qk_block_quantize_fn)(const float *x, void *blocks, size_t n);
typedef void (*qk_block_dequantize_fn)(const void *blocks, float *y, size_t n);
typedef void (*qk_weighted_quantize_fn)(const float *x, const float *qw, void *blocks, size_t n_per_row);

/// Int8 GEMM on rows [m_begin, m_end) of C = A * B^T, A: M x K int8, B prepared by
/// qk_gemm_prepare. Writes s32 (c32, ldc) when c32 != NULL, else fp32:
/// cf[m, n] = ((float)acc * a_scales[m]) * b_scales[n].
typedef struct qk_gemm_b qk_gemm_b;
typedef void (*qk_gemm_fn)(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end,
                           int32_t *c32, float *cf, size_t ldc, const float *a_scales, const float *b_scales);

/// Reconstruction-error sums: Σx², Σ(x-r)², Σx·r, Σr² (in double) and max |x-r|.
typedef struct {
    double sum_xx, sum_ee, sum_xr, sum_rr;
    float max_abs;
} qk_error_stats;

/// Error of a linear quantization without materialising r: r = scale * (q - zero_point), with the
/// row/group scale layout of qk_quantize. Adds into *stats.
typedef void (*qk_linear_error_fn)(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                                   const float *scales, const int32_t *zero_points, qk_error_stats *stats);
/// Error between two float arrays. Adds into *stats.
typedef void (*qk_error_fn)(const float *x, const float *r, size_t n, qk_error_stats *stats);

/// One candidate of the mse clipping search: a linear quantizer's parameters.
typedef struct { float inverse, scale, zero, qmin, qmax; } qk_candidate;
/// Σ (x - dequantize(quantize(x)))² over x[0..n), in blocks of 32 values, stopping after the first
/// block that takes the sum past `bound` (the result is then only known to exceed it). Every
/// variant sums in the same order (16 lanes, lane i taking values i and i + 16 of a block, lanes
/// added pairwise), so all return the same bits and make the same choices.
typedef double (*qk_candidate_error_fn)(const float *x, size_t n, qk_candidate c, double bound);

/// One implementation of every kernel.
typedef struct {
    int isa;
    qk_minmax_fn minmax;
    qk_minmax_cols_fn minmax_cols;
    qk_quantize_fn quantize;
    qk_quantize_cols_fn quantize_cols;
    qk_dequantize_fn dequantize;
    qk_dequantize_cols_fn dequantize_cols;
    qk_pack_fn pack;
    qk_unpack_fn unpack;
    qk_convert16_fn f16_to_f32;
    qk_convert16_fn bf16_to_f32;
    qk_convert8_fn e4m3_to_f32;
    qk_convert8_fn e5m2_to_f32;
    qk_block_quantize_fn quantize_q8_0, quantize_q4_0, quantize_q4_1, quantize_q5_0, quantize_q5_1, quantize_mxfp4, quantize_iq4_nl, quantize_q6_k, quantize_q4_k, quantize_q5_k, quantize_q2_k, quantize_q3_k;
    qk_block_dequantize_fn dequantize_q8_0, dequantize_q4_0, dequantize_q4_1, dequantize_q5_0, dequantize_q5_1, dequantize_mxfp4, dequantize_iq4_nl, dequantize_q6_k, dequantize_q4_k, dequantize_q5_k, dequantize_q2_k, dequantize_q3_k;
    /// One row of n_per_row values (a multiple of 256) into Q2_K ... Q6_K blocks with one
    /// importance weight per column (qw): ggml's quantize_row_q{2,3,4,5,6}_K_impl.
    qk_weighted_quantize_fn quantize_q2_k_weighted, quantize_q3_k_weighted, quantize_q4_k_weighted, quantize_q5_k_weighted,
        quantize_q6_k_weighted;
    /// The same for blocks of 32 (n_per_row a multiple of 32): ggml's quantize_row_q{4,5}_{0,1}_impl
    /// and quantize_iq4_nl with quant_weights. The AVX-512 table uses the AVX2 ones (8 blocks per
    /// pass); the scalar table the references.
    qk_weighted_quantize_fn quantize_q4_0_weighted, quantize_q4_1_weighted, quantize_q5_0_weighted, quantize_q5_1_weighted,
        quantize_iq4_nl_weighted;
    qk_gemm_fn gemm;
    qk_linear_error_fn linear_error;
    qk_error_fn error;
    qk_candidate_error_fn candidate_error;
} qk_kernel_table;

/// The table for one ISA, or NULL if this CPU (or this build) lacks it.
const qk_kernel_table *qk_kernels_for(int isa);
/// The best table for this CPU, chosen once.
const qk_kernel_table *qk_kernels(void);

// MARK: - GEMM preparation (shared by all variants)

/// Packs B (N x K int8, row stride ldb) into the layout the GEMM kernels read, with column sums.
/// Returns NULL on allocation failure. Free with qk_gemm_free.
qk_gemm_b *qk_gemm_prepare(const int8_t *b, size_t ldb, size_t n, size_t k);
void qk_gemm_free(qk_gemm_b *b);

// MARK: - Scalar helpers shared with Swift

uint16_t qk_fp32_to_fp16(float x);
float qk_fp16_to_fp32(uint16_t h);

// MARK: - Benchmark support

/// A register-only int8 multiply-accumulate loop for the machine's peak (VNNI, else AVX2 maddubs).
/// Returns the number of int8 operations performed (2 per multiply-add), and `*sink` defeats DCE.
double qk_int8_peak(size_t iterations, int isa, int32_t *sink);

/// The register peak of the instruction mix the table's GEMM runs: AVX-512 VNNI's vpdpbusd, or on
/// the AVX2 table the exact path's vpmaddwd + vpaddd (half the work per instruction of
/// vpmaddubsw, which the int8 peak counts). The GEMM's own baseline.
double qk_gemm_peak(size_t iterations, int isa, int32_t *sink);

/// Large buffers aligned to 2 MiB with transparent huge pages requested.
void *qk_alloc_large(size_t bytes);
void qk_free_large(void *p, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
