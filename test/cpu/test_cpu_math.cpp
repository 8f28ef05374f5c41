// The per-element math shared by the CPU backend and the CUDA kernels
// (src/math): LSTM cell, Adamax element, Philox and dropout masks.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "math/adamax.hpp"
#include "math/lstm_cell.hpp"
#include "math/philox.hpp"

using namespace nocturne;

TEST_CASE("lstm_cell_forward matches hand-computed values", "[cpu][math]") {
  // All pre-activations 0: i = f = o = 1/2, g = 0; c = c_prev / 2.
  const auto zero = math::lstm_cell_forward(0.0, 0.0, 0.0, 0.0, 1.0);
  CHECK(zero.i == 0.5);
  CHECK(zero.f == 0.5);
  CHECK(zero.g == 0.0);
  CHECK(zero.o == 0.5);
  CHECK(zero.c == 0.5);
  CHECK(zero.h == Approx(0.23105857863000487).epsilon(1e-14));  // 0.5 * tanh(0.5), Python math.tanh

  // Pre-activations chosen so the gates are exact: s(ln 3) = 3/4,
  // s(-ln 3) = 1/4, tanh(atanh(1/2)) = 1/2, s(ln 4) = 4/5.
  const auto cell = math::lstm_cell_forward(std::log(3.0), -std::log(3.0), std::atanh(0.5), std::log(4.0), 2.0);
  CHECK(cell.i == Approx(0.75).epsilon(1e-14));
  CHECK(cell.f == Approx(0.25).epsilon(1e-14));
  CHECK(cell.g == Approx(0.5).epsilon(1e-14));
  CHECK(cell.o == Approx(0.8).epsilon(1e-14));
  CHECK(cell.c == Approx(0.875).epsilon(1e-14));                // 0.25 * 2 + 0.75 * 0.5
  CHECK(cell.h == Approx(0.563124483149297).epsilon(1e-13));    // 0.8 * tanh(0.875), Python math.tanh
}

TEST_CASE("lstm_cell_backward matches hand-computed values", "[cpu][math]") {
  // Same gates as above (i 3/4, f 1/4, g 1/2, o 4/5, c_prev 2, c 7/8) with
  // dh = 1 and dc_next = 1/2. By hand, with t = tanh(7/8):
  //   dc = 1/2 + 0.8 (1 - t^2); da_i = dc * g * i (1 - i); da_f = dc * c_prev * f (1 - f)
  //   da_g = dc * i (1 - g^2); da_o = dh * t * o (1 - o); dc_prev = dc * f
  // evaluated in Python with math.tanh.
  const auto grad = math::lstm_cell_backward(0.75, 0.25, 0.5, 0.8, 0.875, 2.0, 1.0, 0.5);
  CHECK(grad.da_i == Approx(0.08471376755599655).epsilon(1e-13));
  CHECK(grad.da_f == Approx(0.3388550702239862).epsilon(1e-13));
  CHECK(grad.da_g == Approx(0.5082826053359792).epsilon(1e-13));
  CHECK(grad.da_o == Approx(0.11262489662985939).epsilon(1e-13));
  CHECK(grad.dc_prev == Approx(0.22590338014932412).epsilon(1e-13));
}

TEST_CASE("lstm_cell_backward is the derivative of lstm_cell_forward", "[cpu][math]") {
  // L = wh * h + wc * c; backward with dh = wh, dc_next = wc gives dL/da and dL/dc_prev.
  const double wh = 0.7, wc = -1.3;
  const std::vector<std::vector<double>> points = {
      {0.3, -0.2, 0.5, 1.1, 0.4}, {-1.5, 2.0, -0.7, -0.3, -1.2}, {0.0, 0.0, 0.0, 0.0, 0.0}};
  for (const auto& x : points) {
    auto loss = [&](std::vector<double> v) {
      const auto f = math::lstm_cell_forward(v[0], v[1], v[2], v[3], v[4]);
      return wh * f.h + wc * f.c;
    };
    const auto f = math::lstm_cell_forward(x[0], x[1], x[2], x[3], x[4]);
    const auto g = math::lstm_cell_backward(f.i, f.f, f.g, f.o, f.c, x[4], wh, wc);
    const double analytic[5] = {g.da_i, g.da_f, g.da_g, g.da_o, g.dc_prev};
    for (int k = 0; k < 5; ++k) {
      auto up = x, down = x;
      up[std::size_t(k)] += 1e-6;
      down[std::size_t(k)] -= 1e-6;
      const double numeric = (loss(up) - loss(down)) / 2e-6;
      CHECK(analytic[k] == Approx(numeric).epsilon(1e-7).margin(1e-9));
    }
  }
}

