// The K-quant row quantizers, written once over simd_avx2.h or simd_avx512.h and kquant_search.h
// (include those first, inside the ISA's target region); V_NAME gives each its ISA suffix. Each pass
// of a search runs V_LANES sub-blocks, one per lane: a super-block of 16 sub-blocks of 16 (Q6_K, Q2_K,
// Q3_K) takes 16 / V_LANES passes, and a pass of 32-value sub-blocks (Q4_K, Q5_K) covers V_LANES / 8
// super-blocks. The steps after the search are the scalar ones (qk_kquant_store_*,
// qk_kquant_finish_*), so the results are bit-exact with ref_kquants.c, ref_kquants_low.c and
// ref_kquants_weighted.c on either ISA.
#ifndef QK_KQUANT_ROWS_H
#define QK_KQUANT_ROWS_H

/// Q4_K/Q5_K super-blocks (8 sub-blocks of 32) per pass.
enum { SUPERS_PER_PASS = V_LANES / 8 };
/// The passes over a super-block of 16 sub-blocks of 16: `o` is a pass's first value, `s` its first
/// sub-block.
#define FOR_SUB16_PASSES(o, s) for (int o = 0, s = 0; s < 16; o += V_LANES * 16, s += V_LANES)

_Static_assert(SUPERS_PER_PASS == 1 || SUPERS_PER_PASS == 2, "quantize_scale_min stores one or two super-blocks a pass");

/// Super-blocks i ..< i + SUPERS_PER_PASS of x for one pass; a short last group is copied into
/// `padded` with zero super-blocks after it (their lanes are flat and their results unused).
static inline const float *super_block_group(const float *x, size_t i, size_t count, float padded[SUPERS_PER_PASS * QK_K]) {
    if (i + SUPERS_PER_PASS <= count) return x + i * QK_K;
    memcpy(padded, x + i * QK_K, (count - i) * QK_K * sizeof(float));
    memset(padded + (count - i) * QK_K, 0, (i + SUPERS_PER_PASS - count) * QK_K * sizeof(float));
    return padded;
}

/// Q6_K with importance weights qw laid out as x, or NULL for the reference's x^2.
void V_NAME(qk_quantize_q6_k_weighted)(const float *x, const float *qw, void *blocks, size_t n) {
    qk_block_q6_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        FOR_SUB16_PASSES(o, s) search_signed(x + o, qw ? qw + i * QK_K + o : NULL, 32, 16, scales + s, L + o);
        qk_kquant_finish_q6_k(x, scales, L, &y[i]);
    }
}

void V_NAME(qk_quantize_q6_k)(const float *x, void *blocks, size_t n) { V_NAME(qk_quantize_q6_k_weighted)(x, NULL, blocks, n); }

static void quantize_scale_min(const float *x, size_t n, const qk_kquant_search *search, qk_kquant_store store, void *blocks) {
    float scales[V_LANES], mins[V_LANES], padded[SUPERS_PER_PASS * QK_K];
    uint8_t L[SUPERS_PER_PASS * QK_K];
    const size_t count = n / QK_K;
    for (size_t i = 0; i < count; i += SUPERS_PER_PASS) {
        const float *group = super_block_group(x, i, count, padded);
        search_scale_min(group, 32, 0, NULL, search, scales, mins, L);
        // Two stores written out: as a loop over b, Q4_K on AVX-512 measured 4% slower.
        store(blocks, i, group, scales, mins, L);
        if (SUPERS_PER_PASS == 2 && i + 1 < count) store(blocks, i + 1, group + QK_K, scales + 8, mins + 8, L + QK_K);
    }
}

void V_NAME(qk_quantize_q4_k)(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q4_k_search, qk_kquant_store_q4_k, blocks); }
void V_NAME(qk_quantize_q5_k)(const float *x, void *blocks, size_t n) { quantize_scale_min(x, n, &qk_q5_k_search, qk_kquant_store_q5_k, blocks); }

