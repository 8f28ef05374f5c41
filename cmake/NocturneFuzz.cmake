# NOCTURNE_FUZZ: every target gets libFuzzer's coverage instrumentation and
# ASan + UBSan, so the fuzz programs (test/fuzz) see inside the library. CPU
# only: nvcc would not take these flags.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "NOCTURNE_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "-DCMAKE_C_COMPILER=clang, or run tools/fuzz.sh")
endif()
if(NOCTURNE_SANITIZE)
  message(FATAL_ERROR "NOCTURNE_FUZZ already builds with the sanitizers; leave NOCTURNE_SANITIZE off")
endif()
set(NOCTURNE_CUDA OFF)
set(NOCTURNE_TESTS ON)
add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link,address,undefined>"
                    "$<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=all;-fno-omit-frame-pointer>")
# The instrumentation keeps clang from vectorising the `omp simd` loops; the
# fuzz build is not for speed, so that is no warning here.
add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-Wno-pass-failed>")
add_link_options(-fsanitize=address,undefined)
