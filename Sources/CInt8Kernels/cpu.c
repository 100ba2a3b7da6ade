// CPU feature detection and the kernel tables, chosen once.
#include "internal.h"
#include <stdatomic.h>
#include <stdlib.h>

int qk_detect_isa(void) {
#if defined(QK_HAVE_X86)
    // QK_FORCE_ISA=scalar|avx2 lets operators (and CI) pin a lower variant.
    const char *forced = getenv("QK_FORCE_ISA");
    int limit = QK_ISA_AVX512;
    if (forced && strcmp(forced, "scalar") == 0) limit = QK_ISA_SCALAR;
    if (forced && strcmp(forced, "avx2") == 0) limit = QK_ISA_AVX2;
    __builtin_cpu_init();
    if (limit >= QK_ISA_AVX512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma"))
        return QK_ISA_AVX512;
    if (limit >= QK_ISA_AVX2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        return QK_ISA_AVX2;
#endif
    return QK_ISA_SCALAR;
}

/* The K-quant references: the scalar table's. */
#define KQUANT_REFERENCES                                                                              \
    .quantize_q6_k = qk_quantize_q6_k_ref, .dequantize_q6_k = qk_dequantize_q6_k_ref,                 \
    .quantize_q4_k = qk_quantize_q4_k_ref, .dequantize_q4_k = qk_dequantize_q4_k_ref,                 \
    .quantize_q5_k = qk_quantize_q5_k_ref, .dequantize_q5_k = qk_dequantize_q5_k_ref,                 \
    .quantize_q4_k_weighted = qk_quantize_q4_k_weighted_ref,                                           \
    .quantize_q5_k_weighted = qk_quantize_q5_k_weighted_ref,                                           \
    .quantize_q6_k_weighted = qk_quantize_q6_k_weighted_ref,                                           \
    .quantize_q2_k_weighted = qk_quantize_q2_k_weighted_ref,                                           \
    .quantize_q3_k_weighted = qk_quantize_q3_k_weighted_ref,                                           \
    LOW_BIT_KQUANT_REFERENCES,                                                                         \
    .quantize_q4_0_weighted = qk_quantize_q4_0_weighted_ref,                                           \
    .quantize_q4_1_weighted = qk_quantize_q4_1_weighted_ref,                                           \
    .quantize_q5_0_weighted = qk_quantize_q5_0_weighted_ref,                                           \
    .quantize_q5_1_weighted = qk_quantize_q5_1_weighted_ref,                                           \
    .quantize_iq4_nl_weighted = qk_quantize_iq4_nl_weighted_ref

/* Q2_K and Q3_K: the references (the AVX-512 table has its own quantizers). */
#define LOW_BIT_KQUANT_REFERENCES                                                                      \
    .quantize_q2_k = qk_quantize_q2_k_ref, .dequantize_q2_k = qk_dequantize_q2_k_ref,                 \
    .quantize_q3_k = qk_quantize_q3_k_ref, .dequantize_q3_k = qk_dequantize_q3_k_ref

static const qk_kernel_table scalar_table = {
    .isa = QK_ISA_SCALAR,
    .minmax = qk_minmax_ref,
    .minmax_cols = qk_minmax_cols_ref,
    .quantize = qk_quantize_ref,
    .quantize_cols = qk_quantize_cols_ref,
    .dequantize = qk_dequantize_ref,
    .dequantize_cols = qk_dequantize_cols_ref,
    .pack = qk_pack_ref,
    .unpack = qk_unpack_ref,
    .f16_to_f32 = qk_f16_to_f32_ref,
    .bf16_to_f32 = qk_bf16_to_f32_ref,
    .e4m3_to_f32 = qk_e4m3_to_f32_ref,
    .e5m2_to_f32 = qk_e5m2_to_f32_ref,
    .quantize_q8_0 = qk_quantize_q8_0_ref,
    .quantize_q4_0 = qk_quantize_q4_0_ref,
    .quantize_q4_1 = qk_quantize_q4_1_ref,
    .quantize_q5_0 = qk_quantize_q5_0_ref,
    .quantize_q5_1 = qk_quantize_q5_1_ref,
    .quantize_mxfp4 = qk_quantize_mxfp4_ref,
    .quantize_iq4_nl = qk_quantize_iq4_nl_ref,
    .dequantize_q8_0 = qk_dequantize_q8_0_ref,
    .dequantize_q4_0 = qk_dequantize_q4_0_ref,
    .dequantize_q4_1 = qk_dequantize_q4_1_ref,
    .dequantize_q5_0 = qk_dequantize_q5_0_ref,
    .dequantize_q5_1 = qk_dequantize_q5_1_ref,
    .dequantize_mxfp4 = qk_dequantize_mxfp4_ref,
    .dequantize_iq4_nl = qk_dequantize_iq4_nl_ref,
    KQUANT_REFERENCES,
    .gemm = qk_gemm_ref,
    .linear_error = qk_linear_error_ref,
    .error = qk_error_ref,
    .candidate_error = qk_candidate_error_ref,
};

#if defined(QK_HAVE_X86)
static const qk_kernel_table avx2_table = {
    .isa = QK_ISA_AVX2,
    .minmax = qk_minmax_avx2,
    .minmax_cols = qk_minmax_cols_avx2,
    .quantize = qk_quantize_avx2,
    .quantize_cols = qk_quantize_cols_ref,
    .dequantize = qk_dequantize_avx2,
    .dequantize_cols = qk_dequantize_cols_ref,
    .pack = qk_pack_avx2,
    .unpack = qk_unpack_avx2,
    .f16_to_f32 = qk_f16_to_f32_avx2,
    .bf16_to_f32 = qk_bf16_to_f32_ref,
    .e4m3_to_f32 = qk_e4m3_to_f32_ref,
    .e5m2_to_f32 = qk_e5m2_to_f32_ref,
    .quantize_q8_0 = qk_quantize_q8_0_avx2,
    .quantize_q4_0 = qk_quantize_q4_0_avx2,
    .quantize_q4_1 = qk_quantize_q4_1_avx2,
    .quantize_q5_0 = qk_quantize_q5_0_avx2,
    .quantize_q5_1 = qk_quantize_q5_1_avx2,
    .quantize_mxfp4 = qk_quantize_mxfp4_ref,
    .quantize_iq4_nl = qk_quantize_iq4_nl_avx2,
    .dequantize_q8_0 = qk_dequantize_q8_0_avx2,
    .dequantize_q4_0 = qk_dequantize_q4_0_avx2,
    .dequantize_q4_1 = qk_dequantize_q4_1_avx2,
    .dequantize_q5_0 = qk_dequantize_q5_0_avx2,
    .dequantize_q5_1 = qk_dequantize_q5_1_avx2,
    .dequantize_mxfp4 = qk_dequantize_mxfp4_ref,
    .dequantize_iq4_nl = qk_dequantize_iq4_nl_ref,
    .quantize_q6_k = qk_quantize_q6_k_avx2, .dequantize_q6_k = qk_dequantize_q6_k_avx2,
    .quantize_q4_k = qk_quantize_q4_k_avx2, .dequantize_q4_k = qk_dequantize_q4_k_avx2,
    .quantize_q5_k = qk_quantize_q5_k_avx2, .dequantize_q5_k = qk_dequantize_q5_k_avx2,
    .quantize_q2_k = qk_quantize_q2_k_avx2, .dequantize_q2_k = qk_dequantize_q2_k_avx2,
    .quantize_q3_k = qk_quantize_q3_k_avx2, .dequantize_q3_k = qk_dequantize_q3_k_avx2,
    .quantize_q4_k_weighted = qk_quantize_q4_k_weighted_avx2,
    .quantize_q5_k_weighted = qk_quantize_q5_k_weighted_avx2,
    .quantize_q6_k_weighted = qk_quantize_q6_k_weighted_avx2,
    .quantize_q2_k_weighted = qk_quantize_q2_k_weighted_avx2,
    .quantize_q3_k_weighted = qk_quantize_q3_k_weighted_avx2,
    .quantize_q4_0_weighted = qk_quantize_q4_0_weighted_avx2,
    .quantize_q4_1_weighted = qk_quantize_q4_1_weighted_avx2,
    .quantize_q5_0_weighted = qk_quantize_q5_0_weighted_avx2,
    .quantize_q5_1_weighted = qk_quantize_q5_1_weighted_avx2,
    .quantize_iq4_nl_weighted = qk_quantize_iq4_nl_weighted_avx2,
    .gemm = qk_gemm_avx2,
    .linear_error = qk_linear_error_avx2,
    .error = qk_error_avx2,
    .candidate_error = qk_candidate_error_ref,
};

static const qk_kernel_table avx512_table = {
    .isa = QK_ISA_AVX512,
    .minmax = qk_minmax_avx512,
    .minmax_cols = qk_minmax_cols_avx2,  // the AVX2 pass: it is bound by memory, not width
    .quantize = qk_quantize_avx512,
    .quantize_cols = qk_quantize_cols_avx512,
    .dequantize = qk_dequantize_avx512,
    .dequantize_cols = qk_dequantize_cols_avx512,
    .pack = qk_pack_avx512,
    .unpack = qk_unpack_avx512,
    .f16_to_f32 = qk_f16_to_f32_avx512,
    .bf16_to_f32 = qk_bf16_to_f32_avx512,
    .e4m3_to_f32 = qk_e4m3_to_f32_avx512,
    .e5m2_to_f32 = qk_e5m2_to_f32_avx512,
    .quantize_q8_0 = qk_quantize_q8_0_avx512,
    .quantize_q4_0 = qk_quantize_q4_0_avx512,
    .quantize_q4_1 = qk_quantize_q4_1_avx512,
    .quantize_q5_0 = qk_quantize_q5_0_avx512,
    .quantize_q5_1 = qk_quantize_q5_1_avx512,
    .quantize_mxfp4 = qk_quantize_mxfp4_ref,
    .quantize_iq4_nl = qk_quantize_iq4_nl_avx512,
    .dequantize_q8_0 = qk_dequantize_q8_0_avx512,
    .dequantize_q4_0 = qk_dequantize_q4_0_avx512,
    .dequantize_q4_1 = qk_dequantize_q4_1_avx2,  // AVX-512 hosts run the AVX2 dequantizers of these three
    .dequantize_q5_0 = qk_dequantize_q5_0_avx2,
    .dequantize_q5_1 = qk_dequantize_q5_1_avx2,
    .dequantize_mxfp4 = qk_dequantize_mxfp4_ref,
    .dequantize_iq4_nl = qk_dequantize_iq4_nl_ref,
    .quantize_q6_k = qk_quantize_q6_k_avx512,
    .dequantize_q6_k = qk_dequantize_q6_k_avx2,  // the AVX2 dequantizer
    .quantize_q4_k = qk_quantize_q4_k_avx512,
    .dequantize_q4_k = qk_dequantize_q4_k_avx2,  // the AVX2 dequantizer
    .quantize_q5_k = qk_quantize_q5_k_avx512,
    .dequantize_q5_k = qk_dequantize_q5_k_avx2,  // the AVX2 dequantizer
    .quantize_q2_k = qk_quantize_q2_k_avx512,
    .dequantize_q2_k = qk_dequantize_q2_k_avx2,  // the AVX2 dequantizer
    .quantize_q3_k = qk_quantize_q3_k_avx512,
    .dequantize_q3_k = qk_dequantize_q3_k_avx2,  // the AVX2 dequantizer
    .quantize_q4_k_weighted = qk_quantize_q4_k_weighted_avx512,
    .quantize_q5_k_weighted = qk_quantize_q5_k_weighted_avx512,
    .quantize_q6_k_weighted = qk_quantize_q6_k_weighted_avx512,
    .quantize_q2_k_weighted = qk_quantize_q2_k_weighted_avx512,
    .quantize_q3_k_weighted = qk_quantize_q3_k_weighted_avx512,
    // Q4_0 ... Q5_1 with importance weights: AVX-512 hosts run the AVX2 versions.
    .quantize_q4_0_weighted = qk_quantize_q4_0_weighted_avx2,
    .quantize_q4_1_weighted = qk_quantize_q4_1_weighted_avx2,
    .quantize_q5_0_weighted = qk_quantize_q5_0_weighted_avx2,
    .quantize_q5_1_weighted = qk_quantize_q5_1_weighted_avx2,
    .quantize_iq4_nl_weighted = qk_quantize_iq4_nl_weighted_avx512,
    .gemm = qk_gemm_avx512,
    .linear_error = qk_linear_error_avx512,
    .error = qk_error_avx512,
    .candidate_error = qk_candidate_error_avx512,
};
#endif

const qk_kernel_table *qk_kernels_for(int isa) {
    static _Atomic int detected = -1;
    int best = atomic_load(&detected);
    if (best < 0) {
        best = qk_detect_isa();
        atomic_store(&detected, best);
    }
    if (isa > best) return NULL;
    switch (isa) {
    case QK_ISA_SCALAR: return &scalar_table;
#if defined(QK_HAVE_X86)
    case QK_ISA_AVX2: return &avx2_table;
    case QK_ISA_AVX512: return &avx512_table;
#endif
    default: return NULL;
    }
}

const qk_kernel_table *qk_kernels(void) {
    for (int isa = QK_ISA_AVX512; isa > QK_ISA_SCALAR; isa--) {
        const qk_kernel_table *table = qk_kernels_for(isa);
        if (table) return table;
    }
    return &scalar_table;
}
