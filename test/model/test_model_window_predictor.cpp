// WindowPredictor against the model's own forward pass: for every stream and
// every push, the probabilities must be those of BasicModel::predict over the
// stream's last W tokens from a zero state. Pushes run well past W so every
// slot is reused several times.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/window_predictor.hpp"

using namespace nocturne;

namespace {

// Probabilities [n, V] of BasicModel::predict for each stream's window.
template <typename T>
std::vector<T> predict_windows(BasicModel<T>& model, const std::vector<std::vector<std::int32_t>>& streams,
                               std::size_t end) {
  const std::size_t w = std::size_t(model.config().window), n = streams.size();
  std::vector<std::int32_t> staged(w * n);  // time-major
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t t = 0; t < w; ++t) staged[t * n + b] = streams[b][end - w + t];
  model.set_batch(staged, {});
  return model.predict();
}

template <typename T>
double max_abs_difference(const std::vector<T>& a, const std::vector<T>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

// Runs `pushes` pushes on random streams; returns the largest difference from
// the direct forward pass over all predictions.
template <typename T>
double predictor_error(BasicBackend<T>& backend, const ModelConfig& config, int stream_count, std::int64_t pushes,
                       std::uint64_t seed) {
  BasicModel<T> model(backend, config, stream_count);
  model.upload_parameters(test::random_parameters<T>(model.layout(), seed, 0.4));
  const std::size_t w = std::size_t(config.window);
  std::vector<std::vector<std::int32_t>> streams(static_cast<std::size_t>(stream_count));
  std::uint64_t draw = 0;
  for (auto& s : streams)
    for (std::size_t i = 0; i < w + std::size_t(pushes); ++i)
      s.push_back(std::int32_t(random_below(std::uint64_t(config.vocab), seed, test::kTestStream, draw++)));

  BasicWindowPredictor<T> predictor(model, stream_count);
  std::vector<std::int32_t> windows;
  for (const auto& s : streams) windows.insert(windows.end(), s.begin(), s.begin() + std::ptrdiff_t(w));
  double worst = max_abs_difference(predictor.start(windows), predict_windows(model, streams, w));
  std::vector<std::int32_t> next(static_cast<std::size_t>(stream_count));
  for (int p = 0; p < pushes; ++p) {
    const std::size_t end = w + std::size_t(p) + 1;
    for (std::size_t b = 0; b < next.size(); ++b) next[b] = streams[b][end - 1];
    worst = std::max(worst, max_abs_difference(predictor.push(next), predict_windows(model, streams, end)));
  }
  return worst;
}

}  // namespace

TEST_CASE("window predictor equals the forward pass over each window, in double", "[model][predictor]") {
  auto backend = make_cpu_backend_double();
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = test::small_config(input, 0.2);  // dropout is off when predicting
    for (int streams : {1, 3}) {
      INFO("input " << input_mode_name(input) << ", " << streams << " streams");
      CHECK(predictor_error(*backend, config, streams, 3 * config.window + 2, 17) < 1e-13);
    }
  }
}

TEST_CASE("window predictor equals the forward pass in float at a wider model", "[model][predictor]") {
  auto backend = make_cpu_backend();
  ModelConfig config;
  config.vocab = 31;
  config.window = 12;
  config.hidden1 = 40;
  config.hidden2 = 24;
  config.dense = 16;
  CHECK(predictor_error(*backend, config, 2, 30, 5) < 2e-6);
}

TEST_CASE("window predictor rejects bad use", "[model][predictor]") {
  auto backend = make_cpu_backend();
  const ModelConfig config = test::small_config(InputMode::scalar, 0.0);
  Model model(*backend, config, 1);
  model.initialize(1);
  CHECK_THROWS_AS(WindowPredictor(model, 0), ConfigError);
  WindowPredictor predictor(model, 2);
  const std::vector<std::int32_t> two = {1, 2};
  CHECK_THROWS_AS(predictor.push(two), ShapeError);  // before start
  CHECK_THROWS_AS(predictor.start(std::vector<std::int32_t>(5, 0)), ShapeError);  // one window for two streams
  std::vector<std::int32_t> windows(10, 1);
  windows[7] = 7;  // outside V = 7
  CHECK_THROWS_AS(predictor.start(windows), ShapeError);
  windows[7] = 6;
  CHECK(predictor.start(windows).size() == 2 * 7);
  CHECK_THROWS_AS(predictor.push(std::vector<std::int32_t>{1}), ShapeError);
  CHECK_THROWS_AS(predictor.push(std::vector<std::int32_t>{1, -1}), ShapeError);
  CHECK(predictor.push(two).size() == 2 * 7);
}
