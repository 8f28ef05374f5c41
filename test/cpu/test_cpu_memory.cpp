// Memory, transfers, recording, fill and sum_squares.

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"

using namespace nocturne;

TEST_CASE("allocations are zero-filled, aligned, and round-trip", "[cpu][memory]") {
  auto backend = make_cpu_backend();
  CHECK(backend->device() == Device::cpu);
  auto buffer = backend->allocate<float>(1001);
  REQUIRE(buffer.size() == 1001);
  CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % 64 == 0);
  for (float v : backend->download(buffer)) CHECK(v == 0.0f);

  const auto host = test::random_vector<float>(1001, 3);
  auto uploaded = backend->upload<float>(host);
  CHECK(backend->download(uploaded) == host);
  backend->copy_on_device(buffer.data(), uploaded.data(), 1001 * sizeof(float));
  backend->synchronize();
  CHECK(backend->download(buffer) == host);

  auto empty = backend->allocate<float>(0);
  CHECK(empty.empty());
}

TEST_CASE("record runs nothing until replay, then runs the work each time", "[cpu][memory]") {
  auto backend = make_cpu_backend();
  auto buffer = backend->allocate<float>(4);
  int calls = 0;
  auto recording = backend->record([&] {
    ++calls;
    backend->fill(buffer.data(), buffer.size(), float(calls));
  });
  CHECK(calls == 0);
  recording->replay();
  recording->replay();
  CHECK(calls == 2);
  CHECK(backend->download(buffer) == std::vector<float>(4, 2.0f));
}

TEST_CASE("sum_squares accumulates in double", "[cpu][memory]") {
  auto backend = make_cpu_backend();
  const auto x = test::random_vector<float>(1003, 4);
  double expected = 0.0;
  for (float v : x) expected += double(v) * double(v);
  CHECK(backend->sum_squares(x.data(), x.size()) == Approx(expected).epsilon(1e-13));
  // 1e8 ones plus one: a float accumulator would stall at 2^24.
  std::vector<float> ones(1 << 25, 1.0f);
  CHECK(backend->sum_squares(ones.data(), ones.size()) == double(1 << 25));
  CHECK(backend->sum_squares(x.data(), 0) == 0.0);
}
