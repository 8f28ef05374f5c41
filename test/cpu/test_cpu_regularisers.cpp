// The regularisers' ops on the CPU backend, in double: the LSTM with a
// variational recurrent mask (its gradients against central differences, and
// what the mask does to the forward), mask_steps, and the label-smoothed
// softmax cross-entropy (loss and gradient against central differences and
// the formula written out here).

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

struct MaskedLstm {
  LstmShape s;
  std::vector<double> x, w, r, b, mask;
};

MaskedLstm make_masked(LstmShape s, std::uint32_t seed, double p) {
  const std::size_t g = 4 * std::size_t(s.hidden), nh = std::size_t(s.batch) * std::size_t(s.hidden);
  MaskedLstm d{s,
               random_vector(std::size_t(s.steps) * s.batch * s.input, seed),
               random_vector(std::size_t(s.input) * g, seed + 1, -0.8, 0.8),
               random_vector(std::size_t(s.hidden) * g, seed + 2, -0.6, 0.6),
               random_vector(g, seed + 3, -0.3, 0.3),
               std::vector<double>(nh)};
  // Every other element dropped, the rest scaled as inverted dropout scales them.
  for (std::size_t i = 0; i < nh; ++i) d.mask[i] = (i * 7 + seed) % 3 == 0 ? 0.0 : 1.0 / (1.0 - p);
  return d;
}

struct Run {
  std::vector<double> h, h_masked, c, gates;
};

Run forward(BasicBackend<double>& backend, const MaskedLstm& d, const std::vector<double>* mask) {
  const std::size_t nh = std::size_t(d.s.steps) * d.s.batch * d.s.hidden;
  Run run{std::vector<double>(nh), std::vector<double>(nh, -7.0), std::vector<double>(nh),
          std::vector<double>(4 * nh)};
  backend.lstm_forward_masked(d.s, d.x.data(), d.w.data(), d.r.data(), d.b.data(), mask ? mask->data() : nullptr,
                              run.h_masked.data(), run.h.data(), run.c.data(), run.gates.data());
  return run;
}

const LstmShape kShapes[] = {{4, 3, 1, 5}, {3, 2, 4, 3}, {5, 2, 9, 4}};

}  // namespace

TEST_CASE("masked lstm: an all-ones mask is the plain LSTM, an all-zeros mask cuts the recurrence",
          "[cpu][lstm][dropout]") {
  auto backend = make_cpu_backend_double();
  for (const auto& s : kShapes) {
    auto d = make_masked(s, 5, 0.4);
    const std::size_t nh = std::size_t(s.batch) * s.hidden, all = std::size_t(s.steps) * nh;
    const std::vector<double> ones(nh, 1.0), zeros(nh, 0.0);
    std::vector<double> h(all), c(all), gates(4 * all);
    backend->lstm_forward(s, d.x.data(), d.w.data(), d.r.data(), d.b.data(), h.data(), c.data(), gates.data());
    INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden);
    CHECK(forward(*backend, d, &ones).h == h);
    // No recurrent input at all: the LSTM with R = 0.
    const Run cut = forward(*backend, d, &zeros);
    std::fill(d.r.begin(), d.r.end(), 0.0);
    backend->lstm_forward(s, d.x.data(), d.w.data(), d.r.data(), d.b.data(), h.data(), c.data(), gates.data());
    CHECK(test::relative_error(cut.h, h) < 1e-15);
  }
}

TEST_CASE("masked lstm: h_masked is h times the same mask at every step", "[cpu][lstm][dropout]") {
  auto backend = make_cpu_backend_double();
  const LstmShape s{4, 3, 2, 5};
  const auto d = make_masked(s, 6, 0.5);
  const Run run = forward(*backend, d, &d.mask);
  const std::size_t nh = std::size_t(s.batch) * s.hidden;
  for (std::size_t t = 0; t < std::size_t(s.steps); ++t)
    for (std::size_t i = 0; i < nh; ++i) CHECK(run.h_masked[t * nh + i] == run.h[t * nh + i] * d.mask[i]);
}

