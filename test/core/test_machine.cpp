// The machine's memory and cores (machine.hpp), and the up-front refusal of
// sizes past them.

#include <catch2/catch.hpp>

#include <string>

#include "nocturne/error.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/model.hpp"

using namespace nocturne;

TEST_CASE("the machine reports its memory and cores", "[machine]") {
  const auto memory = available_memory();
  REQUIRE(memory.has_value());  // Linux has /proc/meminfo
  CHECK(memory->bytes > 0);
  CHECK_FALSE(memory->source.empty());
  CHECK(available_cores() >= 1);
}

TEST_CASE("byte counts read as people write them", "[machine]") {
  CHECK(format_bytes(100) == "100 bytes");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(24ull << 30) == "24 GiB");
  CHECK(format_bytes(245ull << 30) == "245 GiB");
}

TEST_CASE("require_memory refuses past the limit, naming what and the advice", "[machine]") {
  const MemoryLimit limit{1ull << 30, "a test limit"};
  CHECK_NOTHROW(require_memory(1ull << 29, limit, "the model", "lower --batch"));
  CHECK_NOTHROW(require_memory(1ull << 40, std::nullopt, "the model", "lower --batch"));
  CHECK_THROWS_AS(require_memory(3ull << 30, limit, "the model", "lower --batch"), ConfigError);
  CHECK_THROWS_WITH(require_memory(3ull << 30, limit, "the model for --batch 9", "lower --batch"),
                    Catch::Contains("the model for --batch 9 needs about 3.0 GiB") &&
                        Catch::Contains("1.0 GiB available (a test limit)") && Catch::Contains("lower --batch"));
}

TEST_CASE("the model's memory estimate counts what the constructor allocates", "[machine]") {
  ModelConfig c;
  c.vocab = 10;
  c.window = 3;
  c.hidden1 = 4;
  c.hidden2 = 2;
  c.dense = 5;
  const std::size_t p = ParameterLayout(c).buffer_size();
  // Per window, as model.cpp allocates: W (F + 9 H1 + 7 H2) + 4 D + 3 V scalars, the LSTM workspace
  // (W 4 H + 2 H for the larger layer) and W + 1 indices.
  const std::uint64_t per_window = (3 * (1 + 9 * 4 + 7 * 2) + 4 * 5 + 3 * 10 + (3 * 4 * 4 + 2 * 4)) * 4 + 4 * 4;
  CHECK(Model::memory_bytes(c, 1) == 2 * p * 4 + per_window + 64);
  CHECK(Model::memory_bytes(c, 1000) - Model::memory_bytes(c, 1) == 999 * per_window);
  // Sizes no machine holds saturate rather than wrap.
  c.hidden1 = 1 << 20;
  c.window = 1 << 20;
  CHECK(Model::memory_bytes(c, 1 << 30) > (1ull << 60));
}
