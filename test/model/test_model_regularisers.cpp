// The regularisers at the model, optimiser and trainer level (CPU backend):
// variational dropout's masks (the same at every step of a window, different
// across windows and batches, off at evaluation), label smoothing left out of
// evaluation, decoupled weight decay against a hand-computed update and on
// the weight matrices only, and the learning-rate schedule.
// (The gradients with the masks and smoothing: test_model_gradients.cpp.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/trainer.hpp"

using namespace nocturne;
using nocturne::test::random_batch;
using nocturne::test::random_parameters;
using nocturne::test::small_config;
using nocturne::test::train_step_loss;

namespace {

constexpr int kBatch = 16;
constexpr std::uint64_t kSeed = 77;

// A model with embedding input whose table is all ones: layer 1's input is
// then exactly its mask.
struct MaskedModel {
  std::unique_ptr<BasicBackend<double>> backend = make_cpu_backend_double();
  ModelConfig config;
  std::unique_ptr<BasicModel<double>> model;
  MaskedModel(double input_dropout, double recurrent_dropout) {
    config = small_config(InputMode::embedding, 0.0);
    config.input_dropout = input_dropout;
    config.recurrent_dropout = recurrent_dropout;
    model = std::make_unique<BasicModel<double>>(*backend, config, kBatch);
    auto params = random_parameters<double>(model->layout(), 3, 0.5);
    const ParameterView& e = model->layout().view("embedding");
    std::fill(params.begin() + std::ptrdiff_t(e.offset), params.begin() + std::ptrdiff_t(e.offset + e.size()), 1.0);
    model->upload_parameters(params);
    const auto batch = random_batch(config, kBatch, 4);
    model->set_batch(batch.tokens, batch.targets);
  }
};

// The per-window mask of a [W, N, width] buffer: checks that step t equals
// step 0 (times `base` where given: the mask is value / base) and returns step 0's mask.
std::vector<double> mask_of(const std::vector<double>& values, const std::vector<double>* base, int window,
                            std::size_t per_step) {
  std::vector<double> mask(per_step);
  for (std::size_t i = 0; i < per_step; ++i) {
    const double b0 = base ? (*base)[i] : 1.0;
    mask[i] = values[i] / b0;
    for (std::size_t t = 1; t < std::size_t(window); ++t) {
      const double bt = base ? (*base)[t * per_step + i] : 1.0;
      INFO("step " << t << ", element " << i);
      REQUIRE(values[t * per_step + i] == Approx(mask[i] * bt).margin(1e-15));
    }
  }
  return mask;
}

// Rows (windows) of a [N, width] mask that differ from row 0.
int rows_differing(const std::vector<double>& mask, std::size_t width) {
  int differing = 0;
  for (std::size_t n = 1; n < mask.size() / width; ++n)
    if (!std::equal(mask.begin(), mask.begin() + std::ptrdiff_t(width), mask.begin() + std::ptrdiff_t(n * width)))
      ++differing;
  return differing;
}

}  // namespace

