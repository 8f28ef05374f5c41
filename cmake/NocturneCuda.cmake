# Decides whether the CUDA backend (and the cuDNN LSTM path) is built.
# Architectures are explicit: sm_80, sm_90 (H100/H200) and PTX for newer cards.
set(NOCTURNE_WITH_CUDA OFF)
set(NOCTURNE_WITH_CUDNN OFF)
if(NOT NOCTURNE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(_nocturne_nvcc nvcc PATHS /usr/local/cuda/bin)
    if(_nocturne_nvcc)
      set(CMAKE_CUDA_COMPILER "${_nocturne_nvcc}")
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    # CMake 3.25 knows no C++20 flag for nvcc; nvcc 12+ takes -std=c++20.
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    # One CUDA runtime in the process: the shared one CUDA::cudart names, never
    # the static one nvcc adds by default to the targets that link the library.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(NOCTURNE_WITH_CUDA ON)
  elseif(NOCTURNE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "NOCTURNE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# cuDNN is looked for in NOCTURNE_CUDNN_ROOT first (cache variable, else the
# environment variable of that name): a folder with include/cudnn.h and
# lib/ or lib64/ libcudnn.so or libcudnn.so.9, as the CUDA toolkit or the
# Python wheel nvidia-cudnn-cu13 (site-packages/nvidia/cudnn, which may have
# no unversioned libcudnn.so) lays it out. Then the CUDA toolkit and the
# system folders.
set(NOCTURNE_CUDNN_ROOT "$ENV{NOCTURNE_CUDNN_ROOT}" CACHE PATH
    "cuDNN folder (include/cudnn.h, lib/libcudnn.so[.9]), searched before the CUDA toolkit and the system")
if(NOT "${NOCTURNE_CUDNN_ROOT}" STREQUAL "${_NOCTURNE_CUDNN_ROOT_SEARCHED}")
  # Another root than at the last configure: look again.
  unset(NOCTURNE_CUDNN_INCLUDE CACHE)
  unset(NOCTURNE_CUDNN_LIBRARY CACHE)
  set(_NOCTURNE_CUDNN_ROOT_SEARCHED "${NOCTURNE_CUDNN_ROOT}" CACHE INTERNAL "")
endif()
if(NOCTURNE_WITH_CUDA AND NOT NOCTURNE_CUDNN STREQUAL "OFF")
  set(_nocturne_cudnn_names cudnn libcudnn.so.9)
  if(NOCTURNE_CUDNN_ROOT)
    find_path(NOCTURNE_CUDNN_INCLUDE cudnn.h PATHS ${NOCTURNE_CUDNN_ROOT} PATH_SUFFIXES include NO_DEFAULT_PATH)
    find_library(NOCTURNE_CUDNN_LIBRARY NAMES ${_nocturne_cudnn_names} PATHS ${NOCTURNE_CUDNN_ROOT}
                 PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu NO_DEFAULT_PATH)
    if(NOT NOCTURNE_CUDNN_INCLUDE OR NOT NOCTURNE_CUDNN_LIBRARY)
      message(WARNING "No cudnn.h and libcudnn under NOCTURNE_CUDNN_ROOT=${NOCTURNE_CUDNN_ROOT}; "
                      "looking in the CUDA toolkit and the system folders")
      unset(NOCTURNE_CUDNN_INCLUDE CACHE)
      unset(NOCTURNE_CUDNN_LIBRARY CACHE)
    endif()
  endif()
  find_path(NOCTURNE_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/include)
  find_library(NOCTURNE_CUDNN_LIBRARY NAMES ${_nocturne_cudnn_names}
               HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib /usr/local/cuda/lib64)
  if(NOCTURNE_CUDNN_INCLUDE AND NOCTURNE_CUDNN_LIBRARY)
    set(NOCTURNE_WITH_CUDNN ON)
    message(STATUS "Nocturne: cuDNN ${NOCTURNE_CUDNN_LIBRARY} (headers ${NOCTURNE_CUDNN_INCLUDE})")
  elseif(NOCTURNE_CUDNN STREQUAL "ON")
    message(FATAL_ERROR "NOCTURNE_CUDNN=ON but cudnn.h or libcudnn was not found")
  endif()
elseif(NOCTURNE_CUDNN STREQUAL "ON")
  message(FATAL_ERROR "NOCTURNE_CUDNN=ON needs the CUDA backend")
endif()
message(STATUS "Nocturne: CUDA backend ${NOCTURNE_WITH_CUDA}, cuDNN path ${NOCTURNE_WITH_CUDNN}")
