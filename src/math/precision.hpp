#pragma once
// Rounding of GEMM operands to the tensor cores' input formats, the same on
// the host and the device: the CPU backend's emulated modes and the fused
// CUDA kernels round with these very functions, so the operands of both are
// bit-identical and only the order of the FP32 sums differs.
//
// TF32 keeps float's 8-bit exponent and the top 10 of its 23 mantissa bits;
// BF16 the top 7. Both round to nearest, ties to even, from the float's bits
// (the hardware's cvt.rna for TF32 rounds ties away; by using these functions
// the kernels never depend on it). Infinities pass unchanged and a NaN stays a
// NaN (its payload forced quiet); a finite value that rounds past the largest
// finite one becomes infinity, as IEEE rounding does.

#include <cstdint>
#include <cstring>

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

NOCTURNE_HD std::uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#endif
}

NOCTURNE_HD float float_from_bits(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// Rounds away the low `dropped` mantissa bits (1..23), to nearest even.
NOCTURNE_HD float round_mantissa(float x, int dropped) {
  const std::uint32_t bits = float_bits(x);
  const std::uint32_t mask = (std::uint32_t(1) << dropped) - 1;
  if ((bits & 0x7f800000u) == 0x7f800000u) {               // inf or NaN
    if (bits & 0x007fffffu) return float_from_bits(bits | 0x00400000u);  // quiet NaN
    return x;
  }
  const std::uint32_t half = std::uint32_t(1) << (dropped - 1);
  const std::uint32_t lsb = (bits >> dropped) & 1u;
  // Carries out of the mantissa raise the exponent, and past the largest
  // exponent give infinity: what IEEE rounding does.
  return float_from_bits((bits + (half - 1) + lsb) & ~mask);
}

// x rounded to TF32 (10 mantissa bits), still stored as a float.
NOCTURNE_HD float round_to_tf32(float x) { return round_mantissa(x, 13); }
// x rounded to BF16 (7 mantissa bits), still stored as a float.
NOCTURNE_HD float round_to_bf16(float x) { return round_mantissa(x, 16); }
// The 16 bits of the BF16 value round_to_bf16(x) (its float's top half).
NOCTURNE_HD std::uint16_t bf16_bits(float x) { return std::uint16_t(float_bits(round_to_bf16(x)) >> 16); }

// The double backend's emulated modes round through float.
NOCTURNE_HD double round_to_tf32(double x) { return double(round_to_tf32(float(x))); }
NOCTURNE_HD double round_to_bf16(double x) { return double(round_to_bf16(float(x))); }

}  // namespace nocturne::math
