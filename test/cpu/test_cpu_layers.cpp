// Dense, input features, dropout, output and optimiser ops. Gradients are
// checked against central finite differences in double with the norm-wise
// relative error of test::relative_error.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu_test_support.hpp"
#include "math/philox.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
using test::random_vector;

TEST_CASE("dense_backward matches finite differences", "[cpu][dense][gradient]") {
  auto backend = make_cpu_backend_double();
  for (const auto& shape : {std::tuple{3, 4, 5}, std::tuple{1, 6, 2}, std::tuple{4, 1, 3}, std::tuple{5, 3, 1}}) {
    // Plain names, not a structured binding: the lambda below captures them.
    const int n = std::get<0>(shape), k = std::get<1>(shape), m = std::get<2>(shape);
    auto x = random_vector(std::size_t(n * k), 1), w = random_vector(std::size_t(k * m), 2),
         b = random_vector(std::size_t(m), 3);
    const auto weights = random_vector(std::size_t(n * m), 4);
    std::vector<double> y(std::size_t(n * m));
    auto loss = [&] {
      backend->dense_forward(n, k, m, x.data(), w.data(), b.data(), y.data());
      return test::dot(y, weights);
    };
    std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
    backend->dense_backward(n, k, m, x.data(), w.data(), weights.data(), dx.data(), dw.data(), db.data());
    INFO("n " << n << " k " << k << " m " << m);
    CHECK(test::relative_error(dx, test::numeric_gradient(x, loss)) < 1e-6);
    CHECK(test::relative_error(dw, test::numeric_gradient(w, loss)) < 1e-6);
    CHECK(test::relative_error(db, test::numeric_gradient(b, loss)) < 1e-6);
  }
}

TEST_CASE("dense_forward is x W + b", "[cpu][dense]") {
  auto backend = make_cpu_backend_double();
  const std::vector<double> x = {1, 2, 3, 4}, w = {1, 0, -1, 2, 0.5, 0}, b = {0.25, -0.25, 1};
  std::vector<double> y(6, 99.0);
  backend->dense_forward(2, 2, 3, x.data(), w.data(), b.data(), y.data());  // x [2,2], W [2,3]
  CHECK(y == std::vector<double>{1 + 4 + 0.25, 0 + 1 - 0.25, -1 + 0 + 1, 3 + 8 + 0.25, 0 + 2 - 0.25, -3 + 0 + 1});
  CHECK_THROWS_AS(backend->dense_forward(0, 2, 3, x.data(), w.data(), b.data(), y.data()), ShapeError);
}

TEST_CASE("scalar_input divides tokens by the vocabulary size", "[cpu][input]") {
  auto backend = make_cpu_backend();
  const std::vector<std::int32_t> tokens = {0, 1, 63, 126};
  std::vector<float> out(4);
  backend->scalar_input(tokens.data(), tokens.size(), 127, out.data());
  CHECK(out == std::vector<float>{0.0f, 1.0f / 127.0f, 63.0f / 127.0f, 126.0f / 127.0f});
  CHECK_THROWS_AS(backend->scalar_input(tokens.data(), tokens.size(), 0, out.data()), ShapeError);
}

TEST_CASE("embedding_backward matches finite differences and accumulates repeats", "[cpu][input][gradient]") {
  auto backend = make_cpu_backend_double();
  const int vocab = 5, dim = 3;
  const std::vector<std::int32_t> tokens = {2, 0, 2, 4, 2, 1};  // 2 repeats, 3 is unused
  auto table = random_vector(std::size_t(vocab * dim), 5);
  const auto weights = random_vector(tokens.size() * dim, 6);
  std::vector<double> out(tokens.size() * dim);
  auto loss = [&] {
    backend->embedding_forward(tokens.data(), tokens.size(), dim, table.data(), out.data());
    return test::dot(out, weights);
  };
  loss();
  for (std::size_t i = 0; i < tokens.size(); ++i)
    for (int j = 0; j < dim; ++j) CHECK(out[i * dim + std::size_t(j)] == table[std::size_t(tokens[i] * dim + j)]);
  std::vector<double> d_table(table.size(), 7.0);  // overwritten, not accumulated
  backend->embedding_backward(tokens.data(), tokens.size(), vocab, dim, weights.data(), d_table.data());
  CHECK(test::relative_error(d_table, test::numeric_gradient(table, loss)) < 1e-6);
  for (int j = 0; j < dim; ++j) CHECK(d_table[std::size_t(3 * dim + j)] == 0.0);
  // Row 2 sums rows 0, 2, 4 of d_out in that order.
  for (std::size_t j = 0; j < std::size_t(dim); ++j)
    CHECK(d_table[2 * dim + j] == (weights[0 * dim + j] + weights[2 * dim + j]) + weights[4 * dim + j]);
  const std::vector<std::int32_t> bad = {5};
  CHECK_THROWS_AS(backend->embedding_backward(bad.data(), 1, vocab, dim, weights.data(), d_table.data()), ShapeError);
}

