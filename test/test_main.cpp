// One main for every test executable. A test binary whose whole subject is
// unavailable (no GPU, no Chopin corpus) calls nocturne::test::skip_all() from
// a global check before Catch runs; see test_support.hpp.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <string>

#include "test_support.hpp"

int main(int argc, char** argv) {
  if (auto reason = nocturne::test::skip_reason()) {
    std::fprintf(stderr, "SKIPPED: %s\n", reason->c_str());
    const char* require_all = std::getenv("NOCTURNE_REQUIRE_ALL_TESTS");
    if (require_all && *require_all && std::string(require_all) != "0") {
      std::fprintf(stderr, "NOCTURNE_REQUIRE_ALL_TESTS=%s: a skip is a failure\n", require_all);
      return 1;
    }
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
