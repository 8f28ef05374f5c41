// The libFuzzer entry point of one target: NOCTURNE_FUZZ_CHECK names the
// check_* function (fuzz_properties.hpp). A PropertyFailure or any other
// exception escapes, so libFuzzer records the input as a crash.

#include <cstddef>
#include <cstdint>

#include "fuzz_properties.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nocturne::fuzz::NOCTURNE_FUZZ_CHECK({data, size});
  return 0;
}
