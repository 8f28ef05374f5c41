// Adamax (BasicAdamax over the CPU backend) against hand-computed steps, a
// scalar reference over a long odd-sized vector, the checkpoint round trip,
// and the validation of its hyper-parameters.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"

using namespace nocturne;

namespace {

// The recipe's hyper-parameters.
constexpr AdamaxParams kRecipe{0.01, 0.9, 0.999, 1e-7};

// Four steps over three parameters p0 = {1, -0.5, 0.25}:
//   element 0: |g| wins at step 1, the decayed u wins at step 2 (0.999 > 0.5),
//              |g| wins at step 3 (2 > 0.998), the decayed u at step 4 (g = 0);
//   element 1: |g| wins at steps 1 and 2 (0.3 > 0.1998), the decayed u at 3 and 4;
//   element 2: g = 0 throughout: u stays 0 and epsilon keeps the update at 0.
const std::vector<std::vector<double>> kGrads = {
    {1.0, -0.2, 0.0}, {0.5, -0.3, 0.0}, {-2.0, 0.1, 0.0}, {0.0, 0.0, 0.0}};

// Golden values after each step, computed by hand from
//   m = b1 m + (1 - b1) g;  u = max(b2 u, |g|);  p -= lr / (1 - b1^t) * m / (u + eps)
// in Python float64 (lr 0.01, b1 0.9, b2 0.999, eps 1e-7), printed with repr().
// Step 1 by hand: m0 = 0.1, u0 = 1, p0 = 1 - 0.01 / 0.1 * 0.1 / (1 + 1e-7) = 0.990000001.
const std::vector<std::vector<double>> kWantP = {
    {0.9900000009999999, -0.4900000049999975, 0.25},
    {0.9826242048888367, -0.4815789551754352, 0.25},
    {0.9839895184737075, -0.4774912279744015, 0.25},
    {0.984958792438959, -0.4745892371088657, 0.25}};
const std::vector<std::vector<double>> kWantM = {
    {0.09999999999999998, -0.019999999999999997, 0.0},
    {0.13999999999999996, -0.04799999999999999, 0.0},
    {-0.07399999999999998, -0.03319999999999999, 0.0},
    {-0.06659999999999999, -0.029879999999999993, 0.0}};
const std::vector<std::vector<double>> kWantU = {
    {1.0, 0.2, 0.0}, {0.999, 0.3, 0.0}, {2.0, 0.29969999999999997, 0.0}, {1.998, 0.29940029999999995, 0.0}};

template <typename T>
void check_golden_steps(BasicBackend<T>& backend, double rel) {
  BasicAdamax<T> opt(backend, 3, kRecipe);
  const std::vector<T> p0 = {T(1.0), T(-0.5), T(0.25)};
  Buffer<T> params = backend.template upload<T>(p0);
  for (std::size_t s = 0; s < kGrads.size(); ++s) {
    const std::vector<T> g(kGrads[s].begin(), kGrads[s].end());
    Buffer<T> grads = backend.template upload<T>(g);
    opt.step(params.data(), grads.data());
    CHECK(opt.steps_taken() == std::int64_t(s + 1));
    const auto p = backend.download(params);
    const auto m = opt.download_first_moment();
    const auto u = opt.download_infinity_norm();
    for (std::size_t i = 0; i < 3; ++i) {
      INFO(sizeof(T) * 8 << "-bit, step " << s + 1 << ", element " << i);
      CHECK(double(p[i]) == Approx(kWantP[s][i]).epsilon(rel));
      CHECK(double(m[i]) == Approx(kWantM[s][i]).epsilon(rel).margin(1e-300));
      CHECK(double(u[i]) == Approx(kWantU[s][i]).epsilon(rel).margin(1e-300));
    }
  }
}

template <typename T>
std::vector<T> seeded(std::size_t n, std::uint64_t seed, double scale) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = T(scale * (2.0 * random_uniform(seed, 0x7e57, i) - 1.0));
  return v;
}

}  // namespace

TEST_CASE("Adamax matches hand-computed steps in double", "[optimizer]") {
  auto backend = make_cpu_backend_double();
  check_golden_steps<double>(*backend, 1e-14);
}

TEST_CASE("Adamax matches hand-computed steps in float", "[optimizer]") {
  auto backend = make_cpu_backend();
  check_golden_steps<float>(*backend, 1e-6);
}

