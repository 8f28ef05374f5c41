// Dropout masks from the counter-based generator (math::dropout_keep): ten
// Philox rounds per element are most of the non-GEMM time of a training
// step. GCC's auto-vectorised Philox is no faster than scalar code on AVX2
// (it shuffles 64-bit products), so Philox-4x32-10 is written with
// intrinsics: sixteen elements at once with AVX-512 (twice the AVX2 rate),
// eight with AVX2; the tests check each bit for bit against
// math::dropout_keep. Other machines, and the tail of each call, use
// math::dropout_keep directly. in == out is allowed. An element's mask
// depends on its index alone, so a large call is split between threads in
// blocks of any size and gives the same bits.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cpu/cpu_kernels.hpp"
#include "math/philox.hpp"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define NOCTURNE_CPU_SIMD_PHILOX 1
#endif

namespace nocturne::inline v0::cpu {
namespace {

template <typename T>
void apply_scalar(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, T scale, std::size_t begin,
                  std::size_t n, const T* in, T* out) {
  for (std::size_t i = begin; i < n; ++i) {
    const T factor = math::dropout_keep(seed, stream, offset + i, p) ? scale : T(0);
    out[i] = in[i] * factor;
  }
}

#ifdef NOCTURNE_CPU_SIMD_PHILOX
// High and low 32-bit halves of the eight products a[l] * m.
__attribute__((target("avx2"))) inline void mulhilo8(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  const __m256i even = _mm256_mul_epu32(a, m);                         // lanes 0, 2, 4, 6 as 64-bit
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// Word 0 of Philox4x32-10 for the counters (c0 + lane, c1, stream, 0): the
// same rounds as math::philox4x32_10.
__attribute__((target("avx2"))) inline __m256i philox8_word0(__m256i c0, __m256i c1, std::uint32_t stream,
                                                             std::uint64_t seed) {
  const __m256i mul0 = _mm256_set1_epi32(int(0xD2511F53u)), mul1 = _mm256_set1_epi32(int(0xCD9E8D57u));
  __m256i c2 = _mm256_set1_epi32(int(stream)), c3 = _mm256_setzero_si256();
  std::uint32_t key0 = std::uint32_t(seed), key1 = std::uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m256i hi0, lo0, hi1, lo1;
    mulhilo8(c0, mul0, hi0, lo0);
    mulhilo8(c2, mul1, hi1, lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(key0)));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(key1)));
    c3 = lo0;
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  return c0;
}

// Keep flags (all ones or zero per lane) for elements offset + i .. + 7,
// with math::uniform_from_u32's 24-bit uniform compared against p.
__attribute__((target("avx2"))) inline __m256 keep8(std::uint64_t seed, std::uint32_t stream, std::uint64_t index,
                                                    float p) {
  // The eight indices share their high word unless they cross 2^32; such
  // a block goes lane by lane.
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(int(std::uint32_t(index))), lanes);
  const __m256i c1 = _mm256_set1_epi32(int(std::uint32_t(index >> 32)));
  const __m256i bits = philox8_word0(c0, c1, stream, seed);
  const __m256 uniform = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(bits, 8)), _mm256_set1_ps(1.0f / 16777216.0f));
  return _mm256_cmp_ps(uniform, _mm256_set1_ps(p), _CMP_GE_OQ);
}

__attribute__((target("avx2"))) std::size_t apply_avx2(std::uint64_t seed, std::uint32_t stream,
                                                       std::uint64_t offset, float p, float scale, std::size_t n,
                                                       const float* in, float* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t index = offset + i;
    if (std::uint32_t(index) > 0xFFFFFFF8u) {  // the block crosses a high-word boundary
      apply_scalar(seed, stream, offset, p, scale, i, i + 8, in, out);
      continue;
    }
    const __m256 factor = _mm256_and_ps(keep8(seed, stream, index, p), _mm256_set1_ps(scale));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(in + i), factor));
  }
  return i;
}

__attribute__((target("avx2"))) std::size_t apply_avx2(std::uint64_t seed, std::uint32_t stream,
                                                       std::uint64_t offset, float p, double scale, std::size_t n,
                                                       const double* in, double* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t index = offset + i;
    if (std::uint32_t(index) > 0xFFFFFFF8u) {
      apply_scalar(seed, stream, offset, p, scale, i, i + 8, in, out);
      continue;
    }
    const __m256 keep = keep8(seed, stream, index, p);
    const __m256d scale4 = _mm256_set1_pd(scale);
    const __m256d keep_lo = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(_mm256_castps_si256(keep))));
    const __m256d keep_hi =
        _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(_mm256_castps_si256(keep), 1)));
    _mm256_storeu_pd(out + i, _mm256_mul_pd(_mm256_loadu_pd(in + i), _mm256_and_pd(keep_lo, scale4)));
    _mm256_storeu_pd(out + i + 4, _mm256_mul_pd(_mm256_loadu_pd(in + i + 4), _mm256_and_pd(keep_hi, scale4)));
  }
  return i;
}

// The AVX-512 twins of the three functions above, sixteen lanes. GCC 12's own
// avx512fintrin.h trips -Wmaybe-uninitialized on _mm512_undefined_epi32()
// inside the shift and multiply intrinsics (GCC bug 105593): not our code.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f"))) inline void mulhilo16(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

