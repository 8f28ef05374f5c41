// The trainer on the CPU backend: it learns a small synthetic task, a seeded
// run is bit-reproducible, each epoch visits every window exactly once in a
// fresh order (the last partial batch included), progress and early stopping,
// evaluation, and the errors bad settings and diverged runs raise.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/trainer.hpp"
#include "nocturne/window_predictor.hpp"

using namespace nocturne;

namespace {

// A token sequence and every window over it (start + window < length).
struct Data {
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> starts;
  Data(std::vector<std::int32_t> t, std::int64_t window) : tokens(std::move(t)) {
    for (std::int64_t s = 0; s + window < std::int64_t(tokens.size()); ++s) starts.push_back(s);
  }
  WindowSet set() const { return WindowSet{tokens, starts}; }
};

// A repeating 12-token phrase over 8 symbols. Tokens 0 to 3 occur twice with
// different successors, so predicting them needs more than the last step.
Data periodic(std::size_t length, int window) {
  static const std::int32_t phrase[] = {0, 3, 1, 3, 2, 5, 7, 1, 4, 6, 2, 0};
  std::vector<std::int32_t> t(length);
  for (std::size_t i = 0; i < length; ++i) t[i] = phrase[i % 12];
  return Data(std::move(t), window);
}

Data random_tokens(std::size_t length, std::int64_t vocab, std::int64_t window, std::uint64_t seed) {
  std::vector<std::int32_t> t(length);
  for (std::size_t i = 0; i < length; ++i)
    t[i] = std::int32_t(random_below(std::uint64_t(vocab), seed, nocturne::test::kTestStream + 9, i));
  return Data(std::move(t), window);
}

ModelConfig task_config(double dropout = 0.1) {
  ModelConfig c;
  c.vocab = 8;
  c.window = 8;
  c.hidden1 = 32;
  c.hidden2 = 16;
  c.dense = 16;
  c.dropout = dropout;
  return c;
}

TrainerConfig trainer_config(int batch, std::uint64_t seed) {
  TrainerConfig t;
  t.batch = batch;
  t.seed = seed;
  return t;  // Adamax with the recipe's hyper-parameters
}

// A learning rate so small that no float parameter moves (|p| * 2^-24 is far
// above 1e-30 * m / (u + eps) for the random parameters below, none of them
// zero): the loss of each step is then the loss of its windows under fixed
// parameters, which identifies them.
constexpr double kFrozenLr = 1e-30;

}  // namespace

TEST_CASE("the trainer learns a periodic sequence", "[trainer]") {
  auto backend = make_cpu_backend();
  Model model(*backend, task_config(), 32);
  model.initialize(1);
  Trainer trainer(model, trainer_config(32, 3));
  const Data train = periodic(365, 8);  // 357 windows: 11 full batches and one of 5
  REQUIRE(train.starts.size() % 32 != 0);
  const Evaluation before = trainer.evaluate(train.set());
  CHECK(before.loss == Approx(std::log(8.0)).epsilon(0.1));  // near uniform at the start

  EpochResult last;
  for (int e = 1; e <= 15; ++e) {
    last = trainer.train_epoch(train.set());
    CHECK(last.completed);
    CHECK(last.epoch == e);
    CHECK(std::isfinite(last.loss));
    CHECK(last.windows_per_second > 0);
  }
  CHECK(trainer.epochs_done() == 15);
  CHECK(trainer.optimizer().steps_taken() == 15 * 12);
  const Evaluation after = trainer.evaluate(train.set());
  INFO("loss " << before.loss << " -> " << after.loss << " (last epoch " << last.loss << "), accuracy "
               << before.accuracy << " -> " << after.accuracy);
  CHECK(last.loss < 0.5 * before.loss);
  CHECK(after.loss < 0.5 * before.loss);
  CHECK(after.accuracy > before.accuracy + 0.4);
}

TEST_CASE("a seeded run is bit-reproducible on the CPU", "[trainer]") {
  auto backend = make_cpu_backend();
  const Data train = periodic(200, 8);
  auto run = [&](std::uint64_t seed) {
    Model model(*backend, task_config(), 16);
    model.initialize(5);
    Trainer trainer(model, trainer_config(16, seed));
    std::vector<double> losses;
    for (int e = 0; e < 3; ++e) {
      const EpochResult r = trainer.train_epoch(train.set(), nullptr, [&](const Progress& p) {
        losses.push_back(p.loss);
        return true;
      });
      losses.push_back(r.loss);
      losses.push_back(r.accuracy);
    }
    return std::make_pair(losses, model.download_parameters());
  };
  const auto a = run(7), b = run(7), c = run(8);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
  CHECK(a.second != c.second);  // the seed drives shuffling and dropout
}

