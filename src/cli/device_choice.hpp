#pragma once
// --device auto|cpu|cuda, --precision fp32|tf32, --lstm-impl ours|cudnn,
// --cudnn-algo and --threads, turned into a backend.

#include <memory>
#include <string>

#include "nocturne/backend.hpp"

namespace nocturne::cli {

struct DeviceRequest {
  std::string device = "auto";     // auto: CUDA when cuda_status().usable, else the CPU
  std::string precision = "fp32";  // fp32 (strict) or tf32 (CUDA GEMMs only)
  int threads = 0;                 // CPU GEMM threads; 0 = the BLAS library's default
  std::string lstm_impl = "ours";  // ours or cudnn (CUDA builds with the cuDNN path)
  std::string cudnn_algo;          // with lstm_impl cudnn: a CudnnAlgo name; empty = standard
};

struct DeviceChoice {
  std::unique_ptr<Backend> backend;
  std::string description;  // e.g. "cpu (openblas, 2 threads)" or "cuda:0 NVIDIA H100 (fp32)"
  std::string note;         // why auto chose what it chose; may be empty
};

// The help of --threads, for every command that has it.
inline constexpr const char* kThreadsHelp =
    "CPU BLAS threads (0 = the library's default: OPENBLAS_NUM_THREADS, else one per core). One setting for the "
    "whole process; on a busy machine use fewer (on 2 cores, 2 threads lose to 1 once another process takes a core)";

// Throws ConfigError for an unknown device or precision, DeviceError (one
// line, no fallback) when --device cuda is asked for and no usable GPU exists.
DeviceChoice choose_device(const DeviceRequest& request);

}  // namespace nocturne::cli
