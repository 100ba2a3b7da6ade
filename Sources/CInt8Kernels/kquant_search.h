// The K-quant scale searches, written once over the lane operations of simd_avx2.h or
// simd_avx512.h (include one of those first, inside its target region). Each of V_LANES lanes runs
// one whole sub-block's search in the scalar order of ref_kquants.c, ref_kquants_low.c and
// ref_kquants_weighted.c (separate multiply and add, no FMA), so nothing is reordered and the
// results are bit-exact with the references; the ISA files hold only the loops that feed them.
#ifndef QK_KQUANT_SEARCH_H
#define QK_KQUANT_SEARCH_H

enum { MAX_SUB = 32 };

/// Per lane, the first value of largest magnitude (k_largest_magnitude); its magnitude in *amax.
static inline vf largest_magnitude(const vf *xt, int n, vf *amax) {
    vf max = vf_zero();
    *amax = vf_zero();
    for (int i = 0; i < n; ++i) {
        const vmask larger = vm_gt(vf_abs(xt[i]), *amax);
        *amax = vf_select(larger, *amax, vf_abs(xt[i]));
        max = vf_select(larger, max, xt[i]);
    }
    return max;
}

/// The weighted error term of one value: squared, or absolute (Q2_K's use_mad).
static inline vf error_term(vf w, vf diff, int use_mad) { return vf_mul(w, use_mad ? vf_abs(diff) : vf_mul(diff, diff)); }

/// qk_kquant_scale_min_search for V_LANES sub-blocks of `sub` values laid out one after another:
/// each one's scale, min (as ggml's the_min) and codes. Q4_K and Q5_K (sub 32) weigh values by
/// rms(x) + |x| and measure squared error; Q2_K (q2, sub 16) weighs by |x| and measures absolute
/// error; `given` weights (importance matrices, make_qkx3_quants) replace either. Inlined into one
/// copy per caller, so sub and the flags are constants.
static inline __attribute__((always_inline)) void search_scale_min(const float *x, const int sub, const int q2, const float *given,
                                                                   const qk_kquant_search *search, float *scales, float *mins, uint8_t *L) {
    vf xt[MAX_SUB], wt[MAX_SUB];
    vi Lt[MAX_SUB], Lx[MAX_SUB];
    const vf zero = vf_zero();
    v_gather(x, sub, xt);
    if (given) {
        v_gather(given, sub, wt);
    } else if (q2) {
        for (int i = 0; i < sub; ++i) wt[i] = vf_abs(xt[i]);
    } else {
        vf sum_x2 = zero;
        for (int i = 0; i < sub; ++i) sum_x2 = vf_add(sum_x2, vf_mul(xt[i], xt[i]));
        const vf av = vf_sqrt(vf_div(sum_x2, vf_set1(32.f)));
        for (int i = 0; i < sub; ++i) wt[i] = vf_add(av, vf_abs(xt[i]));
    }
    vf min = xt[0], max = xt[0], sum_w = wt[0], sum_x = vf_mul(wt[0], xt[0]);
    for (int i = 1; i < sub; ++i) {
        min = vf_min(xt[i], min);  // (x < min) ? x : min, as the scalar `if`
        max = vf_max(xt[i], max);
        sum_w = vf_add(sum_w, wt[i]);
        sum_x = vf_add(sum_x, vf_mul(wt[i], xt[i]));
    }
    min = vf_select(vm_gt(min, zero), min, zero);
    const vmask flat = vm_eq(max, min);

    vf iscale = vf_div(vf_set1((float)search->nmax), vf_sub(max, min));
    vf scale = vf_div(vf_set1(1.f), iscale);
    vf best = zero;
    for (int i = 0; i < sub; ++i) {
        Lt[i] = vi_clamp(vi_nearest(vf_mul(iscale, vf_sub(xt[i], min))), 0, search->nmax);
        const vf diff = vf_sub(vf_add(vf_mul(scale, vf_from_int(Lt[i])), min), xt[i]);
        best = vf_add(best, error_term(wt[i], diff, q2));
    }
    for (int is = 0; is <= search->nstep; ++is) {
        const float offset = search->rmin + search->rdelta * is + search->nmax;  // the scalar expression
        iscale = vf_div(vf_set1(offset), vf_sub(max, min));
        vf sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < sub; ++i) {
            Lx[i] = vi_clamp(vi_nearest(vf_mul(iscale, vf_sub(xt[i], min))), 0, search->nmax);
            const vf l = vf_from_int(Lx[i]);
            const vf wl = vf_mul(wt[i], l);
            sum_l = vf_add(sum_l, wl);
            sum_l2 = vf_add(sum_l2, vf_mul(wl, l));
            sum_xl = vf_add(sum_xl, vf_mul(wl, xt[i]));
        }
        const vf D = vf_sub(vf_mul(sum_w, sum_l2), vf_mul(sum_l, sum_l));
        const vmask ok = vm_and_not(vm_gt(D, zero), flat);
        if (!vm_any(ok)) continue;
        vf this_scale = vf_div(vf_sub(vf_mul(sum_w, sum_xl), vf_mul(sum_x, sum_l)), D);
        vf this_min = vf_div(vf_sub(vf_mul(sum_l2, sum_x), vf_mul(sum_l, sum_xl)), D);
        const vmask positive = vm_gt(this_min, zero);
        this_min = vf_select(positive, this_min, zero);
        this_scale = vf_select(positive, this_scale, vf_div(sum_xl, sum_l2));
        vf error = zero;
        for (int i = 0; i < sub; ++i) {
            const vf diff = vf_sub(vf_add(vf_mul(this_scale, vf_from_int(Lx[i])), this_min), xt[i]);
            error = vf_add(error, error_term(wt[i], diff, q2));
        }
        const vmask better = vm_and(ok, vm_lt(error, best));
        if (!vm_any(better)) continue;
        for (int i = 0; i < sub; ++i) Lt[i] = vi_select(better, Lt[i], Lx[i]);
        best = vf_select(better, best, error);
        scale = vf_select(better, scale, this_scale);
        min = vf_select(better, min, this_min);
    }
    // Flat sub-blocks: codes 0, scale 0, min as clamped (the scalar early return).
    vf_store(scales, vf_select(flat, scale, zero));
    // ggml's the_min = -min, a true negation: Q4_1/Q5_1 store it, so a zero keeps its sign.
    vf_store(mins, vf_neg(min));
    v_store_codes(Lt, sub, vm_not(flat), 0, L);
}

