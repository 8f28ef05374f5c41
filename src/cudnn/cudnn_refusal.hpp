#pragma once
// Which cuDNN statuses are a refusal of the case (this shape, algorithm and
// math type), reported as NotSupportedError and as "not_supported" by the
// tests and benchmarks, and which are failures (DeviceError). A pure function
// of the status, tested on the host.

#include <cudnn.h>

namespace nocturne::inline v0::cuda {

// The NOT_SUPPORTED codes (3xxx), and the BAD_PARAM codes (2xxx), with which
// some algorithms refuse sizes past their limits (the persistent kernels with
// a large hidden size): our own checks run before every cuDNN call, so a
// BAD_PARAM is cuDNN's limit, not a malformed call (and STANDARD is required
// to run by the tests, which catches a call that is malformed for every
// algorithm). The 3xxx codes that say the installation is broken (driver,
// runtime, architecture, NVRTC or a sub-library missing) are failures like
// any other.
inline bool refuses_the_case(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER:
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART:
    case CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH:
    case CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING:
    case CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE:
      return false;
    default:
      return CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED ||
             CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_BAD_PARAM;
  }
}

}  // namespace nocturne::cuda
