// The CPU backend's thread count is its BLAS library's. OpenBLAS' controls are
// looked up at run time: the library links BLAS privately and may be built
// against a reference BLAS, which has no threads to set.

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "nocturne/backend.hpp"

namespace nocturne::inline v0 {

int cpu_threads() {
  using GetThreads = int (*)();
  void* symbol = ::dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  return symbol ? reinterpret_cast<GetThreads>(symbol)() : 0;
}

bool set_cpu_threads(int threads) {
  using SetThreads = void (*)(int);
  if (threads <= 0) return false;
  void* symbol = ::dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (!symbol) return false;
  reinterpret_cast<SetThreads>(symbol)(threads);
  return true;
}

std::string cpu_blas_description() {
  using Text = const char* (*)();
  void* config = ::dlsym(RTLD_DEFAULT, "openblas_get_config");
  void* core = ::dlsym(RTLD_DEFAULT, "openblas_get_corename");
  if (!config) return "unknown BLAS (not OpenBLAS)";
  std::string text = reinterpret_cast<Text>(config)();
  if (core) text += std::string("; kernels ") + reinterpret_cast<Text>(core)();
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"); forced && *forced)
    text += std::string(" (OPENBLAS_CORETYPE=") + forced + ")";
  return text;
}

}  // namespace nocturne
