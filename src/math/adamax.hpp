#pragma once
// One Adamax element (Kingma & Ba, section 7.1; Keras' formulation):
//   m = b1 m + (1 - b1) g
//   u = max(b2 u, |g|)
//   p = p - lr_t * m / (u + eps),   lr_t = lr / (1 - b1^t)

#include "math/host_device.hpp"

namespace nocturne::math {

template <typename T>
NOCTURNE_HD void adamax_element(T& p, T g, T& m, T& u, T lr_t, T beta1, T beta2, T eps) {
  m = beta1 * m + (T(1) - beta1) * g;
  const T decayed = beta2 * u;
  const T mag = abs_of(g);
  u = decayed > mag ? decayed : mag;
  p = p - lr_t * m / (u + eps);
}

}  // namespace nocturne::math
