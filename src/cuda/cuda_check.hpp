#pragma once
// The one checked-call macro of the CUDA backend. Every CUDA runtime and
// cuBLAS call goes through NOCTURNE_CUDA_CHECK(call), which throws
// nocturne::DeviceError naming the file, the line, the call and the error's
// name when the call fails; every kernel launch is followed by
// NOCTURNE_CHECK_LAUNCH(kernel, launch) (cudaGetLastError, plus a stream
// synchronisation when debug_sync asks for it). A cuDNN path adds one more
// check() overload for cudnnStatus_t and keeps the macro.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace nocturne::inline v0::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t error, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

inline void check(cudaError_t error, const char* call, const char* file, int line) {
  if (error != cudaSuccess) throw_cuda_error(error, call, file, line);
}
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}

// Where a kernel runs and whether to wait for it (CudaOptions::debug_sync;
// never while a graph is being recorded).
struct Launch {
  cudaStream_t stream = nullptr;
  bool sync = false;
};

// After a launch: the launch error, and with launch.sync the kernel's own.
void check_launch(const char* kernel, const Launch& launch, const char* file, int line);

}  // namespace nocturne::cuda

#define NOCTURNE_CUDA_CHECK(call) ::nocturne::cuda::check((call), #call, __FILE__, __LINE__)
#define NOCTURNE_CHECK_LAUNCH(kernel, launch) ::nocturne::cuda::check_launch((kernel), (launch), __FILE__, __LINE__)
