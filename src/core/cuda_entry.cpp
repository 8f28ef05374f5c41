// cuda_status() and make_cuda_backend(): the CUDA backend is in a module of
// its own (libnocturne-cuda.so, cuda_module.hpp), loaded at the first call.
// Without it, or without a driver or a device, the answer says why.

#include <string>

#include "core/cuda_module.hpp"
#include "core/cuda_module_stamp.hpp"  // generated: NOCTURNE_CUDA_MODULE_BUILT, NOCTURNE_CUDA_MODULE_CUDNN
#include "core/cuda_options.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

CudaStatus cuda_status() {
  CudaStatus status;
  status.built = NOCTURNE_CUDA_MODULE_BUILT;
  status.cudnn_built = NOCTURNE_CUDA_MODULE_CUDNN;
  if (!status.built) {
    status.reason = "built without CUDA (configure with -DNOCTURNE_CUDA=ON where nvcc is installed)";
    return status;
  }
  try {
    const cuda_module::Loaded& loaded = cuda_module::loaded();
    if (!loaded.module) {
      status.reason = loaded.reason;
      return status;
    }
    return loaded.module->status();
  } catch (...) {
    status.reason = "unexpected failure while loading the CUDA module";
    return status;
  }
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  check_cuda_options(options);
  if (!NOCTURNE_CUDA_MODULE_BUILT) throw DeviceError("the CUDA backend is not available: " + cuda_status().reason);
  const cuda_module::Loaded& loaded = cuda_module::loaded();
  if (!loaded.module) throw DeviceError("the CUDA backend is not available: " + loaded.reason);
  return loaded.module->create(options);
}

}  // namespace nocturne
