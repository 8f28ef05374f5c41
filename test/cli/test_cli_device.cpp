// One `nocturne` program for every machine: without the CUDA module, without
// a driver, or with a module of another build, `info` and `train --device
// auto` run on the CPU and say why. (The CUDA module is loaded at run time;
// this machine may have no GPU at all.)

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <stdlib.h>

#include <string>

#include "cli_test_support.hpp"

using namespace nocturne::test;

namespace {

// Sets an environment variable for the programs a test starts, and restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// `info` says CUDA is not usable with `reason`, and device auto picks the CPU;
// a one-epoch `train --device auto` on the demo corpus says the same and works.
void check_cpu_fallback(const std::string& reason) {
  const RunResult info = run_cli("info");
  INFO("info stdout: " << info.out << "\nstderr: " << info.err);
  REQUIRE(info.exit_code == 0);
  CHECK(info.out.find("  cuda: not usable: " + reason) != std::string::npos);
  CHECK(info.out.find("device auto picks: cpu") != std::string::npos);

  TempDir dir;
  const std::string tiny_auto = kTiny.substr(0, kTiny.find("--device")) + "--device auto --threads 1";
  const RunResult train =
      run_cli("train --data demo --out " + quote((dir.path / "run").string()) + " " + tiny_auto + " --epochs 1");
  INFO("train stdout: " << train.out << "\nstderr: " << train.err);
  REQUIRE(train.exit_code == 0);
  CHECK((train.out + train.err).find("device auto: using the CPU (" + reason) != std::string::npos);
  CHECK(fs::exists(dir.path / "run" / "last.ckpt"));
}

}  // namespace

TEST_CASE("without the CUDA module the program runs on the CPU and says why", "[cli][device]") {
  TempDir dir;
  const std::string missing = (dir.path / "libnocturne-cuda.so").string();
  ScopedEnv env("NOCTURNE_CUDA_MODULE", missing);
#if NOCTURNE_TEST_CUDA_BUILT
  check_cpu_fallback("NOCTURNE_CUDA_MODULE=" + missing + ": no such file (the CUDA module)");
#else
  check_cpu_fallback("built without CUDA");
#endif
}

#if NOCTURNE_TEST_CUDA_BUILT
namespace {

bool driver_present() {
  void* driver = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver) ::dlclose(driver);
  return driver != nullptr;
}

}  // namespace

TEST_CASE("without a CUDA driver the module loads and the program says the driver is missing", "[cli][device]") {
  if (driver_present()) {
    WARN("libcuda.so.1 is installed here: the driver-absent case is not this machine's");
    return;
  }
  check_cpu_fallback("no CUDA driver is installed (libcuda not found)");
}

TEST_CASE("a CUDA module of another build is refused by name", "[cli][device]") {
  ScopedEnv env("NOCTURNE_CUDA_MODULE", NOCTURNE_FAKE_MODULE_STAMP);
  check_cpu_fallback(std::string("the CUDA module ") + NOCTURNE_FAKE_MODULE_STAMP +
                     " was built for another Nocturne build (module: nocturne 0.0.0");
}
#endif
