#include "bench/blas_threads.hpp"

#include <dlfcn.h>

namespace nocturne::bench {

int blas_threads() {
  using GetThreads = int (*)();
  void* symbol = ::dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  return symbol ? reinterpret_cast<GetThreads>(symbol)() : 0;
}

bool set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  void* symbol = ::dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (!symbol) return false;
  reinterpret_cast<SetThreads>(symbol)(threads);
  return true;
}

}  // namespace nocturne::bench