TEST_CASE("input dropout: one mask for every step of a window, new for other windows and batches",
          "[model][dropout][regularisers]") {
  const double p = 0.5;
  MaskedModel m(p, 0.0);
  const int w = m.model->dims().window;
  const std::size_t f = std::size_t(m.config.embedding_dim), h1 = std::size_t(m.config.hidden1);
  train_step_loss(*m.model, kSeed, 7);
  const auto x1 = m.model->download_activation("lstm1.x");
  const auto mask1 = mask_of(x1, nullptr, w, kBatch * f);
  for (double v : mask1) CHECK((v == 0.0 || v == 1.0 / (1.0 - p)));
  const auto dropped = std::count(mask1.begin(), mask1.end(), 0.0);
  CHECK(dropped > 0);
  CHECK(dropped < std::ptrdiff_t(mask1.size()));
  CHECK(rows_differing(mask1, f) > 0);
  // Layer 2's input: h1 times a mask of its own, also constant over the steps.
  const auto h1_values = m.model->download_activation("lstm1.h");
  const auto x2 = m.model->download_activation("lstm2.x");
  std::vector<double> ratio(x2.size());
  for (std::size_t i = 0; i < x2.size(); ++i) ratio[i] = x2[i] / h1_values[i];
  const auto mask2 = mask_of(ratio, nullptr, w, kBatch * h1);
  for (double v : mask2) CHECK((v == Approx(0.0).margin(1e-15) || v == Approx(1.0 / (1.0 - p))));
  CHECK(rows_differing(mask2, h1) > 0);

  // Another batch (step) draws another mask; the same step the same one.
  train_step_loss(*m.model, kSeed, 8);
  CHECK(mask_of(m.model->download_activation("lstm1.x"), nullptr, w, kBatch * f) != mask1);
  train_step_loss(*m.model, kSeed, 7);
  CHECK(mask_of(m.model->download_activation("lstm1.x"), nullptr, w, kBatch * f) == mask1);

  // Evaluation has no masks: the embedding's ones go through unchanged.
  m.model->reset_stats();
  m.model->evaluate_step();
  for (double v : m.model->download_activation("lstm1.x")) CHECK(v == 1.0);
}

TEST_CASE("recurrent dropout: the recurrent state's mask is the same at every step, off at evaluation",
          "[model][dropout][regularisers]") {
  const double p = 0.4;
  MaskedModel m(0.0, p);
  const int w = m.model->dims().window;
  const std::size_t h1 = std::size_t(m.config.hidden1), h2 = std::size_t(m.config.hidden2);
  const double plain_loss = [&] {
    MaskedModel none(0.0, 0.0);
    return train_step_loss(*none.model, kSeed, 3);
  }();
  const double loss = train_step_loss(*m.model, kSeed, 3);
  CHECK(loss != plain_loss);  // the mask changed the forward
  for (const char* layer : {"lstm1", "lstm2"}) {
    const std::size_t width = std::string(layer) == "lstm1" ? h1 : h2;
    const auto h = m.model->download_activation(std::string(layer) + ".h");
    const auto hm = m.model->download_activation(std::string(layer) + ".h_masked");
    const auto mask = mask_of(hm, &h, w, kBatch * width);
    INFO(layer);
    for (double v : mask) CHECK((v == Approx(0.0).margin(1e-15) || v == Approx(1.0 / (1.0 - p))));
    CHECK(std::count_if(mask.begin(), mask.end(), [](double v) { return v == 0.0; }) > 0);
    CHECK(rows_differing(mask, width) > 0);
  }
  m.model->reset_stats();
  m.model->evaluate_step();
  CHECK_THROWS_AS(m.model->download_activation("lstm1.h_masked"), ConfigError);
  // Evaluation equals the unregularised model's (no mask at inference).
  MaskedModel none(0.0, 0.0);
  none.model->reset_stats();
  none.model->evaluate_step();
  CHECK(m.model->read_stats().loss_sum == none.model->read_stats().loss_sum);
}

TEST_CASE("the fused schedules refuse variational dropout with a ConfigError", "[model][dropout][regularisers]") {
  for (bool persistent : {false, true}) {
    CpuOptions options;
    options.fused_lstm = !persistent;
    options.persistent_lstm = persistent;
    auto backend = make_cpu_backend_double(options);
    for (auto [input, recurrent] : {std::pair{0.2, 0.0}, std::pair{0.0, 0.2}}) {
      ModelConfig config = small_config(InputMode::embedding, 0.1);
      config.input_dropout = input;
      config.recurrent_dropout = recurrent;
      CHECK_THROWS_AS(BasicModel<double>(*backend, config, 4), ConfigError);
    }
  }
}