TEST_CASE("Adamax over an odd-sized vector matches a scalar reference element by element", "[optimizer]") {
  // 1037 elements: not a multiple of any vector width, so a SIMD tail is exercised.
  constexpr std::size_t n = 1037;
  const AdamaxParams hp{0.002, 0.8, 0.95, 1e-6};
  auto backend = make_cpu_backend_double();
  BasicAdamax<double> opt(*backend, n, hp);
  std::vector<double> p = seeded<double>(n, 1, 1.0), m(n, 0.0), u(n, 0.0);
  Buffer<double> params = backend->upload<double>(p);
  for (int t = 1; t <= 5; ++t) {
    // Step 3 scales the gradient down, so the decayed u wins for most elements.
    std::vector<double> g = seeded<double>(n, std::uint64_t(10 + t), t == 3 ? 1e-3 : 1.0);
    Buffer<double> grads = backend->upload<double>(g);
    opt.step(params.data(), grads.data());
    const double lr_t = hp.learning_rate / (1 - std::pow(hp.beta1, t));
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * g[i];
      u[i] = std::max(hp.beta2 * u[i], std::abs(g[i]));
      p[i] -= lr_t * m[i] / (u[i] + hp.epsilon);
    }
    const auto got = backend->download(params);
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(got[i] - p[i]));
    INFO("step " << t << ": max abs difference " << worst);
    CHECK(worst <= 1e-14);
  }
}

TEST_CASE("Adamax restore() resumes exactly where the saved optimiser was", "[optimizer]") {
  constexpr std::size_t n = 100;
  auto backend = make_cpu_backend();
  Adamax a(*backend, n, kRecipe);
  Buffer<float> pa = backend->upload<float>(seeded<float>(n, 2, 1.0));
  for (int t = 0; t < 3; ++t) {
    Buffer<float> g = backend->upload<float>(seeded<float>(n, std::uint64_t(20 + t), 1.0));
    a.step(pa.data(), g.data());
  }
  // Save, restore into a fresh optimiser over a copy of the parameters.
  const auto m = a.download_first_moment();
  const auto u = a.download_infinity_norm();
  Adamax b(*backend, n, kRecipe);
  b.restore(a.steps_taken(), m, u);
  CHECK(b.steps_taken() == 3);
  CHECK(b.download_first_moment() == m);
  CHECK(b.download_infinity_norm() == u);
  Buffer<float> pb = backend->upload<float>(backend->download(pa));
  for (int t = 3; t < 6; ++t) {
    Buffer<float> g = backend->upload<float>(seeded<float>(n, std::uint64_t(20 + t), 1.0));
    a.step(pa.data(), g.data());
    b.step(pb.data(), g.data());
  }
  CHECK(backend->download(pa) == backend->download(pb));  // bit for bit, bias correction included
  CHECK(a.steps_taken() == b.steps_taken());

  // The step count matters: restoring with the wrong one changes the update.
  Adamax c(*backend, n, kRecipe);
  c.restore(0, m, u);
  Buffer<float> pc = backend->upload<float>(seeded<float>(n, 3, 1.0));
  Buffer<float> pd = backend->upload<float>(seeded<float>(n, 3, 1.0));
  b.restore(3, m, u);
  Buffer<float> g = backend->upload<float>(seeded<float>(n, 30, 1.0));
  b.step(pc.data(), g.data());
  c.step(pd.data(), g.data());
  CHECK(backend->download(pc) != backend->download(pd));

  // Size mismatches and a negative step count are refused.
  CHECK_THROWS_AS(b.restore(1, std::vector<float>(n - 1), u), ShapeError);
  CHECK_THROWS_AS(b.restore(1, m, std::vector<float>(n + 1)), ShapeError);
  CHECK_THROWS_AS(b.restore(-1, m, u), ShapeError);
}

TEST_CASE("Adamax hyper-parameters are validated, naming the field", "[optimizer]") {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Bad {
    AdamaxParams params;
    const char* field;
  };
  const std::vector<Bad> cases = {
      {{nan, 0.9, 0.999, 1e-7}, "learning rate"}, {{0.0, 0.9, 0.999, 1e-7}, "learning rate"},
      {{-0.01, 0.9, 0.999, 1e-7}, "learning rate"}, {{inf, 0.9, 0.999, 1e-7}, "learning rate"},
      {{0.01, 1.0, 0.999, 1e-7}, "beta1"},          {{0.01, 1.5, 0.999, 1e-7}, "beta1"},
      {{0.01, -0.1, 0.999, 1e-7}, "beta1"},         {{0.01, nan, 0.999, 1e-7}, "beta1"},
      {{0.01, 0.9, 1.0, 1e-7}, "beta2"},            {{0.01, 0.9, nan, 1e-7}, "beta2"},
      {{0.01, 0.9, 0.999, -1e-7}, "epsilon"},       {{0.01, 0.9, 0.999, nan}, "epsilon"},
      {{0.01, 0.9, 0.999, inf}, "epsilon"},
  };
  auto backend = make_cpu_backend();
  for (const Bad& bad : cases) {
    INFO("expecting a ConfigError naming " << bad.field);
    CHECK_THROWS_WITH(validate(bad.params), Catch::Contains(bad.field));
    CHECK_THROWS_AS(validate(bad.params), ConfigError);
    CHECK_THROWS_AS((Adamax(*backend, 4, bad.params)), ConfigError);
  }
  CHECK_NOTHROW(validate(kRecipe));
  CHECK_NOTHROW(validate(AdamaxParams{0.01, 0.0, 0.0, 0.0}));  // the edges that still work
}
