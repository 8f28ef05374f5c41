// The CUDA module's loader (src/core/cuda_loader.cpp) against stand-in
// modules (fake_module/fake_cuda_module.cpp): where it looks, what it accepts,
// and the reason it gives for everything it refuses. No GPU is needed.

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/cuda_module.hpp"
#include "core/cuda_module_stamp.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
namespace fs = std::filesystem;

namespace {

// A folder of its own for a test, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nocturne-loader-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A search of the named file, or of the named folder, and nowhere else.
cuda_module::Search only(const std::string& variable, const std::string& beside) {
  cuda_module::Search search;
  search.in_process = false;
  search.loader_path = false;
  search.variable = variable;
  search.beside = beside;
  return search;
}
cuda_module::Search only_variable(const std::string& path) { return only(path, ""); }
cuda_module::Search only_beside(const std::string& folder) { return only("", folder); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a module with this build's stamp is loaded, and its table works", "[cuda][loader]") {
  const cuda_module::Loaded loaded = cuda_module::load(only_variable(NOCTURNE_FAKE_MODULE_GOOD));
  INFO(loaded.reason);
  REQUIRE(loaded.module != nullptr);
  CHECK(loaded.reason.empty());
  CHECK(loaded.path == NOCTURNE_FAKE_MODULE_GOOD);
  const CudaStatus status = loaded.module->status();
  CHECK(status.usable);
  REQUIRE(status.devices.size() == 1);
  CHECK(status.devices[0].name == "fake device");
  const std::unique_ptr<Backend> backend = loaded.module->create(CudaOptions{});
  REQUIRE(backend != nullptr);
  CHECK(backend->device() == Device::cpu);  // the stand-in hands out CPU backends
}

TEST_CASE("the module is found beside the library under its file name", "[cuda][loader]") {
  TempDir dir;
  fs::copy_file(NOCTURNE_FAKE_MODULE_GOOD, dir.path / cuda_module::kFileName);
  const cuda_module::Loaded loaded = cuda_module::load(only_beside(dir.path.string()));
  INFO(loaded.reason);
  REQUIRE(loaded.module != nullptr);
  CHECK(loaded.path == (dir.path / cuda_module::kFileName).string());
}

TEST_CASE("a module of another build is refused, both stamps named", "[cuda][loader]") {
  const cuda_module::Loaded loaded = cuda_module::load(only_variable(NOCTURNE_FAKE_MODULE_STAMP));
  CHECK(loaded.module == nullptr);
  INFO(loaded.reason);
  CHECK(contains(loaded.reason, std::string("the CUDA module ") + NOCTURNE_FAKE_MODULE_STAMP));
  CHECK(contains(loaded.reason, "was built for another Nocturne build"));
  CHECK(contains(loaded.reason, "another build"));  // the module's stamp
  CHECK(contains(loaded.reason, NOCTURNE_CUDA_MODULE_STAMP));
  CHECK(std::string(cuda_module::core_stamp()) == NOCTURNE_CUDA_MODULE_STAMP);
}

TEST_CASE("a module of another interface version is refused before its table is read", "[cuda][loader]") {
  const cuda_module::Loaded loaded = cuda_module::load(only_variable(NOCTURNE_FAKE_MODULE_VERSION));
  CHECK(loaded.module == nullptr);
  INFO(loaded.reason);
  CHECK(contains(loaded.reason, "module interface version " + std::to_string(cuda_module::kInterfaceVersion + 1000)));
  CHECK(contains(loaded.reason, "this library " + std::to_string(cuda_module::kInterfaceVersion)));
}

TEST_CASE("a library without the entry point is not taken for a module", "[cuda][loader]") {
  const cuda_module::Loaded loaded = cuda_module::load(only_variable(NOCTURNE_FAKE_MODULE_NO_ENTRY));
  CHECK(loaded.module == nullptr);
  INFO(loaded.reason);
  CHECK(contains(loaded.reason, "has no entry point nocturne_cuda_module"));
}

TEST_CASE("a module whose own dependency is missing is named with the loader's error", "[cuda][loader]") {
  const cuda_module::Loaded loaded = cuda_module::load(only_variable(NOCTURNE_FAKE_MODULE_ABSENT_DEPENDENCY));
  CHECK(loaded.module == nullptr);
  INFO(loaded.reason);
  CHECK(contains(loaded.reason, "cannot be loaded"));
  CHECK(contains(loaded.reason, "libnocturne_test_absent_dependency.so"));
}

TEST_CASE("an absent module: the variable's file, or nothing beside the library", "[cuda][loader]") {
  TempDir dir;
  const std::string missing = (dir.path / "nowhere" / cuda_module::kFileName).string();
  const cuda_module::Loaded named = cuda_module::load(only_variable(missing));
  CHECK(named.module == nullptr);
  CHECK(named.reason == std::string("NOCTURNE_CUDA_MODULE=") + missing + ": no such file (the CUDA module)");

  const cuda_module::Loaded beside = cuda_module::load(only_beside(dir.path.string()));
  CHECK(beside.module == nullptr);
  INFO(beside.reason);
  CHECK(contains(beside.reason, "the CUDA module libnocturne-cuda.so is not installed"));
  CHECK(contains(beside.reason, dir.path.string() + " (beside the Nocturne library)"));
}

TEST_CASE("a module already in the process is used first", "[cuda][loader]") {
  // The process's own search ran before the stand-in is made global, so the
  // other tests here still see the real outcome.
  (void)cuda_module::loaded();
  // As a program that links the module: its entry point is global.
  void* handle = ::dlopen(NOCTURNE_FAKE_MODULE_GOOD, RTLD_NOW | RTLD_GLOBAL);
  REQUIRE(handle != nullptr);
  cuda_module::Search search = only_variable("/nowhere/at/all");
  search.in_process = true;
  const cuda_module::Loaded loaded = cuda_module::load(search);
  INFO(loaded.reason);
  REQUIRE(loaded.module != nullptr);
  CHECK(fs::equivalent(loaded.path, NOCTURNE_FAKE_MODULE_GOOD));
}

TEST_CASE("the process's own search starts beside the core library", "[cuda][loader]") {
  const cuda_module::Search search = cuda_module::default_search();
  REQUIRE_FALSE(search.beside.empty());
  CHECK(fs::is_directory(search.beside));
  CHECK(search.in_process);
  CHECK(search.loader_path);
  // The tests link the core's internal static copy: the core is in the
  // program, and the message says so.
  CHECK(search.beside_what == "the program");
  CHECK(fs::equivalent(search.beside, fs::canonical("/proc/self/exe").parent_path()));
}

TEST_CASE("cuda_status() and make_cuda_backend() say why there is no GPU", "[cuda][loader]") {
  const CudaStatus status = cuda_status();
  CHECK(status.built == bool(NOCTURNE_CUDA_MODULE_BUILT));
  if (status.usable) return;  // a machine with a GPU and the module: nothing to explain
  CHECK_FALSE(status.reason.empty());
  try {
    (void)make_cuda_backend();
    FAIL("make_cuda_backend() returned a backend although cuda_status() says not usable");
  } catch (const DeviceError& e) {
    CHECK(contains(e.what(), status.reason));
  }
}
