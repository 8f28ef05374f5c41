// The CUDA backend's plumbing: construction, memory and transfers, graph
// recording, device status and the factory. The ops are in cuda_ops.cpp.

#include "cuda/cuda_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/cuda_options.hpp"
#include "kernels/kernels.hpp"
#include "kernels/persistent_kernels.hpp"
#if NOCTURNE_WITH_CUDNN
#include "cudnn/cudnn_lstm.hpp"
#endif
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {
namespace {

// cuBLAS needs a workspace of its own to be recorded into a graph; 32 MiB is
// what NVIDIA recommends for Hopper (4 MiB is enough before it).
constexpr std::size_t kCublasWorkspaceBytes = std::size_t(32) << 20;

bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value && *value && std::strcmp(value, "0") != 0;
}

const char* math_description(MathMode mode) {
  switch (mode) {
    case MathMode::tf32: return "tf32";
    case MathMode::bf16: return "bf16";
    case MathMode::strict_fp32: break;
  }
  return "strict fp32";
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

CudaBackend::CudaBackend(const CudaOptions& options)
    : device_(options.device),
      debug_sync_(options.debug_sync || env_flag("NOCTURNE_CUDA_DEBUG_SYNC")),
      fused_(options.lstm_impl == LstmImpl::fused || options.lstm_impl == LstmImpl::persistent),
      persistent_(options.lstm_impl == LstmImpl::persistent),
      wavefront_(options.wavefront),
      cudnn_algo_(options.cudnn_algo),
      math_(options.math),
      graphs_(options.graphs) {
  if (options.lstm_impl == LstmImpl::cudnn) {
#if NOCTURNE_WITH_CUDNN
    cudnn_lstm_ = true;
#else
    throw ConfigError("LSTM implementation 'cudnn': this build has no cuDNN path (configure with -DNOCTURNE_CUDNN=ON)");
#endif
  }
  NOCTURNE_CUDA_CHECK(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  NOCTURNE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
  multiprocessors_ = prop.multiProcessorCount;
  const std::string lstm = cudnn_lstm_ ? std::string("cuDNN LSTM ") + to_string(cudnn_algo_)
                           : persistent_ ? std::string("persistent LSTM sequences") +
                                               (wavefront_ ? " (fp32 forward: both layers in one launch)" : "") +
                                               ", fused steps otherwise"
                           : fused_   ? std::string("fused LSTM") + (wavefront_ ? ", wavefront" : ", serial")
                                      : std::string("cuBLAS + cell kernels");
  name_ = "cuda:" + std::to_string(device_) + " (" + prop.name + ", " + math_description(math_) + ", " + lstm +
          (graphs_ ? "" : ", eager") + (debug_sync_ ? ", debug sync" : "") + ")";
  for (Branch& b : branches_) {
    b.stream = make_stream();
    b.cublas = make_cublas();
    // SetStream first: it resets the workspace to cuBLAS' own pool.
    NOCTURNE_CUDA_CHECK(cublasSetStream(b.cublas.get(), b.stream.get()));
    b.cublas_workspace = device_memory(kCublasWorkspaceBytes);
    NOCTURNE_CUDA_CHECK(cublasSetWorkspace(b.cublas.get(), b.cublas_workspace.get(), kCublasWorkspaceBytes));
    NOCTURNE_CUDA_CHECK(cublasSetMathMode(
        b.cublas.get(), math_ == MathMode::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    if (fused_) b.lt.init(kCublasWorkspaceBytes);
    b.scratch = device_memory(kScratchFloats * sizeof(float));
    if (persistent_) b.flags = device_memory(std::size_t(prop.multiProcessorCount) * sizeof(unsigned));
  }
  if (persistent_) kernels::prepare_persistent_kernels();
  sum_partials_ = device_memory((kernels::kSumSquaresBlocks + 1) * sizeof(double));
  for (StagingSlot& slot : staging_) {
    slot.host = pinned_memory(kStagingBytes);
    slot.done = make_event();
  }
  warm_up();
}

// cuBLAS initialises itself lazily at its first GEMM, and kernels load lazily
// at their first launch; neither should first happen inside a graph capture.
// One tiny GEMM per handle and one kernel now; recorded work also runs once
// eagerly before it is captured (cuda_program.cpp), so every kernel and GEMM
// shape of a step has run before its graph is made.
void CudaBackend::warm_up() {
  for (std::size_t k = 0; k < branches_.size(); ++k) {
    set_branch(int(k));
    float* s = static_cast<float*>(branch().scratch.get());
    fill(s, 3, 1.0f);
    const float one = 1.0f, zero = 0.0f;
    NOCTURNE_CUDA_CHECK(cublasSgemm(branch().cublas.get(), CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, s, 1, s + 1, 1,
                                    &zero, s + 2, 1));
    NOCTURNE_CUDA_CHECK(cudaStreamSynchronize(branch().stream.get()));
  }
  set_branch(0);
}

CudaBackend::~CudaBackend() {
  // Pending copies still read the staging memory; nothing to report from here.
  for (Branch& b : branches_) cudaStreamSynchronize(b.stream.get());
#if NOCTURNE_WITH_CUDNN
  if (cudnn_lstm_) cudnn::cudnn_lstm_release(stream());
#endif
}

void CudaBackend::require_not_recording(const char* op) const {
  if (recording_)
    throw DeviceError(std::string(op) +
                      " inside record(): recorded work must not allocate, synchronise or transfer to or from the host");
}

RawBuffer CudaBackend::allocate_bytes(std::size_t bytes) {
  require_not_recording("allocate_bytes");
  if (bytes == 0) return RawBuffer(nullptr, 0, Device::cuda, &free_device);
  DeviceMemory memory = device_memory(bytes);
  NOCTURNE_CUDA_CHECK(cudaMemsetAsync(memory.get(), 0, bytes, stream()));
  return RawBuffer(memory.release(), bytes, Device::cuda, &free_device);
}

void CudaBackend::copy_to_device(void* dst, const void* host_src, std::size_t bytes) {
  require_not_recording("copy_to_device");
  if (bytes == 0) return;
  if (!dst || !host_src) throw ShapeError("copy_to_device: null pointer");
  if (bytes > kStagingBytes) {
    // Large (parameter uploads): straight from pageable memory, then wait, so
    // the caller may free or change its memory as soon as this returns.
    NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
    NOCTURNE_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return;
  }
  StagingSlot& slot = staging_[next_slot_];
  next_slot_ = (next_slot_ + 1) % kStagingSlots;
  if (slot.in_flight) NOCTURNE_CUDA_CHECK(cudaEventSynchronize(slot.done.get()));
  std::memcpy(slot.host.get(), host_src, bytes);
  NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(dst, slot.host.get(), bytes, cudaMemcpyHostToDevice, stream()));
  NOCTURNE_CUDA_CHECK(cudaEventRecord(slot.done.get(), stream()));
  slot.in_flight = true;
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, std::size_t bytes) {
  require_not_recording("copy_to_host");
  if (bytes == 0) return;
  if (!host_dst || !src) throw ShapeError("copy_to_host: null pointer");
  NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  NOCTURNE_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void CudaBackend::copy_on_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  if (!dst || !src) throw ShapeError("copy_on_device: null pointer");
  NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, branch().stream.get()));
}

void CudaBackend::synchronize() {
  require_not_recording("synchronize");
  for (Branch& b : branches_) NOCTURNE_CUDA_CHECK(cudaStreamSynchronize(b.stream.get()));
}

}  // namespace nocturne::cuda

// ---- status and factory ------------------------------------------------------

namespace nocturne::inline v0::cuda {

namespace {

std::string init_failure(cudaError_t error, const CudaStatus& status) {
  if (status.driver_version == 0) return "no CUDA driver is installed (libcuda not found)";
  switch (error) {
    case cudaErrorNoDevice:
      return "no CUDA-capable device";
    case cudaErrorInsufficientDriver:
      return "CUDA driver is older than the runtime (driver " + cuda::version_text(status.driver_version) +
             ", runtime " + cuda::version_text(status.runtime_version) + ")";
    default:
      return std::string("CUDA initialisation failed: ") + cudaGetErrorName(error) + " (" +
             cudaGetErrorString(error) + ")";
  }
}

}  // namespace

CudaStatus module_cuda_status() {
  CudaStatus status;
  status.built = true;
#if NOCTURNE_WITH_CUDNN
  status.cudnn_built = true;
#endif
  try {
    if (cudaDriverGetVersion(&status.driver_version) != cudaSuccess) status.driver_version = 0;
    if (cudaRuntimeGetVersion(&status.runtime_version) != cudaSuccess) status.runtime_version = 0;
    int count = 0;
    const cudaError_t counted = cudaGetDeviceCount(&count);
    if (counted != cudaSuccess) {
      cudaGetLastError();
      status.reason = init_failure(counted, status);
      return status;
    }
    if (count == 0) {
      status.reason = "no CUDA-capable device";
      return status;
    }
    int previous = 0;
    cudaGetDevice(&previous);
    std::string failures;
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp prop{};
      CudaDeviceInfo info;
      info.index = i;
      if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) {
        info.name = prop.name;
        info.compute_major = prop.major;
        info.compute_minor = prop.minor;
        info.memory_bytes = prop.totalGlobalMem;
        info.multiprocessors = prop.multiProcessorCount;
      }
      status.devices.push_back(info);
      cudaError_t probed = cudaSetDevice(i);
      if (probed == cudaSuccess) probed = kernels::probe_kernel_image();
      if (probed == cudaSuccess) {
        status.usable = true;
      } else {
        cudaGetLastError();
        failures += (failures.empty() ? "" : "; ") + std::string("device ") + std::to_string(i) + " (" + info.name +
                    ", compute " + std::to_string(info.compute_major) + "." + std::to_string(info.compute_minor) +
                    "): " + cudaGetErrorName(probed);
      }
    }
    cudaSetDevice(previous);
    if (!status.usable)
      status.reason = std::string("no device can run this build's kernels (built for ") +
                      NOCTURNE_CUDA_ARCHITECTURES + "): " + failures;
  } catch (...) {
    status.usable = false;
    status.reason = "unexpected failure while querying CUDA";
  }
  return status;
}

std::unique_ptr<Backend> module_make_cuda_backend(const CudaOptions& options) {
  check_cuda_options(options);
  const CudaStatus status = module_cuda_status();
  if (!status.usable) throw DeviceError("the CUDA backend is not usable: " + status.reason);
  if (std::size_t(options.device) >= status.devices.size())  // >= 0: check_cuda_options
    throw DeviceError("CUDA device " + std::to_string(options.device) + " does not exist (" +
                      std::to_string(status.devices.size()) + " devices)");
  return std::make_unique<cuda::CudaBackend>(options);
}

}  // namespace nocturne::cuda
