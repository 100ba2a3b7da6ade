// Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL with importance weights: ggml's quantize_row_q{4,5}_{0,1}_impl
// and quantize_iq4_nl with quant_weights, the path llama.cpp's quantize takes for these types when it
// is given an importance matrix. `qw` holds one weight per column of the row (the mean squared input
// of that column). Each value weighs qw * sqrt(sigma2 + x^2), sigma2 being the row's mean square
// (IQ4_NL: twice the block's), so a column whose inputs are large is fitted more closely. Without
// weights ggml (and ref_blocks.c) use the plain round-to-nearest references instead.
#include "internal.h"
#include <math.h>
#include <string.h>

/// The mean square of a row, summed in order in float as ggml does.
static float row_mean_square(const float *x, size_t n) {
    float sum = 0;
    for (size_t j = 0; j < n; ++j) sum += x[j] * x[j];
    return sum / (float)n;
}

static void block_weights(const float *xb, const float *qw, float sigma2, float weight[QK_BLOCK]) {
    for (int j = 0; j < QK_BLOCK; ++j) weight[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
}

/// Codes 0..31 of a 5-bit block: low nibbles in qs (value j and j + 16 share a byte), fifth bits in qh.
static void pack_five_bits(const uint8_t L[QK_BLOCK], uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = (uint8_t)((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
        qh |= (uint32_t)((L[j] & 0x10u) >> 4) << j;
        qh |= (uint32_t)((L[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    memcpy(qh_bytes, &qh, sizeof qh);
}

/// One block's search: the signed one (Q4_0: nmax 8, Q5_0: 16; make_qx_quants) or the scale-and-min
/// one (Q4_1: 15, Q5_1: 31; make_qkx3_quants). Returns the scale; *the_min receives ggml's the_min
/// (the block's offset is -the_min), 0 for the signed types; L the codes (+nmax for signed).
static float search_block(const float *xb, const float weight[QK_BLOCK], int nmax, int has_min, uint8_t L[QK_BLOCK], float *the_min) {
    *the_min = 0;
    if (has_min) {
        uint8_t Laux[QK_BLOCK];
        return qk_kquant_scale_min_search(QK_BLOCK, nmax, xb, weight, L, the_min, Laux, -0.9f, 0.05f, 36, 0);
    }
    return qk_kquant_signed_scale(QK_BLOCK, nmax, xb, weight, (int8_t *)L);
}

/// Writes block i of a row from its scale, ggml's the_min (Q4_1/Q5_1) and codes.
typedef void (*store_block_fn)(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]);

static void pack_four_bits(const uint8_t L[QK_BLOCK], uint8_t qs[16]) {
    for (int j = 0; j < 16; ++j) qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

static void store_q4_0(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]) {
    (void)the_min;
    qk_block_q4_0 *y = (qk_block_q4_0 *)blocks + i;
    y->d = qk_fp32_to_fp16(d);
    pack_four_bits(L, y->qs);
}

static void store_q5_0(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]) {
    (void)the_min;
    qk_block_q5_0 *y = (qk_block_q5_0 *)blocks + i;
    y->d = qk_fp32_to_fp16(d);
    pack_five_bits(L, y->qs, y->qh);
}

/// The block's offset is -the_min, stored as m.
static void store_q4_1(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]) {
    qk_block_q4_1 *y = (qk_block_q4_1 *)blocks + i;
    y->d = qk_fp32_to_fp16(d);
    y->m = qk_fp32_to_fp16(-the_min);
    pack_four_bits(L, y->qs);
}

static void store_q5_1(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]) {
    qk_block_q5_1 *y = (qk_block_q5_1 *)blocks + i;
    y->d = qk_fp32_to_fp16(d);
    y->m = qk_fp32_to_fp16(-the_min);
    pack_five_bits(L, y->qs, y->qh);
}

static const struct { int nmax, has_min; store_block_fn store; } legacy_types[] = {
    [QK_LEGACY_Q4_0] = {8, 0, store_q4_0},
    [QK_LEGACY_Q4_1] = {15, 1, store_q4_1},
    [QK_LEGACY_Q5_0] = {16, 0, store_q5_0},
    [QK_LEGACY_Q5_1] = {31, 1, store_q5_1},
};

void qk_legacy_weighted_row(const float *x, const float *qw, void *blocks, size_t n_per_row, qk_legacy_type type, qk_legacy_search8_fn search8) {
    const int nmax = legacy_types[type].nmax, has_min = legacy_types[type].has_min;
    const store_block_fn store = legacy_types[type].store;
    const float sigma2 = row_mean_square(x, n_per_row);
    const size_t count = n_per_row / QK_BLOCK;
    float weights[8 * QK_BLOCK], scales[8], mins[8];
    uint8_t L[8 * QK_BLOCK];
    size_t ib = 0;
    for (; search8 && ib + 8 <= count; ib += 8) {
        for (size_t b = 0; b < 8; ++b) block_weights(x + (ib + b) * QK_BLOCK, qw + (ib + b) * QK_BLOCK, sigma2, weights + b * QK_BLOCK);
        search8(x + ib * QK_BLOCK, weights, nmax, has_min, scales, mins, L);
        for (size_t b = 0; b < 8; ++b) store(blocks, ib + b, scales[b], mins[b], L + b * QK_BLOCK);
    }
    for (; ib < count; ++ib) {
        float the_min;
        block_weights(x + ib * QK_BLOCK, qw + ib * QK_BLOCK, sigma2, weights);
        const float d = search_block(x + ib * QK_BLOCK, weights, nmax, has_min, L, &the_min);
        store(blocks, ib, d, the_min, L);
    }
}

void qk_quantize_q4_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_0, NULL);
}

void qk_quantize_q5_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_0, NULL);
}

void qk_quantize_q4_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q4_1, NULL);
}

void qk_quantize_q5_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_legacy_weighted_row(x, qw, blocks, n_per_row, QK_LEGACY_Q5_1, NULL);
}