/// make_qkx3_quants (ref_kquants_weighted.c) is search_scale_min's search with given weights, 37
/// candidates from -0.9 in steps of 0.05 (its `max <= min` flat test equals `max == min` for finite
/// input).
static void quantize_weighted_scale_min(const float *x, const float *qw, void *blocks, size_t n_per_row, int nmax, int q5) {
    const qk_kquant_search search = {nmax, -0.9f, 0.05f, 36};
    float scales[V_LANES], mins[V_LANES], sw[V_LANES], weights[SUPERS_PER_PASS * QK_K], padded[SUPERS_PER_PASS * QK_K];
    uint8_t L[SUPERS_PER_PASS * QK_K];
    const size_t count = n_per_row / QK_K;
    for (size_t i = 0; i < count; i += SUPERS_PER_PASS) {
        const float *group = super_block_group(x, i, count, padded);
        for (size_t b = 0; b < SUPERS_PER_PASS; ++b) {
            if (i + b < count) qk_kquant_importance_weights(group + b * QK_K, qw + (i + b) * QK_K, weights + b * QK_K, sw + 8 * b);
            else memset(weights + b * QK_K, 0, QK_K * sizeof(float));
        }
        search_scale_min(group, 32, 0, weights, &search, scales, mins, L);
        for (size_t b = 0; b < SUPERS_PER_PASS && i + b < count; ++b) {
            qk_kquant_weighted_store_q45(blocks, i + b, group + b * QK_K, nmax, q5, scales + 8 * b, mins + 8 * b, sw + 8 * b, L + b * QK_K);
        }
    }
}

void V_NAME(qk_quantize_q4_k_weighted)(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 15, 0);
}

void V_NAME(qk_quantize_q5_k_weighted)(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_weighted_scale_min(x, qw, blocks, n_per_row, 31, 1);
}

void V_NAME(qk_quantize_q2_k)(const float *x, void *blocks, size_t n) {
    float scales[16], mins[16];
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        FOR_SUB16_PASSES(o, s) search_scale_min(x + o, 16, 1, NULL, &qk_q2_k_search, scales + s, mins + s, L + o);
        qk_kquant_store_q2_k(blocks, i, x, scales, mins, L);
    }
}

/// ggml's quantize_row_q2_K_impl: the search over 16 values with the given weights and squared
/// error, 37 candidates; the finish is the scalar one.
void V_NAME(qk_quantize_q2_k_weighted)(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    const qk_kquant_search search = {3, -0.9f, 0.05f, 36};
    float scales[16], mins[16], weights[QK_K], sw[16];
    uint8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q2_k(x, qw, weights, sw);
        FOR_SUB16_PASSES(o, s) search_scale_min(x + o, 16, 0, weights + o, &search, scales + s, mins + s, L + o);
        qk_kquant_weighted_finish_q2_k(x, scales, mins, sw, L, (qk_block_q2_k *)blocks + i);
    }
}

void V_NAME(qk_quantize_q3_k)(const float *x, void *blocks, size_t n) {
    qk_block_q3_k *y = blocks;
    int8_t L[QK_K];
    float scales[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        FOR_SUB16_PASSES(o, s) search_q3_k(x + o, scales + s, L + o);
        qk_kquant_finish_q3_k(x, scales, L, &y[i]);
    }
}

/// ggml's quantize_row_q3_K_impl: the signed search with nmax 4 and the given weights per lane.
void V_NAME(qk_quantize_q3_k_weighted)(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    float scales[16], weights[QK_K], sw[16];
    int8_t L[QK_K];
    for (size_t i = 0; i < n_per_row / QK_K; i++, x += QK_K, qw += QK_K) {
        qk_kquant_importance_weights_q3_k(x, qw, weights, sw);
        FOR_SUB16_PASSES(o, s) search_signed(x + o, weights + o, 4, 16, scales + s, L + o);
        qk_kquant_weighted_finish_q3_k(x, scales, sw, L, (qk_block_q3_k *)blocks + i);
    }
}
#endif
