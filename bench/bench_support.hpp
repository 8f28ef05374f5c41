#pragma once
// What the CPU benchmarks (bench_cpu_ops.cpp, bench_fp32_gemm.cpp) share:
// seeded random operands and the median of timed repetitions.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <random>
#include <vector>

namespace bench {

// n floats uniform in [-scale, scale], the same for the same seed.
inline std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = dist(gen);
  return v;
}

// The median of `reps` timed calls of work, after one untimed call (page
// faults, the BLAS's thread start).
inline double median_ms(int reps, const std::function<void()>& work) {
  work();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace bench
