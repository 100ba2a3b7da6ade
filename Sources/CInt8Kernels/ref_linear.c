// Scalar references for the linear kernels: range reductions, quantize/dequantize, bit packing and
// float conversions. Plain loops, written for clarity; the fast variants must match them.
#include "internal.h"
#include <math.h>

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

size_t qk_minmax_ref(const float *x, size_t rows, size_t cols, size_t group, float *mins, float *maxs) {
    size_t groups = qk_groups_per_row(cols, group), nonfinite = 0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t g = 0; g < groups; g++) {
            size_t begin = g * group, end = begin + group < cols ? begin + group : cols;
            float mn = INFINITY, mx = -INFINITY;
            for (size_t c = begin; c < end; c++) {
                float v = x[r * cols + c];
                if (!isfinite(v)) { nonfinite++; continue; }
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
            mins[r * groups + g] = mn;
            maxs[r * groups + g] = mx;
        }
    }
    return nonfinite;
}

static inline uint8_t quantize_one(float x, float inv, int32_t zp, float lo, float hi) {
    float v = x * inv;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (uint8_t)((int32_t)nearbyintf(v) + zp);
}

void qk_quantize_ref(const float *x, size_t rows, size_t cols, size_t group, const float *inv_scales,
                     const int32_t *zero_points, int32_t qmin, int32_t qmax, uint8_t *out) {
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t s = r * groups + c / group;
            int32_t zp = zero_points ? zero_points[s] : 0;
            out[r * cols + c] = quantize_one(x[r * cols + c], inv_scales[s], zp, (float)(qmin - zp), (float)(qmax - zp));
        }
    }
}

size_t qk_minmax_cols_ref(const float *x, size_t rows, size_t cols, float *mins, float *maxs) {
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            float v = x[r * cols + c];
            if (!isfinite(v)) {
                bad++;
                continue;
            }
            mins[c] = v < mins[c] ? v : mins[c];
            maxs[c] = v >= maxs[c] ? v : maxs[c];
        }
    return bad;
}

void qk_quantize_cols_ref(const float *x, size_t rows, size_t cols, const float *inv_scales, const int32_t *zero_points,
                          int32_t qmin, int32_t qmax, uint8_t *out) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            int32_t zp = zero_points ? zero_points[c] : 0;
            out[r * cols + c] = quantize_one(x[r * cols + c], inv_scales[c], zp, (float)(qmin - zp), (float)(qmax - zp));
        }
    }
}

static inline int32_t code_value(uint8_t q, int is_signed) { return is_signed ? (int32_t)(int8_t)q : (int32_t)q; }

void qk_dequantize_ref(const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group, const float *scales,
                       const int32_t *zero_points, float *out) {
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t s = r * groups + c / group;
            int32_t zp = zero_points ? zero_points[s] : 0;
            out[r * cols + c] = (float)(code_value(q[r * cols + c], is_signed) - zp) * scales[s];
        }
    }
}

void qk_dequantize_cols_ref(const uint8_t *q, int is_signed, size_t rows, size_t cols, const float *scales,
                            const int32_t *zero_points, float *out) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            int32_t zp = zero_points ? zero_points[c] : 0;
            out[r * cols + c] = (float)(code_value(q[r * cols + c], is_signed) - zp) * scales[c];
        }
    }
}

void qk_pack_ref(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out) {
    size_t stride = (cols * (size_t)bits + 7) / 8;
    uint32_t mask = (1u << bits) - 1;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = out + r * stride;
        memset(row, 0, stride);
        for (size_t c = 0; c < cols; c++) {
            uint32_t field = codes[r * cols + c] & mask;
            size_t bit = c * (size_t)bits;
            // A field spans at most two bytes (bits <= 8).
            row[bit / 8] |= (uint8_t)(field << (bit % 8));
            if (bit % 8 + (size_t)bits > 8) row[bit / 8 + 1] |= (uint8_t)(field >> (8 - bit % 8));
        }
    }
}

void qk_unpack_ref(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out) {
    size_t stride = (cols * (size_t)bits + 7) / 8;
    uint32_t mask = (1u << bits) - 1, sign = 1u << (bits - 1);
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = packed + r * stride;
        for (size_t c = 0; c < cols; c++) {
            size_t bit = c * (size_t)bits;
            uint32_t word = row[bit / 8];
            if (bit % 8 + (size_t)bits > 8) word |= (uint32_t)row[bit / 8 + 1] << 8;
            uint32_t field = (word >> (bit % 8)) & mask;
            if (sign_extend && (field & sign)) field |= ~mask;
            out[r * cols + c] = (uint8_t)field;
        }
    }
}

uint16_t qk_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFF;
    if (ax > 0x7F800000) return sign | 0x7E00;   // NaN: quiet, sign kept
    if (ax >= 0x477FF000) return sign | 0x7C00;  // >= 65520 rounds (ties to even) to Inf
    if (ax < 0x38800000) {
        // Below 2^-14: a subnormal (or zero) in fp16. Scaling by 2^24 is exact; round half to even.
        return sign | (uint16_t)nearbyintf(bits_f32(ax) * 16777216.0f);
    }
    uint32_t rounded = ax + 0xFFF + ((ax >> 13) & 1);
    return sign | (uint16_t)((rounded - (112u << 23)) >> 13);
}

float qk_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0) return bits_f32(sign | f32_bits((float)m * 0x1p-24f));
    if (e == 31) return bits_f32(sign | 0x7F800000 | (m << 13));
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

void qk_f16_to_f32_ref(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = qk_fp16_to_fp32(in[i]);
}

void qk_bf16_to_f32_ref(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = bits_f32((uint32_t)in[i] << 16);
}

void qk_e4m3_to_f32_ref(const uint8_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t sign = (uint32_t)(in[i] & 0x80) << 24, mag = in[i] & 0x7F, e = mag >> 3, m = mag & 7;
        float v;
        if (mag == 0x7F) v = NAN;
        else if (e == 0) v = (float)m * 0x1p-9f;
        else v = bits_f32(((e + 120) << 23) | (m << 20));
        out[i] = bits_f32(f32_bits(v) | sign);
    }
}

void qk_e5m2_to_f32_ref(const uint8_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = qk_fp16_to_fp32((uint16_t)(in[i] << 8));
}
