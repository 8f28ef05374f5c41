// The CUDA backend's option names and checks, in every build (the CLI parses
// them whether or not CUDA is built in).

#include "core/cuda_options.hpp"

#include <string>

#include "nocturne/error.hpp"

namespace nocturne {

const char* to_string(CudnnAlgo algo) {
  switch (algo) {
    case CudnnAlgo::standard: return "standard";
    case CudnnAlgo::persist_static: return "persist_static";
    case CudnnAlgo::persist_dynamic: return "persist_dynamic";
    case CudnnAlgo::persist_static_small_h: return "persist_static_small_h";
  }
  return "unknown";
}

CudnnAlgo parse_cudnn_algo(const std::string& name) {
  std::string choices;
  for (CudnnAlgo algo : kCudnnAlgos) {
    if (name == to_string(algo)) return algo;
    choices += (choices.empty() ? "" : ", ") + std::string(to_string(algo));
  }
  throw ConfigError("unknown cuDNN algorithm '" + name + "' (expected one of " + choices + ")");
}

void check_cuda_options(const CudaOptions& options) {
  if (options.device < 0) throw ConfigError("CudaOptions::device must be >= 0, got " + std::to_string(options.device));
  if (options.cudnn_algo != CudnnAlgo::standard && options.lstm_impl != LstmImpl::cudnn)
    throw ConfigError(std::string("cuDNN algorithm '") + to_string(options.cudnn_algo) +
                      "' needs the cuDNN LSTM path (CudaOptions::lstm_impl = LstmImpl::cudnn)");
}

}  // namespace nocturne
