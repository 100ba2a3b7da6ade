// GEMM preparation shared by every variant, the scalar reference GEMM, large-buffer allocation.
#include "internal.h"
#include <stdlib.h>
#include <sys/mman.h>

qk_gemm_b *qk_gemm_prepare(const int8_t *b, size_t ldb, size_t n, size_t k) {
    qk_gemm_b *prepared = calloc(1, sizeof(qk_gemm_b));
    if (!prepared) return NULL;
    prepared->n = n;
    prepared->k = k;
    prepared->n_pad = (n + 15) / 16 * 16;
    prepared->k_pad = (k + 3) / 4 * 4;
    size_t bytes = prepared->n_pad * prepared->k_pad;
    prepared->packed = aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
    prepared->colsum = calloc(prepared->n_pad ? prepared->n_pad : 1, sizeof(int32_t));
    if (!prepared->packed || !prepared->colsum) {
        qk_gemm_free(prepared);
        return NULL;
    }
    memset(prepared->packed, 0, bytes);
    for (size_t col = 0; col < n; col++) {
        int32_t sum = 0;
        for (size_t kk = 0; kk < k; kk++) {
            int8_t v = b[col * ldb + kk];
            prepared->packed[(col / 16) * (prepared->k_pad * 16) + (kk / 4) * 64 + (col % 16) * 4 + (kk % 4)] = v;
            sum += v;
        }
        prepared->colsum[col] = sum;
    }
    return prepared;
}

void qk_gemm_free(qk_gemm_b *b) {
    if (!b) return;
    free(b->packed);
    free(b->colsum);
    free(b);
}

void qk_gemm_ref(const qk_gemm_b *b, const int8_t *a, size_t lda, size_t m_begin, size_t m_end, int32_t *c32,
                 float *cf, size_t ldc, const float *a_scales, const float *b_scales) {
    for (size_t m = m_begin; m < m_end; m++) {
        for (size_t n = 0; n < b->n; n++) {
            int32_t acc = 0;
            for (size_t k = 0; k < b->k; k++) acc += (int32_t)a[m * lda + k] * (int32_t)qk_gemm_b_at(b, n, k);
            if (c32) c32[m * ldc + n] = acc;
            else cf[m * ldc + n] = ((float)acc * a_scales[m]) * b_scales[n];
        }
    }
}

void *qk_alloc_large(size_t bytes) {
    const size_t huge = 2u << 20;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, rounded ? rounded : huge) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE);  // a hint: ignored where THP is off
#endif
    return p;
}

void qk_free_large(void *p, size_t bytes) {
    (void)bytes;
    free(p);
}

#if !defined(__x86_64__)
double qk_gemm_peak(size_t iterations, int isa, int32_t *sink) { return qk_int8_peak(iterations, isa, sink); }

double qk_int8_peak(size_t iterations, int isa, int32_t *sink) {
    (void)isa;
    int32_t acc[8] = {0};
    for (size_t i = 0; i < iterations; i++)
        for (int j = 0; j < 8; j++) acc[j] += (int8_t)(i + j) * (int8_t)(j + 1);
    int32_t s = 0;
    for (int j = 0; j < 8; j++) s += acc[j];
    *sink = s;
    return (double)iterations * 8 * 2;
}
#endif
