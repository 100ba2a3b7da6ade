// The lane operations the shared searches (kquant_search.h) are written in, on AVX2: 8 float lanes,
// masks as all-ones float lanes. Include inside the file's AVX2 target region. Each operation is
// one instruction or a fixed short sequence, so a search compiles to what it did when written in
// intrinsics; ggml's simd-mappings.h is the model.
#ifndef QK_SIMD_AVX2_H
#define QK_SIMD_AVX2_H
#include <immintrin.h>
#include <string.h>

enum { V_LANES = 8 };
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vmask;

static inline vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
/// (a < b) ? a : b and (a > b) ? a : b, with b returned for NaN, as minps/maxps.
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
/// A true negation (sign flip), so +0 becomes -0 as C's unary minus does.
static inline vf vf_neg(vf a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
static inline vf vf_from_int(vi a) { return _mm256_cvtepi32_ps(a); }
static inline void vf_store(float *p, vf a) { _mm256_storeu_ps(p, a); }

static inline vi vi_clamp(vi a, int lo, int hi) { return _mm256_min_epi32(_mm256_max_epi32(a, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi)); }
/// ggml's nearest_int (add 1.5 * 2^23, keep the mantissa) in every lane (see ref_kquants.c).
static inline vi vi_nearest(vf v) {
    const vi bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

static inline vmask vm_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vmask vm_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vmask vm_eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
/// a != b, true for NaN (C's !=).
static inline vmask vm_ne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
static inline vmask vm_ne_int(vi a, vi b) { return _mm256_xor_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)), _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
static inline vmask vm_and(vmask a, vmask b) { return _mm256_and_ps(a, b); }
static inline vmask vm_or(vmask a, vmask b) { return _mm256_or_ps(a, b); }
/// a and not b.
static inline vmask vm_and_not(vmask a, vmask b) { return _mm256_andnot_ps(b, a); }
static inline vmask vm_not(vmask a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
static inline vmask vm_none(void) { return _mm256_setzero_ps(); }
static inline int vm_any(vmask a) { return _mm256_movemask_ps(a) != 0; }

/// m ? b : a, per lane.
static inline vf vf_select(vmask m, vf a, vf b) { return _mm256_blendv_ps(a, b, m); }
static inline vi vi_select(vmask m, vi a, vi b) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), m));
}
/// m ? a : 0.
static inline vf vf_keep(vmask m, vf a) { return _mm256_and_ps(a, m); }

/// Gathers V_LANES sub-blocks of n values laid out one after another: out[i] holds value i of each.
static inline void v_gather(const float *x, int n, vf *out) {
    const vi lane_base = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(n));
    for (int i = 0; i < n; ++i) out[i] = _mm256_i32gather_ps(x, _mm256_add_epi32(lane_base, _mm256_set1_epi32(i)), 4);
}

/// Stores codes + add lane-major (lane l's sub-block at L + l * n), 0 where `keep` is clear.
static inline void v_store_codes(const vi *Lt, int n, vmask keep, int add, uint8_t *L) {
    int32_t lanes[V_LANES];
    for (int i = 0; i < n; ++i) {
        _mm256_storeu_si256((__m256i *)lanes, _mm256_and_si256(_mm256_add_epi32(Lt[i], _mm256_set1_epi32(add)), _mm256_castps_si256(keep)));
        for (int lane = 0; lane < V_LANES; ++lane) L[lane * n + i] = (uint8_t)lanes[lane];
    }
}

/// The name of this ISA's variant of a function.
#define V_NAME(name) name##_avx2

static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
/// The first `count` lanes (at most V_LANES) from p, 0 in the others; reads nothing past them.
static inline vmask vm_first(size_t count) {
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count >= 8 ? 8 : count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}
static inline vf vf_load_first(const float *p, vmask first) { return _mm256_maskload_ps(p, _mm256_castps_si256(first)); }
/// The first `count` bytes from p widened to lanes (sign- or zero-extended), 0 in the others.
static inline vi vi_load_bytes(const uint8_t *p, size_t count, int is_signed) {
    uint8_t bytes[8] = {0};
    memcpy(bytes, p, count < 8 ? count : 8);  // never reads past the codes
    const __m128i packed = _mm_loadl_epi64((const __m128i *)bytes);
    return is_signed ? _mm256_cvtepi8_epi32(packed) : _mm256_cvtepu8_epi32(packed);
}
static inline vi vi_set1(int a) { return _mm256_set1_epi32(a); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
/// Horizontal sum and maximum: halves added pairwise (the order is this ISA's own).
static inline float vf_reduce_add(vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
static inline float vf_reduce_max(vf v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
static inline float vf_reduce_min(vf v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
}
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_half(vi a) { return _mm256_srli_epi32(a, 1); }
static inline void vi_store(int32_t *p, vi a) { _mm256_storeu_si256((__m256i *)p, a); }
static inline vmask vm_gt_int(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)); }
static inline vmask vm_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vmask vm_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }

/// A table of 16 floats for per-lane lookups (IQ4_NL's levels): two vectors, two vpermps and a blend.
typedef struct { __m256 low, high; } vlevels16;
static inline vlevels16 vlevels16_load(const int8_t *levels) {
    return (vlevels16){
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)levels))),
        _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(levels + 8)))),
    };
}
/// t[index] per lane, index in 0 ... 15.
static inline vf vf_lookup16(vlevels16 t, vi index) {
    const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.low, index), _mm256_permutevar8x32_ps(t.high, index), upper);
}
#endif
