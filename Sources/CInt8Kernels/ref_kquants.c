// Scalar reference for ggml's Q6_K super-blocks (256 values: 16 sub-blocks of 16, each with an int8
// scale under one fp16 super-scale; 6-bit codes split into low nibbles `ql` and high pairs `qh`).
// The arithmetic follows ggml's quantize_row_q6_K_ref step by step: the same weighted scale search
// per sub-block (weights x^2, 19 candidate scales around nmax = 32), the same float evaluation order,
// no contraction (this target builds with -ffp-contract=off), and ggml's round-to-nearest trick.
// gguf-py can decode Q6_K but not encode it, so the interop tests check the layout with gguf-py's
// dequantizer and the arithmetic against an independent NumPy port.
#include "internal.h"
#include <math.h>
#include <string.h>

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

/// The scale of one sub-block of n values with signed codes in [-nmax, nmax-1], chosen among 19
/// candidates to maximise (sum w x l)^2 / (sum w l^2) with w = x^2; L receives codes + nmax.
static float k_signed_scale(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < K_GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = (int8_t)(nmax + k_clamp(k_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void qk_quantize_q6_k_ref(const float *x, void *blocks, size_t n) {
    qk_block_q6_k *y = blocks;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float scale = k_signed_scale(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs_scale < K_GROUP_EPS) continue;  // all zero: d = 0 (fp16 +0 is all-zero bits)
        const float iscale = -128.f / max_scale;
        y[i].d = qk_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            int s = k_nearest_int(iscale * scales[ib]);
            y[i].scales[ib] = (int8_t)(s < 127 ? s : 127);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            const float d = qk_fp16_to_fp32(y[i].d) * y[i].scales[j];
            if (!d) continue;  // keeps the codes of the search, as ggml does
            for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = (int8_t)(k_clamp(k_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

void qk_dequantize_q6_k_ref(const void *blocks, float *y, size_t n) {
    const qk_block_q6_k *x = blocks;
    for (size_t i = 0; i < n / QK_K; i++) {
        const float d = qk_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}