/// qk_kquant_signed_scale for V_LANES sub-blocks of N values at once (N 16: Q6_K, nmax 32, and Q3_K
/// with importance weights, nmax 4; N 32: Q4_0 and Q5_0 with importance weights, nmax 8 and 16):
/// each one's scale and codes + nmax (0 for an all-zero sub-block, the scalar memset). `qw` are
/// importance weights laid out as x, or NULL for the reference's x^2.
static inline __attribute__((always_inline)) void search_signed(const float *x, const float *qw, const int nmax, const int N,
                                                                float *scales, int8_t *L) {
    vf xt[MAX_SUB], wt[MAX_SUB];
    vi Lt[MAX_SUB], Lx[MAX_SUB];
    const vf zero = vf_zero();
    v_gather(x, N, xt);
    if (qw) v_gather(qw, N, wt);
    else for (int i = 0; i < N; ++i) wt[i] = vf_mul(xt[i], xt[i]);
    vf amax;
    const vf max = largest_magnitude(xt, N, &amax);
    const vmask tiny = vm_lt(amax, vf_set1(1e-15f));
    vf iscale = vf_div(vf_set1((float)-nmax), max);
    vf sumlx = zero, suml2 = zero;
    for (int i = 0; i < N; ++i) {
        Lt[i] = vi_clamp(vi_nearest(vf_mul(iscale, xt[i])), -nmax, nmax - 1);
        const vf l = vf_from_int(Lt[i]);
        sumlx = vf_add(sumlx, vf_mul(vf_mul(wt[i], xt[i]), l));
        suml2 = vf_add(suml2, vf_mul(vf_mul(wt[i], l), l));
    }
    vf scale = vf_keep(vm_ne(suml2, zero), vf_div(sumlx, suml2));
    vf best = vf_mul(scale, sumlx);
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float offset = -(nmax + 0.1f * is);  // the scalar expression
        iscale = vf_div(vf_set1(offset), max);
        sumlx = suml2 = zero;
        for (int i = 0; i < N; ++i) {
            Lx[i] = vi_clamp(vi_nearest(vf_mul(iscale, xt[i])), -nmax, nmax - 1);
            const vf l = vf_from_int(Lx[i]);
            sumlx = vf_add(sumlx, vf_mul(vf_mul(wt[i], xt[i]), l));
            suml2 = vf_add(suml2, vf_mul(vf_mul(wt[i], l), l));
        }
        const vmask better = vm_and_not(vm_and(vm_gt(suml2, zero), vm_gt(vf_mul(sumlx, sumlx), vf_mul(best, suml2))), tiny);
        if (!vm_any(better)) continue;
        for (int i = 0; i < N; ++i) Lt[i] = vi_select(better, Lt[i], Lx[i]);
        scale = vf_select(better, scale, vf_div(sumlx, suml2));
        best = vf_select(better, best, vf_mul(scale, sumlx));
    }
    vf_store(scales, vf_select(tiny, scale, zero));
    v_store_codes(Lt, N, vm_not(tiny), nmax, (uint8_t *)L);
}

