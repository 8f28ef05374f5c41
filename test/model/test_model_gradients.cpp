// Whole-model gradient checks in double precision on the CPU backend: the
// gradients train_step writes against central finite differences of the mean
// cross-entropy it reports, for every entry of every parameter view, with
// scalar and embedding input, with and without dropout. Plus the properties
// the check relies on: a recorded step sees uploaded parameters, gradients are
// overwritten (not accumulated), and a fixed (seed, step) fixes the masks.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"

using namespace nocturne;
using nocturne::test::compare;
using nocturne::test::ErrorMeasure;
using nocturne::test::random_batch;
using nocturne::test::random_parameters;
using nocturne::test::small_config;
using nocturne::test::train_step_loss;
using nocturne::test::view_values;

namespace {

constexpr int kBatch = 3;
constexpr std::uint64_t kDropoutSeed = 1234;
constexpr std::uint64_t kStep = 7;
// Finite differences: the fourth-order central stencil
//   f'(p) ~ (f(p - 2h) - 8 f(p - h) + 8 f(p + h) - f(p + 2h)) / (12 h)
// with h = 1e-3. Its truncation error is h^4 f^(5) / 30 (about 1e-13 here)
// and its rounding error about 1.5 eps |f| / h (about 5e-13): some 1e-12
// absolute, against gradients of 1e-6 to 1e-1. (The plain two-point
// stencil's rounding error, eps |f| / h at h = 1e-5, is 4e-11: too much for
// 1e-6 relative on the smaller entries.)
constexpr double kH = 1e-3;
constexpr double kTolerance = 1e-6;
// Entries smaller than 1e-3 of their view's largest gradient are measured
// against that floor (see ErrorMeasure).
constexpr double kFloor = 1e-3;

// The regularisers a check adds to small_config (all off by default).
struct Regularisers {
  double input_dropout = 0, recurrent_dropout = 0, label_smoothing = 0;
};

// Checks every entry of every view of a double model against central
// differences of the loss of train_step(kDropoutSeed, kStep), on the classic
// path or the fused one (its step program; the views in Keras' layout).
void check_gradients(InputMode input, double dropout, bool fused = false, Regularisers extra = {}) {
  auto backend = make_cpu_backend_double(CpuOptions{MathMode::strict_fp32, fused, ProgramOrder::wavefront});
  ModelConfig config = small_config(input, dropout);
  config.input_dropout = extra.input_dropout;
  config.recurrent_dropout = extra.recurrent_dropout;
  config.label_smoothing = extra.label_smoothing;
  BasicModel<double> model(*backend, config, kBatch);
  std::vector<double> params = random_parameters<double>(model.layout(), 11, 0.5);
  model.upload_parameters(params);
  const auto batch = random_batch(config, kBatch, 5);
  model.set_batch(batch.tokens, batch.targets);

  const double loss = train_step_loss(model, kDropoutSeed, kStep);
  const std::vector<double> analytic = model.download_gradients();
  REQUIRE(std::isfinite(loss));
  REQUIRE(loss > 0);

  for (const ParameterView& v : model.layout().views()) {
    std::vector<double> numeric(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      double& p = params[v.offset + i];
      const double saved = p;
      auto loss_at = [&](double offset) {
        p = saved + offset;
        model.upload_parameters(params);
        return train_step_loss(model, kDropoutSeed, kStep);
      };
      const double m2 = loss_at(-2 * kH), m1 = loss_at(-kH), p1 = loss_at(kH), p2 = loss_at(2 * kH);
      p = saved;
      numeric[i] = (m2 - 8 * m1 + 8 * p1 - p2) / (12 * kH);
    }
    const std::vector<double> got = view_values(analytic, v);
    const ErrorMeasure e = compare(got, numeric, kFloor);
    INFO((fused ? "fused" : "classic") << " path, input " << input_mode_name(input) << ", dropout " << dropout
                                       << ", input dropout " << extra.input_dropout << ", recurrent dropout "
                                       << extra.recurrent_dropout << ", label smoothing " << extra.label_smoothing
                                       << ", view " << v.name << " (" << v.size()
                  << " entries): normwise " << e.normwise << ", elementwise " << e.elementwise << " at "
                  << e.worst << " (analytic " << got[e.worst] << ", numeric " << numeric[e.worst]
                  << "), max abs " << e.max_abs);
    CHECK(e.normwise <= kTolerance);
    CHECK(e.elementwise <= kTolerance);
    // A view whose gradient is all zeros would pass trivially.
    double largest = 0;
    for (double g : got) largest = std::max(largest, std::abs(g));
    CHECK(largest > 1e-4);
  }
  // The loss restored with the original parameters: the check ran on one function.
  model.upload_parameters(params);
  CHECK(train_step_loss(model, kDropoutSeed, kStep) == loss);
}

}  // namespace

TEST_CASE("gradients match central differences: scalar input, no dropout", "[model][gradients]") {
  check_gradients(InputMode::scalar, 0.0);
}

