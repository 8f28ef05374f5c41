#pragma once
// Rounding floats to BF16 on AVX-512, shared by the BF16 GEMM
// (cpu_bf16_gemm.cpp) and the BF16 LSTM kernels (cpu_lstm_bf16.cpp): both
// round as math::bf16_bits does, so that they agree with the emulation.

#include <immintrin.h>

#define NOCTURNE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace nocturne::inline v0::cpu {
// Internal linkage, as each kernel's own copy had (cpu_avx512.hpp says why).
namespace {

// The BF16 value of each float lane in its top 16 bits (the low 16 are left
// over): math::bf16_bits's rounding, nearest even, NaN made quiet.
NOCTURNE_BF16_TARGET inline __m512i round_high(__m512i bits) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i sum = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_mov_epi32(sum, nan, _mm512_or_si512(bits, _mm512_set1_epi32(0x00400000)));
}

// The same BF16 value in the low 16 bits of each lane.
NOCTURNE_BF16_TARGET inline __m512i round_low(__m512i bits) { return _mm512_srli_epi32(round_high(bits), 16); }

}  // namespace
}  // namespace nocturne::inline v0::cpu
