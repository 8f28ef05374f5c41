// The CUDA module's one exported C symbol: the function table the core
// library checks and calls (core/cuda_module.hpp).

#include "core/cuda_module.hpp"
#include "core/cuda_module_stamp.hpp"  // generated: NOCTURNE_CUDA_MODULE_STAMP
#include "cuda/cuda_backend.hpp"
#include "lstm_bench/lstm_layer.hpp"

namespace {

const nocturne::cuda_module::CudaModule kModule = {
    nocturne::cuda_module::kInterfaceVersion,
    NOCTURNE_CUDA_MODULE_STAMP,
    &nocturne::cuda::module_cuda_status,
    &nocturne::cuda::module_make_cuda_backend,
    &nocturne::bench::run_cuda,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const nocturne::cuda_module::CudaModule* nocturne_cuda_module() {
  return &kModule;
}
