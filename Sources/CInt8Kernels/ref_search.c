// Scalar reference of the mse clipping search's inner loop (one candidate's squared error).
// The rounding adds and takes away 1.5 x 2^23 (round to nearest, ties to even, exact for the
// clamped range), and the sum follows the lane order every variant uses, so results are bit-equal.
#include "internal.h"
#include <math.h>

static inline float candidate_sq_error(float x, qk_candidate c, float low, float high) {
    const float magic = 12582912.0f;
    float t = x * c.inverse;
    t = t < low ? low : (t > high ? high : t);
    float q = (t + magic) - magic + c.zero;
    q = q < c.qmin ? c.qmin : (q > c.qmax ? c.qmax : q);
    const float e = x - (q - c.zero) * c.scale;
    return e * e;
}

/// Adds 16 lanes pairwise: (l0 + l8), then + (.. + 4), + 2, + 1 — the AVX-512 reduction's order.
static inline float reduce16(float lanes[16]) {
    for (int width = 8; width >= 1; width /= 2)
        for (int i = 0; i < width; i++) lanes[i] = lanes[i] + lanes[i + width];
    return lanes[0];
}

double qk_candidate_error_ref(const float *x, size_t n, qk_candidate c, double bound) {
    const float low = c.qmin - c.zero - 1.0f, high = c.qmax - c.zero + 1.0f;
    double total = 0;
    for (size_t start = 0; start < n; start += 32) {
        float lanes[16] = {0};
        for (int half = 0; half < 2; half++) {
            for (int lane = 0; lane < 16; lane++) {
                const size_t i = start + (size_t)half * 16 + (size_t)lane;
                if (i < n) lanes[lane] = lanes[lane] + candidate_sq_error(x[i], c, low, high);
            }
        }
        total += reduce16(lanes);
        if (total > bound) break;
    }
    return total;
}
