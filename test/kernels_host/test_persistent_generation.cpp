// The persistent generation kernel on the host: its partition
// (kernels/persistent_generation_plan.hpp) for the recipe, the small preset
// and odd shapes, and its phases (kernels/lstm_persistent_generate_phases.hpp)
// run by the simulator against the CPU window predictor (the same tokens for
// the same model, windows, options and seed; its probabilities) and a double
// reference of every window slot's state.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "generation_buffers.hpp"
#include "kernels/persistent_generation_plan.hpp"
#include "math/lstm_cell.hpp"
#include "model/model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/window_predictor.hpp"
#include "persistent_generation_simulator.hpp"
#include "simulated_generation_backend.hpp"

using namespace nocturne;
using namespace nocturne::kernels;

namespace {

GenerationShape shape_of(const ModelConfig& c, int streams) {
  return {streams, int(c.window), int(c.hidden1), int(c.hidden2), int(c.dense), int(c.vocab)};
}

ModelConfig config_of(int vocab, int window, int h1, int h2, int dense) {
  ModelConfig c;
  c.vocab = vocab;
  c.window = window;
  c.hidden1 = h1;
  c.hidden2 = h2;
  c.dense = dense;
  c.dropout = 0;
  return c;
}

// Every unit of both layers and every column of both dense layers owned by
// exactly one block; the regions of shared memory in order, 16-byte aligned,
// within the total; the items within the threads' accumulators.
void check_plan(const GenerationPlan& p, DeviceLimits device) {
  REQUIRE(p.fits());
  const GenerationShape& s = p.shape;
  CHECK(p.blocks >= 1);
  CHECK(p.blocks <= device.sms);
  CHECK(p.shared.total <= device.shared_per_block);
  const int counts[4] = {s.hidden1, s.hidden2, s.dense, s.vocab};
  const int shares[4] = {p.units1, p.units2, p.dense1, p.dense2};
  for (int layer = 0; layer < 4; ++layer) {
    std::vector<int> owners(std::size_t(counts[layer]), 0);
    for (int b = 0; b < p.blocks; ++b) {
      const OwnedRange r = generation_owned(b, shares[layer], counts[layer]);
      CHECK(r.size() >= 0);
      CHECK(r.size() <= shares[layer]);
      for (int u = r.first; u < r.end; ++u) ++owners[std::size_t(u)];
    }
    for (int n : owners) CHECK(n == 1);
  }
  for (int ph = 0; ph < kGenerationPhases; ++ph) {
    const PhaseShape q = generation_phase(p, GenerationPhase(ph), 0);
    CHECK(ceil_div(q.items, kGenerationThreads) <= kGenerationMaxItems);
    CHECK(q.rows <= p.shared.stage_rows);
  }
  const GenerationShared& m = p.shared;
  const std::size_t regions[] = {m.r1,    m.w1,     m.b1,    m.rw2,     m.b2,    m.d1,    m.d1_bias, m.d2, m.d2_bias,
                                 m.stage, m.probs, m.weight, m.order, m.partial, m.group, m.tokens, m.total};
  for (std::size_t i = 0; i + 1 < std::size(regions); ++i) {
    CHECK(regions[i] % 16 == 0);
    CHECK(regions[i] < regions[i + 1]);
  }
  CHECK(m.rw2 - m.r1 >= std::size_t(s.hidden1) * std::size_t(kUnitGates * p.units1) * 4);
  CHECK(m.b2 - m.rw2 >= std::size_t(s.hidden1 + s.hidden2) * std::size_t(kUnitGates * p.units2) * 4);
  CHECK((m.chunk == 256 || m.chunk == 128 || m.chunk == 64));
  CHECK(m.stage_pitch == m.chunk + 1);
  CHECK(m.probs - m.stage >= std::size_t(m.stage_rows) * std::size_t(m.stage_pitch) * 4);
  CHECK(m.partial - m.weight >= std::size_t(s.vocab) * 12);
  CHECK(m.group - m.partial >= kGenerationPartials * kGenerationSlotBytes);
  CHECK(m.tokens - m.group >= kGenerationGroups * kGenerationSlotBytes);
}

// ---- the double reference of a window slot ---------------------------------------------------
struct SlotState {
  std::vector<double> h1, c1, h2, c2;
};

// Both layers over `tokens` from the zero state, in double, from the model's
// gate-interleaved parameters (column 4 u + g).
SlotState reference_window(const BasicModel<float>& model, const std::vector<std::int32_t>& tokens) {
  const ModelDims& d = model.dims();
  const int h1 = d.hidden1, h2 = d.hidden2;
  const float *w1 = model.parameter("lstm1.W"), *r1 = model.parameter("lstm1.R"), *b1 = model.parameter("lstm1.b");
  const float *w2 = model.parameter("lstm2.W"), *r2 = model.parameter("lstm2.R"), *b2 = model.parameter("lstm2.b");
  SlotState s{std::vector<double>(std::size_t(h1)), std::vector<double>(std::size_t(h1)),
              std::vector<double>(std::size_t(h2)), std::vector<double>(std::size_t(h2))};
  for (std::int32_t token : tokens) {
    const double x = double(float(token) / float(d.vocab));
    std::vector<double> n1(s.h1.size()), m1(s.h1.size()), n2(s.h2.size()), m2(s.h2.size());
    for (int u = 0; u < h1; ++u) {
      double a[4];
      for (int g = 0; g < 4; ++g) {
        const std::size_t col = std::size_t(4 * u + g);
        a[g] = double(b1[col]) + x * double(w1[col]);
        for (int k = 0; k < h1; ++k) a[g] += s.h1[std::size_t(k)] * double(r1[std::size_t(k) * 4 * h1 + col]);
      }
      const auto out = math::lstm_cell_forward(a[0], a[1], a[2], a[3], s.c1[std::size_t(u)]);
      n1[std::size_t(u)] = out.h;
      m1[std::size_t(u)] = out.c;
    }
    for (int u = 0; u < h2; ++u) {
      double a[4];
      for (int g = 0; g < 4; ++g) {
        const std::size_t col = std::size_t(4 * u + g);
        a[g] = double(b2[col]);
        for (int k = 0; k < h1; ++k) a[g] += n1[std::size_t(k)] * double(w2[std::size_t(k) * 4 * h2 + col]);
        for (int k = 0; k < h2; ++k) a[g] += s.h2[std::size_t(k)] * double(r2[std::size_t(k) * 4 * h2 + col]);
      }
      const auto out = math::lstm_cell_forward(a[0], a[1], a[2], a[3], s.c2[std::size_t(u)]);
      n2[std::size_t(u)] = out.h;
      m2[std::size_t(u)] = out.c;
    }
    s = SlotState{n1, m1, n2, m2};
  }
  return s;
}

// ---- the simulated generation ----------------------------------------------------------------
struct Simulated {
  std::vector<std::int32_t> tokens;  // [notes, S]
  std::vector<float> probs;          // [S, V]: the last note's
  std::vector<float> h1, c1, h2, c2;  // the state buffer that holds the last state
};

struct Run {
  int streams = 1;
  std::int64_t notes = 0;
  SamplingOptions sampling;
  std::uint64_t seed = 0;
  std::uint32_t first_stream = 0;
  int read_every = 1000;
  simulation::GenerationOrder order;
};

// The windows' W notes pushed through the kernel's phases with forced tokens
// (the predictor's priming), then the notes chosen in launches of
// read_every notes, the state buffers and logits kept between launches.
Simulated simulate(const BasicModel<float>& model, const GenerationPlan& plan, const std::vector<std::int32_t>& windows,
                   const Run& run) {
  const ModelDims& d = model.dims();
  const std::size_t s = std::size_t(run.streams), w = std::size_t(d.window);
  const std::size_t state_rows = (w + 1) * s;
  struct {
    std::vector<float> h1[2], c1[2], h2[2], c2[2], y1, logits, probs;
  } buffers;
  for (int k = 0; k < 2; ++k) {
    buffers.h1[k].assign(state_rows * std::size_t(d.hidden1), 0.0f);
    buffers.c1[k].assign(state_rows * std::size_t(d.hidden1), 0.0f);
    buffers.h2[k].assign(state_rows * std::size_t(d.hidden2), 0.0f);
    buffers.c2[k].assign(state_rows * std::size_t(d.hidden2), 0.0f);
  }
  buffers.y1.assign(s * std::size_t(d.dense), 0.0f);
  buffers.logits.assign(s * std::size_t(d.vocab), 0.0f);
  buffers.probs.assign(buffers.logits.size(), -1.0f);
  Simulated out;
  out.tokens.assign(std::size_t(run.notes) * s, -7);

  GenerateArgs a;
  a.plan = plan;
  a.w1 = model.parameter("lstm1.W");
  a.r1 = model.parameter("lstm1.R");
  a.b1 = model.parameter("lstm1.b");
  a.w2 = model.parameter("lstm2.W");
  a.r2 = model.parameter("lstm2.R");
  a.b2 = model.parameter("lstm2.b");
  a.dw1 = model.parameter("dense1.W");
  a.db1 = model.parameter("dense1.b");
  a.dw2 = model.parameter("dense2.W");
  a.db2 = model.parameter("dense2.b");
  test::point_generation_buffers(a, buffers);
  a.rule = math::SamplingRule{run.sampling.greedy, run.sampling.temperature, int(run.sampling.top_k),
                              run.sampling.top_p};
  a.seed = run.seed;
  a.first_stream = run.first_stream;
  a.history = out.tokens.data();
  a.history_notes = run.notes;

  simulation::GenerationSimulator sim(a, run.order);
  std::vector<std::int32_t> forced(w * s);  // time-major
  for (std::size_t t = 0; t < w; ++t)
    for (std::size_t b = 0; b < s; ++b) forced[t * s + b] = windows[b * w + t];
  a.current = 0;
  a.notes = int(w);
  a.push_last = true;
  sim.run(a, &forced);
  a.current = int(w % 2);
  for (std::int64_t first = 0; first < run.notes; first += run.read_every) {
    a.first_note = first;
    a.notes = int(std::min<std::int64_t>(run.read_every, run.notes - first));
    a.push_last = first + a.notes < run.notes;
    sim.run(a);
    a.current = (a.current + a.notes - (a.push_last ? 0 : 1)) & 1;
  }
  out.probs = buffers.probs;
  out.h1 = buffers.h1[a.current];
  out.c1 = buffers.c1[a.current];
  out.h2 = buffers.h2[a.current];
  out.c2 = buffers.c2[a.current];
  return out;
}

std::vector<std::int32_t> random_windows(const ModelConfig& c, int streams, std::uint64_t seed) {
  std::vector<std::int32_t> windows;
  for (std::size_t i = 0; i < std::size_t(streams * c.window); ++i)
    windows.push_back(std::int32_t(random_below(std::uint64_t(c.vocab), seed, test::kTestStream, i)));
  return windows;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

// The whole check for one model and run: the tokens of the CPU predictor,
// its probabilities of the last note (1e-5), every slot of the last state
// against the double reference (2e-5), and the same bits with the blocks and
// threads in the other order.
void check_generation(const ModelConfig& config, const Run& run, double scale, std::uint64_t model_seed,
                      DeviceLimits device = kH100, bool other_orders = true) {
  CpuOptions options;
  options.fused_lstm = true;
  auto backend = make_cpu_backend(options);
  BasicModel<float> model(*backend, config, run.streams);
  model.upload_parameters(test::random_parameters<float>(model.layout(), model_seed, scale));
  const GenerationPlan plan = generation_plan(shape_of(config, run.streams), device);
  check_plan(plan, device);
  const std::vector<std::int32_t> windows = random_windows(config, run.streams, model_seed + 1);

  const Simulated sim = simulate(model, plan, windows, run);
  WindowPredictor predictor(model, run.streams);
  const std::vector<std::int32_t> cpu =
      predictor.generate(windows, run.notes, run.sampling, run.seed, run.first_stream);
  REQUIRE(sim.tokens == cpu);

  // The CPU's probabilities of the last note: the windows, then every chosen note but the last pushed.
  const std::size_t s = std::size_t(run.streams), w = std::size_t(config.window);
  WindowPredictor replay(model, run.streams);
  std::vector<float> probs = replay.start(windows);
  for (std::int64_t k = 0; k + 1 < run.notes; ++k)
    probs = replay.push(std::span<const std::int32_t>(cpu.data() + std::size_t(k) * s, s));
  CHECK(max_difference(sim.probs, probs) < 1e-5);

  // Slot j of the last state: stream b's last j pushed tokens from the zero state.
  double worst = 0;
  for (std::size_t b = 0; b < s; ++b) {
    std::vector<std::int32_t> pushed(windows.begin() + std::ptrdiff_t(b * w),
                                     windows.begin() + std::ptrdiff_t((b + 1) * w));
    for (std::int64_t k = 0; k + 1 < run.notes; ++k) pushed.push_back(cpu[std::size_t(k) * s + b]);
    for (std::size_t j = 1; j <= w; ++j) {
      const SlotState ref =
          reference_window(model, std::vector<std::int32_t>(pushed.end() - std::ptrdiff_t(j), pushed.end()));
      const std::size_t row = j * s + b;
      for (std::size_t u = 0; u < ref.h1.size(); ++u) {
        worst = std::max(worst, std::fabs(double(sim.h1[row * ref.h1.size() + u]) - ref.h1[u]));
        worst = std::max(worst, std::fabs(double(sim.c1[row * ref.c1.size() + u]) - ref.c1[u]));
      }
      for (std::size_t u = 0; u < ref.h2.size(); ++u) {
        worst = std::max(worst, std::fabs(double(sim.h2[row * ref.h2.size() + u]) - ref.h2[u]));
        worst = std::max(worst, std::fabs(double(sim.c2[row * ref.c2.size() + u]) - ref.c2[u]));
      }
    }
  }
  CHECK(worst < 2e-5);

  // Other orders of blocks and threads: the same bits.
  if (!other_orders) return;
  Run other = run;
  other.order = {true, true};
  const Simulated again = simulate(model, plan, windows, other);
  CHECK(again.tokens == sim.tokens);
  CHECK(again.probs == sim.probs);
  CHECK(again.h1 == sim.h1);
  CHECK(again.c2 == sim.c2);
}

SamplingOptions sampling(double temperature, std::int64_t top_k, double top_p) {
  SamplingOptions o;
  o.greedy = false;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  return o;
}

}  // namespace

TEST_CASE("generation plan: the recipe on an H100, several vocabularies", "[kernels][generate]") {
  for (int vocab : {127, 250, 388, 600}) {
    INFO("V " << vocab);
    const GenerationPlan p = generation_plan({1, 40, 512, 256, 256, vocab}, kH100);
    check_plan(p, kH100);
    CHECK(p.blocks == 128);
    CHECK(p.units1 == 4);
    CHECK(p.units2 == 2);
    CHECK(p.dense1 == 2);
    CHECK(p.dense2 == ceil_div(vocab, 128));
    CHECK(p.items1 == 1);
    CHECK(p.shared.chunk == 256);  // layer 1 in 2 chunks, layer 2 in 3
    CHECK(p.shared.total < 120 * 1024);
  }
  // Streams of 40 rows each: 6 fit (960 items of layer 1 for 256 threads), 7 do not.
  for (int streams = 1; streams <= 6; ++streams)
    check_plan(generation_plan({streams, 40, 512, 256, 256, 388}, kH100), kH100);
  // Smaller chunks where the staging of more streams, or a smaller device, needs the room.
  CHECK(generation_plan({3, 40, 512, 256, 256, 388}, kH100).shared.chunk == 256);
  CHECK(generation_plan({4, 40, 512, 256, 256, 388}, kH100).shared.chunk == 128);
  CHECK(generation_plan({6, 40, 512, 256, 256, 388}, kH100).shared.chunk == 128);
  const DeviceLimits smaller{132, 100 * 1024, 8, 16}, smallest{132, 88 * 1024, 8, 16}, too_small{132, 80 * 1024, 8, 16};
  check_plan(generation_plan({1, 40, 512, 256, 256, 388}, smaller), smaller);
  CHECK(generation_plan({1, 40, 512, 256, 256, 388}, smaller).shared.chunk == 128);
  check_plan(generation_plan({1, 40, 512, 256, 256, 388}, smallest), smallest);
  CHECK(generation_plan({1, 40, 512, 256, 256, 388}, smallest).shared.chunk == 64);
  CHECK(generation_plan({1, 40, 512, 256, 256, 388}, too_small).refusal == GenerationRefusal::shared_memory);
  CHECK(generation_plan({7, 40, 512, 256, 256, 388}, kH100).refusal == GenerationRefusal::too_many_rows);
}

TEST_CASE("generation plan: the small preset, odd shapes and refusals", "[kernels][generate]") {
  check_plan(generation_plan({1, 40, 128, 64, 64, 388}, kH100), kH100);
  CHECK(generation_plan({1, 40, 128, 64, 64, 388}, kH100).blocks == 128);
  const DeviceLimits small{7, 48 * 1024, 8, 16};
  for (GenerationShape s : {GenerationShape{2, 3, 37, 13, 5, 11}, GenerationShape{3, 5, 8, 4, 6, 7},
                            GenerationShape{1, 7, 50, 50, 3, 29}, GenerationShape{5, 2, 17, 30, 9, 2}}) {
    INFO(s.streams << " x " << s.window << ", " << s.hidden1 << "/" << s.hidden2 << "/" << s.dense << "/" << s.vocab);
    check_plan(generation_plan(s, small), small);
    check_plan(generation_plan(s, kH100), kH100);
  }
  CHECK(generation_plan({0, 40, 512, 256, 256, 388}, kH100).refusal == GenerationRefusal::empty_shape);
  CHECK(generation_plan({1, 40, 4096, 256, 256, 388}, kH100).refusal == GenerationRefusal::too_many_units);
  CHECK(generation_plan({1, 40, 1024, 1024, 256, 388}, kH100).refusal == GenerationRefusal::shared_memory);
  CHECK(generation_plan({1, 40, 512, 256, 256, 388}, small).refusal == GenerationRefusal::too_many_units);
}

TEST_CASE("generation simulator: the CPU predictor's tokens, a small model", "[kernels][generate]") {
  const ModelConfig config = config_of(11, 5, 37, 13, 9);
  const DeviceLimits small{7, 96 * 1024, 8, 16};
  Run run;
  run.notes = 12;
  SECTION("greedy, one stream") { check_generation(config, run, 0.5, 3, small); }
  SECTION("sampling, three streams, launches of 5 notes") {
    run.streams = 3;
    run.sampling = sampling(0.9, 0, 1.0);
    run.seed = 41;
    run.first_stream = 2;
    run.read_every = 5;
    check_generation(config, run, 0.5, 4, small);
  }
  SECTION("top-k and top-p, two streams, a launch a note") {
    run.streams = 2;
    run.sampling = sampling(1.3, 4, 0.8);
    run.seed = 7;
    run.read_every = 1;
    check_generation(config, run, 0.5, 5, kH100);
  }
}

TEST_CASE("generation simulator: chunks of 64 with tails in every phase", "[kernels][generate]") {
  // H1 150, H2 + H1 220, H2 70, D 90: every K takes several chunks of 64 and ends in a partial one.
  const ModelConfig config = config_of(23, 4, 150, 70, 90);
  Run run;
  run.streams = 2;
  run.notes = 6;
  run.sampling = sampling(1.1, 8, 0.9);
  run.seed = 17;
  run.read_every = 4;
  const GenerationShape shape = shape_of(config, run.streams);
  const GenerationPlan roomy = generation_plan(shape, DeviceLimits{16, std::size_t(1) << 20, 8, 16});
  REQUIRE(roomy.shared.chunk == 256);
  const std::size_t room64 =
      generation_shared(shape, roomy.units1, roomy.units2, roomy.dense1, roomy.dense2, 64).total;
  const DeviceLimits tight{16, room64, 8, 16};
  REQUIRE(generation_plan(shape, tight).shared.chunk == 64);
  check_generation(config, run, 0.3, 12, tight);
}

TEST_CASE("generation simulator: the recipe's shapes", "[kernels][generate][recipe]") {
  const ModelConfig config = config_of(127, 40, 512, 256, 256);
  Run run;
  run.notes = 3;
  run.sampling = sampling(1.0, 0, 0.95);
  run.seed = 11;
  run.read_every = 2;
  check_generation(config, run, 0.08, 6, kH100, false);
}

// The window predictor's hook (generate_notes) on a CPU backend whose
// generate_notes runs the simulator: a launch per read_every notes, the
// tokens of the plain CPU predictor, the reads after each launch, and the
// state handed back in the right buffer (a push after generate predicts what
// the plain predictor's push does).
TEST_CASE("window predictor: generate_notes in launches, the CPU predictor's tokens", "[kernels][generate]") {
  const ModelConfig config = config_of(13, 6, 24, 10, 8);
  CpuOptions options;
  options.fused_lstm = true;
  auto plain_backend = make_cpu_backend(options);
  simulation::SimulatedGenerationBackend simulated(make_cpu_backend(options));
  const int streams = 2;
  BasicModel<float> plain(*plain_backend, config, streams), model(simulated, config, streams);
  plain.upload_parameters(test::random_parameters<float>(plain.layout(), 8, 0.5));
  model.upload_parameters(plain.download_parameters());
  const std::vector<std::int32_t> windows = random_windows(config, streams, 9);
  for (const SamplingOptions& options_k : {SamplingOptions{}, sampling(0.8, 5, 0.9)}) {
    for (std::int64_t notes : {1, 7, 12}) {
      INFO(options_k.describe() << ", " << notes << " notes");
      WindowPredictor reference(plain, streams), predictor(model, streams);
      const std::vector<std::int32_t> want = reference.generate(windows, notes, options_k, 5, 1);
      std::vector<std::int64_t> reads;
      simulated.launches = 0;
      const std::vector<std::int32_t> got =
          predictor.generate(windows, notes, options_k, 5, 1, [&](std::int64_t done) { reads.push_back(done); }, 5);
      CHECK(got == want);
      CHECK(simulated.launches == int((notes + 4) / 5));
      std::vector<std::int64_t> expected;
      for (std::int64_t done = 5; done < notes; done += 5) expected.push_back(done);
      expected.push_back(notes);
      CHECK(reads == expected);
      // The last note was chosen, not pushed: push it in both and compare the predictions.
      const std::span<const std::int32_t> last(want.data() + want.size() - std::size_t(streams), std::size_t(streams));
      CHECK(max_difference(predictor.push(last), reference.push(last)) < 1e-5);
    }
  }
}
