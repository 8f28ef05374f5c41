#include "cli/device_choice.hpp"

#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

namespace nocturne::cli {

DeviceChoice choose_device(const DeviceRequest& request) {
  if (request.device != "auto" && request.device != "cpu" && request.device != "cuda")
    throw ConfigError("--device: unknown value '" + request.device + "' (expected auto, cpu or cuda)");
  if (request.precision != "fp32" && request.precision != "tf32")
    throw ConfigError("--precision: unknown value '" + request.precision + "' (expected fp32 or tf32)");
  if (request.threads < 0) throw ConfigError("--threads must be >= 0, got " + std::to_string(request.threads));
  if (request.lstm_impl != "ours" && request.lstm_impl != "cudnn")
    throw ConfigError("--lstm-impl: unknown value '" + request.lstm_impl + "' (expected ours or cudnn)");
  if (request.lstm_impl == "cudnn" && request.device == "cpu")
    throw ConfigError("--lstm-impl cudnn needs --device cuda (or auto with a usable GPU)");
  CudnnAlgo cudnn_algo = CudnnAlgo::standard;
  if (!request.cudnn_algo.empty()) {
    try {
      cudnn_algo = parse_cudnn_algo(request.cudnn_algo);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("--cudnn-algo: ") + e.what());
    }
    if (request.lstm_impl != "cudnn")
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
    options.math = request.precision == "tf32" ? MathMode::tf32 : MathMode::strict_fp32;
    options.lstm_impl = request.lstm_impl == "cudnn" ? LstmImpl::cudnn : LstmImpl::ours;
    options.cudnn_algo = cudnn_algo;
    choice.backend = make_cuda_backend(options);
    const std::string gpu = status.devices.empty() ? std::string("cuda:0") : "cuda:0 " + status.devices[0].name;
    const std::string lstm =
        request.lstm_impl == "cudnn" ? std::string("cudnn ") + to_string(cudnn_algo) : request.lstm_impl;
    choice.description = gpu + " (" + request.precision + ", LSTM " + lstm + ")";
    return choice;
  }
  if (request.lstm_impl == "cudnn")
    throw DeviceError("--lstm-impl cudnn: no usable GPU: " + status.reason);
  if (request.precision == "tf32") choice.note += std::string(choice.note.empty() ? "" : "; ") +
                                                  "--precision tf32 has no effect on the CPU";
  choice.backend = make_cpu_backend();
  choice.description = "cpu";
  if (request.threads > 0) {
    int threads = request.threads;
    if (const int cores = available_cores(); threads > cores) {
      choice.note += std::string(choice.note.empty() ? "" : "; ") + "--threads " + std::to_string(threads) +
                     " is more than the " + std::to_string(cores) + " cores available: using " + std::to_string(cores);
      threads = cores;
    }
    if (set_cpu_threads(threads))
      choice.description += " (" + std::to_string(threads) + " BLAS threads)";
    else
      choice.note += std::string(choice.note.empty() ? "" : "; ") +
                     "--threads ignored: the BLAS library offers no thread control";
  }
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

}  // namespace nocturne::cli
