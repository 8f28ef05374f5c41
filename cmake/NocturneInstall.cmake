# Installs the libraries, the headers, the program, a CMake package with one
# component a library (core: Nocturne::nocturne, render: Nocturne::render,
# cuda: Nocturne::cuda) and pkg-config files (nocturne, nocturne-render,
# nocturne-cuda). Every exported path is relative to the installed tree, so
# the tree can be moved (docs/library.md). Install components, which are the
# Debian packages' contents (cmake/NocturnePackage.cmake):
#   runtime      the shared libraries (core, render)
#   development  headers, static libraries and .so links, CMake and pkg-config files
#   cuda         the CUDA module with its CMake and pkg-config files
#   program      bin/nocturne
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NOCTURNE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Nocturne)
set(NOCTURNE_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

function(nocturne_install_library target export_set)
  install(TARGETS ${target} EXPORT ${export_set}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  install(EXPORT ${export_set} NAMESPACE Nocturne:: DESTINATION ${NOCTURNE_CMAKE_DIR} COMPONENT development)
endfunction()

nocturne_install_library(nocturne NocturneTargets)
install(DIRECTORY include/nocturne DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/nocturne/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nocturne
        COMPONENT development)
if(TARGET nocturne-render)
  nocturne_install_library(nocturne-render NocturneRenderTargets)
endif()
if(TARGET nocturne-cuda)
  # No .so link and no version: the module is loaded by its file name.
  install(TARGETS nocturne-cuda EXPORT NocturneCudaTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT cuda)
  install(EXPORT NocturneCudaTargets NAMESPACE Nocturne:: DESTINATION ${NOCTURNE_CMAKE_DIR} COMPONENT cuda)
endif()
if(TARGET nocturne-cli)
  install(TARGETS nocturne-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT program)
endif()

# ---- CMake package -------------------------------------------------------------
# What the config file must find again for a static build's link interface.
set(NOCTURNE_CONFIG_BLA_VENDOR "${BLA_VENDOR}")
set(NOCTURNE_CONFIG_FLUIDSYNTH OFF)
set(NOCTURNE_CONFIG_RTMIDI OFF)
if(TARGET PkgConfig::NocturneFluidSynth)
  set(NOCTURNE_CONFIG_FLUIDSYNTH ON)
endif()
if(TARGET PkgConfig::NocturneRtMidi)
  set(NOCTURNE_CONFIG_RTMIDI ON)
endif()
configure_package_config_file(cmake/NocturneConfig.cmake.in
  ${PROJECT_BINARY_DIR}/NocturneConfig.cmake
  INSTALL_DESTINATION ${NOCTURNE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/NocturneConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/NocturneConfig.cmake ${PROJECT_BINARY_DIR}/NocturneConfigVersion.cmake
  DESTINATION ${NOCTURNE_CMAKE_DIR} COMPONENT development)

# ---- pkg-config ------------------------------------------------------------------
# prefix is found from the .pc file's own folder (${pcfiledir}), not written in.
file(RELATIVE_PATH NOCTURNE_PC_PREFIX "/root/${NOCTURNE_PKGCONFIG_DIR}" "/root")
# Our libraries' own dependencies: the core's as -l flags (BLAS by its file's
# name), render's as pkg-config packages. A shared build keeps them private
# (for --static); a static build lists them with the library itself, so that a
# plain `pkg-config --libs` links (--static would also pull in the private
# dependencies of FluidSynth and the others, whose static files are rarely there).
set(_core_deps "")
foreach(lib IN LISTS BLAS_LIBRARIES)
  if(lib MATCHES "/lib([^/]+)\\.(so|a)[.0-9]*$")
    string(APPEND _core_deps " -l${CMAKE_MATCH_1}")
  elseif(lib MATCHES "^-")
    string(APPEND _core_deps " ${lib}")
  endif()
endforeach()
if(NOCTURNE_MVEC_LIBRARY)
  string(APPEND _core_deps " -lmvec")
endif()
foreach(lib IN LISTS CMAKE_DL_LIBS)
  string(APPEND _core_deps " -l${lib}")
endforeach()
string(APPEND _core_deps " -lm -pthread")
set(_render_deps "libpng")
if(NOCTURNE_CONFIG_FLUIDSYNTH)
  string(APPEND _render_deps ", fluidsynth")
endif()
if(NOCTURNE_CONFIG_RTMIDI)
  string(APPEND _render_deps ", rtmidi")
endif()
if(BUILD_SHARED_LIBS)
  set(NOCTURNE_PC_CORE_LIBS "")
  set(NOCTURNE_PC_CORE_PRIVATE "Libs.private:${_core_deps}")
  set(NOCTURNE_PC_RENDER_REQUIRES "")
  set(NOCTURNE_PC_RENDER_PRIVATE "Requires.private: ${_render_deps}")
else()
  set(NOCTURNE_PC_CORE_LIBS "${_core_deps}")
  set(NOCTURNE_PC_CORE_PRIVATE "")
  set(NOCTURNE_PC_RENDER_REQUIRES ", ${_render_deps}")
  set(NOCTURNE_PC_RENDER_PRIVATE "")
endif()
configure_file(cmake/nocturne.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/nocturne.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/nocturne.pc DESTINATION ${NOCTURNE_PKGCONFIG_DIR} COMPONENT development)
if(TARGET nocturne-render)
  configure_file(cmake/nocturne-render.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/nocturne-render.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/nocturne-render.pc DESTINATION ${NOCTURNE_PKGCONFIG_DIR}
          COMPONENT development)
endif()
if(TARGET nocturne-cuda)
  configure_file(cmake/nocturne-cuda.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/nocturne-cuda.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/nocturne-cuda.pc DESTINATION ${NOCTURNE_PKGCONFIG_DIR} COMPONENT cuda)
endif()

include(NocturnePackage)
