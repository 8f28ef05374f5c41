# Writes OUT, a header defining NOCTURNE_GIT_COMMIT as the short commit of
# SOURCE_DIR ("-dirty" when tracked files differ from it; "unknown" outside a
# git checkout). Run at every build by bench/lstm.cmake; the file is rewritten
# only when the value changes, so nothing recompiles otherwise.
#   cmake -DSOURCE_DIR=<dir> -DOUT=<header> -P bench/git_commit.cmake
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY "${SOURCE_DIR}"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  execute_process(COMMAND git diff --quiet HEAD -- WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE dirty
                  OUTPUT_QUIET ERROR_QUIET)
  if(dirty EQUAL 1)
    string(APPEND commit "-dirty")
  endif()
endif()
set(text "#pragma once\n#define NOCTURNE_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
