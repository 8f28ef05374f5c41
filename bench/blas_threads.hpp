#pragma once
// The BLAS thread count our CPU backend runs with. OpenBLAS is reached through
// dlsym because the library links BLAS privately and a reference BLAS has no
// threads to report or set.

namespace nocturne::bench {

// OpenBLAS's current thread count; 0 where the BLAS in use is not OpenBLAS.
int blas_threads();

// Sets OpenBLAS's thread count; false where the BLAS offers no thread control.
bool set_blas_threads(int threads);

}  // namespace nocturne::bench
