// Recorded work (CUDA graphs) and whole training steps of the recipe's model
// on the GPU against the CPU reference.

#include <cstdio>
#include <cstring>

#include "gpu_test_support.hpp"
#include "recipe_training.hpp"
#include "core/rng_streams.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

TEST_CASE("record() replays the same work as direct calls, with the offset read at run time", "[gpu][record]") {
  Backend& g = gpu();
  const LstmShape s{small_run() ? 3 : 40, 3, 5, 31};
  const int vocab = 17, n = s.batch;
  const std::size_t seq = std::size_t(s.steps) * std::size_t(n), h = std::size_t(s.hidden);
  Buffer<float> x = upload(g, random_vector(seq * std::size_t(s.input))),
                w = upload(g, random_vector(std::size_t(s.input) * 4 * h, -0.3f, 0.3f)),
                r = upload(g, random_vector(h * 4 * h, -0.2f, 0.2f)), b = upload(g, random_vector(4 * h)),
                dw = upload(g, random_vector(h * std::size_t(vocab))), db = upload(g, random_vector(std::size_t(vocab)));
  Buffer<std::int32_t> targets = upload(g, random_tokens(std::size_t(n), vocab));
  Buffer<float> hb = g.allocate<float>(seq * h), cb = g.allocate<float>(seq * h), gb = g.allocate<float>(seq * 4 * h);
  Buffer<float> dropped = g.allocate<float>(seq * h), logits = g.allocate<float>(std::size_t(n) * vocab),
                dlogits = g.allocate<float>(std::size_t(n) * vocab);
  Buffer<double> stats = g.allocate<double>(2);
  Buffer<std::uint64_t> offset = g.allocate<std::uint64_t>(1);
  const DropoutKey key{99, rng_stream::dropout, 3, offset.data()};
  auto work = [&] {
    g.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), hb.data(), cb.data(), gb.data());
    g.dropout_forward(key, 0.25f, seq * h, hb.data(), dropped.data());
    const float* last = dropped.data() + (seq - std::size_t(n)) * h;
    g.dense_forward(n, s.hidden, vocab, last, dw.data(), db.data(), logits.data());
    g.softmax_cross_entropy(n, vocab, logits.data(), targets.data(), 1.0f / float(n), dlogits.data(), stats.data());
  };
  auto run = [&](std::uint64_t step, Replayable* recorded) {
    const std::uint64_t value = step << 32;
    g.copy_to_device(offset.data(), &value, sizeof value);
    const double zeros[2] = {0.0, 0.0};
    g.copy_to_device(stats.data(), zeros, sizeof zeros);
    g.fill(dropped.data(), seq * h, std::numeric_limits<float>::quiet_NaN());
    if (recorded)
      recorded->replay();
    else
      work();
    const std::vector<double> totals = g.download(stats);
    return std::vector<std::vector<float>>{g.download(dropped), g.download(dlogits),
                                           std::vector<float>(totals.begin(), totals.end()), g.download(hb)};
  };
  const auto direct1 = run(1, nullptr);
  const auto direct2 = run(2, nullptr);
  g.fill(dropped.data(), seq * h, -1.0f);
  auto recorded = g.record(work);
  for (float v : g.download(dropped)) REQUIRE(v == -1.0f);  // recording runs nothing
  // The first replay runs the work eagerly, the second captures and launches
  // the graph, the third launches it again.
  const auto replay1 = run(1, recorded.get());
  const auto replay2 = run(2, recorded.get());
  const auto replay3 = run(1, recorded.get());
  for (std::size_t i = 0; i < direct1.size(); ++i) {
    CHECK(replay1[i] == direct1[i]);  // the same kernels and GEMMs: bit-identical
    CHECK(replay2[i] == direct2[i]);
    CHECK(replay3[i] == direct1[i]);
  }
  CHECK(direct1[0] != direct2[0]);  // a new offset draws a new mask
}

