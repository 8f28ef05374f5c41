# nocturne_exports(target): a shared library of ours exports the nocturne
# namespace only (cmake/nocturne-exports.map): the std:: instantiations and
# other templates its code uses stay local, and inline functions hidden.
# docs/library.md, "Versions and exported symbols"; test/package/check_exports.sh.
function(nocturne_exports target)
  set_target_properties(${target} PROPERTIES VISIBILITY_INLINES_HIDDEN ON)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "SHARED_LIBRARY" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(_map ${PROJECT_SOURCE_DIR}/cmake/nocturne-exports.map)
    target_link_options(${target} PRIVATE "LINKER:--version-script=${_map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${_map})
  endif()
endfunction()
