// The CUDA entry points of a build without the CUDA backend.

#include "core/cuda_options.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

namespace nocturne {

CudaStatus cuda_status() {
  CudaStatus status;
  status.reason = "built without CUDA (configure with -DNOCTURNE_CUDA=ON where nvcc is installed)";
  return status;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  check_cuda_options(options);
  throw DeviceError("the CUDA backend is not available: " + cuda_status().reason);
}

}  // namespace nocturne
