#pragma once
// The device a program runs on, chosen as the `nocturne` program's --device,
// --precision, --lstm-impl, --cudnn-algo and --threads options choose it
// (their values and messages are the same): auto takes the GPU when the CUDA
// module and a usable GPU are present, else the CPU, and says why.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "nocturne/backend.hpp"
#include "nocturne/export.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

struct NOCTURNE_API DeviceRequest {
  std::string device = "auto";     // auto: CUDA when cuda_status().usable, else the CPU
  std::string precision = "fp32";  // fp32 (strict), tf32 or bf16 (GEMM operands; emulated on the CPU)
  int threads = 0;                 // CPU GEMM threads; 0 = the BLAS library's default
  std::string lstm_impl = "classic";  // classic (or ours), fused, or cudnn (CUDA builds with the cuDNN path)
  std::string cudnn_algo;          // with lstm_impl cudnn: a CudnnAlgo name; empty = standard
};

// The backend must outlive every Model made on it (a Model holds a reference).
struct NOCTURNE_API DeviceChoice {
  std::unique_ptr<Backend> backend;
  std::string description;  // e.g. "cpu (fused LSTM, 2 BLAS threads)" or "cuda:0 NVIDIA H100 (fp32, LSTM classic)"
  std::string note;         // why auto chose what it chose, and emulation_note; may be empty
  std::string emulation_note;  // where a reduced precision runs on the CPU: that it is an emulation, and slower
};

// The help of --threads, for every command that has it.
inline constexpr const char* kThreadsHelp =
    "CPU BLAS threads (0 = the library's default: OPENBLAS_NUM_THREADS, else one per core). One setting for the "
    "whole process; on a busy machine use fewer (on 2 cores, 2 threads lose to 1 once another process takes a core)";

// Throws ConfigError for an unknown device, precision or LSTM implementation,
// DeviceError (one line, no fallback) when --device cuda is asked for and no
// usable GPU exists. --threads past the cores available is capped to them
// (said in the note): more BLAS threads only add their buffers and contention.
NOCTURNE_API DeviceChoice choose_device(const DeviceRequest& request);

// The memory the chosen device offers: the GPU's, or what the machine has available.
NOCTURNE_API std::optional<MemoryLimit> device_memory(const DeviceChoice& choice);

// Refuses, before allocating, a model whose buffers for batches of max_batch
// windows (with the optimizer's moments when training) exceed the device's
// memory, naming the option to lower: `batch_option` ("--batch 512") or the
// layer sizes, whichever takes more. Throws ConfigError.
NOCTURNE_API void require_model_memory(const DeviceChoice& device, const ModelConfig& config, std::int64_t max_batch,
                                       bool training, const std::string& batch_option);

}  // namespace nocturne