TEST_CASE("gradients match central differences: scalar input, dropout 0.25 with fixed masks",
          "[model][gradients]") {
  check_gradients(InputMode::scalar, 0.25);
}

TEST_CASE("gradients match central differences: embedding input, no dropout", "[model][gradients]") {
  check_gradients(InputMode::embedding, 0.0);
}

TEST_CASE("gradients match central differences: embedding input, dropout 0.25 with fixed masks",
          "[model][gradients]") {
  check_gradients(InputMode::embedding, 0.25);
}

TEST_CASE("fused path: gradients match central differences, scalar and embedding input, dropout off and on",
          "[model][gradients][fused]") {
  for (InputMode input : {InputMode::scalar, InputMode::embedding})
    for (double dropout : {0.0, 0.25}) check_gradients(input, dropout, true);
}

TEST_CASE("gradients match central differences with variational input and recurrent dropout (fixed masks)",
          "[model][gradients][regularisers]") {
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    check_gradients(input, 0.0, false, {0.3, 0.0, 0.0});
    check_gradients(input, 0.0, false, {0.0, 0.3, 0.0});
    check_gradients(input, 0.25, false, {0.3, 0.4, 0.0});
  }
}

TEST_CASE("gradients match central differences with label smoothing, classic and fused paths",
          "[model][gradients][regularisers]") {
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    check_gradients(input, 0.0, false, {0.0, 0.0, 0.2});
    check_gradients(input, 0.25, true, {0.0, 0.0, 0.2});
  }
  check_gradients(InputMode::embedding, 0.25, false, {0.3, 0.3, 0.1});  // everything at once
}

TEST_CASE("a recorded training step sees parameters uploaded after it was recorded", "[model]") {
  auto backend = make_cpu_backend_double();
  const ModelConfig config = small_config(InputMode::scalar, 0.1);
  const auto batch = random_batch(config, kBatch, 6);
  const auto p0 = random_parameters<double>(ParameterLayout(config), 1, 0.5);
  const auto p1 = random_parameters<double>(ParameterLayout(config), 2, 0.5);

  BasicModel<double> a(*backend, config, kBatch);
  a.upload_parameters(p0);
  a.set_batch(batch.tokens, batch.targets);
  const double loss0 = train_step_loss(a, kDropoutSeed, kStep);  // records the step
  a.upload_parameters(p1);
  const double loss1 = train_step_loss(a, kDropoutSeed, kStep);  // replays it
  const auto grads1 = a.download_gradients();

  BasicModel<double> b(*backend, config, kBatch);  // records afresh with p1
  b.upload_parameters(p1);
  b.set_batch(batch.tokens, batch.targets);
  CHECK(loss1 != loss0);
  CHECK(train_step_loss(b, kDropoutSeed, kStep) == loss1);
  CHECK(b.download_gradients() == grads1);

  // A new batch staged after recording is seen too.
  const auto other = random_batch(config, kBatch, 7);
  a.set_batch(other.tokens, other.targets);
  b.set_batch(other.tokens, other.targets);
  const double loss_other = train_step_loss(a, kDropoutSeed, kStep);
  CHECK(loss_other != loss1);
  CHECK(train_step_loss(b, kDropoutSeed, kStep) == loss_other);
}

TEST_CASE("train_step overwrites the gradients and leaves padding at zero", "[model]") {
  auto backend = make_cpu_backend_double();
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = small_config(input, 0.1);
    BasicModel<double> model(*backend, config, kBatch);
    model.upload_parameters(random_parameters<double>(model.layout(), 3, 0.5));
    const auto batch = random_batch(config, kBatch, 8);
    model.set_batch(batch.tokens, batch.targets);
    train_step_loss(model, kDropoutSeed, kStep);
    const auto once = model.download_gradients();
    train_step_loss(model, kDropoutSeed, kStep);
    CHECK(model.download_gradients() == once);  // twice would be 2x if it accumulated
    const auto padding = nocturne::test::padding_indices(model.layout());
    REQUIRE(!padding.empty());
    for (std::size_t i : padding) CHECK(once[i] == 0.0);
  }
}

TEST_CASE("dropout masks are fixed by (seed, step) and redrawn on every replay", "[model][dropout]") {
  auto backend = make_cpu_backend_double();
  const ModelConfig config = small_config(InputMode::scalar, 0.3);
  BasicModel<double> model(*backend, config, kBatch);
  const auto params = random_parameters<double>(model.layout(), 4, 0.5);
  model.upload_parameters(params);
  const auto batch = random_batch(config, kBatch, 9);
  model.set_batch(batch.tokens, batch.targets);

  const double s7 = train_step_loss(model, kDropoutSeed, 7);
  const double s8 = train_step_loss(model, kDropoutSeed, 8);
  CHECK(s8 != s7);                                          // the replay drew a fresh mask
  CHECK(train_step_loss(model, kDropoutSeed, 7) == s7);     // and the same step draws the same one
  const double other_seed = train_step_loss(model, kDropoutSeed + 1, 7);
  CHECK(other_seed != s7);
  CHECK(train_step_loss(model, kDropoutSeed, 7) == s7);     // back to the first seed: re-recorded

  // Without dropout the loss depends on neither; evaluate_step with p > 0
  // (no dropout at inference) gives that same loss.
  BasicModel<double> plain(*backend, small_config(InputMode::scalar, 0.0), kBatch);
  plain.upload_parameters(params);
  plain.set_batch(batch.tokens, batch.targets);
  const double no_dropout = train_step_loss(plain, kDropoutSeed, 7);
  CHECK(train_step_loss(plain, 99, 12345) == no_dropout);
  CHECK(no_dropout != s7);
  model.reset_stats();
  model.evaluate_step();
  CHECK(model.read_stats().loss_sum / kBatch == Approx(no_dropout).epsilon(1e-14));
}

