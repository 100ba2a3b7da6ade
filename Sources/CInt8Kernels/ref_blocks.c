// Scalar references for ggml's block formats, following ggml's quantize_row_*_ref arithmetic step
// by step (fp32 throughout, no contraction, scale stored as fp16 of the unrounded d, the inverse
// computed from the unrounded d). gguf-py's quants are the external oracle in the interop tests.
#include "internal.h"
#include <float.h>
#include <math.h>
#include <string.h>

static inline void store_fp16(uint16_t *dst, float v) { *dst = qk_fp32_to_fp16(v); }

void qk_quantize_q8_0_ref(const float *x, void *blocks, size_t n) {
    qk_block_q8_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        float amax = 0.0f;
        for (int j = 0; j < QK_BLOCK; j++) amax = fmaxf(amax, fabsf(x[i * QK_BLOCK + j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        store_fp16(&y[i].d, d);
        for (int j = 0; j < QK_BLOCK; j++) y[i].qs[j] = (int8_t)roundf(x[i * QK_BLOCK + j] * id);
    }
}

/// The signed value of largest magnitude; the first one wins a tie. 0 when all are zero.
static inline float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_BLOCK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

void qk_quantize_q4_0_ref(const float *x, void *blocks, size_t n) {
    qk_block_q4_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        const float d = signed_absmax(b) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        store_fp16(&y[i].d, d);
        for (int j = 0; j < 16; j++) {
            const float x0 = b[j] * id, x1 = b[16 + j] * id;
            const int8_t t0 = (int8_t)(x0 + 8.5f), t1 = (int8_t)(x1 + 8.5f);
            const uint8_t q0 = t0 < 15 ? (uint8_t)t0 : 15, q1 = t1 < 15 ? (uint8_t)t1 : 15;
            y[i].qs[j] = q0 | (uint8_t)(q1 << 4);
        }
    }
}

static inline void min_max(const float *x, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < QK_BLOCK; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

void qk_quantize_q4_1_ref(const float *x, void *blocks, size_t n) {
    qk_block_q4_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        float mn, mx;
        min_max(b, &mn, &mx);
        const float d = (mx - mn) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        store_fp16(&y[i].d, d);
        store_fp16(&y[i].m, mn);
        for (int j = 0; j < 16; j++) {
            const float x0 = (b[j] - mn) * id, x1 = (b[16 + j] - mn) * id;
            const int8_t t0 = (int8_t)(x0 + 0.5f), t1 = (int8_t)(x1 + 0.5f);
            const uint8_t q0 = t0 < 15 ? (uint8_t)t0 : 15, q1 = t1 < 15 ? (uint8_t)t1 : 15;
            y[i].qs[j] = q0 | (uint8_t)(q1 << 4);
        }
    }
}

void qk_quantize_q5_0_ref(const float *x, void *blocks, size_t n) {
    qk_block_q5_0 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        const float d = signed_absmax(b) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        store_fp16(&y[i].d, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const float x0 = b[j] * id, x1 = b[16 + j] * id;
            const int8_t t0 = (int8_t)(x0 + 16.5f), t1 = (int8_t)(x1 + 16.5f);
            const uint8_t q0 = t0 < 31 ? (uint8_t)t0 : 31, q1 = t1 < 31 ? (uint8_t)t1 : 31;
            y[i].qs[j] = (q0 & 0x0F) | (uint8_t)((q1 & 0x0F) << 4);
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void qk_quantize_q5_1_ref(const float *x, void *blocks, size_t n) {
    qk_block_q5_1 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        float mn, mx;
        min_max(b, &mn, &mx);
        const float d = (mx - mn) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        store_fp16(&y[i].d, d);
        store_fp16(&y[i].m, mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const float x0 = (b[j] - mn) * id, x1 = (b[16 + j] - mn) * id;
            const uint8_t q0 = (uint8_t)(x0 + 0.5f), q1 = (uint8_t)(x1 + 0.5f);
            y[i].qs[j] = (q0 & 0x0F) | (uint8_t)((q1 & 0x0F) << 4);
            qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
            qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void qk_dequantize_q8_0_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q8_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK_BLOCK; j++) y[i * QK_BLOCK + j] = (float)x[i].qs[j] * d;
    }
}

void qk_dequantize_q4_0_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q4_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * QK_BLOCK + j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[i * QK_BLOCK + j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void qk_dequantize_q4_1_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q4_1 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d), m = qk_fp16_to_fp32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[i * QK_BLOCK + j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[i * QK_BLOCK + j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static inline uint32_t load_qh(const uint8_t *qh) { uint32_t v; memcpy(&v, qh, 4); return v; }

void qk_dequantize_q5_0_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q5_0 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            const int32_t h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            y[i * QK_BLOCK + j] = (float)(((x[i].qs[j] & 0x0F) | (h0 << 4)) - 16) * d;
            y[i * QK_BLOCK + j + 16] = (float)(((x[i].qs[j] >> 4) | (h1 << 4)) - 16) * d;
        }
    }
}

void qk_dequantize_q5_1_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q5_1 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = qk_fp16_to_fp32(x[i].d), m = qk_fp16_to_fp32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            const int32_t h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            y[i * QK_BLOCK + j] = (float)((x[i].qs[j] & 0x0F) | (h0 << 4)) * d + m;
            y[i * QK_BLOCK + j + 16] = (float)((x[i].qs[j] >> 4) | (h1 << 4)) * d + m;
        }
    }
}

// MXFP4 as ggml writes it: E2M1 values doubled (kvalues) under half the E8M0 scale, the exponent
// from floorf(log2f(amax)) (so a value just under a power of two may land one binade up, exactly as
// in ggml), and each code the first index of least |k * d - x| (ties go to the lower index).
static const int8_t kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static inline float e8m0_to_fp32_half(uint8_t e) {
    // 2^(e - 128); e < 2 needs an fp32 subnormal.
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint8_t best_index_mxfp4(float x, float d) {
    uint8_t best = 0;
    float best_err = fabsf(kvalues_mxfp4[0] * d - x);
    for (uint8_t i = 1; i < 16; i++) {
        const float err = fabsf(kvalues_mxfp4[i] * d - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

void qk_quantize_mxfp4_ref(const float *x, void *blocks, size_t n) {
    qk_block_mxfp4 *y = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float *b = x + i * QK_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < QK_BLOCK; j++) amax = fmaxf(amax, fabsf(b[j]));
        // ggml casts the float straight to uint8_t; clamp first so tiny blocks stay defined.
        const float exponent = amax > 0.0f ? floorf(log2f(amax)) - 2.0f + 127.0f : 0.0f;
        const uint8_t e = exponent < 0.0f ? 0 : (exponent > 254.0f ? 254 : (uint8_t)exponent);
        const float d = e8m0_to_fp32_half(e);
        y[i].e = e;
        for (int j = 0; j < QK_BLOCK / 2; j++) {
            y[i].qs[j] = (uint8_t)(best_index_mxfp4(b[j], d) | (best_index_mxfp4(b[QK_BLOCK / 2 + j], d) << 4));
        }
    }
}

void qk_dequantize_mxfp4_ref(const void *blocks, float *y, size_t n) {
    const qk_block_mxfp4 *x = blocks;
    for (size_t i = 0; i < n / QK_BLOCK; i++) {
        const float d = e8m0_to_fp32_half(x[i].e);
        for (int j = 0; j < QK_BLOCK / 2; j++) {
            y[i * QK_BLOCK + j] = kvalues_mxfp4[x[i].qs[j] & 0x0F] * d;
            y[i * QK_BLOCK + QK_BLOCK / 2 + j] = kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}
