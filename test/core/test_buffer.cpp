// Buffers own their memory, move but never copy, and round-trip through a backend.

#include <catch2/catch.hpp>
#include <type_traits>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/buffer.hpp"

using namespace nocturne;

static_assert(!std::is_copy_constructible_v<Buffer<float>>);
static_assert(std::is_nothrow_move_constructible_v<Buffer<float>>);

TEST_CASE("buffers are zero-filled, move-only and round-trip", "[buffer]") {
  auto backend = make_cpu_backend();
  Buffer<float> a = backend->allocate<float>(1000);
  REQUIRE(a.size() == 1000);
  CHECK(a.device() == Device::cpu);
  for (float v : backend->download(a)) REQUIRE(v == 0.0f);

  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = float(i) * 0.5f;
  Buffer<float> b = backend->upload<float>(values);
  CHECK(backend->download(b) == values);

  float* data = b.data();
  Buffer<float> moved = std::move(b);
  CHECK(moved.data() == data);
  CHECK(b.data() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(b.empty());
  a = std::move(moved);
  CHECK(a.data() == data);
  CHECK(backend->download(a) == values);
}
