#pragma once
// Per-element math shared by the CPU backend and the CUDA kernels: compiled
// as __host__ __device__ under nvcc, as plain inline C++ elsewhere, so CPU
// tests check the very formulas the kernels run.

#include <cmath>

#if defined(__CUDACC__)
#define NOCTURNE_HD __host__ __device__ __forceinline__
#else
#define NOCTURNE_HD inline
#endif

namespace nocturne::inline v0::math {

NOCTURNE_HD float exp_of(float x) { return expf(x); }
NOCTURNE_HD double exp_of(double x) { return exp(x); }
#if defined(__clang__) && !defined(__CUDACC__)
// clang maps expf to glibc's vector versions (-fveclib=libmvec) but has no
// vector tanhf, which would keep the CPU cell loops scalar (60 % slower
// training steps): tanh through expf there. Saturates to +-1 (expf overflows
// to inf, 2 / inf = 0); absolute error a few ulp of 1, what the cell's sums
// carry anyway. The CUDA kernels (nvcc) keep tanhf.
NOCTURNE_HD float tanh_of(float x) { return 1.0f - 2.0f / (1.0f + expf(2.0f * x)); }
#else
NOCTURNE_HD float tanh_of(float x) { return tanhf(x); }
#endif
NOCTURNE_HD double tanh_of(double x) { return tanh(x); }
NOCTURNE_HD float log_of(float x) { return logf(x); }
NOCTURNE_HD double log_of(double x) { return log(x); }
NOCTURNE_HD float abs_of(float x) { return fabsf(x); }
// a * b + c with one rounding, on every compiler and device (the fused
// kernels and their host simulation take the same bits from it).
NOCTURNE_HD float fma_of(float a, float b, float c) { return fmaf(a, b, c); }
NOCTURNE_HD double fma_of(double a, double b, double c) { return fma(a, b, c); }
NOCTURNE_HD double abs_of(double x) { return fabs(x); }

template <typename T>
NOCTURNE_HD T sigmoid(T x) {
  return T(1) / (T(1) + exp_of(-x));
}

}  // namespace nocturne::math
