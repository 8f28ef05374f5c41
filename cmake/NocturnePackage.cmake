# Debian packages through CPack (`cpack -G DEB` in the build folder), one per
# install component (cmake/NocturneInstall.cmake):
#   libnocturne0       runtime: libnocturne.so.0, libnocturne-render.so.0
#   libnocturne-dev    development: headers, CMake package, pkg-config files
#   libnocturne-cuda   the CUDA module (the CUDA runtime, cuBLAS and cuDNN come
#                      from NVIDIA's packages: not in Depends)
#   nocturne           the program
# Depends: the Debian packages whose libraries dpkg-shlibdeps finds linked,
# plus the package of our own library each one needs, at the same version.
# For a distribution package configure with -DCMAKE_INSTALL_PREFIX=/usr (the
# library folder is then lib/<multiarch>); otherwise the files go to /usr/lib.
set(NOCTURNE_DEB_MAINTAINER "Nocturne maintainers <nocturne@example.invalid>" CACHE STRING
    "The Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME nocturne)
set(CPACK_PACKAGE_VENDOR "Nocturne")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "${NOCTURNE_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Our own libraries, which dpkg-shlibdeps finds in the build folder and which
# belong to no installed package: their packages come from the component
# dependencies below. (CPack runs dpkg-shlibdeps with --ignore-missing-info:
# a library of no Debian package, such as NVIDIA's, adds nothing to Depends.)
# The CUDA libraries may lie outside the loader's configured folders too.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
if(TARGET nocturne-cuda)
  list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CUDAToolkit_LIBRARY_DIR})
  if(NOCTURNE_CUDNN_LIBRARY)
    get_filename_component(_nocturne_cudnn_dir "${NOCTURNE_CUDNN_LIBRARY}" DIRECTORY)
    list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${_nocturne_cudnn_dir})
  endif()
endif()
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_COMPONENTS_ALL development)
if(BUILD_SHARED_LIBS)
  list(APPEND CPACK_COMPONENTS_ALL runtime)
  set(CPACK_COMPONENT_DEVELOPMENT_DEPENDS runtime)
  set(CPACK_COMPONENT_CUDA_DEPENDS runtime)
  set(CPACK_COMPONENT_PROGRAM_DEPENDS runtime)
endif()
if(TARGET nocturne-cuda)
  list(APPEND CPACK_COMPONENTS_ALL cuda)
endif()
if(TARGET nocturne-cli)
  list(APPEND CPACK_COMPONENTS_ALL program)
endif()

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libnocturne${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "Nocturne's shared libraries: the core (MIDI, tokenizer, model, CPU backend, checkpoints) and render")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libnocturne-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "Nocturne's headers, CMake package (find_package(Nocturne)) and pkg-config files")
set(CPACK_DEBIAN_CUDA_PACKAGE_NAME libnocturne-cuda)
set(CPACK_DEBIAN_CUDA_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_CUDA_DESCRIPTION
    "Nocturne's CUDA backend, a module the library loads at run time; needs NVIDIA's CUDA runtime, cuBLAS and cuDNN")
set(CPACK_DEBIAN_PROGRAM_PACKAGE_NAME nocturne)
set(CPACK_DEBIAN_PROGRAM_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PROGRAM_PACKAGE_SUGGESTS libnocturne-cuda)
set(CPACK_COMPONENT_PROGRAM_DESCRIPTION "The nocturne program: train an LSTM on MIDI files and generate piano music")

include(CPack)