TEST_CASE("masked lstm_backward matches finite differences in double", "[cpu][lstm][dropout][gradient]") {
  auto backend = make_cpu_backend_double();
  for (const auto& s : kShapes) {
    auto d = make_masked(s, 30, 0.3);
    const std::size_t step_h = std::size_t(s.batch) * s.hidden;
    const auto weights = random_vector(std::size_t(s.steps) * step_h, 98);
    auto loss = [&] { return test::dot(forward(*backend, d, &d.mask).h, weights); };

    const Run run = forward(*backend, d, &d.mask);
    std::vector<double> dx(d.x.size()), dw(d.w.size()), dr(d.r.size()), db(d.b.size());
    std::vector<double> workspace(BasicBackend<double>::lstm_workspace_size(s), 12345.0);
    backend->lstm_backward_masked(s, d.x.data(), d.w.data(), d.r.data(), d.mask.data(), run.h_masked.data(),
                                  run.h.data(), run.c.data(), run.gates.data(), weights.data(), dx.data(), dw.data(),
                                  dr.data(), db.data(), workspace.data());
    INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden);
    CHECK(test::relative_error(dx, test::numeric_gradient(d.x, loss)) < 1e-6);
    CHECK(test::relative_error(dw, test::numeric_gradient(d.w, loss)) < 1e-6);
    CHECK(test::relative_error(dr, test::numeric_gradient(d.r, loss)) < 1e-6);
    CHECK(test::relative_error(db, test::numeric_gradient(d.b, loss)) < 1e-6);
    // The unmasked backward differs: the mask is in the gradient.
    std::vector<double> dr_plain(d.r.size());
    backend->lstm_backward(s, d.x.data(), d.w.data(), d.r.data(), run.h.data(), run.c.data(), run.gates.data(),
                           weights.data(), nullptr, dw.data(), dr_plain.data(), db.data(), workspace.data());
    CHECK(test::relative_error(dr, dr_plain) > 1e-3);
  }
}

TEST_CASE("mask_steps multiplies every step by the same mask", "[cpu][dropout]") {
  auto backend = make_cpu_backend_double();
  const std::vector<double> mask = {0.0, 2.0, 2.0};
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  std::vector<double> y(6);
  backend->mask_steps(2, 3, mask.data(), x.data(), y.data());
  CHECK(y == std::vector<double>{0, 4, 6, 0, 10, 12});
  backend->mask_steps(2, 3, mask.data(), y.data(), y.data());  // in place
  CHECK(y == std::vector<double>{0, 8, 12, 0, 20, 24});
}

TEST_CASE("label-smoothed softmax_cross_entropy: loss and gradient against finite differences in double",
          "[cpu][output][gradient]") {
  auto backend = make_cpu_backend_double();
  const int n = 4, v = 6;
  const double grad_scale = 0.25;
  auto logits = random_vector(std::size_t(n * v), 12, -3.0, 3.0);
  const std::vector<std::int32_t> targets = {0, 5, 2, 2};
  for (double eps : {0.1, 0.35}) {
    auto loss = [&] {
      double stats[2] = {0.0, 0.0};
      backend->softmax_cross_entropy_smoothed(n, v, logits.data(), targets.data(), eps, grad_scale, nullptr, stats);
      return grad_scale * stats[0];
    };
    std::vector<double> dlogits(logits.size());
    double stats[2] = {0.0, 0.0};
    backend->softmax_cross_entropy_smoothed(n, v, logits.data(), targets.data(), eps, grad_scale, dlogits.data(),
                                            stats);
    INFO("eps " << eps);
    CHECK(test::relative_error(dlogits, test::numeric_gradient(logits, loss)) < 1e-6);

    // The loss written out: (1 - eps) (-log p_target) + eps mean_k (-log p_k).
    double expected = 0.0;
    for (int r = 0; r < n; ++r) {
      double sum = 0.0;
      for (int j = 0; j < v; ++j) sum += std::exp(logits[std::size_t(r * v + j)]);
      double mean_nll = 0.0;
      for (int j = 0; j < v; ++j) mean_nll += (std::log(sum) - logits[std::size_t(r * v + j)]) / v;
      expected += (1 - eps) * (std::log(sum) - logits[std::size_t(r * v + targets[std::size_t(r)])]) + eps * mean_nll;
    }
    CHECK(stats[0] == Approx(expected).epsilon(1e-12));
    // The gradient written out: softmax - ((1 - eps) onehot + eps / V), scaled.
    for (int r = 0; r < n; ++r) {
      double sum = 0.0;
      for (int j = 0; j < v; ++j) sum += std::exp(logits[std::size_t(r * v + j)]);
      for (int j = 0; j < v; ++j) {
        const double target = (j == targets[std::size_t(r)] ? 1 - eps : 0.0) + eps / v;
        CHECK(dlogits[std::size_t(r * v + j)] ==
              Approx(grad_scale * (std::exp(logits[std::size_t(r * v + j)]) / sum - target)).margin(1e-14));
      }
    }
  }
  // eps = 0 is the plain op, bit for bit.
  std::vector<double> plain(logits.size()), smoothed(logits.size());
  double plain_stats[2] = {0, 0}, smoothed_stats[2] = {0, 0};
  backend->softmax_cross_entropy(n, v, logits.data(), targets.data(), grad_scale, plain.data(), plain_stats);
  backend->softmax_cross_entropy_smoothed(n, v, logits.data(), targets.data(), 0.0, grad_scale, smoothed.data(),
                                          smoothed_stats);
  CHECK(plain == smoothed);
  CHECK(plain_stats[0] == smoothed_stats[0]);
  double stats[2] = {0, 0};
  CHECK_THROWS_AS(backend->softmax_cross_entropy_smoothed(n, v, logits.data(), targets.data(), 1.0, grad_scale,
                                                          nullptr, stats),
                  ShapeError);
}
