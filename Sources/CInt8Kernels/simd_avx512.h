// The lane operations of kquant_search.h on AVX-512: 16 float lanes, masks in k registers. Include
// inside the file's AVX-512 target region. The same names as simd_avx2.h, the same results.
#ifndef QK_SIMD_AVX512_H
#define QK_SIMD_AVX512_H
#include <immintrin.h>

enum { V_LANES = 16 };
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vmask;

static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
static inline vf vf_neg(vf a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
static inline vf vf_from_int(vi a) { return _mm512_cvtepi32_ps(a); }
static inline void vf_store(float *p, vf a) { _mm512_storeu_ps(p, a); }

static inline vi vi_clamp(vi a, int lo, int hi) { return _mm512_min_epi32(_mm512_max_epi32(a, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi)); }
static inline vi vi_nearest(vf v) {
    const vi bits = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.f)));
    return _mm512_sub_epi32(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
}

static inline vmask vm_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vmask vm_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vmask vm_eq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
static inline vmask vm_ne(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
static inline vmask vm_ne_int(vi a, vi b) { return _mm512_cmpneq_epi32_mask(a, b); }
static inline vmask vm_and(vmask a, vmask b) { return a & b; }
static inline vmask vm_or(vmask a, vmask b) { return a | b; }
static inline vmask vm_and_not(vmask a, vmask b) { return a & (vmask)~b; }
static inline vmask vm_not(vmask a) { return (vmask)~a; }
static inline vmask vm_none(void) { return 0; }
static inline int vm_any(vmask a) { return a != 0; }

static inline vf vf_select(vmask m, vf a, vf b) { return _mm512_mask_blend_ps(m, a, b); }
static inline vi vi_select(vmask m, vi a, vi b) { return _mm512_mask_blend_epi32(m, a, b); }
static inline vf vf_keep(vmask m, vf a) { return _mm512_maskz_mov_ps(m, a); }

static inline void v_gather(const float *x, int n, vf *out) {
    const vi lane_base = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(n));
    for (int i = 0; i < n; ++i) out[i] = _mm512_i32gather_ps(_mm512_add_epi32(lane_base, _mm512_set1_epi32(i)), x, 4);
}

static inline void v_store_codes(const vi *Lt, int n, vmask keep, int add, uint8_t *L) {
    int32_t lanes[V_LANES];
    for (int i = 0; i < n; ++i) {
        _mm512_storeu_si512(lanes, _mm512_maskz_add_epi32(keep, Lt[i], _mm512_set1_epi32(add)));
        for (int lane = 0; lane < V_LANES; ++lane) L[lane * n + i] = (uint8_t)lanes[lane];
    }
}

#define V_NAME(name) name##_avx512

static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline vmask vm_first(size_t count) { return count >= 16 ? (vmask)0xFFFF : (vmask)((1u << count) - 1); }
static inline vf vf_load_first(const float *p, vmask first) { return _mm512_maskz_loadu_ps(first, p); }
static inline vi vi_load_bytes(const uint8_t *p, size_t count, int is_signed) {
    const __m128i bytes = _mm_maskz_loadu_epi8(vm_first(count), p);
    return is_signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}
static inline vi vi_set1(int a) { return _mm512_set1_epi32(a); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline float vf_reduce_add(vf v) { return _mm512_reduce_add_ps(v); }
static inline float vf_reduce_max(vf v) { return _mm512_reduce_max_ps(v); }
static inline float vf_reduce_min(vf v) { return _mm512_reduce_min_ps(v); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_half(vi a) { return _mm512_srli_epi32(a, 1); }
static inline void vi_store(int32_t *p, vi a) { _mm512_storeu_si512(p, a); }
static inline vmask vm_gt_int(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }
static inline vmask vm_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline vmask vm_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }

/// A table of 16 floats: one vector, one vpermps.
typedef __m512 vlevels16;
static inline vlevels16 vlevels16_load(const int8_t *levels) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)levels)));
}
static inline vf vf_lookup16(vlevels16 t, vi index) { return _mm512_permutexvar_ps(index, t); }
#endif
