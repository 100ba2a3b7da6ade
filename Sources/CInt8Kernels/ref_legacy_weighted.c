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

/// Symmetric blocks (Q4_0: nmax 8, Q5_0: nmax 16): make_qx_quants with the block's weights.
static float signed_block(const float *xb, const float *qw, float sigma2, int nmax, uint8_t L[QK_BLOCK]) {
    float weight[QK_BLOCK];
    int8_t codes[QK_BLOCK];
    block_weights(xb, qw, sigma2, weight);
    const float d = qk_kquant_signed_scale(QK_BLOCK, nmax, xb, weight, codes);
    for (int j = 0; j < QK_BLOCK; ++j) L[j] = (uint8_t)codes[j];
    return d;
}

/// Blocks with a min (Q4_1: nmax 15, Q5_1: nmax 31): make_qkx3_quants with the block's weights.
/// Returns the scale; *min receives ggml's the_min (the block's offset is -the_min).
static float scale_min_block(const float *xb, const float *qw, float sigma2, int nmax, uint8_t L[QK_BLOCK], float *min) {
    float weight[QK_BLOCK];
    uint8_t Laux[QK_BLOCK];
    block_weights(xb, qw, sigma2, weight);
    return qk_kquant_scale_min_search(QK_BLOCK, nmax, xb, weight, L, min, Laux, -0.9f, 0.05f, 36, 0);
}

/// Writes block i of a row from its scale, ggml's the_min (Q4_1/Q5_1) and codes.
typedef void (*store_block_fn)(void *blocks, size_t i, float d, float the_min, const uint8_t L[QK_BLOCK]);

/// One row, block by block: the signed search (Q4_0: nmax 8, Q5_0: 16) or the scale-and-min search
/// (Q4_1: 15, Q5_1: 31), weighted by the row's sigma2 and the block's importance.
static void quantize_row(const float *x, const float *qw, void *blocks, size_t n_per_row, int nmax, int has_min, store_block_fn store) {
    const float sigma2 = row_mean_square(x, n_per_row);
    uint8_t L[QK_BLOCK];
    for (size_t ib = 0; ib < n_per_row / QK_BLOCK; ++ib) {
        const float *xb = x + ib * QK_BLOCK, *wb = qw + ib * QK_BLOCK;
        float the_min = 0;
        const float d = has_min ? scale_min_block(xb, wb, sigma2, nmax, L, &the_min) : signed_block(xb, wb, sigma2, nmax, L);
        store(blocks, ib, d, the_min, L);
    }
}

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

void qk_quantize_q4_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_row(x, qw, blocks, n_per_row, 8, 0, store_q4_0);
}

void qk_quantize_q5_0_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_row(x, qw, blocks, n_per_row, 16, 0, store_q5_0);
}

void qk_quantize_q4_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_row(x, qw, blocks, n_per_row, 15, 1, store_q4_1);
}

void qk_quantize_q5_1_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    quantize_row(x, qw, blocks, n_per_row, 31, 1, store_q5_1);
}
