# Warnings for our own targets; -Werror when NOCTURNE_WERROR is ON (CI).
set(NOCTURNE_CXX_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside std::string (GCC bug 105329).
  list(APPEND NOCTURNE_CXX_WARNINGS -Wno-restrict)
endif()

function(nocturne_warnings target)
  foreach(flag IN LISTS NOCTURNE_CXX_WARNINGS)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flag}>)
  endforeach()
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
  if(NOCTURNE_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>
                                             "$<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings;-Xcompiler=-Werror>")
  endif()
  if(NOCTURNE_SANITIZE)
    # GCC 12 with the sanitizers reports maybe-uninitialized false positives
    # inside <regex> and std::function.
    foreach(flag -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
                 -Wno-maybe-uninitialized)
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${flag}>)
    endforeach()
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
