// Which cuDNN statuses read as "not supported" (a refusal of the shape,
// algorithm or math type) and which as failures: src/cudnn/cudnn_refusal.hpp.

#include <catch2/catch.hpp>

#include "cudnn/cudnn_refusal.hpp"

using nocturne::cuda::refuses_the_case;

TEST_CASE("cuDNN refusals: NOT_SUPPORTED and BAD_PARAM codes refuse the case") {
  for (cudnnStatus_t status : {CUDNN_STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED_SHAPE,
                               CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN, CUDNN_STATUS_BAD_PARAM,
                               CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND, CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH}) {
    INFO("status " << int(status));
    CHECK(refuses_the_case(status));
  }
}

TEST_CASE("cuDNN refusals: a broken installation and other errors are failures") {
  for (cudnnStatus_t status : {CUDNN_STATUS_SUCCESS, CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER,
                               CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART, CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH,
                               CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING,
                               CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE, CUDNN_STATUS_INTERNAL_ERROR,
                               CUDNN_STATUS_EXECUTION_FAILED, CUDNN_STATUS_NOT_INITIALIZED}) {
    INFO("status " << int(status));
    CHECK_FALSE(refuses_the_case(status));
  }
}
