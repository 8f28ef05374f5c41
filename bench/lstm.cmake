# bench_lstm: one LSTM layer, ours against cuDNN (cuda) and oneDNN (cpu)
# (bench/bench_lstm.cpp over the engine bench/lstm_suite.cpp; see
# docs/benchmarks.md). Included from bench/CMakeLists.txt. Always built; the
# CUDA, cuDNN and oneDNN parts are compiled in when NOCTURNE_WITH_CUDA,
# NOCTURNE_WITH_CUDNN, and oneDNN found.
#
# This file is also the CTest smoke check's script: run with
#   cmake -DBENCH_LSTM=<program> -DSMOKE_DIR=<dir> -P bench/lstm.cmake
# it runs the CPU mode on two tiny shapes and checks that the JSON and CSV it
# writes are well formed: the expected fields, every row ok, finite positive
# times, the expected rows per implementation (this checks the output, not the
# speed).
if(CMAKE_SCRIPT_MODE_FILE)
  set(json_file "${SMOKE_DIR}/bench_lstm_smoke.json")
  set(csv_file "${SMOKE_DIR}/bench_lstm_smoke.csv")
  file(REMOVE "${json_file}" "${csv_file}")
  execute_process(COMMAND "${BENCH_LSTM}" --device cpu --tiny --json "${json_file}" --csv "${csv_file}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bench_lstm exited with ${rc}:\n${out}\n${err}")
  endif()
  file(READ "${json_file}" json)
  string(JSON tool GET "${json}" tool)
  if(NOT tool STREQUAL "bench_lstm")
    message(FATAL_ERROR "bench_lstm JSON: tool is '${tool}'")
  endif()
  foreach(key git_commit date_utc device mode openblas_threads onednn)
    string(JSON value ERROR_VARIABLE error GET "${json}" meta ${key})
    if(error OR value STREQUAL "")
      message(FATAL_ERROR "bench_lstm JSON: meta.${key} missing (${error})")
    endif()
  endforeach()
  # Two tiny shapes: ours has three phases each; oneDNN, where built in (meta
  # onednn then holds its version, not "not built in ..."), four.
  string(JSON onednn_meta GET "${json}" meta onednn)
  set(want_ours 6)
  if(onednn_meta MATCHES "^not built in")
    set(want_onednn 0)
    set(want_phases forward backward forward+backward)
  else()
    set(want_onednn 8)
    set(want_phases forward backward forward+backward forward-inference)
    string(JSON value ERROR_VARIABLE error GET "${json}" meta onednn_threads)
    if(error OR value STREQUAL "")
      message(FATAL_ERROR "bench_lstm JSON: meta.onednn_threads missing (${error})")
    endif()
  endif()
  math(EXPR want_rows "${want_ours} + ${want_onednn}")
  string(JSON count LENGTH "${json}" rows)
  if(NOT count EQUAL want_rows)
    message(FATAL_ERROR "bench_lstm JSON: expected ${want_rows} rows (${want_ours} ours, ${want_onednn} onednn), "
                        "found ${count}")
  endif()
  set(number_regex "^[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?$")
  math(EXPR last "${count} - 1")
  set(ours_rows 0)
  set(onednn_rows 0)
  foreach(i RANGE ${last})
    foreach(key device label impl variant math phase status)
      string(JSON value ERROR_VARIABLE error GET "${json}" rows ${i} ${key})
      if(error OR value STREQUAL "")
        message(FATAL_ERROR "bench_lstm JSON: row ${i} has no ${key} (${error})")
      endif()
    endforeach()
    string(JSON status GET "${json}" rows ${i} status)
    string(JSON phase GET "${json}" rows ${i} phase)
    string(JSON impl GET "${json}" rows ${i} impl)
    if(impl STREQUAL "ours")
      math(EXPR ours_rows "${ours_rows} + 1")
    elseif(impl STREQUAL "onednn")
      math(EXPR onednn_rows "${onednn_rows} + 1")
    else()
      message(FATAL_ERROR "bench_lstm JSON: row ${i} has impl '${impl}' on the CPU")
    endif()
    list(APPEND phases_${impl} ${phase})
    if(NOT status STREQUAL "ok")
      string(JSON note GET "${json}" rows ${i} note)
      message(FATAL_ERROR "bench_lstm JSON: row ${i} status '${status}': ${note}")
    endif()
    foreach(key T N F H reps median_ms min_ms p10_ms p90_ms check_err)
      string(JSON value GET "${json}" rows ${i} ${key})
      if(NOT value MATCHES "${number_regex}")
        message(FATAL_ERROR "bench_lstm JSON: row ${i} ${key} = '${value}' is not a finite number")
      endif()
    endforeach()
    foreach(key T N F H reps median_ms min_ms p10_ms p90_ms)
      string(JSON value GET "${json}" rows ${i} ${key})
      if(NOT value GREATER 0)
        message(FATAL_ERROR "bench_lstm JSON: row ${i} ${key} = ${value} is not positive")
      endif()
    endforeach()
    string(JSON lo GET "${json}" rows ${i} min_ms)
    string(JSON mid GET "${json}" rows ${i} median_ms)
    string(JSON hi GET "${json}" rows ${i} p90_ms)
    if(lo GREATER mid OR mid GREATER hi)
      message(FATAL_ERROR "bench_lstm JSON: row ${i}: min ${lo}, median ${mid}, p90 ${hi} out of order")
    endif()
  endforeach()
  if(NOT ours_rows EQUAL want_ours OR NOT onednn_rows EQUAL want_onednn)
    message(FATAL_ERROR "bench_lstm JSON: ${ours_rows} ours and ${onednn_rows} onednn rows, "
                        "expected ${want_ours} and ${want_onednn}")
  endif()
  foreach(phase forward backward forward+backward)
    list(FIND phases_ours ${phase} at)
    if(at LESS 0)
      message(FATAL_ERROR "bench_lstm JSON: no ours ${phase} row")
    endif()
  endforeach()
  if(want_onednn GREATER 0)
    foreach(phase ${want_phases})
      list(FIND phases_onednn ${phase} at)
      if(at LESS 0)
        message(FATAL_ERROR "bench_lstm JSON: no onednn ${phase} row")
      endif()
    endforeach()
  endif()
  file(STRINGS "${csv_file}" csv_lines)
  list(FILTER csv_lines EXCLUDE REGEX "^#")
  list(LENGTH csv_lines csv_count)
  list(GET csv_lines 0 csv_header)
  math(EXPR want_csv "${want_rows} + 1")
  if(NOT csv_count EQUAL want_csv OR NOT csv_header MATCHES "^device,label,T,N,F,H,impl,variant,math,phase,status,median_ms")
    message(FATAL_ERROR "bench_lstm CSV: expected the header and ${want_rows} rows, found ${csv_count} lines")
  endif()
  message(STATUS "bench_lstm smoke: ${count} rows well formed (${ours_rows} ours, ${onednn_rows} onednn)")
  return()
