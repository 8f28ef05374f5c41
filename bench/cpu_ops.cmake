# bench_cpu_ops: times the CPU backend's heavy ops at the recipe's shapes.
# Included from bench/CMakeLists.txt.
add_executable(bench_cpu_ops ${CMAKE_CURRENT_LIST_DIR}/bench_cpu_ops.cpp)
target_link_libraries(bench_cpu_ops PRIVATE Nocturne::nocturne)
nocturne_warnings(bench_cpu_ops)
