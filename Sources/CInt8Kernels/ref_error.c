// Scalar references for the error statistics used by reports. Sums run in float over runs of at
// most 256 elements, then in double, so long tensors keep their precision; fast variants may sum in
// another order, so they agree to rounding, not bit for bit (these are statistics, not codes).
#include "internal.h"
#include <math.h>

static inline void add_run(const float *x, const float *r, size_t n, qk_error_stats *stats) {
    float xx = 0, ee = 0, xr = 0, rr = 0, worst = stats->max_abs;
    for (size_t i = 0; i < n; i++) {
        float e = x[i] - r[i];
        xx += x[i] * x[i];
        ee += e * e;
        xr += x[i] * r[i];
        rr += r[i] * r[i];
        if (fabsf(e) > worst) worst = fabsf(e);
    }
    stats->sum_xx += xx;
    stats->sum_ee += ee;
    stats->sum_xr += xr;
    stats->sum_rr += rr;
    stats->max_abs = worst;
}

void qk_error_ref(const float *x, const float *r, size_t n, qk_error_stats *stats) {
    for (size_t i = 0; i < n; i += 256) add_run(x + i, r + i, n - i < 256 ? n - i : 256, stats);
}

void qk_linear_error_ref(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                         const float *scales, const int32_t *zero_points, qk_error_stats *stats) {
    float r[256];
    size_t groups = qk_groups_per_row(cols, group);
    for (size_t row = 0; row < rows; row++) {
        for (size_t c = 0; c < cols; c += 256) {
            size_t n = cols - c < 256 ? cols - c : 256;
            for (size_t i = 0; i < n; i++) {
                size_t s = row * groups + (c + i) / group;
                int32_t code = is_signed ? (int32_t)(int8_t)q[row * cols + c + i] : (int32_t)q[row * cols + c + i];
                r[i] = (float)(code - (zero_points ? zero_points[s] : 0)) * scales[s];
            }
            add_run(x + row * cols + c, r, n, stats);
        }
    }
}
