// Inference on the GPU against the CPU reference: lstm_step continuing from a
// random state, and the window predictor that generation runs on, at the
// recipe's sizes.

#include "gpu_test_support.hpp"
#include "nocturne/model.hpp"
#include "nocturne/window_predictor.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

TEST_CASE("lstm_step matches the CPU from a non-zero state", "[gpu][lstm][inference]") {
  struct StepShape {
    int batch, input, hidden;
  };
  std::vector<StepShape> list{{1, 1, 1}, {3, 5, 31}, {40, 1, 512}};
  if (!small_run()) list.push_back({40, 512, 256});  // the recipe's layer 2 during generation
  for (const StepShape& s : list) {
    const std::size_t n = std::size_t(s.batch), f = std::size_t(s.input), h = std::size_t(s.hidden);
    const float w_scale = float(std::sqrt(6.0 / double(f + 4 * h))), r_scale = float(1.0 / std::sqrt(double(h)));
    const auto x = random_vector(n * f);
    const auto w = random_vector(f * 4 * h, -w_scale, w_scale);
    const auto r = random_vector(h * 4 * h, -r_scale, r_scale);
    const auto b = random_vector(4 * h, -0.1f, 0.1f);
    const auto h_prev = random_vector(n * h, -0.9f, 0.9f);
    const auto c_prev = random_vector(n * h, -2.0f, 2.0f);
    std::vector<float> hs[2], cs[2], gs[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> bx = upload(*be, x), bw = upload(*be, w), br = upload(*be, r), bb = upload(*be, b),
                    bh = upload(*be, h_prev), bc = upload(*be, c_prev);
      Buffer<float> oh = poisoned(*be, n * h), oc = poisoned(*be, n * h), og = poisoned(*be, n * 4 * h);
      be->lstm_step(s.batch, s.input, s.hidden, bx.data(), bw.data(), br.data(), bb.data(), bh.data(), bc.data(),
                    oh.data(), oc.data(), og.data());
      hs[which] = be->download(oh);
      cs[which] = be->download(oc);
      gs[which++] = be->download(og);
    }
    const std::string shape = "N=" + std::to_string(s.batch) + " F=" + std::to_string(s.input) +
                              " H=" + std::to_string(s.hidden);
    require_close("lstm_step h " + shape, hs[0], hs[1], kGemm);
    require_close("lstm_step c " + shape, cs[0], cs[1], kGemm);
    require_close("lstm_step gates " + shape, gs[0], gs[1], kGemm);
  }
}

TEST_CASE("the window predictor on the GPU follows the CPU", "[gpu][inference]") {
  ModelConfig config;
  config.vocab = 127;  // the recipe's model at the Chopin corpus' vocabulary
  if (small_run()) {
    config.window = 6;
    config.hidden1 = 31;
    config.hidden2 = 17;
    config.dense = 9;
  }
  const int streams = 2, pushes = small_run() ? 8 : 50;
  Model on_gpu(gpu(), config, 1), on_cpu(cpu(), config, 1);
  on_cpu.initialize(21);
  on_gpu.upload_parameters(on_cpu.download_parameters());
  WindowPredictor predict_gpu(on_gpu, streams), predict_cpu(on_cpu, streams);

  const auto windows = random_tokens(std::size_t(streams) * std::size_t(config.window), config.vocab);
  require_close("predictor start", predict_gpu.start(windows), predict_cpu.start(windows), kLstmForward);
  for (int p = 0; p < pushes; ++p) {
    const auto next = random_tokens(std::size_t(streams), config.vocab);
    INFO("push " << p);
    require_close("predictor push", predict_gpu.push(next), predict_cpu.push(next), kLstmForward);
  }
}

}  // namespace
