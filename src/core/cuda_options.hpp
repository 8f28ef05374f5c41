#pragma once
// Checks of CudaOptions that need no device, made by make_cuda_backend() in
// every build before it looks for a GPU, so a contradiction is reported as
// such wherever it is made.

#include "nocturne/cuda.hpp"

namespace nocturne::inline v0 {

// Throws ConfigError naming the field: a negative device, a cuDNN algorithm
// other than standard without LstmImpl::cudnn, or BF16 with cuDNN.
void check_cuda_options(const CudaOptions& options);

}  // namespace nocturne
