// The block quantizers and error statistics of one build of CInt8Kernels, timed directly (no Swift,
// no threads): scripts/kernel-compare.sh links it against two revisions' kernel sources and runs
// them alternately, so a change to the C kernels is measured against its predecessor in the same
// minutes. MB/s of fp32 read, best of 7 runs over 16M floats (4M for the quantizers).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"

typedef void (*quantize_fn)(const float *, void *, size_t);
typedef void (*error_fn)(const float *, const float *, size_t, qk_error_stats *);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void time_quantizer(const char *name, quantize_fn f, const float *x, void *out, size_t n) {
    double best = 1e9;
    for (int r = 0; r < 7; r++) {
        const double t0 = now();
        f(x, out, n);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%-16s %8.0f\n", name, n * 4 / best / 1e6);
}

static void time_error(const char *name, error_fn f, const float *x, const float *r, size_t n) {
    double best = 1e9;
    for (int k = 0; k < 7; k++) {
        qk_error_stats s;
        memset(&s, 0, sizeof s);
        const double t0 = now();
        f(x, r, n, &s);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%-16s %8.0f\n", name, n * 8 / best / 1e6);
}

int main(void) {
    const size_t n = 1 << 24, m = n / 4;
    float *x = malloc(n * 4), *r = malloc(n * 4);
    void *out = malloc(n * 2);
    srand(1);
    for (size_t i = 0; i < n; i++) {
        x[i] = (rand() / (float)RAND_MAX - 0.5f) * 4;
        r[i] = x[i] + (rand() / (float)RAND_MAX - 0.5f) * 0.01f;
    }
    const struct { const char *name; quantize_fn avx512, avx2; } quantizers[] = {
        {"q2_k", qk_quantize_q2_k_avx512, qk_quantize_q2_k_avx2},
        {"q3_k", qk_quantize_q3_k_avx512, qk_quantize_q3_k_avx2},
        {"q4_k", qk_quantize_q4_k_avx512, qk_quantize_q4_k_avx2},
        {"q5_k", qk_quantize_q5_k_avx512, qk_quantize_q5_k_avx2},
        {"q6_k", qk_quantize_q6_k_avx512, qk_quantize_q6_k_avx2},
        {"iq4_nl", qk_quantize_iq4_nl_avx512, qk_quantize_iq4_nl_avx2},
    };
    char name[32];
    for (size_t q = 0; q < sizeof quantizers / sizeof quantizers[0]; q++) {
        snprintf(name, sizeof name, "%s avx512", quantizers[q].name);
        time_quantizer(name, quantizers[q].avx512, x, out, m);
        snprintf(name, sizeof name, "%s avx2", quantizers[q].name);
        time_quantizer(name, quantizers[q].avx2, x, out, m);
    }
    time_error("error avx512", qk_error_avx512, x, r, n);
    time_error("error avx2", qk_error_avx2, x, r, n);
    return 0;
}
