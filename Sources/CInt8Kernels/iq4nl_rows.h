// IQ4_NL blocks of 32 (ref_iq4nl.c), written once over simd_avx2.h or simd_avx512.h and
// kquant_search.h (include those first, inside the ISA's target region): V_LANES blocks a pass, one
// per lane, every lane doing the scalar operations in the scalar order, so the codes are bit-exact
// with qk_quantize_iq4_nl_ref and qk_quantize_iq4_nl_weighted_ref. A tail of fewer blocks goes to the
// reference.
#ifndef QK_IQ4NL_ROWS_H
#define QK_IQ4NL_ROWS_H

/// ggml's best_index_int8 in every lane: the same bisection (four halvings take 15 to 1), then the
/// same comparison of the two distances; NaN ends at 15 as in the scalar code.
static inline vi iq4nl_index(vf x, vlevels16 levels) {
    vi ml = vi_set1(0), mu = vi_set1(15);
    for (int step = 0; step < 4; ++step) {
        const vmask open = vm_gt_int(vi_sub(mu, ml), vi_set1(1));
        const vi mid = vi_half(vi_add(ml, mu));
        const vmask below = vm_lt(x, vf_lookup16(levels, mid));
        mu = vi_select(vm_and(open, below), mu, mid);
        ml = vi_select(vm_and_not(open, below), ml, mid);
    }
    const vi lower = vi_sub(mu, vi_set1(1));
    const vf below_gap = vf_sub(x, vf_lookup16(levels, lower));
    const vf above_gap = vf_sub(vf_lookup16(levels, mu), x);
    const vi index = vi_select(vm_lt(below_gap, above_gap), mu, lower);
    const vi top = vi_select(vm_ge(x, vf_set1(qk_iq4nl_levels[15])), index, vi_set1(15));
    return vi_select(vm_le(x, vf_set1(qk_iq4nl_levels[0])), top, vi_set1(0));
}

/// Σ w·q·x and Σ w·q·q over a block per lane, in the scalar order, for inverse scale `id`.
static inline void iq4nl_sums(const vf *xt, const vf *wt, vf id, vlevels16 levels, vf *sumqx, vf *sumq2) {
    *sumqx = *sumq2 = vf_zero();
    for (int j = 0; j < QK_BLOCK; ++j) {
        const vf q = vf_lookup16(levels, iq4nl_index(vf_mul(id, xt[j]), levels));
        const vf wq = vf_mul(wt[j], q);
        *sumqx = vf_add(*sumqx, vf_mul(wq, xt[j]));
        *sumq2 = vf_add(*sumq2, vf_mul(wq, q));
    }
}

/// V_LANES blocks of 32, one per lane, as qk_quantize_iq4_nl_ref (qw NULL: each value weighs its
/// square) or qk_quantize_iq4_nl_weighted_ref (qw laid out as x: qw * sqrt(sigma2 + x^2)).
static void iq4nl_blocks(const float *x, const float *qw, qk_block_iq4_nl *y) {
    const vlevels16 levels = vlevels16_load(qk_iq4nl_levels);
    const vf zero = vf_zero();
    vf xt[QK_BLOCK], wt[QK_BLOCK];
    v_gather(x, QK_BLOCK, xt);
    if (qw) {
        v_gather(qw, QK_BLOCK, wt);
        vf sigma2 = zero;
        for (int j = 0; j < QK_BLOCK; ++j) sigma2 = vf_add(sigma2, vf_mul(xt[j], xt[j]));
        sigma2 = vf_mul(sigma2, vf_set1(2.f / QK_BLOCK));
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = vf_mul(wt[j], vf_sqrt(vf_add(sigma2, vf_mul(xt[j], xt[j]))));
    } else {
        for (int j = 0; j < QK_BLOCK; ++j) wt[j] = vf_mul(xt[j], xt[j]);
    }
    vf amax;
    const vf max = largest_magnitude(xt, QK_BLOCK, &amax);
    const vmask flat = vm_lt(amax, vf_set1(K_GROUP_EPS));
    vf sumqx, sumq2;
    // d = -max / levels[0] (-127), searched from id = 1/d, then 15 candidates id = (itry + levels[0]) / max.
    vf d = vf_div(vf_neg(max), vf_set1(qk_iq4nl_levels[0]));
    iq4nl_sums(xt, wt, vf_div(vf_set1(1), d), levels, &sumqx, &sumq2);
    d = vf_div(sumqx, sumq2);
    vf best = vf_mul(d, sumqx);
    for (int itry = -7; itry <= 7; ++itry) {
        iq4nl_sums(xt, wt, vf_div(vf_set1((float)(itry + qk_iq4nl_levels[0])), max), levels, &sumqx, &sumq2);
        const vmask better = vm_and(vm_gt(sumq2, zero), vm_gt(vf_mul(sumqx, sumqx), vf_mul(best, sumq2)));
        d = vf_select(better, d, vf_div(sumqx, sumq2));
        best = vf_select(better, best, vf_mul(d, sumqx));
    }
    d = vf_keep(vm_not(flat), d);
    // Codes from the float scale: id = d ? 1/d : 0 (NaN counts as non-zero, as in C).
    const vf id = vf_keep(vm_ne(d, zero), vf_div(vf_set1(1), d));
    float scales[V_LANES];
    int32_t codes[QK_BLOCK][V_LANES];
    vf_store(scales, d);
    for (int j = 0; j < QK_BLOCK; ++j) vi_store(codes[j], iq4nl_index(vf_mul(id, xt[j]), levels));
    for (int lane = 0; lane < V_LANES; ++lane) {
        y[lane].d = qk_fp32_to_fp16(scales[lane]);
        for (int j = 0; j < QK_BLOCK / 2; ++j) y[lane].qs[j] = (uint8_t)(codes[j][lane] | (codes[QK_BLOCK / 2 + j][lane] << 4));
    }
}

void V_NAME(qk_quantize_iq4_nl)(const float *x, void *blocks, size_t n) {
    qk_block_iq4_nl *y = blocks;
    const size_t count = n / QK_BLOCK;
    size_t i = 0;
    for (; i + V_LANES <= count; i += V_LANES) iq4nl_blocks(x + i * QK_BLOCK, NULL, y + i);
    if (i < count) qk_quantize_iq4_nl_ref(x + i * QK_BLOCK, y + i, (count - i) * QK_BLOCK);
}

void V_NAME(qk_quantize_iq4_nl_weighted)(const float *x, const float *qw, void *blocks, size_t n_per_row) {
    qk_block_iq4_nl *y = blocks;
    const size_t count = n_per_row / QK_BLOCK;
    size_t i = 0;
    for (; i + V_LANES <= count; i += V_LANES) iq4nl_blocks(x + i * QK_BLOCK, qw + i * QK_BLOCK, y + i);
    if (i < count) qk_quantize_iq4_nl_weighted_ref(x + i * QK_BLOCK, qw + i * QK_BLOCK, y + i, (count - i) * QK_BLOCK);
}
#endif
