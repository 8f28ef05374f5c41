#pragma once
// NOCTURNE_CPU_CLONES compiles a hot loop for AVX-512, AVX2 and baseline
// x86-64 and picks the best at load time (GCC target_clones), so one binary
// runs everywhere and still uses the wide vectors where they exist.
// Not under clang: clang 14, given these declared without the attribute in
// cpu_kernels.hpp, emits one AVX body and no resolver (docs/benchmarks.md).

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NOCTURNE_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NOCTURNE_CPU_CLONES
#endif
