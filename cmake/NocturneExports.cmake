# nocturne_exports(target): a library of ours is compiled with hidden
# visibility; its shared form exports what the public headers mark
# NOCTURNE_API (include/nocturne/export.hpp), and of that only the nocturne
# namespace (cmake/nocturne-exports.map): the std:: instantiations and other
# templates its code uses stay local, and inline functions hidden.
# docs/library.md, "Versions and exported symbols"; test/package/check_exports.sh.
function(nocturne_exports target)
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "SHARED_LIBRARY" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(_map ${PROJECT_SOURCE_DIR}/cmake/nocturne-exports.map)
    target_link_options(${target} PRIVATE "LINKER:--version-script=${_map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${_map})
    # An internal symbol that another of our libraries needs and that is not
    # exported fails at that library's link, not at a program's.
    if(NOT NOCTURNE_SANITIZE AND NOT NOCTURNE_FUZZ)
      target_link_options(${target} PRIVATE LINKER:-z,defs)
    endif()
  endif()
endfunction()

# nocturne_internal_library(internal target deps...): what the tests, the program, the
# benchmarks and the CUDA module link instead of `target`, as they call its
# internals (src/) as well as its public API. In a shared build, a static
# archive of the very objects of the shared library (compiled once, for both),
# linking `deps` (the library's own link dependencies, with the internal
# libraries in place of ours); in a static build, the library itself.
# Never installed: programs of other projects link the library's public API.
function(nocturne_internal_library internal target)
  if(BUILD_SHARED_LIBS)
    add_library(${internal} STATIC EXCLUDE_FROM_ALL $<TARGET_OBJECTS:${target}>)
    target_include_directories(${internal} PUBLIC $<TARGET_PROPERTY:${target},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_features(${internal} PUBLIC cxx_std_20)
    target_link_libraries(${internal} PUBLIC ${ARGN})
  else()
    add_library(${internal} INTERFACE)
    target_link_libraries(${internal} INTERFACE ${target})
  endif()
  target_include_directories(${internal} INTERFACE ${PROJECT_SOURCE_DIR}/src)
endfunction()
