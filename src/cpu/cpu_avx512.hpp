#pragma once
// Small AVX-512 helpers of the CPU kernels (cpu_lstm_fp32.cpp, cpu_lstm_bf16.cpp,
// cpu_fp32_gemm.cpp): masks, stores and prefetches shared by their tiles.

#include <immintrin.h>

#define NOCTURNE_AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

namespace nocturne::inline v0::cpu {
// Internal linkage, as each kernel's own copy had: GCC then compiles the
// kernels exactly as before (an inline function of external linkage changed
// the FP32 GEMM tiles' register allocation and loop layout).
namespace {

// The mask of the first `count` of 16 lanes (none for count <= 0).
NOCTURNE_AVX512_TARGET inline __mmask16 first(int count) {
  return count >= 16 ? __mmask16(0xffff) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// A whole vector is stored unmasked: the cells' loop loads it right back, and
// a load is forwarded from a plain store but waits for a masked one to retire.
NOCTURNE_AVX512_TARGET inline void store(float* p, __mmask16 mask, __m512 v) {
  if (mask == __mmask16(0xffff))
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, mask, v);
}

inline void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

}  // namespace
}  // namespace nocturne::inline v0::cpu