TEST_CASE("each epoch sees every window once, in a fresh order, last partial batch included", "[trainer]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = task_config(0.0);  // no dropout: a window's loss is fixed
  Model model(*backend, config, 5);
  model.upload_parameters(nocturne::test::random_parameters<float>(model.layout(), 9, 0.5));
  const Data data = random_tokens(31, config.vocab, config.window, 4);  // 23 windows
  const std::size_t total = data.starts.size();
  REQUIRE(total == 23);

  // Each window's loss on its own.
  Trainer probe(model, trainer_config(1, 1));
  std::vector<double> window_loss(total);
  for (std::size_t k = 0; k < total; ++k) {
    const std::int64_t start[] = {data.starts[k]};
    window_loss[k] = probe.evaluate(WindowSet{data.tokens, start}).loss;
  }
  std::vector<double> sorted = window_loss;
  std::sort(sorted.begin(), sorted.end());
  double gap = std::numeric_limits<double>::infinity();
  for (std::size_t k = 1; k < total; ++k) gap = std::min(gap, sorted[k] - sorted[k - 1]);
  REQUIRE(gap > 1e-3);  // distinct enough to tell the windows apart from float sums

  // Batch 1 and a frozen model: the running loss after each step reveals which window it was.
  TrainerConfig tc = trainer_config(1, 11);
  tc.adamax.learning_rate = kFrozenLr;
  const auto initial = model.download_parameters();
  auto epoch_order = [&](Trainer& trainer) {
    std::vector<std::size_t> order;
    double previous_sum = 0;
    const EpochResult r = trainer.train_epoch(data.set(), nullptr, [&](const Progress& p) {
      const double sum = p.loss * double(p.windows_done);
      const double loss = sum - previous_sum;
      previous_sum = sum;
      std::size_t best = 0;
      for (std::size_t k = 1; k < total; ++k)
        if (std::abs(window_loss[k] - loss) < std::abs(window_loss[best] - loss)) best = k;
      CHECK(std::abs(window_loss[best] - loss) < 1e-4);
      order.push_back(best);
      return true;
    });
    CHECK(r.completed);
    return order;
  };
  Trainer trainer(model, tc);
  const auto e1 = epoch_order(trainer), e2 = epoch_order(trainer), e3 = epoch_order(trainer);
  CHECK(model.download_parameters() == initial);  // frozen indeed
  std::vector<std::size_t> identity(total);
  std::iota(identity.begin(), identity.end(), std::size_t{0});
  for (const auto* order : {&e1, &e2, &e3}) {
    std::vector<std::size_t> seen = *order;
    std::sort(seen.begin(), seen.end());
    CHECK(seen == identity);  // a permutation: every window exactly once
    CHECK(*order != identity);  // shuffled
  }
  CHECK(e1 != e2);  // reshuffled every epoch
  CHECK(e2 != e3);

  // The same seed gives the same orders; another seed others.
  Model twin(*backend, config, 5);
  twin.upload_parameters(initial);
  Trainer same(twin, tc);
  CHECK(epoch_order(same) == e1);
  tc.seed = 12;
  Trainer other(twin, tc);
  CHECK(epoch_order(other) != e1);
}