TEST_CASE("dropout draws the shared mask, scales kept values, and its backward matches", "[cpu][dropout][gradient]") {
  auto backend = make_cpu_backend_double();
  const std::size_t n = 2000;
  const double p = 0.25;
  std::uint64_t device_offset = 1000;
  const DropoutKey key{77, 3, 5, &device_offset};
  auto x = random_vector(n, 8);
  const auto weights = random_vector(n, 9);
  std::vector<double> y(n);
  auto loss = [&] {
    backend->dropout_forward(key, p, n, x.data(), y.data());
    return test::dot(y, weights);
  };
  loss();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    // Mask index = offset + *offset_on_device + i.
    const bool keep = math::dropout_keep(77, 3, 1005 + i, float(p));
    CHECK(y[i] == (keep ? x[i] * (1.0 / (1.0 - p)) : 0.0));
    kept += keep ? 1 : 0;
  }
  CHECK(double(kept) / double(n) == Approx(0.75).margin(0.05));
  std::vector<double> dx(n);
  backend->dropout_backward(key, p, n, weights.data(), dx.data());
  CHECK(test::relative_error(dx, test::numeric_gradient(x, loss)) < 1e-6);

  // The device offset is read when the op runs: a new value, a new mask.
  std::vector<double> y2(n);
  device_offset = 5000;
  backend->dropout_forward(key, p, n, x.data(), y2.data());
  CHECK(y2 != y);

  // The float backend draws the same mask.
  auto single = make_cpu_backend();
  const auto xf = test::convert<float>(x);
  std::vector<float> yf(n);
  single->dropout_forward(key, float(p), n, xf.data(), yf.data());
  for (std::size_t i = 0; i < n; ++i) CHECK((yf[i] == 0.0f) == (y2[i] == 0.0));
}

TEST_CASE("dropout with p = 0 is the identity and p >= 1 is refused", "[cpu][dropout]") {
  auto backend = make_cpu_backend();
  const std::vector<float> x = {1.0f, -2.0f, 3.0f};
  std::vector<float> y(3);
  backend->dropout_forward(DropoutKey{1, 0, 0, nullptr}, 0.0f, 3, x.data(), y.data());
  CHECK(y == x);
  CHECK_THROWS_AS(backend->dropout_forward(DropoutKey{}, 1.0f, 3, x.data(), y.data()), ConfigError);
  CHECK_THROWS_AS(backend->dropout_backward(DropoutKey{}, -0.1f, 3, x.data(), y.data()), ConfigError);
}