TEST_CASE("label smoothing changes the training loss but not evaluation's cross-entropy", "[model][regularisers]") {
  auto backend = make_cpu_backend_double();
  ModelConfig plain_config = small_config(InputMode::embedding, 0.0), smooth_config = plain_config;
  smooth_config.label_smoothing = 0.2;
  BasicModel<double> plain(*backend, plain_config, 4), smooth(*backend, smooth_config, 4);
  const auto params = random_parameters<double>(plain.layout(), 9, 0.5);
  plain.upload_parameters(params);
  smooth.upload_parameters(params);
  const auto batch = random_batch(plain_config, 4, 2);
  for (auto* m : {&plain, &smooth}) m->set_batch(batch.tokens, batch.targets);
  CHECK(train_step_loss(smooth, 1, 1) != train_step_loss(plain, 1, 1));
  for (auto* m : {&plain, &smooth}) {
    m->reset_stats();
    m->evaluate_step();
  }
  CHECK(smooth.read_stats().loss_sum == plain.read_stats().loss_sum);
}

TEST_CASE("model settings refuse regulariser rates outside [0, 1)", "[model][config][regularisers]") {
  for (double bad : {-0.1, 1.0, std::nan("")}) {
    ModelConfig c = small_config(InputMode::embedding, 0.1);
    c.input_dropout = bad;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("input dropout"));
    c.input_dropout = 0;
    c.recurrent_dropout = bad;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("recurrent dropout"));
    c.recurrent_dropout = 0;
    c.label_smoothing = bad;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("label smoothing"));
  }
}

TEST_CASE("decoupled weight decay: one update against a hand-computed one", "[optimizer][regularisers]") {
  auto backend = make_cpu_backend_double();
  // lr 0.01, weight decay 0.1: p -= lr * wd * p, then Adamax's step of size
  // lr / (1 - 0.9) * m / (u + eps) with m = 0.1 g, u = |g|. By hand for
  // p = 1, g = 1: 1 - 0.001 - 0.1 * 0.1 / (1 + 1e-7) = 0.989000001 (and
  // Python float64 of the same expressions for all three, printed by repr()).
  const AdamaxParams hp{0.01, 0.9, 0.999, 1e-7, 0.1};
  BasicAdamax<double> opt(*backend, 3, hp);
  Buffer<double> params = backend->upload<double>(std::vector<double>{1.0, -0.5, 0.25});
  Buffer<double> grads = backend->upload<double>(std::vector<double>{1.0, -0.2, 0.0});
  opt.step(params.data(), grads.data());
  const auto p = backend->download(params);
  CHECK(p[0] == Approx(0.9890000009999999).epsilon(1e-15));
  CHECK(p[1] == Approx(-0.4895000049999975).epsilon(1e-15));
  CHECK(p[2] == Approx(0.24975).epsilon(1e-15));  // no gradient: decay alone
  // Without decay the same step leaves p[2] where it was.
  BasicAdamax<double> plain(*backend, 3, AdamaxParams{0.01, 0.9, 0.999, 1e-7});
  Buffer<double> q = backend->upload<double>(std::vector<double>{1.0, -0.5, 0.25});
  plain.step(q.data(), grads.data());
  CHECK(backend->download(q)[2] == 0.25);

  AdamaxParams negative = hp;
  negative.weight_decay = -0.1;
  CHECK_THROWS_WITH(validate(negative), Catch::Contains("weight decay"));
}

