# The GPU benchmark: included from bench/CMakeLists.txt when NOCTURNE_WITH_CUDA.
# Run: build/bench/bench_gpu [timed_steps] [notes]
# It links the CUDA module directly (make_cuda_backend() then finds it in the
# process, static builds included) and the CUDA runtime for its events.
add_executable(bench_gpu ${CMAKE_CURRENT_LIST_DIR}/bench_gpu.cpp)
target_link_libraries(bench_gpu PRIVATE nocturne_internal nocturne-cuda CUDA::cudart)
target_link_options(bench_gpu PRIVATE LINKER:--no-as-needed)  # keep the module, whose symbols it never names
nocturne_warnings(bench_gpu)
# The persistent kernels' plan (kernels/persistent_kernels.hpp), printed with the rows.
target_include_directories(bench_gpu PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src)
