#pragma once
// Shared helpers of the GPU tests: the two backends, seeded random inputs,
// and the error measures every comparison with the CPU reference reports.
//
// Error measures (ggml's habit: one normalised error per op, plus the worst
// element): for GPU values a and CPU values b,
//   normalised = ||a - b|| / ||b||            (sqrt of sums of squares)
//   max_abs    = max |a_i - b_i|, bounded relative to max(1, max |b_i|)
//   max_rel    = max |a_i - b_i| / |b_i| over elements with |b_i| >= 0.1 rms(b)
//                (smaller elements are cancellations where a relative error
//                says nothing)
// A non-finite GPU value always fails: outputs are poisoned with NaN before
// each op, so an element the op forgot to write is caught.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/rng.hpp"
#include "test_support.hpp"

namespace nocturne::inline v0::test::gpu {

// The whole executable is skipped (exit 77) where no GPU can run our kernels:
// one static initialiser for all the GPU test files linked into it.
inline const bool skipped_without_gpu = [] {
  const CudaStatus status = cuda_status();
  if (!status.usable) return nocturne::test::set_skip_reason("no usable GPU: " + status.reason);
  return true;
}();

// The process's CUDA backend (strict FP32) and CPU reference, made on first use.
inline Backend& gpu() {
  static std::unique_ptr<Backend> backend = make_cuda_backend();
  return *backend;
}
inline Backend& cpu() {
  static std::unique_ptr<Backend> backend = make_cpu_backend();
  return *backend;
}

// NOCTURNE_GPU_TEST_SMALL=1: fewer and smaller shapes (for compute-sanitizer).
inline bool small_run() {
  const char* v = std::getenv("NOCTURNE_GPU_TEST_SMALL");
  return v && *v && std::string(v) != "0";
}

// A fresh seed for every set of inputs in a run (fixed across runs).
inline std::uint64_t fresh_seed() {
  static std::uint64_t next = 0x6e6f6374;  // "noct"
  return next++;
}

inline std::vector<float> random_vector(std::size_t n, float lo = -1.0f, float hi = 1.0f) {
  const std::uint64_t seed = fresh_seed();
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * float(random_uniform(seed, 0, i));
  return v;
}

inline std::vector<std::int32_t> random_tokens(std::size_t n, std::int64_t vocab) {
  const std::uint64_t seed = fresh_seed();
  std::vector<std::int32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::int32_t(random_below(std::uint64_t(vocab), seed, 0, i));
  return v;
}

template <typename E>
Buffer<E> upload(Backend& b, const std::vector<E>& host) {
  return b.upload(std::span<const E>(host));
}
// An output buffer of n floats poisoned with NaN.
inline Buffer<float> poisoned(Backend& b, std::size_t n) {
  Buffer<float> buffer = b.allocate<float>(n);
  b.fill(buffer.data(), n, std::numeric_limits<float>::quiet_NaN());
  return buffer;
}

struct Errors {
  double max_abs = 0, max_rel = 0, normalised = 0, max_ref = 0;
  std::size_t nonfinite = 0, count = 0;
};

inline Errors measure(std::span<const float> got, std::span<const float> want) {
  Errors e;
  e.count = want.size();
  REQUIRE(got.size() == want.size());
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++e.nonfinite;
      continue;
    }
    const double d = std::fabs(double(got[i]) - double(want[i]));
    e.max_abs = std::max(e.max_abs, d);
    e.max_ref = std::max(e.max_ref, std::fabs(double(want[i])));
    diff2 += d * d;
    ref2 += double(want[i]) * double(want[i]);
  }
  const double rms = want.empty() ? 0.0 : std::sqrt(ref2 / double(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double w = std::fabs(double(want[i]));
    if (w > 0 && w >= 0.1 * rms && std::isfinite(got[i]))
      e.max_rel = std::max(e.max_rel, std::fabs(double(got[i]) - double(want[i])) / w);
  }
  e.normalised = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  return e;
}

struct Tolerance {
  double normalised, max_abs, max_rel;
};
// Single roundings or one transcendental (CUDA's expf/tanhf/logf are within
// 2 ulp, glibc's vector versions that the CPU backend uses within 4 ulp).
inline constexpr Tolerance kElementwise{2e-6, 2e-6, 2e-5};
// cuBLAS and OpenBLAS add the k products in different orders: an error near
// sqrt(k) * 2^-24 relative to the sizes of the terms.
inline constexpr Tolerance kGemm{1e-5, 1e-5, 1e-3};
// 40 recurrent steps carry the rounding of every step forward.
inline constexpr Tolerance kLstmForward{2e-5, 5e-5, 2e-3};
// Backward through time sums over all steps and rows (up to 10,240 rows into
// one weight gradient) in different orders on the two backends.
inline constexpr Tolerance kLstmBackward{1e-4, 2e-4, 1e-2};

inline void require_close(const std::string& what, std::span<const float> got, std::span<const float> want,
                          const Tolerance& tol) {
  const Errors e = measure(got, want);
  INFO(what << ": " << e.count << " values, normalised " << e.normalised << " (tol " << tol.normalised
            << "), max abs " << e.max_abs << " (tol " << tol.max_abs << " x max(1, " << e.max_ref << ")), max rel "
            << e.max_rel << " (tol " << tol.max_rel << "), non-finite " << e.nonfinite);
  CHECK(e.nonfinite == 0);
  CHECK(e.normalised <= tol.normalised);
  CHECK(e.max_abs <= tol.max_abs * std::max(1.0, e.max_ref));
  CHECK(e.max_rel <= tol.max_rel);
}

inline void require_close(const std::string& what, const std::vector<float>& got, const std::vector<float>& want,
                          const Tolerance& tol) {
  require_close(what, std::span<const float>(got), std::span<const float>(want), tol);
}

}  // namespace nocturne::test::gpu