TEST_CASE("progress counts windows up to the total and the epoch loss covers them all", "[trainer]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = task_config(0.0);
  Model model(*backend, config, 5);
  model.upload_parameters(nocturne::test::random_parameters<float>(model.layout(), 9, 0.5));
  const Data data = random_tokens(31, config.vocab, config.window, 4);  // 23 windows, batch 5: 4 x 5 + 3
  TrainerConfig tc = trainer_config(5, 2);
  tc.adamax.learning_rate = kFrozenLr;
  Trainer trainer(model, tc);
  const Evaluation eval = trainer.evaluate(data.set());

  std::vector<Progress> progress;
  const EpochResult r = trainer.train_epoch(data.set(), nullptr, [&](const Progress& p) {
    progress.push_back(p);
    return true;
  });
  REQUIRE(progress.size() == 5);
  for (std::size_t k = 0; k < progress.size(); ++k) {
    CHECK(progress[k].epoch == 1);
    CHECK(progress[k].step == std::int64_t(k + 1));
    CHECK(progress[k].steps == 5);
    CHECK(progress[k].windows_total == 23);
    CHECK(progress[k].windows_done == std::min<std::int64_t>(5 * std::int64_t(k + 1), 23));
  }
  CHECK(progress.back().windows_done == progress.back().windows_total);
  CHECK(r.completed);
  // Every window counted once: the frozen model's epoch mean is the evaluation's.
  CHECK(r.loss == Approx(eval.loss).epsilon(1e-5));
  CHECK(r.accuracy == Approx(eval.accuracy).margin(1e-9));
  CHECK(progress.back().loss == Approx(r.loss).epsilon(1e-12));

  // stats_every: progress only every third step, and always at the last.
  tc.stats_every = 3;
  Trainer sparse(model, tc);
  std::vector<std::int64_t> steps;
  sparse.train_epoch(data.set(), nullptr, [&](const Progress& p) {
    steps.push_back(p.step);
    return true;
  });
  CHECK(steps == std::vector<std::int64_t>{3, 5});
}

TEST_CASE("on_progress returning false stops the epoch early", "[trainer]") {
  auto backend = make_cpu_backend();
  Model model(*backend, task_config(), 8);
  model.initialize(1);
  Trainer trainer(model, trainer_config(8, 1));
  const Data train = periodic(100, 8);  // 92 windows: 12 steps
  int calls = 0;
  const EpochResult r = trainer.train_epoch(train.set(), nullptr, [&](const Progress& p) {
    ++calls;
    return p.step < 2;
  });
  CHECK_FALSE(r.completed);
  CHECK(r.epoch == 1);
  CHECK(calls == 2);
  CHECK(trainer.epochs_done() == 0);  // a stopped epoch does not count
  CHECK(trainer.optimizer().steps_taken() == 2);
  const EpochResult again = trainer.train_epoch(train.set());
  CHECK(again.completed);
  CHECK(again.epoch == 1);
  CHECK(trainer.epochs_done() == 1);
}

TEST_CASE("evaluate reports mean loss, accuracy and perplexity = exp(loss)", "[trainer]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = task_config();
  Model model(*backend, config, 16);
  model.initialize(21);
  const Data data = random_tokens(60, config.vocab, config.window, 6);  // 52 windows: 3 full chunks of 16 and 4
  Trainer trainer(model, trainer_config(16, 1));
  const Evaluation e = trainer.evaluate(data.set());
  CHECK(e.windows == 52);
  CHECK(e.perplexity == Approx(std::exp(e.loss)).epsilon(1e-12));

  // The same figures from predict(), one window at a time.
  double loss = 0, correct = 0;
  for (std::int64_t s : data.starts) {
    std::vector<std::int32_t> tokens(data.tokens.begin() + s, data.tokens.begin() + s + config.window);
    model.set_batch(tokens, {});
    const auto probs = model.predict();
    const std::int32_t target = data.tokens[std::size_t(s + config.window)];
    loss -= std::log(double(probs[std::size_t(target)]));
    correct += std::max_element(probs.begin(), probs.end()) - probs.begin() == target ? 1 : 0;
  }
  CHECK(e.loss == Approx(loss / 52).epsilon(1e-5));
  CHECK(e.accuracy == Approx(correct / 52).margin(1e-12));

  // With a validation set, train_epoch evaluates after the epoch.
  const Data train = periodic(100, 8);
  const WindowSet validation = data.set();
  const EpochResult r = trainer.train_epoch(train.set(), &validation);
  REQUIRE(r.validation.has_value());
  const Evaluation direct = trainer.evaluate(data.set());
  CHECK(r.validation->loss == direct.loss);
  CHECK(r.validation->windows == 52);
}