TEST_CASE("weight decay shrinks the weight matrices only: not biases, embedding or padding",
          "[optimizer][regularisers]") {
  auto backend = make_cpu_backend_double();
  const ModelConfig config = small_config(InputMode::embedding, 0.1);
  BasicModel<double> model(*backend, config, 2);
  const auto before = random_parameters<double>(model.layout(), 5, 0.5);
  model.upload_parameters(before);
  const AdamaxParams hp{0.01, 0.9, 0.999, 1e-7, 0.5};
  BasicAdamax<double> opt(model, hp);
  Buffer<double> zero = backend->allocate<double>(model.parameters().size());
  opt.step(model.parameters().data(), zero.data());  // zero gradients: the decay is all that moves
  const auto after = model.download_parameters();
  for (const ParameterView& v : model.layout().views()) {
    const bool decays = v.name.ends_with(".W") || v.name.ends_with(".R");
    INFO(v.name);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double b = before[v.offset + i];
      if (decays)
        CHECK(after[v.offset + i] == Approx(b - 0.01 * 0.5 * b).epsilon(1e-15));
      else
        CHECK(after[v.offset + i] == b);
    }
  }
  for (std::size_t i : nocturne::test::padding_indices(model.layout())) CHECK(after[i] == 0.0);
}

TEST_CASE("learning-rate schedule: warm-up, then constant, cosine or linear decay to the floor",
          "[trainer][regularisers]") {
  using Kind = LearningRateSchedule::Kind;
  LearningRateSchedule s;
  s.warmup = 2;
  s.decay_end = 7;
  s.floor = 0.1;
  const double lr = 0.01;
  for (Kind kind : {Kind::constant, Kind::cosine, Kind::linear}) {
    s.kind = kind;
    INFO(schedule_name(kind));
    CHECK(s.rate(lr, 1) == Approx(lr / 3));
    CHECK(s.rate(lr, 2) == Approx(2 * lr / 3));
    CHECK(s.rate(lr, 3) == Approx(lr));  // the first epoch after the warm-up trains at the full rate
  }
  s.kind = Kind::constant;
  CHECK(s.rate(lr, 50) == lr);
  // Progress q = (epoch - 3) / (7 - 3): cosine lr_f + (lr - lr_f)(1 + cos(pi q)) / 2, linear lr - (lr - lr_f) q.
  s.kind = Kind::cosine;
  CHECK(s.rate(lr, 4) == Approx(0.001 + 0.009 * 0.5 * (1 + std::cos(M_PI / 4))));
  CHECK(s.rate(lr, 5) == Approx(0.0055));
  CHECK(s.rate(lr, 7) == Approx(0.001));
  CHECK(s.rate(lr, 30) == Approx(0.001));
  s.kind = Kind::linear;
  CHECK(s.rate(lr, 4) == Approx(0.00775));
  CHECK(s.rate(lr, 7) == Approx(0.001));
  CHECK(s.rate(lr, 9) == Approx(0.001));

  CHECK(parse_schedule("cosine") == Kind::cosine);
  CHECK_THROWS_WITH(parse_schedule("step"), Catch::Contains("constant, cosine or linear"));
  LearningRateSchedule bad = s;
  bad.floor = 0;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("floor"));
  bad = s;
  bad.warmup = -1;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("warm-up"));
}

TEST_CASE("the trainer trains each epoch at its scheduled rate", "[trainer][regularisers]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = small_config(InputMode::embedding, 0.0);
  Model model(*backend, config, 8);
  model.initialize(1);
  std::vector<std::int32_t> tokens(60);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int32_t(i * 5 % 7);
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + config.window < std::int64_t(tokens.size()); ++s) starts.push_back(s);
  TrainerConfig tc;
  tc.batch = 8;
  tc.adamax.learning_rate = 0.02;
  tc.schedule.kind = LearningRateSchedule::Kind::linear;
  tc.schedule.warmup = 1;
  tc.schedule.decay_end = 4;
  tc.schedule.floor = 0.5;
  Trainer trainer(model, tc);
  const WindowSet set{tokens, starts};
  const double want[] = {0.01, 0.02, 0.015, 0.01, 0.01};
  for (double rate : want) {
    const EpochResult r = trainer.train_epoch(set);
    CHECK(r.learning_rate == Approx(rate));
    CHECK(trainer.optimizer().params().learning_rate == Approx(rate));
  }
  CHECK(trainer.config().adamax.learning_rate == 0.02);  // the base rate, as checkpoints keep it
}
