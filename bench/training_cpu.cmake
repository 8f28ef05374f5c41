# bench_training_cpu: whole training steps and generation on the CPU backend
# at the recipe's shapes, beside a cblas_sgemm rate measured in the same run.
# Included from bench/CMakeLists.txt. bench/run_cpu_bench.sh runs it beside
# PyTorch (bench/torch_training_cpu.py).
add_executable(bench_training_cpu ${CMAKE_CURRENT_LIST_DIR}/bench_training_cpu.cpp)
target_link_libraries(bench_training_cpu PRIVATE Nocturne::nocturne ${BLAS_LIBRARIES})
if(NOCTURNE_CBLAS_INCLUDE_DIR)
  target_include_directories(bench_training_cpu PRIVATE ${NOCTURNE_CBLAS_INCLUDE_DIR})
endif()
nocturne_warnings(bench_training_cpu)
