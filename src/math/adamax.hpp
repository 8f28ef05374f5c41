#pragma once
// One Adamax element (Kingma & Ba, section 7.1; Keras' formulation):
//   m = b1 m + (1 - b1) g
//   u = max(b2 u, |g|)
//   p = p - lr_t * m / (u + eps),   lr_t = lr / (1 - b1^t)
// with decoupled weight decay (Loshchilov & Hutter's AdamW, for Adamax):
//   p = p - decay * p,   decay = lr * weight_decay (no bias correction),
// taken first; decay = 0 skips it, so the recipe's update keeps its bits.

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

template <typename T>
NOCTURNE_HD void adamax_element(T& p, T g, T& m, T& u, T lr_t, T beta1, T beta2, T eps, T decay = T(0)) {
  m = beta1 * m + (T(1) - beta1) * g;
  const T decayed = beta2 * u;
  const T mag = abs_of(g);
  u = decayed > mag ? decayed : mag;
  if (decay != T(0)) p = p - decay * p;
  p = p - lr_t * m / (u + eps);
}

}  // namespace nocturne::math

namespace nocturne::inline v0::math {

// A double product and difference rounded on their own: on the device the
// _rn intrinsics, which the compiler never fuses into an FMA with what
// follows (nvcc contracts a * b + c by default); on the host plain operators
// (the CPU backend builds this code without FMA contraction).
NOCTURNE_HD double multiply_rounded(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
NOCTURNE_HD double subtract_rounded(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

// beta^step by squaring: a fixed sequence of double multiplications, so the
// host and the device (which computes it from a step count in its memory)
// get the same bits, where pow() may differ in the last place between
// libraries.
NOCTURNE_HD double power_by_squaring(double base, long long exponent) {
  double result = 1.0;
  while (exponent > 0) {
    if (exponent & 1) result = multiply_rounded(result, base);
    base = multiply_rounded(base, base);
    exponent >>= 1;
  }
  return result;
}

// The bias-corrected step size lr / (1 - beta1^step) of step `step` (from 1),
// in double; the backends round it once to their scalar type.
NOCTURNE_HD double adamax_step_size(double learning_rate, double beta1, long long step) {
  return learning_rate / subtract_rounded(1.0, power_by_squaring(beta1, step));
}

}  // namespace nocturne::math
