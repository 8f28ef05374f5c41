#pragma once
// Helpers for the CPU backend tests: seeded random vectors, norm-wise
// relative error, and central finite differences.
//
// The CPU backend's device memory is host memory, so these tests pass
// std::vector data straight to the ops.

#include <cmath>
#include <cstddef>
#include <functional>
#include <random>
#include <vector>

namespace nocturne::inline v0::test {

template <typename T = double>
std::vector<T> random_vector(std::size_t n, std::uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& e : v) e = T(dist(gen));
  return v;
}

template <typename To, typename From>
std::vector<To> convert(const std::vector<From>& v) {
  std::vector<To> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = To(v[i]);
  return out;
}

// Norm-wise relative error ||a - b|| / max(||a + b|| / 2, tiny): one number
// for a whole gradient, robust to entries that are near zero.
template <typename A, typename B>
double relative_error(const std::vector<A>& a, const std::vector<B>& b) {
  double diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    diff += (x - y) * (x - y);
    sum += (x + y) * (x + y) / 4.0;
  }
  return std::sqrt(diff) / std::max(std::sqrt(sum), 1e-300);
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of x.
inline std::vector<double> numeric_gradient(std::vector<double>& x, const std::function<double()>& loss,
                                            double step = 1e-6) {
  std::vector<double> grad(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + step;
    const double up = loss();
    x[i] = saved - step;
    const double down = loss();
    x[i] = saved;
    grad[i] = (up - down) / (2.0 * step);
  }
  return grad;
}

}  // namespace nocturne::test
