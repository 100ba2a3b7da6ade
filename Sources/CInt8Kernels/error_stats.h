// Error statistics (qk_error_stats) written once over the lane operations of simd_avx2.h or
// simd_avx512.h (include one of those first, inside its target region): r is reconstructed in
// registers (never stored) and the sums accumulate in float vectors over runs of at most 256 elements
// per lane, then in double. The reference is ref_error.c; the sums differ from it only by order.
#ifndef QK_ERROR_STATS_H
#define QK_ERROR_STATS_H

typedef struct { vf xx, ee, xr, rr, worst; } error_accum;

static const size_t error_flush_every = 256 * V_LANES;

static inline error_accum error_accum_zero(void) { return (error_accum){vf_zero(), vf_zero(), vf_zero(), vf_zero(), vf_zero()}; }

static inline void error_accumulate(error_accum *a, vf x, vf r) {
    const vf e = vf_sub(x, r);
    a->xx = vf_add(a->xx, vf_mul(x, x));
    a->ee = vf_add(a->ee, vf_mul(e, e));
    a->xr = vf_add(a->xr, vf_mul(x, r));
    a->rr = vf_add(a->rr, vf_mul(r, r));
    a->worst = vf_max(a->worst, vf_abs(e));
}

static inline void error_flush(error_accum *a, qk_error_stats *stats) {
    stats->sum_xx += vf_reduce_add(a->xx);
    stats->sum_ee += vf_reduce_add(a->ee);
    stats->sum_xr += vf_reduce_add(a->xr);
    stats->sum_rr += vf_reduce_add(a->rr);
    const float worst = vf_reduce_max(a->worst);
    if (worst > stats->max_abs) stats->max_abs = worst;
    *a = error_accum_zero();
}

void V_NAME(qk_error)(const float *x, const float *r, size_t n, qk_error_stats *stats) {
    error_accum a = error_accum_zero();
    size_t since = 0, i = 0;
    for (; i + V_LANES <= n; i += V_LANES) {
        error_accumulate(&a, vf_load(x + i), vf_load(r + i));
        if ((since += V_LANES) >= error_flush_every) {
            error_flush(&a, stats);
            since = 0;
        }
    }
    if (i < n) {
        const vmask first = vm_first(n - i);
        error_accumulate(&a, vf_load_first(x + i, first), vf_load_first(r + i, first));
    }
    error_flush(&a, stats);
}

/// The statistics of x against the codes q dequantized with per-group scales and zero points.
void V_NAME(qk_linear_error)(const float *x, const uint8_t *q, int is_signed, size_t rows, size_t cols, size_t group,
                             const float *scales, const int32_t *zero_points, qk_error_stats *stats) {
    error_accum a = error_accum_zero();
    size_t groups = qk_groups_per_row(cols, group), since = 0;
    for (size_t row = 0; row < rows; row++) {
        for (size_t g = 0; g < groups; g++) {
            size_t s = row * groups + g, begin = g * group, len = begin + group < cols ? group : cols - begin;
            const vf scale = vf_set1(scales[s]);
            const vi zp = vi_set1(zero_points ? zero_points[s] : 0);
            const float *xp = x + row * cols + begin;
            const uint8_t *qp = q + row * cols + begin;
            for (size_t i = 0; i < len; i += V_LANES) {
                const vmask first = vm_first(len - i);
                const vi codes = vi_load_bytes(qp + i, len - i, is_signed);
                const vf r = vf_keep(first, vf_mul(vf_from_int(vi_sub(codes, zp)), scale));
                error_accumulate(&a, vf_load_first(xp + i, first), r);
                if ((since += V_LANES) >= error_flush_every) {
                    error_flush(&a, stats);
                    since = 0;
                }
            }
        }
    }
    error_flush(&a, stats);
}
#endif
