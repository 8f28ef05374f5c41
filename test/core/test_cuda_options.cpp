// The CUDA backend's options that are checked without a device, in every
// build: the cuDNN algorithm names, and contradictions make_cuda_backend()
// reports as ConfigError before it looks for a GPU.

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;

TEST_CASE("cuDNN algorithm names round-trip and are distinct", "[cuda][options]") {
  std::set<std::string> names;
  for (CudnnAlgo algo : kCudnnAlgos) {
    const std::string name = to_string(algo);
    CHECK(parse_cudnn_algo(name) == algo);
    names.insert(name);
  }
  CHECK(names.size() == kCudnnAlgos.size());
  CHECK(std::string(to_string(CudnnAlgo::persist_static_small_h)) == "persist_static_small_h");
}

TEST_CASE("an unknown cuDNN algorithm is refused with the choices named", "[cuda][options]") {
  for (const char* bad : {"", "Standard", "persist", "persist_static ", "fma"}) {
    INFO("name '" << bad << "'");
    try {
      (void)parse_cudnn_algo(bad);
      FAIL("accepted");
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      CHECK(message.find("'" + std::string(bad) + "'") != std::string::npos);
      CHECK(message.find("persist_dynamic") != std::string::npos);
    }
  }
}

TEST_CASE("make_cuda_backend refuses contradictory options before it looks for a GPU", "[cuda][options]") {
  CudaOptions options;
  options.cudnn_algo = CudnnAlgo::persist_static;  // with our kernels: meaningless
  try {
    (void)make_cuda_backend(options);
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("persist_static") != std::string::npos);
    CHECK(std::string(e.what()).find("LstmImpl::cudnn") != std::string::npos);
  }
  CudaOptions negative;
  negative.device = -1;
  CHECK_THROWS_AS(make_cuda_backend(negative), ConfigError);
  // Consistent options get as far as the device: a DeviceError where no GPU
  // is usable (here every other error is a ConfigError, a DeviceError's sibling).
  if (!cuda_status().usable) {
    CudaOptions fine;
    fine.lstm_impl = LstmImpl::cudnn;
    fine.cudnn_algo = CudnnAlgo::persist_dynamic;
    fine.graphs = false;
    CHECK_THROWS_AS(make_cuda_backend(fine), DeviceError);
  }
}