TEST_CASE("bad settings throw ConfigError naming the field", "[trainer][config]") {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  struct Bad {
    ModelConfig config;
    const char* field;
  };
  auto with = [](auto change) {
    ModelConfig c = task_config();
    change(c);
    return c;
  };
  const std::vector<Bad> bad = {
      {with([](ModelConfig& c) { c.vocab = 0; }), "vocabulary"},
      {with([](ModelConfig& c) { c.window = 0; }), "window"},
      {with([](ModelConfig& c) { c.hidden1 = 0; }), "hidden1"},
      {with([](ModelConfig& c) { c.hidden2 = -3; }), "hidden2"},
      {with([](ModelConfig& c) { c.dense = 0; }), "dense"},
      {with([](ModelConfig& c) { c.dropout = 1.0; }), "dropout"},
      {with([](ModelConfig& c) { c.dropout = -0.1; }), "dropout"},
      {with([](ModelConfig& c) { c.dropout = nan; }), "dropout"},
      {with([](ModelConfig& c) {
         c.input = InputMode::embedding;
         c.embedding_dim = 0;
       }),
       "embedding_dim"},
  };
  auto backend = make_cpu_backend();
  for (const Bad& b : bad) {
    INFO("expecting a ConfigError naming " << b.field);
    CHECK_THROWS_AS(b.config.validate(), ConfigError);
    CHECK_THROWS_WITH(b.config.validate(), Catch::Contains(b.field));
    CHECK_THROWS_AS((Model(*backend, b.config, 4)), ConfigError);
  }
  CHECK_NOTHROW(task_config().validate());
  CHECK_THROWS_AS((Model(*backend, task_config(), 0)), ConfigError);
  CHECK_THROWS_WITH(parse_input_mode("onehot"), Catch::Contains("onehot"));

  Model model(*backend, task_config(), 8);
  struct BadTrainer {
    TrainerConfig config;
    const char* field;
  };
  std::vector<BadTrainer> trainer_bad(5, BadTrainer{trainer_config(8, 1), ""});
  trainer_bad[0].config.adamax.learning_rate = nan;
  trainer_bad[0].field = "learning rate";
  trainer_bad[1].config.adamax.beta1 = 1.0;
  trainer_bad[1].field = "beta1";
  trainer_bad[2].config.batch = 0;
  trainer_bad[2].field = "batch";
  trainer_bad[3].config.batch = -3;
  trainer_bad[3].field = "-3";
  trainer_bad[4].config.stats_every = 0;
  trainer_bad[4].field = "stats_every";
  for (const BadTrainer& b : trainer_bad) {
    INFO("expecting a ConfigError naming " << b.field);
    CHECK_THROWS_WITH(b.config.validate(), Catch::Contains(b.field));
    CHECK_THROWS_AS((Trainer(model, b.config)), ConfigError);
  }
  // A batch the model was not sized for.
  CHECK_THROWS_WITH((Trainer(model, trainer_config(9, 1))), Catch::Contains("batch"));
}

TEST_CASE("sizes above INT_MAX are refused naming the field, before anything is allocated", "[trainer][config]") {
  // The public sizes are std::int64_t; the ops take int. Each value below
  // wraps to a small valid size if cast to int (2^32 + k -> k), so a
  // narrowing that is not checked would build a model instead of throwing.
  constexpr std::int64_t kWraps = std::int64_t{1} << 32;
  static_assert(kWraps > std::int64_t{std::numeric_limits<int>::max()});
  struct Huge {
    std::int64_t ModelConfig::*size;
    const char* field;
  };
  const Huge huge[] = {{&ModelConfig::vocab, "vocabulary size"}, {&ModelConfig::window, "window"},
                       {&ModelConfig::hidden1, "hidden1"},       {&ModelConfig::hidden2, "hidden2"},
                       {&ModelConfig::dense, "dense"},           {&ModelConfig::embedding_dim, "embedding_dim"}};
  auto backend = make_cpu_backend();
  for (const Huge& h : huge) {
    ModelConfig c = task_config();
    c.input = InputMode::embedding;
    c.*h.size = kWraps + 8;
    INFO("expecting a ConfigError naming " << h.field);
    CHECK_THROWS_WITH(c.validate(), Catch::Contains(h.field));
    CHECK_THROWS_WITH(model_dims(c), Catch::Contains(h.field));
    // The size check run before allocating (require_model_memory), and the constructor itself.
    CHECK_THROWS_WITH(Model::memory_bytes(c, 4), Catch::Contains(h.field));
    CHECK_THROWS_AS((Model(*backend, c, 4)), ConfigError);
    CHECK_THROWS_WITH((Model(*backend, c, 4)), Catch::Contains(h.field));
  }
  // Counts given to the model and the ops directly.
  CHECK_THROWS_AS((Model(*backend, task_config(), kWraps + 8)), ConfigError);
  CHECK_THROWS_WITH((Model(*backend, task_config(), kWraps + 8)), Catch::Contains("batch size"));
  Model model(*backend, task_config(), 4);
  CHECK_THROWS_AS((WindowPredictor(model, kWraps + 2)), ConfigError);
  CHECK_THROWS_WITH((WindowPredictor(model, kWraps + 2)), Catch::Contains("streams"));
  SamplingOptions sampling;
  sampling.greedy = false;
  sampling.top_k = kWraps + 1;
  const std::vector<float> probs = {0.25f, 0.5f, 0.25f};
  CHECK_THROWS_AS(choose_token(probs, sampling, 1, 0, 0), ConfigError);
  CHECK_THROWS_WITH(choose_token(probs, sampling, 1, 0, 0), Catch::Contains("top-k"));
  // The narrowed dimensions of a valid config are its sizes.
  const ModelDims d = model_dims(task_config());
  CHECK(d.vocab == task_config().vocab);
  CHECK(d.hidden1 == task_config().hidden1);
  CHECK(d.input == 1);
}

