// AVX2 K-quant and IQ4_NL quantizers (hosts without AVX-512): kquant_rows.h and iq4nl_rows.h on 8
// lanes. Also the legacy blocks with importance weights, which the AVX-512 table uses too.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "simd_avx2.h"
#include "kquant_search.h"
#include "kquant_rows.h"
#include "iq4nl_rows.h"

enum { LANES = V_LANES };

// MARK: - Q4_0 ... Q5_1 with importance weights

/// Eight consecutive blocks of 32 for qk_legacy_weighted_row: the signed search (Q4_0, Q5_0) or the
/// scale-and-min search with make_qkx3_quants' 37 candidates (Q4_1, Q5_1), one block per lane.
static void legacy_search8(const float *x, const float *weights, int nmax, int has_min, float scales[LANES], float the_min[LANES],
                           uint8_t L[LANES * QK_BLOCK]) {
    if (has_min) {
        const qk_kquant_search search = {nmax, -0.9f, 0.05f, 36};
        search_scale_min(x, QK_BLOCK, 0, weights, &search, scales, the_min, L);
    } else {
        search_signed(x, weights, nmax, QK_BLOCK, scales, (int8_t *)L);
        memset(the_min, 0, LANES * sizeof(float));
    }
}

void qk_quantize_q4_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_0, legacy_search8);
}

void qk_quantize_q4_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_1, legacy_search8);
}

void qk_quantize_q5_0_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_0, legacy_search8);
}

void qk_quantize_q5_1_weighted_avx2(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_1, legacy_search8);
}

#pragma clang attribute pop
#endif
