// Adamax with its step count on the device, so that the optimiser's update
// can live inside a recorded training step (a CUDA graph) whose step count
// changes at every replay.
//
// Design: as adamax in elementwise.cu (one element per thread, grid-stride,
// math::adamax_element), plus the bias-corrected step size: thread 0 of each
// block computes math::adamax_step_size(lr, beta1, *step) in double (power by
// squaring: the host's bits) and rounds it once to float, as the CPU backend
// does; the block reads it from shared memory.
//
// History: v1 (this one).

#include "fused_kernels.hpp"
#include "launch_config.hpp"
#include "math/adamax.hpp"

namespace nocturne::inline v0::kernels {
namespace {

__global__ void adamax_device_kernel(std::size_t n, float* params, const float* grads, float* m, float* u,
                                     double learning_rate, double beta1_for_step, float beta1, float beta2,
                                     float epsilon, float decay, const std::int64_t* step) {
  __shared__ float lr_t;
  if (threadIdx.x == 0) lr_t = float(math::adamax_step_size(learning_rate, beta1_for_step, *step));
  __syncthreads();
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float p = params[i], mi = m[i], ui = u[i];
    math::adamax_element(p, grads[i], mi, ui, lr_t, beta1, beta2, epsilon, decay);
    params[i] = p;
    m[i] = mi;
    u[i] = ui;
  }
}

}  // namespace

void adamax_device_step(const Launch& launch, std::size_t n, float* params, const float* grads, float* m, float* u,
                        const AdamaxParams& hp, const std::int64_t* step) {
  if (n == 0) return;
  adamax_device_kernel<<<blocks_for(n), kThreads, 0, launch.stream>>>(
      n, params, grads, m, u, hp.learning_rate, hp.beta1, float(hp.beta1), float(hp.beta2), float(hp.epsilon),
      float(hp.learning_rate * hp.weight_decay), step);
  NOCTURNE_CHECK_LAUNCH("adamax_device_step", launch);
}

}  // namespace nocturne::kernels
