// AVX-512 K-quant quantizers: kquant_rows.h on 16 lanes. The expensive part is ggml's search for
// each sub-block's scale (Q6_K: 19 candidates over 16 values; Q4_K/Q5_K: 22 or 17 scale-and-min fits
// over 32 values; Q2_K: 17 over 16 values; Q3_K: up to five refinement passes over 16 values); it is a
// chain of sequential float sums within a sub-block, so instead of splitting a sub-block across lanes
// (which would reorder its sums), each lane runs one whole sub-block in the scalar order (separate
// multiply and add, no FMA). IQ4_NL from iq4nl_rows.h.
#include "internal.h"
#if defined(QK_HAVE_X86)
#include <immintrin.h>
#include <math.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))), apply_to = function)

#include "simd_avx512.h"
#include "kquant_search.h"
#include "kquant_rows.h"
#include "iq4nl_rows.h"

enum { LANES = V_LANES };

#pragma clang attribute pop
#endif
