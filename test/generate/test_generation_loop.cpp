// The generation loop and held-out evaluation on a tiny random model (CPU backend).

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/trainer.hpp"

using namespace nocturne;

namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.vocab = 7;
  c.window = 5;
  c.hidden1 = 8;
  c.hidden2 = 6;
  c.dense = 4;
  return c;
}

// The recipe's loop, written out: batch 1, fresh state, argmax, slide.
std::vector<std::int32_t> recipe_loop(Model& model, std::vector<std::int32_t> window, int notes) {
  std::vector<std::int32_t> out;
  for (int i = 0; i < notes; ++i) {
    model.set_batch(window, {});
    const std::vector<float> p = model.predict();
    std::int32_t best = 0;
    for (std::int32_t v = 1; v < model.config().vocab; ++v)
      if (p[std::size_t(v)] > p[std::size_t(best)]) best = v;
    out.push_back(best);
    window.erase(window.begin());
    window.push_back(best);
  }
  return out;
}

}  // namespace

TEST_CASE("greedy generation is the recipe's loop, batched or not") {
  auto backend = make_cpu_backend();
  Model single(*backend, tiny_config(), 1);
  single.initialize(3);
  Model batched(*backend, tiny_config(), 4);
  batched.upload_parameters(single.download_parameters());

  const std::vector<std::vector<std::int32_t>> primers = {
      {0, 1, 2, 3, 4}, {6, 5, 4, 3, 2, 1, 0}, {2, 2}, {1, 3, 5, 1, 3}, {4, 4, 4, 4, 4}};
  GenerationRequest request;
  request.notes = 12;
  int calls = 0, last_done = 0, last_total = 0;
  const auto outputs = generate_tokens(batched, primers, request, [&](int done, int total) {
    ++calls;
    last_done = done;
    last_total = total;
    return true;
  });
  REQUIRE(outputs.size() == primers.size());
  CHECK(calls == 24);  // two batches (4 + 1) of 12 steps
  CHECK(last_done == last_total);
  for (std::size_t k = 0; k < primers.size(); ++k) {
    CHECK(outputs[k].size() == 12);
    CHECK(outputs[k] == recipe_loop(single, primer_window(primers[k], 5), 12));
  }
}

TEST_CASE("sampled generation: in range, reproducible from the seed, independent of batching") {
  auto backend = make_cpu_backend();
  Model model(*backend, tiny_config(), 3);
  model.initialize(5);
  const std::vector<std::vector<std::int32_t>> primers = {{0, 1, 2, 3, 4}, {6, 5, 4, 3, 2}, {1, 1, 1, 1, 1}};
  GenerationRequest request;
  request.notes = 30;
  request.sampling.greedy = false;
  request.sampling.temperature = 1.5;
  request.seed = 99;
  const auto a = generate_tokens(model, primers, request);
  const auto b = generate_tokens(model, primers, request);
  CHECK(a == b);
  for (const auto& out : a)
    for (std::int32_t t : out) CHECK((t >= 0 && t < 7));
  // Output 2 alone (first_output = 2) is output 2 of the batch.
  GenerationRequest third = request;
  third.first_output = 2;
  const auto c = generate_tokens(model, std::span(primers).subspan(2, 1), third);
  CHECK(c[0] == a[2]);
  request.seed = 100;
  CHECK(generate_tokens(model, primers, request) != a);
  // Bad primers.
  CHECK_THROWS_AS(generate_tokens(model, std::vector<std::vector<std::int32_t>>{{}}, request), ConfigError);
  CHECK_THROWS_AS(generate_tokens(model, std::vector<std::vector<std::int32_t>>{{7}}, request), ConfigError);
}

TEST_CASE("held-out evaluation agrees with the trainer's evaluation; top-5 >= top-1") {
  auto backend = make_cpu_backend();
  Model model(*backend, tiny_config(), 4);
  model.initialize(11);
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back(std::int32_t((i * 3 + i / 7) % 7));
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + 5 < std::int64_t(tokens.size()); s += 2) starts.push_back(s);
  std::int64_t batches = 0;
  const HeldoutMetrics m = evaluate_windows(model, tokens, starts, [&](std::int64_t, std::int64_t) {
    ++batches;
    return true;
  });
  CHECK(batches == (std::int64_t(starts.size()) + 3) / 4);
  CHECK(m.windows == std::int64_t(starts.size()));
  CHECK(m.perplexity == Approx(std::exp(m.cross_entropy)));
  CHECK(m.top5 >= m.top1);
  CHECK(m.cross_entropy > 0);

  TrainerConfig tc;
  tc.batch = 4;
  Trainer trainer(model, tc);
  const Evaluation e = trainer.evaluate(WindowSet{tokens, starts});
  CHECK(m.cross_entropy == Approx(e.loss).epsilon(1e-5));
  CHECK(m.top1 == Approx(e.accuracy).epsilon(1e-9));
  const std::vector<std::int64_t> bad = {36};
  CHECK_THROWS_AS(evaluate_windows(model, tokens, bad), ShapeError);
}

TEST_CASE("generation and evaluation stop when their callback returns false", "[generate][cancel]") {
  auto backend = make_cpu_backend();
  Model model(*backend, tiny_config(), 2);
  model.initialize(5);
  const std::vector<std::vector<std::int32_t>> primers = {{0, 1, 2}, {3, 4}, {5, 6, 0}};
  GenerationRequest request;
  request.notes = 10;
  int calls = 0;
  // Two batches of 2 + 1 outputs: 20 steps in all; stop at the 4th.
  CHECK_THROWS_AS(generate_tokens(model, primers, request, [&](int done, int total) {
                    CHECK(total == 20);
                    return ++calls < 4 && done < total;
                  }),
                  Cancelled);
  CHECK(calls == 4);

  std::vector<std::int32_t> tokens;
  for (int i = 0; i < 30; ++i) tokens.push_back(std::int32_t(i % 7));
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + 5 < std::int64_t(tokens.size()); ++s) starts.push_back(s);
  std::int64_t batches = 0;
  CHECK_THROWS_WITH(evaluate_windows(model, tokens, starts, [&](std::int64_t, std::int64_t) { return ++batches < 2; }),
                    Catch::Contains("cancelled after 4 of " + std::to_string(starts.size()) + " windows"));
  CHECK(batches == 2);
}
