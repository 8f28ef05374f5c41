// Generation on the device (the fused path's window predictor: recorded note
// programs, sample_tokens choosing on the device, the tokens read back every
// few notes) on the CPU backend: exactly the tokens of the host loop, for
// greedy decoding and for sampling with temperature, top-k and top-p, several
// streams at once, scalar and embedding input; and generate_tokens on the
// fused path gives today's tokens (the classic path's host loop).

#include <catch2/catch.hpp>

#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/window_predictor.hpp"

using namespace nocturne;

namespace {

ModelConfig config(InputMode input) {
  ModelConfig c;
  c.vocab = 11;
  c.window = 6;
  c.hidden1 = 12;
  c.hidden2 = 8;
  c.dense = 8;
  c.input = input;
  c.embedding_dim = 5;
  return c;
}

std::vector<SamplingOptions> decodings() {
  SamplingOptions greedy;
  SamplingOptions warm;
  warm.greedy = false;
  warm.temperature = 1.3;
  SamplingOptions narrow = warm;
  narrow.temperature = 0.7;
  narrow.top_k = 4;
  SamplingOptions nucleus = warm;
  nucleus.temperature = 0.9;
  nucleus.top_p = 0.8;
  SamplingOptions both = nucleus;
  both.top_k = 3;
  return {greedy, warm, narrow, nucleus, both};
}

// The host loop, as generate_tokens ran it before the device loop: choose
// from each prediction on the host, push the choices.
std::vector<std::int32_t> host_loop(WindowPredictor& predictor, std::span<const std::int32_t> windows,
                                    std::int64_t notes, const SamplingOptions& sampling, std::uint64_t seed,
                                    std::uint32_t first_stream, std::int64_t vocab) {
  const std::size_t streams = std::size_t(predictor.streams());
  std::vector<float> probs = predictor.start(windows);
  std::vector<std::int32_t> out, chosen(streams);
  for (std::int64_t k = 0; k < notes; ++k) {
    for (std::size_t s = 0; s < streams; ++s) {
      const std::span<const float> row(probs.data() + s * std::size_t(vocab), std::size_t(vocab));
      chosen[s] = choose_token(row, sampling, seed, first_stream + std::uint32_t(s), std::uint64_t(k));
      out.push_back(chosen[s]);
    }
    if (k + 1 < notes) probs = predictor.push(chosen);
  }
  return out;
}

std::vector<std::int32_t> random_windows(const ModelConfig& c, int streams, std::uint64_t seed) {
  std::vector<std::int32_t> w;
  for (std::size_t i = 0; i < std::size_t(streams * c.window); ++i)
    w.push_back(std::int32_t(random_below(std::uint64_t(c.vocab), seed, 0x7e57, i)));
  return w;
}

}  // namespace

TEST_CASE("the device loop chooses exactly the host loop's tokens", "[generate][device]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::wavefront});
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig c = config(input);
    Model model(*backend, c, 3);
    model.initialize(8);
    for (const int streams : {1, 3}) {
      WindowPredictor predictor(model, streams);
      REQUIRE(predictor.samples_on_device());
      const auto windows = random_windows(c, streams, 9);
      for (const SamplingOptions& sampling : decodings()) {
        INFO(input_mode_name(input) << ", " << streams << " streams, " << sampling.describe());
        const std::int64_t notes = 3 * c.window + 5;  // every slot reused, reads at 4, 8, ... and the end
        const auto want = host_loop(predictor, windows, notes, sampling, 77, sampling_stream(2), c.vocab);
        std::vector<std::int64_t> reads;
        auto on_read = [&](std::int64_t done) { reads.push_back(done); };
        const auto got = predictor.generate(windows, notes, sampling, 77, sampling_stream(2), on_read, 4);
        CHECK(got == want);
        REQUIRE(!reads.empty());
        CHECK(reads.back() == notes);
        CHECK(reads.size() == std::size_t(notes + 3) / 4);
        // After generating, the predictor carries on from the last pushed token.
        CHECK(predictor.push(std::vector<std::int32_t>(std::size_t(streams), 1)).size() ==
              std::size_t(streams * c.vocab));
      }
    }
  }
}

TEST_CASE("generate_tokens on the fused path gives the classic path's tokens", "[generate][device]") {
  auto classic_backend = make_cpu_backend();
  auto fused_backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const ModelConfig c = config(InputMode::scalar);
  Model classic(*classic_backend, c, 2), fused(*fused_backend, c, 2);  // 5 primers: batches of 2, 2 and 1
  classic.initialize(12);
  fused.upload_parameters(classic.download_parameters());
  const std::vector<std::vector<std::int32_t>> primers = {
      {0, 1, 2, 3, 4, 5}, {10, 9, 8, 7}, {2, 2}, {1, 3, 5, 7, 9, 1, 3}, {4, 4, 4, 4, 4, 4}};
  for (const SamplingOptions& sampling : decodings()) {
    INFO(sampling.describe());
    GenerationRequest request;
    request.notes = 40;
    request.sampling = sampling;
    request.seed = 5;
    request.first_output = 3;
    int calls = 0, last = 0;
    const auto want = generate_tokens(classic, primers, request);
    const auto got = generate_tokens(fused, primers, request, [&](int done, int total) {
      ++calls;
      last = done;
      CHECK(total == 3 * 40);
      return true;
    });
    CHECK(got == want);
    CHECK(last == 3 * 40);
    CHECK(calls == 3 * 2);  // per batch of primers: one read after 32 notes and one at the end
  }
}

TEST_CASE("the device loop rejects bad requests", "[generate][device]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const ModelConfig c = config(InputMode::scalar);
  Model model(*backend, c, 1);
  model.initialize(1);
  WindowPredictor predictor(model, 1);
  const auto windows = random_windows(c, 1, 2);
  CHECK_THROWS_AS(predictor.generate(windows, -1, SamplingOptions{}, 1, 0), ConfigError);
  CHECK_THROWS_AS(predictor.generate(windows, 3, SamplingOptions{}, 1, 0, {}, 0), ConfigError);
  SamplingOptions bad;
  bad.greedy = false;
  bad.top_p = 0;
  CHECK_THROWS_AS(predictor.generate(windows, 3, bad, 1, 0), ConfigError);
  CHECK_THROWS_AS(predictor.generate(std::vector<std::int32_t>(3, 0), 3, SamplingOptions{}, 1, 0), ShapeError);
  CHECK(predictor.generate(windows, 0, SamplingOptions{}, 1, 0).empty());
}