TEST_CASE("debug_sync waits after direct launches only: record() still captures, and replays match",
          "[gpu][record]") {
  CudaOptions options;
  options.debug_sync = true;
  const std::unique_ptr<Backend> synced = make_cuda_backend(options);
  CHECK(synced->name().find("debug sync") != std::string::npos);
  const LstmShape s{small_run() ? 3 : 12, 3, 5, 31};
  const std::size_t seq = std::size_t(s.steps) * std::size_t(s.batch), h = std::size_t(s.hidden);
  const auto x = random_vector(seq * std::size_t(s.input)), w = random_vector(std::size_t(s.input) * 4 * h, -0.3f, 0.3f),
             r = random_vector(h * 4 * h, -0.2f, 0.2f), b = random_vector(4 * h);
  std::vector<float> direct[2], replayed;
  int which = 0;
  for (Backend* be : {synced.get(), &gpu()}) {
    Buffer<float> bx = upload(*be, x), bw = upload(*be, w), br = upload(*be, r), bb = upload(*be, b);
    Buffer<float> hb = poisoned(*be, seq * h), cb = poisoned(*be, seq * h), gb = poisoned(*be, seq * 4 * h),
                  dropped = poisoned(*be, seq * h);
    const DropoutKey key{5, rng_stream::dropout, 0, nullptr};
    auto work = [&] {
      be->lstm_forward(s, bx.data(), bw.data(), br.data(), bb.data(), hb.data(), cb.data(), gb.data());
      be->dropout_forward(key, 0.2f, seq * h, hb.data(), dropped.data());
    };
    work();
    direct[which] = be->download(dropped);
    if (which++ == 0) {
      // A synchronisation inside the capture would end it with an error.
      auto recorded = be->record(work);
      be->fill(dropped.data(), seq * h, std::numeric_limits<float>::quiet_NaN());
      recorded->replay();
      replayed = be->download(dropped);
    }
  }
  CHECK(replayed == direct[0]);
  require_close("debug_sync backend vs default backend", direct[0], direct[1], kLstmForward);
}

const TrainingRun& gpu_run() {
  static const TrainingRun run = train(gpu());
  return run;
}

TEST_CASE("training steps of the recipe's model on the GPU follow the CPU", "[gpu][training]") {
  const TrainingRun& g = gpu_run();
  const TrainingRun c = train(cpu());
  double worst = 0;
  for (int i = 0; i < kSteps; ++i) {
    const double rel = std::fabs(g.losses[std::size_t(i)] - c.losses[std::size_t(i)]) / c.losses[std::size_t(i)];
    worst = std::max(worst, rel);
    std::printf("step %2d  loss cpu %.7f  gpu %.7f  rel diff %.2e\n", i + 1, c.losses[std::size_t(i)],
                g.losses[std::size_t(i)], rel);
    REQUIRE(std::isfinite(g.losses[std::size_t(i)]));
  }
  const Errors p3 = measure(g.params_at_3, c.params_at_3), p = measure(g.params, c.params);
  std::printf("fp32 gpu vs cpu: worst loss rel diff %.2e; parameters normalised diff after step 3 %.2e, after step "
              "%d %.2e (max abs %.2e)\n",
              worst, p3.normalised, kSteps, p.normalised, p.max_abs);
  check_fp32_runs_agree("fp32 gpu vs cpu", g, c);
}

TEST_CASE("two GPU training runs give bit-identical parameters", "[gpu][training]") {
  const TrainingRun& first = gpu_run();
  const TrainingRun second = train(gpu());
  REQUIRE(first.params.size() == second.params.size());
  CHECK(std::memcmp(first.params.data(), second.params.data(), first.params.size() * sizeof(float)) == 0);
  CHECK(first.losses == second.losses);
}

// graphs = false: record() keeps the work and runs it call by call (how the
// cuDNN path always runs, and how the benchmark times ours beside it). The
// same kernels and GEMMs in the same order: bit-identical to graph replay.
TEST_CASE("eager replay (no CUDA graph) trains bit-identically to graph replay", "[gpu][training]") {
  CudaOptions options;
  options.graphs = false;
  const std::unique_ptr<Backend> eager = make_cuda_backend(options);
  CHECK(eager->name().find("eager") != std::string::npos);
  const TrainingRun e = train(*eager);
  const TrainingRun& g = gpu_run();
  CHECK(e.losses == g.losses);
  REQUIRE(e.params.size() == g.params.size());
  CHECK(std::memcmp(e.params.data(), g.params.data(), e.params.size() * sizeof(float)) == 0);
}

TEST_CASE("TF32 mode trains, close to strict FP32", "[gpu][training][tf32]") {
  CudaOptions options;
  options.math = MathMode::tf32;
  const std::unique_ptr<Backend> tf32 = make_cuda_backend(options);
  CHECK(tf32->name().find("tf32") != std::string::npos);
  const TrainingRun t = train(*tf32);
  const TrainingRun& f = gpu_run();
  double worst = 0;
  for (int i = 0; i < kSteps; ++i) {
    REQUIRE(std::isfinite(t.losses[std::size_t(i)]));
    worst = std::max(worst, std::fabs(t.losses[std::size_t(i)] - f.losses[std::size_t(i)]) / f.losses[std::size_t(i)]);
  }
  const Errors p = measure(t.params, f.params), g1 = measure(t.first_gradients, f.first_gradients);
  std::printf("tf32 vs fp32 (gpu): step 1 loss %.7f vs %.7f, step %d %.7f vs %.7f; worst loss rel diff %.2e; "
              "step 1 gradients normalised diff %.2e; parameters normalised diff %.2e\n",
              t.losses.front(), f.losses.front(), kSteps, t.losses.back(), f.losses.back(), worst, g1.normalised,
              p.normalised);
  check_tf32_run_near_fp32("tf32 vs fp32 (gpu)", t, f);
}

}  // namespace