TEST_CASE("lstm_cell_forward stays finite for extreme pre-activations", "[cpu][math]") {
  for (float a : {-100.0f, -30.0f, 30.0f, 100.0f}) {
    const auto f = math::lstm_cell_forward(a, a, a, a, 1.0f);
    CHECK(std::isfinite(f.c));
    CHECK(std::isfinite(f.h));
    CHECK(f.i >= 0.0f);
    CHECK(f.i <= 1.0f);
  }
}

TEST_CASE("adamax_element follows the recipe's update with bias correction", "[cpu][math]") {
  // Three steps, lr 0.01, b1 0.9, b2 0.999, eps 1e-7, lr_t = lr / (1 - b1^t).
  // Expected values: the recipe's formulas evaluated in Python's decimal
  // module at 40 digits. Element 0: |g| loses to the decayed u at step 2;
  // element 1: |g| wins at step 2, the decayed u wins at step 3 (g = 0).
  double p[2] = {1.0, -0.5}, m[2] = {0.0, 0.0}, u[2] = {0.0, 0.0};
  const double grads[3][2] = {{0.5, -0.2}, {-0.1, -0.4}, {0.2, 0.0}};
  const double expected_p[3][2] = {{0.9900000019999996, -0.4900000049999975},
                                   {0.9863121043135769, -0.4823684279605233},
                                   {0.9825037541759417, -0.4775481106933539}};
  const double expected_m[3][2] = {{0.05, -0.02}, {0.035, -0.058}, {0.0515, -0.0522}};
  const double expected_u[3][2] = {{0.5, 0.2}, {0.4995, 0.4}, {0.4990005, 0.3996}};
  for (int t = 1; t <= 3; ++t) {
    const double lr_t = 0.01 / (1.0 - std::pow(0.9, t));
    for (int i = 0; i < 2; ++i) {
      math::adamax_element(p[i], grads[t - 1][i], m[i], u[i], lr_t, 0.9, 0.999, 1e-7);
      CHECK(p[i] == Approx(expected_p[t - 1][i]).epsilon(1e-13));
      CHECK(m[i] == Approx(expected_m[t - 1][i]).epsilon(1e-13));
      CHECK(u[i] == Approx(expected_u[t - 1][i]).epsilon(1e-13));
    }
  }
}

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors", "[cpu][math]") {
  // Random123 v1.14.0, tests/kat_vectors, lines "philox4x32 10 ...".
  struct Kat {
    math::Philox4 counter;
    std::uint32_t key0, key1;
    std::uint32_t expected[4];
  };
  const Kat kats[] = {
      {{{0u, 0u, 0u, 0u}}, 0u, 0u, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const auto& kat : kats) {
    const auto out = math::philox4x32_10(kat.counter, kat.key0, kat.key1);
    for (int w = 0; w < 4; ++w) CHECK(out.v[w] == kat.expected[w]);
  }
}

TEST_CASE("random_u32 is word 0 of the block at (index, stream) keyed by the seed", "[cpu][math]") {
  const std::uint64_t seed = 0x0123456789abcdefULL, index = 0x00000005fffffffeULL;
  const std::uint32_t stream = 7;
  const auto block = math::philox4x32_10(math::Philox4{{0xfffffffeu, 0x5u, stream, 0u}}, 0x89abcdefu, 0x01234567u);
  CHECK(math::random_u32(seed, stream, index) == block.v[0]);
  CHECK(math::random_u32(seed, stream, index) != math::random_u32(seed, stream + 1, index));
}

TEST_CASE("dropout_keep keeps a fraction close to 1 - p", "[cpu][math]") {
  CHECK(math::uniform_from_u32(0u) == 0.0f);
  CHECK(math::uniform_from_u32(0xffffffffu) < 1.0f);
  for (float p : {0.1f, 0.5f}) {
    const int draws = 100000;
    int kept = 0;
    for (int i = 0; i < draws; ++i) kept += math::dropout_keep(42, 3, std::uint64_t(i), p) ? 1 : 0;
    // Binomial standard deviation is at most 0.0016 here; allow 5 of them.
    CHECK(double(kept) / draws == Approx(1.0 - double(p)).margin(0.008));
  }
  CHECK(math::dropout_keep(1, 0, 0, 0.0f));
}
