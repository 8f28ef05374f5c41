#pragma once
// The CUDA backend, when it is built in. These declarations exist in every
// build: without CUDA, cuda_status() says so and make_cuda_backend() throws.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

// Which implementation runs the LSTM layers:
// - classic: per time step one cuBLAS GEMM and our cell kernel, the layers one
//   after the other over whole sequences (Keras' gate layout);
// - fused: per layer and time step one kernel of ours, the recurrent GEMM tile
//   with the cell in its epilogue, on gate-interleaved weights, the two layers
//   as a wavefront on two streams, the head in two kernels and Adamax inside
//   the step's graph (docs/cuda.md, "The fused path");
// - cudnn: cuDNN's RNN API (builds with the cuDNN path only; for comparison);
// - persistent: the fused path with each layer's forward and backward
//   sequences in persistent kernels (weights resident in shared memory, in
//   every precision) where the layer and the device fit, the fused step
//   kernels otherwise (docs/cuda.md, "The persistent path").
// `ours` is classic's former name.
enum class LstmImpl { classic, ours = classic, fused, cudnn, persistent };
// "classic", "fused", "cudnn", "persistent".
NOCTURNE_API const char* to_string(LstmImpl impl);
// The inverse of to_string (also "ours" for classic); throws ConfigError
// naming the value and the choices.
NOCTURNE_API LstmImpl parse_lstm_impl(const std::string& name);

// cuDNN's RNN algorithm (cudnnRNNAlgo_t) for LstmImpl::cudnn: STANDARD, or one
// of its persistent kernels (PERSIST_DYNAMIC compiles its kernel for the shape
// at the first call). cuDNN's math type follows CudaOptions::math: strict fp32
// is CUDNN_FMA_MATH, tf32 is CUDNN_DEFAULT_MATH (TF32 tensor cores, as
// PyTorch runs cuDNN's LSTM with TF32 allowed). Not every algorithm accepts
// every shape: where cuDNN refuses, the first LSTM call throws
// NotSupportedError (nocturne/error.hpp).
enum class CudnnAlgo { standard, persist_static, persist_dynamic, persist_static_small_h };
inline constexpr std::array<CudnnAlgo, 4> kCudnnAlgos = {CudnnAlgo::standard, CudnnAlgo::persist_static,
                                                         CudnnAlgo::persist_dynamic, CudnnAlgo::persist_static_small_h};
// "standard", "persist_static", "persist_dynamic", "persist_static_small_h".
NOCTURNE_API const char* to_string(CudnnAlgo algo);
// The inverse of to_string; throws ConfigError naming the value and the choices.
NOCTURNE_API CudnnAlgo parse_cudnn_algo(const std::string& name);

struct NOCTURNE_API CudaOptions {
  int device = 0;
  // GEMM operands: strict FP32, or TF32 / BF16 on tensor cores (cuBLAS's
  // GEMMs and the fused kernels alike; BF16 not with cuDNN).
  MathMode math = MathMode::strict_fp32;
  // Synchronise after every kernel launch so a fault names its kernel.
  bool debug_sync = false;
  LstmImpl lstm_impl = LstmImpl::classic;
  // Only with lstm_impl == cudnn (any other algorithm than standard with our
  // kernels is a ConfigError).
  CudnnAlgo cudnn_algo = CudnnAlgo::standard;
  // record() captures a CUDA graph that replay() launches at once (true), or
  // keeps the work and runs it call by call at each replay (false). The cuDNN
  // path always runs eagerly; false lets our kernels be timed the same way.
  bool graphs = true;
  // The fused path runs its two LSTM layers as a wavefront on two streams
  // (true), or every op of a step on one stream in program order (false: the
  // serial order the wavefront must match bit for bit). The persistent path,
  // strict FP32: both layers' forward sequences in one cooperative launch
  // where the pair fits the device (true), or one launch a layer (false).
  bool wavefront = true;
};

struct NOCTURNE_API CudaDeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  std::size_t memory_bytes = 0;
  int multiprocessors = 0;
};

struct NOCTURNE_API CudaStatus {
  bool built = false;        // the library was compiled with the CUDA backend
  bool cudnn_built = false;  // ... and with the cuDNN LSTM path
  bool usable = false;       // at least one device can run our kernels
  std::string reason;        // why not usable ("built without CUDA", "no CUDA driver", ...)
  int driver_version = 0;    // as cudaDriverGetVersion reports it (e.g. 13000)
  int runtime_version = 0;
  std::vector<CudaDeviceInfo> devices;
};

// Never throws: everything that went wrong is in `reason`.
NOCTURNE_API CudaStatus cuda_status();

// Throws DeviceError naming the reason when no usable device exists.
NOCTURNE_API std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options = {});

}  // namespace nocturne
