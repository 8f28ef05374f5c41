// Stand-ins for the CUDA module, to test the loader without a GPU. One source,
// built several times (test/core/CMakeLists.txt):
//   FAKE_MODULE_GOOD     the right interface and stamp; reports one usable
//                        "fake device" and creates CPU backends;
//   FAKE_MODULE_STAMP    the right interface, another build's stamp;
//   FAKE_MODULE_VERSION  another interface version;
//   FAKE_MODULE_NO_ENTRY no entry point at all;
//   FAKE_MODULE_ABSENT_DEPENDENCY  needs a library that the loader cannot find.

#include "core/cuda_module.hpp"
#include "core/cuda_module_stamp.hpp"

#if FAKE_MODULE_ABSENT_DEPENDENCY
int nocturne_test_absent_dependency();
extern "C" __attribute__((visibility("default"))) int fake_module_uses_its_dependency() {
  return nocturne_test_absent_dependency();
}
#endif

#if !FAKE_MODULE_NO_ENTRY
namespace {

using nocturne::cuda_module::CudaModule;

nocturne::CudaStatus fake_status() {
  nocturne::CudaStatus status;
  status.built = true;
  status.usable = true;
  status.devices.push_back({0, "fake device", 9, 0, std::size_t(1) << 30, 1});
  return status;
}

std::unique_ptr<nocturne::Backend> fake_create(const nocturne::CudaOptions&) { return nocturne::make_cpu_backend(); }

#if FAKE_MODULE_VERSION
constexpr std::uint32_t kVersion = nocturne::cuda_module::kInterfaceVersion + 1000;
#else
constexpr std::uint32_t kVersion = nocturne::cuda_module::kInterfaceVersion;
#endif
#if FAKE_MODULE_STAMP
constexpr const char* kStamp = "nocturne 0.0.0, interface 0000000000000000, another build";
#else
constexpr const char* kStamp = NOCTURNE_CUDA_MODULE_STAMP;
#endif

const CudaModule kModule = {kVersion, kStamp, &fake_status, &fake_create, nullptr};

}  // namespace

extern "C" __attribute__((visibility("default"))) const CudaModule* nocturne_cuda_module() { return &kModule; }
#else
extern "C" __attribute__((visibility("default"))) int not_a_nocturne_module() { return 0; }
#endif