TEST_CASE("a window longer than the data throws ConfigError", "[trainer][config]") {
  auto backend = make_cpu_backend();
  Model model(*backend, task_config(), 8);
  model.initialize(1);
  Trainer trainer(model, trainer_config(8, 1));
  const Data tiny = periodic(6, 8);  // 6 tokens, window 8: no windows at all
  REQUIRE(tiny.starts.empty());
  CHECK_THROWS_AS(trainer.train_epoch(tiny.set()), ConfigError);
  CHECK_THROWS_WITH(trainer.train_epoch(tiny.set()), Catch::Contains("window"));
  CHECK_THROWS_AS(trainer.evaluate(tiny.set()), ConfigError);
  // A window start that runs past the tokens is a shape error.
  const Data data = periodic(20, 8);
  const std::int64_t past[] = {0, 12};  // 12 + 8 = 20: no target token left
  CHECK_THROWS_AS(trainer.train_epoch(WindowSet{data.tokens, past}), ShapeError);
  CHECK(trainer.epochs_done() == 0);
}

TEST_CASE("a NaN loss throws TrainingError naming the epoch and step", "[trainer]") {
  auto backend = make_cpu_backend();
  Model model(*backend, task_config(), 8);
  model.initialize(1);
  Trainer trainer(model, trainer_config(8, 1));
  const Data train = periodic(60, 8);  // 52 windows: 7 steps
  CHECK(trainer.train_epoch(train.set()).completed);

  auto poisoned = model.download_parameters();
  poisoned[model.layout().view("dense2.W").offset] = std::numeric_limits<float>::quiet_NaN();
  model.upload_parameters(poisoned);
  try {
    trainer.train_epoch(train.set());
    FAIL("no TrainingError");
  } catch (const TrainingError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("NaN") != std::string::npos);
    CHECK(what.find("epoch 2") != std::string::npos);
    CHECK(what.find("step 1") != std::string::npos);
  }
  CHECK(trainer.epochs_done() == 1);

  // With stats read every 4 steps the error names the step it was found at.
  TrainerConfig tc = trainer_config(8, 1);
  tc.stats_every = 4;
  Trainer sparse(model, tc);
  CHECK_THROWS_WITH(sparse.train_epoch(train.set()), Catch::Contains("epoch 1") && Catch::Contains("step 4"));
}

// The loss and accuracy sums live in double on the device whatever the model's
// scalar: thousands of float batch losses add up without drift.
TEST_CASE("running loss sums of a float model do not drift over many batches", "[model][stats]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = test::small_config(InputMode::scalar, 0.0);
  Model model(*backend, config, 4);
  model.initialize(3);
  const test::TestBatch batch = test::random_batch(config, 4, 9);
  model.set_batch(batch.tokens, batch.targets);
  model.reset_stats();
  model.evaluate_step();
  const BatchStats one = model.read_stats();
  REQUIRE(one.loss_sum > 0);
  model.reset_stats();
  const int batches = 5000;
  for (int i = 0; i < batches; ++i) model.evaluate_step();
  const BatchStats many = model.read_stats();
  CHECK(many.loss_sum == Approx(batches * one.loss_sum).epsilon(1e-12));
  CHECK(many.correct == batches * one.correct);
}
