// nocturne::version(): the library's version at run time, the same as the
// headers' macros and constants in a build of one version.

#include <catch2/catch.hpp>
#include <string>

#include "nocturne/version.hpp"

TEST_CASE("version() is the headers' version", "[version]") {
  const nocturne::Version v = nocturne::version();
  CHECK(v.major == NOCTURNE_VERSION_MAJOR);
  CHECK(v.minor == NOCTURNE_VERSION_MINOR);
  CHECK(v.patch == NOCTURNE_VERSION_PATCH);
  CHECK(std::string(v.text) == NOCTURNE_VERSION_STRING);
  CHECK(std::string(v.text) == std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch));
  CHECK(std::string(nocturne::version_string) == v.text);
  CHECK(nocturne::version_major == v.major);
}
