// One main for every test executable. A test binary whose whole subject is
// unavailable (no GPU, no Chopin corpus) calls nocturne::test::skip_all() from
// a global check before Catch runs; see test_support.hpp.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_support.hpp"

int main(int argc, char** argv) {
  if (auto reason = nocturne::test::skip_reason()) {
    std::fprintf(stderr, "SKIPPED: %s\n", reason->c_str());
    if (std::getenv("NOCTURNE_REQUIRE_ALL_TESTS")) {
      std::fprintf(stderr, "NOCTURNE_REQUIRE_ALL_TESTS is set: a skip is a failure\n");
      return 1;
    }
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
