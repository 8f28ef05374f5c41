#include "nocturne/device.hpp"

#include <cstdint>

#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

DeviceChoice choose_device(const DeviceRequest& request) {
  if (request.device != "auto" && request.device != "cpu" && request.device != "cuda")
    throw ConfigError("--device: unknown value '" + request.device + "' (expected auto, cpu or cuda)");
  MathMode math = MathMode::strict_fp32;
  LstmImpl impl = LstmImpl::classic;
  try {
    math = parse_math_mode(request.precision);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("--precision: ") + e.what());
  }
  try {
    impl = parse_lstm_impl(request.lstm_impl);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("--lstm-impl: ") + e.what());
  }
  if (request.threads < 0) throw ConfigError("--threads must be >= 0, got " + std::to_string(request.threads));
  if (impl == LstmImpl::cudnn && request.device == "cpu")
    throw ConfigError("--lstm-impl cudnn needs --device cuda (or auto with a usable GPU)");
  if (impl == LstmImpl::cudnn && math == MathMode::bf16)
    throw ConfigError("--precision bf16 is not offered with --lstm-impl cudnn (use classic, fused or persistent)");
  CudnnAlgo cudnn_algo = CudnnAlgo::standard;
  if (!request.cudnn_algo.empty()) {
    try {
      cudnn_algo = parse_cudnn_algo(request.cudnn_algo);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("--cudnn-algo: ") + e.what());
    }
    if (impl != LstmImpl::cudnn)
      throw ConfigError("--cudnn-algo " + request.cudnn_algo + " needs --lstm-impl cudnn");
  }

  DeviceChoice choice;
  const CudaStatus status = cuda_status();
  bool use_cuda = request.device == "cuda";
  if (request.device == "cuda" && !status.usable)
    throw DeviceError("--device cuda: no usable GPU: " + status.reason);
  if (request.device == "auto") {
    use_cuda = status.usable;
    if (!use_cuda) choice.note = "device auto: using the CPU (" + status.reason + ")";
  }
  if (use_cuda) {
    CudaOptions options;
    options.math = math;
    options.lstm_impl = impl;
    options.cudnn_algo = cudnn_algo;
    choice.backend = make_cuda_backend(options);
    const std::string gpu = status.devices.empty() ? std::string("cuda:0") : "cuda:0 " + status.devices[0].name;
    const std::string lstm =
        impl == LstmImpl::cudnn ? std::string("cudnn ") + to_string(cudnn_algo) : std::string(to_string(impl));
    choice.description = gpu + " (" + to_string(math) + ", LSTM " + lstm + ")";
    return choice;
  }
  if (impl == LstmImpl::cudnn) throw DeviceError("--lstm-impl cudnn: no usable GPU: " + status.reason);
  auto add_note = [&](const std::string& note) { choice.note += (choice.note.empty() ? "" : "; ") + note; };
  CpuOptions options;
  options.math = math;
  options.fused_lstm = impl == LstmImpl::fused || impl == LstmImpl::persistent;
  options.persistent_lstm = impl == LstmImpl::persistent;
  std::string details;
  auto add_detail = [&](const std::string& detail) { details += (details.empty() ? "" : ", ") + detail; };
  if (options.persistent_lstm)
    add_detail("persistent LSTM program");
  else if (options.fused_lstm)
    add_detail("fused LSTM");
  if (math == MathMode::bf16 && cpu_has_bf16_gemm()) {
    add_detail("bf16 GEMMs on AVX-512 BF16");
  } else if (math != MathMode::strict_fp32) {
    add_detail(std::string("emulated ") + to_string(math));
    choice.emulation_note = std::string("--precision ") + to_string(math) +
                            " on the CPU is an emulation (GEMM operands rounded as the GPU's tensor cores take them): "
                            "slower than fp32, for checking" +
                            (math == MathMode::bf16 ? "; this processor has no AVX-512 BF16 for real BF16 GEMMs" : "");
    add_note(choice.emulation_note);
  }
  choice.backend = make_cpu_backend(options);
  if (request.threads > 0) {
    int threads = request.threads;
    if (const int cores = available_cores(); threads > cores) {
      add_note("--threads " + std::to_string(threads) + " is more than the " + std::to_string(cores) +
               " cores available: using " + std::to_string(cores));
      threads = cores;
    }
    if (set_cpu_threads(threads))
      add_detail(std::to_string(threads) + " BLAS threads");
    else
      add_note("--threads ignored: the BLAS library offers no thread control");
  }
  choice.description = details.empty() ? "cpu" : "cpu (" + details + ")";
  return choice;
}

std::optional<MemoryLimit> device_memory(const DeviceChoice& choice) {
  if (choice.backend && choice.backend->device() == Device::cuda) {
    const CudaStatus status = cuda_status();
    if (status.devices.empty()) return std::nullopt;
    return MemoryLimit{std::uint64_t(status.devices[0].memory_bytes), "the memory of GPU " + status.devices[0].name};
  }
  return available_memory();
}

void require_model_memory(const DeviceChoice& device, const ModelConfig& config, std::int64_t max_batch, bool training,
                          const std::string& batch_option) {
  // Adamax's two moments are as large as the parameters. (memory_bytes saturates: so does the sum.)
  const std::uint64_t moments = training ? 2 * ParameterLayout(config).buffer_size() * sizeof(float) : 0;
  auto plus = [](std::uint64_t a, std::uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; };
  const std::uint64_t fixed = plus(Model::memory_bytes(config, 1), moments);
  const std::uint64_t needed = plus(Model::memory_bytes(config, max_batch), moments);
  const bool sizes_dominate = fixed >= needed - fixed;
  const std::string what = "the model (" + std::to_string(ParameterLayout(config).parameter_count()) +
                           " parameters) with batches of " + std::to_string(max_batch) + " windows (" +
                           batch_option + ")";
  const std::string advice = sizes_dominate ? "lower the layer sizes (--hidden1, --hidden2, --dense, --window)"
                                            : "lower " + batch_option.substr(0, batch_option.find(' '));
  require_memory(needed, device_memory(device), what, advice);
}

}  // namespace nocturne