TEST_CASE("a batch below max_batch trains exactly like a model sized for it", "[model]") {
  auto backend = make_cpu_backend_double();
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = small_config(input, 0.2);
    const auto params = random_parameters<double>(ParameterLayout(config), 5, 0.5);
    const auto small = random_batch(config, kBatch, 10);
    const auto big = random_batch(config, kBatch + 2, 11);

    BasicModel<double> exact(*backend, config, kBatch);
    exact.upload_parameters(params);
    exact.set_batch(small.tokens, small.targets);
    const double want = train_step_loss(exact, kDropoutSeed, kStep);
    const auto want_grads = exact.download_gradients();

    BasicModel<double> roomy(*backend, config, kBatch + 2);
    roomy.upload_parameters(params);
    roomy.set_batch(big.tokens, big.targets);
    const double big_loss = train_step_loss(roomy, kDropoutSeed, kStep);  // records batch 5
    roomy.set_batch(small.tokens, small.targets);
    CHECK(train_step_loss(roomy, kDropoutSeed, kStep) == want);         // records batch 3
    CHECK(roomy.download_gradients() == want_grads);
    roomy.set_batch(big.tokens, big.targets);
    CHECK(train_step_loss(roomy, kDropoutSeed, kStep) == big_loss);     // replays batch 5
  }
}

TEST_CASE("predict returns rows of probabilities consistent with evaluate_step", "[model]") {
  auto backend = make_cpu_backend_double();
  const ModelConfig config = small_config(InputMode::embedding, 0.1);
  BasicModel<double> model(*backend, config, kBatch);
  model.upload_parameters(random_parameters<double>(model.layout(), 6, 0.5));
  const auto batch = random_batch(config, kBatch, 12);
  model.set_batch(batch.tokens, batch.targets);
  const auto probs = model.predict();
  REQUIRE(probs.size() == std::size_t(kBatch * config.vocab));
  double loss = 0, correct = 0;
  for (int n = 0; n < kBatch; ++n) {
    const double* row = probs.data() + n * config.vocab;
    double sum = 0;
    int argmax = 0;
    for (int v = 0; v < config.vocab; ++v) {
      CHECK(row[v] > 0);
      sum += row[v];
      if (row[v] > row[argmax]) argmax = v;
    }
    CHECK(sum == Approx(1.0).epsilon(1e-14));
    loss -= std::log(row[batch.targets[std::size_t(n)]]);
    correct += argmax == batch.targets[std::size_t(n)] ? 1 : 0;
  }
  model.reset_stats();
  model.evaluate_step();
  const BatchStats stats = model.read_stats();
  CHECK(stats.loss_sum == Approx(loss).epsilon(1e-13));
  CHECK(stats.correct == correct);
}

TEST_CASE("set_batch and train_step reject shapes that do not fit", "[model]") {
  auto backend = make_cpu_backend_double();
  const ModelConfig config = small_config(InputMode::scalar, 0.0);
  BasicModel<double> model(*backend, config, kBatch);
  const auto batch = random_batch(config, kBatch, 13);
  CHECK_THROWS_AS(model.train_step(1, 0), ShapeError);  // no batch yet
  std::vector<std::int32_t> ragged(batch.tokens.begin(), batch.tokens.end() - 1);
  CHECK_THROWS_AS(model.set_batch(ragged, {}), ShapeError);
  const auto too_many = random_batch(config, kBatch + 1, 14);
  CHECK_THROWS_AS(model.set_batch(too_many.tokens, too_many.targets), ShapeError);
  auto bad_token = batch.tokens;
  bad_token[2] = std::int32_t(config.vocab);
  CHECK_THROWS_AS(model.set_batch(bad_token, batch.targets), ShapeError);
  auto bad_target = batch.targets;
  bad_target[0] = -1;
  CHECK_THROWS_AS(model.set_batch(batch.tokens, bad_target), ShapeError);
  model.set_batch(batch.tokens, {});
  CHECK_THROWS_AS(model.train_step(1, 0), ShapeError);  // predict-only batch
  CHECK(model.predict().size() == std::size_t(kBatch * config.vocab));
  CHECK_THROWS_AS(model.upload_parameters(std::vector<double>(3, 0.0)), ShapeError);
}
