#pragma once
// The CUDA backend, when it is built in. These declarations exist in every
// build: without CUDA, cuda_status() says so and make_cuda_backend() throws.

#include <memory>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"

namespace nocturne {

// Which implementation runs the LSTM layers: our fused kernels, or cuDNN's
// RNN API (builds with the cuDNN path only; for comparison).
enum class LstmImpl { ours, cudnn };

struct CudaOptions {
  int device = 0;
  MathMode math = MathMode::strict_fp32;
  // Synchronise after every kernel launch so a fault names its kernel.
  bool debug_sync = false;
  LstmImpl lstm_impl = LstmImpl::ours;
};

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  std::size_t memory_bytes = 0;
  int multiprocessors = 0;
};

struct CudaStatus {
  bool built = false;        // the library was compiled with the CUDA backend
  bool cudnn_built = false;  // ... and with the cuDNN LSTM path
  bool usable = false;       // at least one device can run our kernels
  std::string reason;        // why not usable ("built without CUDA", "no CUDA driver", ...)
  int driver_version = 0;    // as cudaDriverGetVersion reports it (e.g. 13000)
  int runtime_version = 0;
  std::vector<CudaDeviceInfo> devices;
};

// Never throws: everything that went wrong is in `reason`.
CudaStatus cuda_status();

// Throws DeviceError naming the reason when no usable device exists.
std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options = {});

}  // namespace nocturne
