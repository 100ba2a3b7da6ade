// IQ4_NL: blocks of 32 with an fp16 scale and 4-bit indices into a fixed non-uniform table of 16
// int8 levels (denser near zero, where weights are). ggml's quantize_row_iq4_nl_ref step by step:
// quantize_row_iq4_nl_impl with one block per "super-block"; without importance weights each value
// weighs its square, and a search over 15 candidate scales around max / -127.
#include "internal.h"

const int8_t qk_iq4nl_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// ggml's best_index_int8: the nearest level by bisection (ties to the upper level only when
/// strictly nearer, as ggml compares).
static inline int best_index_iq4nl(float x) {
    const int8_t *val = qk_iq4nl_levels;
    if (x <= val[0]) return 0;
    if (x >= val[15]) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav; else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/// The scale of one block of 32 (0 for an all-zero block), ggml's search with ntry = 7, each value
/// weighing weight[j].
static float iq4nl_block_scale(const float *x, const float weight[QK_BLOCK]) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK_BLOCK; ++j) {
        const float ax = fabsf(x[j]);
        if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (amax < K_GROUP_EPS) return 0;
    const int ntry = 7;
    float d = -max / qk_iq4nl_levels[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < QK_BLOCK; ++j) {
        const float q = qk_iq4nl_levels[best_index_iq4nl(id * x[j])];
        sumqx += weight[j] * q * x[j];
        sumq2 += weight[j] * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
        id = (itry + qk_iq4nl_levels[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < QK_BLOCK; ++j) {
            const float q = qk_iq4nl_levels[best_index_iq4nl(id * x[j])];
            sumqx += weight[j] * q * x[j];
            sumq2 += weight[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/// One block from its weights: the scale, then each value's index under it (from the float scale,
/// not its fp16 rounding, as ggml does).
static void iq4nl_block(const float *b, const float weight[QK_BLOCK], qk_block_iq4_nl *y) {
    const float d = iq4nl_block_scale(b, weight);
    y->d = qk_fp32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;
    for (int j = 0; j < QK_BLOCK / 2; ++j) {
        const int lo = best_index_iq4nl(id * b[j]), hi = best_index_iq4nl(id * b[QK_BLOCK / 2 + j]);
        y->qs[j] = (uint8_t)(lo | (hi << 4));
    }
}

void qk_quantize_iq4_nl_ref(const float *x, void *blocks, size_t n) {
    qk_block_iq4_nl *y = blocks;
    float weight[QK_BLOCK];
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        for (int j = 0; j < QK_BLOCK; ++j) weight[j] = b[j] * b[j];
        iq4nl_block(b, weight, &y[i]);
    }
}

/// ggml's quantize_iq4_nl with quant_weights: each value weighs qw * sqrt(sigma2 + x^2), sigma2 being
/// twice the block's mean square (computed as ggml does: the sum times 2/32).
void qk_quantize_iq4_nl_weighted_ref(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_block_iq4_nl *y = blocks;
    float weight[QK_BLOCK];
    for (size_t i = 0; i < n_per_row / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK, *w = qw + i * QK_BLOCK;
        float sigma2 = 0;
        for (int j = 0; j < QK_BLOCK; ++j) sigma2 += b[j] * b[j];
        sigma2 *= 2.f / QK_BLOCK;
        for (int j = 0; j < QK_BLOCK; ++j) weight[j] = w[j] * sqrtf(sigma2 + b[j] * b[j]);
        iq4nl_block(b, weight, &y[i]);
    }
}

void qk_dequantize_iq4_nl_ref(const void *blocks, float *y, size_t n) {
    const qk_block_iq4_nl *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK_BLOCK / 2; ++j) {
            y[i * QK_BLOCK + j] = d * qk_iq4nl_levels[x[i].qs[j] & 0x0F];
            y[i * QK_BLOCK + QK_BLOCK / 2 + j] = d * qk_iq4nl_levels[x[i].qs[j] >> 4];
        }
    }
}
