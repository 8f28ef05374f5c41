# bench_fp32_gemm: the FP32 kernels' weight-gradient GEMMs (src/cpu/cpu_fp32_gemm.cpp)
# against OpenBLAS's cblas_sgemm on the same shapes, both on one thread, side by
# side. Included from bench/CMakeLists.txt.
add_executable(bench_fp32_gemm ${CMAKE_CURRENT_LIST_DIR}/bench_fp32_gemm.cpp)
target_link_libraries(bench_fp32_gemm PRIVATE nocturne_internal ${BLAS_LIBRARIES})
if(NOCTURNE_CBLAS_INCLUDE_DIR)
  target_include_directories(bench_fp32_gemm PRIVATE ${NOCTURNE_CBLAS_INCLUDE_DIR})
endif()
nocturne_warnings(bench_fp32_gemm)
