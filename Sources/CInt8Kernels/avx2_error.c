// AVX2 error statistics (hosts without AVX-512): error_stats.h on 8 lanes.
#include "internal.h"
#if defined(QK_HAVE_X86)

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#include "simd_avx2.h"
#include "error_stats.h"

#pragma clang attribute pop
#endif