endif()

# The engine, a static library shared by bench_lstm and `nocturne bench`
# (src/cli/cmd_bench.cpp links it when NOCTURNE_BENCH is ON).
add_library(nocturne_lstm_suite STATIC
  ${CMAKE_CURRENT_LIST_DIR}/lstm_suite.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lstm_report.cpp)
# Headers are included as "bench/...": the source root is the include folder;
# src/ for the library's midi/atomic_write.hpp and cudnn/cudnn_lstm.hpp.
target_include_directories(nocturne_lstm_suite PUBLIC ${PROJECT_SOURCE_DIR} PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(nocturne_lstm_suite PUBLIC Nocturne::nocturne PRIVATE ${CMAKE_DL_LIBS})
nocturne_warnings(nocturne_lstm_suite)
# The git commit of the sources, taken at every build (not only at configure
# time), for the results' header lines.
set(nocturne_commit_dir ${PROJECT_BINARY_DIR}/generated/bench)
add_custom_target(nocturne_git_commit
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT=${nocturne_commit_dir}/git_commit.hpp
          -P ${CMAKE_CURRENT_LIST_DIR}/git_commit.cmake
  BYPRODUCTS ${nocturne_commit_dir}/git_commit.hpp
  COMMENT "Reading the git commit for the benchmark's header lines")
add_dependencies(nocturne_lstm_suite nocturne_git_commit)
target_include_directories(nocturne_lstm_suite PRIVATE ${nocturne_commit_dir})
if(NOCTURNE_WITH_CUDA)
  target_link_libraries(nocturne_lstm_suite PRIVATE CUDA::cudart)
  target_compile_definitions(nocturne_lstm_suite PRIVATE NOCTURNE_BENCH_WITH_CUDA=1)
endif()
if(NOCTURNE_WITH_CUDNN)
  target_compile_definitions(nocturne_lstm_suite PRIVATE NOCTURNE_BENCH_WITH_CUDNN=1)
endif()

# oneDNN (Debian: libdnnl-dev), the second CPU anchor, where found. Found by
# header and library rather than through its CMake package: Debian's
# dnnl-config.cmake calls find_package(OpenCL REQUIRED), which stops the whole
# configure on a machine without the OpenCL development files, QUIET or not.
option(NOCTURNE_BENCH_ONEDNN "Time oneDNN's LSTM beside ours in bench_lstm's CPU mode where oneDNN is found" ON)
if(NOCTURNE_BENCH_ONEDNN)
  find_path(NOCTURNE_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(NOCTURNE_ONEDNN_LIBRARY dnnl)
  if(NOCTURNE_ONEDNN_INCLUDE_DIR AND NOCTURNE_ONEDNN_LIBRARY)
    message(STATUS "bench_lstm: oneDNN found (${NOCTURNE_ONEDNN_LIBRARY}): timed beside ours on the CPU")
    target_sources(nocturne_lstm_suite PRIVATE ${CMAKE_CURRENT_LIST_DIR}/lstm_onednn.cpp)
    target_include_directories(nocturne_lstm_suite SYSTEM PRIVATE ${NOCTURNE_ONEDNN_INCLUDE_DIR})
    target_link_libraries(nocturne_lstm_suite PRIVATE ${NOCTURNE_ONEDNN_LIBRARY})
    target_compile_definitions(nocturne_lstm_suite PRIVATE NOCTURNE_BENCH_WITH_ONEDNN=1)
  else()
    message(STATUS "bench_lstm: oneDNN not found (Debian: libdnnl-dev): the CPU mode times ours only")
  endif()
endif()

# The options are declared with CLI11, as in the nocturne program.
find_package(CLI11 REQUIRED)
add_executable(bench_lstm ${CMAKE_CURRENT_LIST_DIR}/bench_lstm.cpp)
target_link_libraries(bench_lstm PRIVATE nocturne_lstm_suite CLI11::CLI11)
nocturne_warnings(bench_lstm)

if(NOCTURNE_TESTS AND BUILD_TESTING)
  add_test(NAME bench_lstm_smoke
           COMMAND ${CMAKE_COMMAND} -DBENCH_LSTM=$<TARGET_FILE:bench_lstm> -DSMOKE_DIR=${CMAKE_CURRENT_BINARY_DIR}
                   -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(bench_lstm_smoke PROPERTIES TIMEOUT 60)
endif()
