# Installs the library, its headers and a CMake package: find_package(Nocturne) gives Nocturne::nocturne.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NOCTURNE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Nocturne)
install(TARGETS nocturne EXPORT NocturneTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/nocturne DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/nocturne/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nocturne)
install(EXPORT NocturneTargets NAMESPACE Nocturne:: DESTINATION ${NOCTURNE_CMAKE_DIR})

configure_package_config_file(cmake/NocturneConfig.cmake.in
  ${PROJECT_BINARY_DIR}/NocturneConfig.cmake
  INSTALL_DESTINATION ${NOCTURNE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/NocturneConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/NocturneConfig.cmake ${PROJECT_BINARY_DIR}/NocturneConfigVersion.cmake
  DESTINATION ${NOCTURNE_CMAKE_DIR})
if(TARGET nocturne-cli)
  install(TARGETS nocturne-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
