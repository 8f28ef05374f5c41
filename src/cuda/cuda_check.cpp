// Error reporting of the CUDA backend: one message format for every failure.

#include "cuda/cuda_check.hpp"

#include <string>

#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {
namespace {

std::string where(const char* file, int line) {
  std::string path = file;
  // Keep the path from the repository's folders on ("src/cuda/x.cpp").
  for (const char* root : {"/src/", "/kernels/"}) {
    const std::size_t at = path.rfind(root);
    if (at != std::string::npos) return path.substr(at + 1) + ":" + std::to_string(line);
  }
  return path + ":" + std::to_string(line);
}

}  // namespace

void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line) {
  throw DeviceError("CUDA error " + std::string(cudaGetErrorName(error)) + " (" + cudaGetErrorString(error) +
                    ") in " + call + " at " + where(file, line));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw DeviceError("cuBLAS error " + std::string(cublasGetStatusName(status)) + " (" +
                    cublasGetStatusString(status) + ") in " + call + " at " + where(file, line));
}

void check_launch(const char* kernel, const Launch& launch, const char* file, int line) {
  const cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess)
    throw DeviceError("CUDA error " + std::string(cudaGetErrorName(launched)) + " (" +
                      cudaGetErrorString(launched) + ") launching kernel " + kernel + " at " + where(file, line));
  if (!launch.sync) return;
  const cudaError_t ran = cudaStreamSynchronize(launch.stream);
  if (ran != cudaSuccess)
    throw DeviceError("CUDA error " + std::string(cudaGetErrorName(ran)) + " (" + cudaGetErrorString(ran) +
                      ") running kernel " + kernel + " at " + where(file, line) + " (debug_sync)");
}

}  // namespace nocturne::cuda
