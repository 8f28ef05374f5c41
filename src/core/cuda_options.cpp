// The CUDA backend's option names and checks, in every build (the CLI parses
// them whether or not CUDA is built in).

#include "core/cuda_options.hpp"

#include <string>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

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

const char* to_string(LstmImpl impl) {
  switch (impl) {
    case LstmImpl::classic: return "classic";
    case LstmImpl::fused: return "fused";
    case LstmImpl::cudnn: return "cudnn";
    case LstmImpl::persistent: return "persistent";
  }
  return "unknown";
}

LstmImpl parse_lstm_impl(const std::string& name) {
  if (name == "ours") return LstmImpl::classic;
  for (LstmImpl impl : {LstmImpl::classic, LstmImpl::fused, LstmImpl::cudnn, LstmImpl::persistent})
    if (name == to_string(impl)) return impl;
  throw ConfigError("unknown LSTM implementation '" + name + "' (expected classic, fused, cudnn or persistent)");
}

void check_cuda_options(const CudaOptions& options) {
  if (options.device < 0) throw ConfigError("CudaOptions::device must be >= 0, got " + std::to_string(options.device));
  if (options.cudnn_algo != CudnnAlgo::standard && options.lstm_impl != LstmImpl::cudnn)
    throw ConfigError(std::string("cuDNN algorithm '") + to_string(options.cudnn_algo) +
                      "' needs the cuDNN LSTM path (CudaOptions::lstm_impl = LstmImpl::cudnn)");
  if (options.math == MathMode::bf16 && options.lstm_impl == LstmImpl::cudnn)
    throw ConfigError("precision bf16 is not offered by the cuDNN LSTM path (cuDNN converts FP32 data to TF32 at "
                      "most): use --lstm-impl classic, fused or persistent");
}

}  // namespace nocturne