TEST_CASE("softmax rows sum to one and survive huge logits", "[cpu][output]") {
  auto backend = make_cpu_backend();
  const int n = 3, v = 7;
  auto logits = random_vector<float>(std::size_t(n * v), 10, -5.0, 5.0);
  logits[0] = 1e4f;  // would overflow exp without the max subtracted
  std::vector<float> probs(logits.size());
  backend->softmax(n, v, logits.data(), probs.data());
  for (int r = 0; r < n; ++r) {
    double sum = 0.0;
    for (int j = 0; j < v; ++j) {
      const float pr = probs[std::size_t(r * v + j)];
      CHECK(pr >= 0.0f);
      sum += pr;
    }
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
  CHECK(probs[0] == 1.0f);
}

TEST_CASE("softmax_cross_entropy: gradient, uniform loss, first-maximum accuracy", "[cpu][output][gradient]") {
  auto backend = make_cpu_backend_double();
  const int n = 4, v = 6;
  const double grad_scale = 0.37;
  auto logits = random_vector(std::size_t(n * v), 11, -3.0, 3.0);
  const std::vector<std::int32_t> targets = {0, 5, 2, 2};
  auto loss = [&] {
    double stats[2] = {0.0, 0.0};
    backend->softmax_cross_entropy(n, v, logits.data(), targets.data(), grad_scale, nullptr, stats);
    return grad_scale * stats[0];
  };
  std::vector<double> dlogits(logits.size());
  double stats[2] = {1.0, 2.0};  // accumulates
  backend->softmax_cross_entropy(n, v, logits.data(), targets.data(), grad_scale, dlogits.data(), stats);
  CHECK(test::relative_error(dlogits, test::numeric_gradient(logits, loss)) < 1e-6);

  // Direct loss and accuracy.
  double expected_loss = 0.0, expected_correct = 0.0;
  for (int r = 0; r < n; ++r) {
    double sum = 0.0;
    int best = 0;
    for (int j = 0; j < v; ++j) {
      sum += std::exp(logits[std::size_t(r * v + j)]);
      if (logits[std::size_t(r * v + j)] > logits[std::size_t(r * v + best)]) best = j;
    }
    expected_loss += std::log(sum) - logits[std::size_t(r * v + targets[std::size_t(r)])];
    expected_correct += best == targets[std::size_t(r)] ? 1.0 : 0.0;
  }
  CHECK(stats[0] == Approx(1.0 + expected_loss).epsilon(1e-12));
  CHECK(stats[1] == 2.0 + expected_correct);

  // A uniform row costs log V; a tie counts only for the first maximum.
  const std::vector<double> flat(2 * std::size_t(v), 0.5);
  const std::vector<std::int32_t> tie_targets = {0, 3};
  double flat_stats[2] = {0.0, 0.0};
  backend->softmax_cross_entropy(2, v, flat.data(), tie_targets.data(), 1.0, nullptr, flat_stats);
  CHECK(flat_stats[0] == Approx(2.0 * std::log(double(v))).epsilon(1e-14));
  CHECK(flat_stats[1] == 1.0);

  const std::vector<std::int32_t> bad = {0, 6};
  CHECK_THROWS_AS(backend->softmax_cross_entropy(2, v, flat.data(), bad.data(), 1.0, nullptr, flat_stats),
                  ShapeError);
}

TEST_CASE("float softmax_cross_entropy agrees with double", "[cpu][output]") {
  auto single = make_cpu_backend();
  auto twice = make_cpu_backend_double();
  const int n = 8, v = 127;
  const auto logits = random_vector(std::size_t(n * v), 12, -4.0, 4.0);
  const auto logits_f = test::convert<float>(logits);
  std::vector<std::int32_t> targets(static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) targets[std::size_t(r)] = (r * 37) % v;
  std::vector<double> d64(logits.size());
  std::vector<float> d32(logits.size());
  double s64[2] = {0, 0}, s32[2] = {0, 0};
  twice->softmax_cross_entropy(n, v, logits.data(), targets.data(), 1.0 / n, d64.data(), s64);
  single->softmax_cross_entropy(n, v, logits_f.data(), targets.data(), 1.0f / float(n), d32.data(), s32);
  CHECK(test::relative_error(d32, d64) < 1e-5);
  CHECK(s32[0] == Approx(s64[0]).epsilon(1e-5));
  CHECK(s32[1] == s64[1]);
}

TEST_CASE("adamax op follows three hand-computed steps", "[cpu][optimizer]") {
  // Same numbers as the adamax_element test: the recipe's formulas in
  // Python's decimal module at 40 digits (lr 0.01, b1 0.9, b2 0.999, eps 1e-7).
  auto backend = make_cpu_backend_double();
  std::vector<double> p = {1.0, -0.5}, m(2, 0.0), u(2, 0.0);
  const std::vector<std::vector<double>> grads = {{0.5, -0.2}, {-0.1, -0.4}, {0.2, 0.0}};
  const double expected[3][2] = {{0.9900000019999996, -0.4900000049999975},
                                 {0.9863121043135769, -0.4823684279605233},
                                 {0.9825037541759417, -0.4775481106933539}};
  const AdamaxParams hp{0.01, 0.9, 0.999, 1e-7};
  for (int t = 1; t <= 3; ++t) {
    backend->adamax(2, p.data(), grads[std::size_t(t - 1)].data(), m.data(), u.data(), hp, t);
    CHECK(p[0] == Approx(expected[t - 1][0]).epsilon(1e-13));
    CHECK(p[1] == Approx(expected[t - 1][1]).epsilon(1e-13));
  }
  CHECK(u[1] == Approx(0.3996).epsilon(1e-14));
  CHECK_THROWS_AS(backend->adamax(2, p.data(), grads[0].data(), m.data(), u.data(), hp, 0), ConfigError);

  // Float: the same steps within float rounding.
  auto single = make_cpu_backend();
  std::vector<float> pf = {1.0f, -0.5f}, mf(2, 0.0f), uf(2, 0.0f);
  for (int t = 1; t <= 3; ++t) {
    const auto g = test::convert<float>(grads[std::size_t(t - 1)]);
    single->adamax(2, pf.data(), g.data(), mf.data(), uf.data(), hp, t);
  }
  CHECK(double(pf[0]) == Approx(expected[2][0]).epsilon(1e-6));
  CHECK(double(pf[1]) == Approx(expected[2][1]).epsilon(1e-6));
}

TEST_CASE("dropout masks match math::dropout_keep bit for bit, across a 2^32 index boundary", "[cpu][dropout]") {
  // The backend's vectorised generator must draw exactly the shared mask,
  // including blocks whose indices cross into the next high word, and tails.
  auto single = make_cpu_backend();
  auto twice = make_cpu_backend_double();
  const std::size_t n = 1037;
  for (std::uint64_t offset : {std::uint64_t(0), std::uint64_t(0xFFFFFE00u), std::uint64_t(0x3FFFFFFFCULL)}) {
    const DropoutKey key{0xDEADBEEF12345678ULL, 9, offset, nullptr};
    const std::vector<float> xf(n, 1.0f);
    const std::vector<double> xd(n, 1.0);
    std::vector<float> yf(n);
    std::vector<double> yd(n);
    single->dropout_forward(key, 0.3f, n, xf.data(), yf.data());
    twice->dropout_forward(key, 0.3, n, xd.data(), yd.data());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool keep = math::dropout_keep(key.seed, key.stream, offset + i, 0.3f);
      if ((yf[i] != 0.0f) != keep || (yd[i] != 0.0) != keep) ++mismatches;
      if (keep && (yf[i] != 1.0f / 0.7f || yd[i] != 1.0 / 0.7)) ++mismatches;
    }
    INFO("offset " << offset);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("every mask generator the processor has draws math::dropout_keep's mask bit for bit", "[cpu][dropout]") {
  // Scalar, AVX2 (8 lanes) and AVX-512 (16 lanes) where supported: lengths
  // with tails, blocks that cross a 2^32 index boundary, in == out; on one
  // thread and split between two and three (the long lengths: 2^15 elements
  // a thread is the split's threshold; offset 0xFFFF63C0 puts the 2^32
  // boundary inside the second thread's block).
  using cpu::DropoutIsa;
  int checked = 0;
  for (DropoutIsa isa : {DropoutIsa::scalar, DropoutIsa::avx2, DropoutIsa::avx512}) {
    if (!cpu::dropout_isa_supported(isa)) continue;
    ++checked;
    for (std::uint64_t offset : {std::uint64_t(5), std::uint64_t(0xFFFFFFF3u), std::uint64_t(0xFFFF63C0u),
                                 std::uint64_t(0x1FFFFFFE9ULL)}) {
      for (std::size_t n : {std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17), std::size_t(301),
                            std::size_t(65573), std::size_t(98309)}) {
        for (int threads : {1, 2, 3}) {
          const std::uint64_t seed = 0x0123456789ABCDEFULL ^ offset;
          std::vector<float> yf(n, 2.0f);
          std::vector<double> yd(n, 2.0);
          cpu::dropout_apply(seed, 4, offset, 0.45f, 3.0f, n, yf.data(), yf.data(), threads, isa);
          cpu::dropout_apply(seed, 4, offset, 0.45f, 3.0, n, yd.data(), yd.data(), threads, isa);
          std::size_t mismatches = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const bool keep = math::dropout_keep(seed, 4, offset + i, 0.45f);
            if (yf[i] != (keep ? 6.0f : 0.0f) || yd[i] != (keep ? 6.0 : 0.0)) ++mismatches;
          }
          INFO("isa " << int(isa) << ", offset " << offset << ", n " << n << ", threads " << threads);
          CHECK(mismatches == 0);
        }
      }
    }
  }
  CHECK(checked >= 1);
  CHECK(cpu::dropout_isa_supported(cpu::best_dropout_isa()));
}