/// q3_sub_block_scale (ref_kquants_low.c) for V_LANES sub-blocks of 16 at once: signed codes in
/// [-4, 3], then up to five passes that move single codes while the weighted fit improves. A lane
/// whose pass changed nothing stops in the scalar code; here it runs the later passes, which cannot
/// change it either (the same state gives the same decisions).
static inline void search_q3_k(const float *x, float *scales, int8_t *L) {
    enum { N = 16, NMAX = 4 };
    vf xt[N], wt[N], wx[N];
    vi Lt[N];
    const vf zero = vf_zero();
    v_gather(x, N, xt);
    for (int i = 0; i < N; ++i) {
        wt[i] = vf_mul(xt[i], xt[i]);
        wx[i] = vf_mul(wt[i], xt[i]);
    }
    vf amax;
    const vf max = largest_magnitude(xt, N, &amax);
    const vmask tiny = vm_lt(amax, vf_set1(1e-15f));
    const vf iscale = vf_div(vf_set1((float)-NMAX), max);
    vf sumlx = zero, suml2 = zero;
    for (int i = 0; i < N; ++i) {
        Lt[i] = vi_clamp(vi_nearest(vf_mul(iscale, xt[i])), -NMAX, NMAX - 1);
        const vf l = vf_from_int(Lt[i]);
        sumlx = vf_add(sumlx, vf_mul(wx[i], l));
        suml2 = vf_add(suml2, vf_mul(vf_mul(wt[i], l), l));
    }
    for (int itry = 0; itry < 5; ++itry) {
        vmask changed = vm_none();
        for (int i = 0; i < N; ++i) {
            const vf l = vf_from_int(Lt[i]);
            vf slx = vf_sub(sumlx, vf_mul(wx[i], l));
            const vmask positive = vm_and_not(vm_gt(slx, zero), tiny);
            if (!vm_any(positive)) continue;
            vf sl2 = vf_sub(suml2, vf_mul(vf_mul(wt[i], l), l));
            const vf ratio = vf_div(vf_mul(xt[i], sl2), vf_select(positive, vf_set1(1.f), slx));
            const vi new_l = vi_clamp(vi_nearest(ratio), -NMAX, NMAX - 1);
            const vmask differs = vm_and(positive, vm_ne_int(new_l, Lt[i]));
            if (!vm_any(differs)) continue;
            const vf nl = vf_from_int(new_l);
            slx = vf_add(slx, vf_mul(wx[i], nl));
            sl2 = vf_add(sl2, vf_mul(vf_mul(wt[i], nl), nl));
            const vmask accept = vm_and(vm_and(differs, vm_gt(sl2, zero)),
                                        vm_gt(vf_mul(vf_mul(slx, slx), suml2), vf_mul(vf_mul(sumlx, sumlx), sl2)));
            Lt[i] = vi_select(accept, Lt[i], new_l);
            sumlx = vf_select(accept, sumlx, slx);
            suml2 = vf_select(accept, suml2, sl2);
            changed = vm_or(changed, accept);
        }
        if (!vm_any(changed)) break;
    }
    vf_store(scales, vf_keep(vm_and_not(vm_gt(suml2, zero), tiny), vf_div(sumlx, suml2)));
    v_store_codes(Lt, N, vm_not(tiny), NMAX, (uint8_t *)L);
}
#endif