__attribute__((target("avx512f"))) inline __m512i philox16_word0(__m512i c0, __m512i c1, std::uint32_t stream,
                                                                std::uint64_t seed) {
  const __m512i mul0 = _mm512_set1_epi32(int(0xD2511F53u)), mul1 = _mm512_set1_epi32(int(0xCD9E8D57u));
  __m512i c2 = _mm512_set1_epi32(int(stream)), c3 = _mm512_setzero_si512();
  std::uint32_t key0 = std::uint32_t(seed), key1 = std::uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(c0, mul0, hi0, lo0);
    mulhilo16(c2, mul1, hi1, lo1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(key0)));
    c1 = lo1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(key1)));
    c3 = lo0;
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  return c0;
}

// Keep bits for elements index .. index + 15 (which share their high word).
__attribute__((target("avx512f"))) inline __mmask16 keep16(std::uint64_t seed, std::uint32_t stream,
                                                          std::uint64_t index, float p) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(int(std::uint32_t(index))), lanes);
  const __m512i c1 = _mm512_set1_epi32(int(std::uint32_t(index >> 32)));
  const __m512i bits = philox16_word0(c0, c1, stream, seed);
  const __m512 uniform =
      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(bits, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
  return _mm512_cmp_ps_mask(uniform, _mm512_set1_ps(p), _CMP_GE_OQ);
}

__attribute__((target("avx512f"))) std::size_t apply_avx512(std::uint64_t seed, std::uint32_t stream,
                                                           std::uint64_t offset, float p, float scale,
                                                           std::size_t n, const float* in, float* out) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const std::uint64_t index = offset + i;
    if (std::uint32_t(index) > 0xFFFFFFF0u) {  // the block crosses a high-word boundary
      apply_scalar(seed, stream, offset, p, scale, i, i + 16, in, out);
      continue;
    }
    const __mmask16 keep = keep16(seed, stream, index, p);
    _mm512_storeu_ps(out + i, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(in + i), _mm512_set1_ps(scale)));
  }
  return i;
}

__attribute__((target("avx512f"))) std::size_t apply_avx512(std::uint64_t seed, std::uint32_t stream,
                                                           std::uint64_t offset, float p, double scale,
                                                           std::size_t n, const double* in, double* out) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const std::uint64_t index = offset + i;
    if (std::uint32_t(index) > 0xFFFFFFF0u) {
      apply_scalar(seed, stream, offset, p, scale, i, i + 16, in, out);
      continue;
    }
    const __mmask16 keep = keep16(seed, stream, index, p);
    const __m512d scale8 = _mm512_set1_pd(scale);
    _mm512_storeu_pd(out + i, _mm512_maskz_mul_pd(__mmask8(keep), _mm512_loadu_pd(in + i), scale8));
    _mm512_storeu_pd(out + i + 8, _mm512_maskz_mul_pd(__mmask8(keep >> 8), _mm512_loadu_pd(in + i + 8), scale8));
  }
  return i;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

template <typename T>
void apply(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, T scale, std::size_t n,
           const T* in, T* out, DropoutIsa isa) {
  if (!dropout_isa_supported(isa)) isa = DropoutIsa::scalar;
  std::size_t done = 0;
#ifdef NOCTURNE_CPU_SIMD_PHILOX
  if (isa == DropoutIsa::avx512) done = apply_avx512(seed, stream, offset, p, scale, n, in, out);
  if (isa == DropoutIsa::avx2) done = apply_avx2(seed, stream, offset, p, scale, n, in, out);
#endif
  apply_scalar(seed, stream, offset, p, scale, done, n, in, out);
}

constexpr std::size_t kThreadElements = std::size_t(1) << 15;  // below this per thread, one thread

template <typename T>
void apply_split(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, T scale, std::size_t n,
                 const T* in, T* out, DropoutIsa isa, int threads) {
  const int used = int(std::min<std::size_t>(std::size_t(std::max(threads, 1)), n / kThreadElements));
  if (used <= 1) return apply(seed, stream, offset, p, scale, n, in, out, isa);
  // Block edges on multiples of 16 elements, so that every block but the
  // last runs whole vectors.
  auto edge = [&](int index) {
    return index == used ? n : (n * std::size_t(index) / std::size_t(used)) & ~std::size_t(15);
  };
  parallel_run(used, [&](int index) {
    const std::size_t lo = edge(index), hi = edge(index + 1);
    apply(seed, stream, offset + lo, p, scale, hi - lo, in + lo, out + lo, isa);
  });
}

}  // namespace

bool dropout_isa_supported(DropoutIsa isa) {
  switch (isa) {
    case DropoutIsa::scalar: return true;
#ifdef NOCTURNE_CPU_SIMD_PHILOX
    case DropoutIsa::avx2: return __builtin_cpu_supports("avx2");
    case DropoutIsa::avx512: return __builtin_cpu_supports("avx512f");
#else
    case DropoutIsa::avx2:
    case DropoutIsa::avx512: return false;
#endif
  }
  return false;
}

DropoutIsa best_dropout_isa() {
  static const DropoutIsa best = dropout_isa_supported(DropoutIsa::avx512) ? DropoutIsa::avx512
                                 : dropout_isa_supported(DropoutIsa::avx2) ? DropoutIsa::avx2
                                                                           : DropoutIsa::scalar;
  return best;
}

void dropout_apply(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, float scale,
                   std::size_t n, const float* in, float* out, int threads, DropoutIsa isa) {
  apply_split(seed, stream, offset, p, scale, n, in, out, isa, threads);
}
void dropout_apply(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, double scale,
                   std::size_t n, const double* in, double* out, int threads, DropoutIsa isa) {
  apply_split(seed, stream, offset, p, scale, n, in, out, isa, threads);
}

}  // namespace nocturne::cpu
