// AVX-512 error statistics: error_stats.h on 16 lanes.
#include "internal.h"
#if defined(QK_HAVE_X86)

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma"))), apply_to = function)

#include "simd_avx512.h"
#include "error_stats.h"

#pragma clang attribute pop
#endif
