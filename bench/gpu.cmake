# The GPU benchmark: included from bench/CMakeLists.txt when NOCTURNE_WITH_CUDA.
# Run: build/bench/bench_gpu [timed_steps] [notes]
add_executable(bench_gpu ${CMAKE_CURRENT_LIST_DIR}/bench_gpu.cpp)
target_link_libraries(bench_gpu PRIVATE Nocturne::nocturne CUDA::cudart)
nocturne_warnings(bench_gpu)
