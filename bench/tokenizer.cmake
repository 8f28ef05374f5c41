# Included from bench/CMakeLists.txt: the tokenizer benchmark.
add_executable(bench_tokenizer ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.cpp)
target_link_libraries(bench_tokenizer PRIVATE Nocturne::nocturne)
target_compile_definitions(bench_tokenizer PRIVATE
  NOCTURNE_BENCH_CHOPIN_DIR="${PROJECT_SOURCE_DIR}/../shared/data/chopin")
nocturne_warnings(bench_tokenizer)

# The timed token stream's candidate designs measured on a corpus (docs/tokenizer.md).
add_executable(timed_token_designs ${CMAKE_CURRENT_LIST_DIR}/timed_token_designs.cpp)
target_link_libraries(timed_token_designs PRIVATE Nocturne::nocturne)
target_compile_definitions(timed_token_designs PRIVATE
  NOCTURNE_BENCH_CHOPIN_DIR="${PROJECT_SOURCE_DIR}/../shared/data/chopin")
nocturne_warnings(timed_token_designs)
