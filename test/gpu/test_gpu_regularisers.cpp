// The regularisers on the CUDA backend against the CPU reference: mask_steps,
// the LSTM with a variational recurrent mask (forward and backward), the
// label-smoothed cross-entropy, Adamax with decoupled weight decay (the
// classic op and the fused path's device-step op), and a few training steps
// of a model with all of them (classic path; the fused path with label
// smoothing and weight decay, which it supports).

#include <cmath>
#include <cstdio>

#include "gpu_test_support.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "test_support.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

Backend& fused_cuda() {
  static std::unique_ptr<Backend> backend = [] {
    CudaOptions options;
    options.lstm_impl = LstmImpl::fused;
    return make_cuda_backend(options);
  }();
  return *backend;
}

// A dropout mask [n] drawn as the model draws it: ones through dropout_forward.
std::vector<float> variational_mask(std::size_t n, float p) {
  Backend& c = cpu();
  Buffer<float> ones = upload(c, std::vector<float>(n, 1.0f)), mask = c.allocate<float>(n);
  c.dropout_forward(DropoutKey{5, 0x2004, 3ull << 32, nullptr}, p, n, ones.data(), mask.data());
  return c.download(mask);
}

}  // namespace

TEST_CASE("mask_steps matches the CPU bit for bit", "[gpu][regularisers]") {
  const std::size_t steps = 7, n = 1000;
  const auto x = random_vector(steps * n), mask = variational_mask(n, 0.3f);
  std::vector<float> out[2];
  int which = 0;
  for (Backend* be : {&gpu(), &cpu()}) {
    Buffer<float> bx = upload(*be, x), bm = upload(*be, mask), y = poisoned(*be, steps * n);
    be->mask_steps(int(steps), n, bm.data(), bx.data(), y.data());
    out[which++] = be->download(y);
  }
  CHECK(out[0] == out[1]);
}

TEST_CASE("the LSTM with a recurrent mask matches the CPU, forward and backward", "[gpu][regularisers][lstm]") {
  std::vector<LstmShape> shapes{{5, 3, 4, 6}};
  if (!small_run()) shapes.push_back({40, 128, 64, 128});
  for (const LstmShape& s : shapes) {
    const std::size_t nh = std::size_t(s.batch) * s.hidden, all = std::size_t(s.steps) * nh, g = 4 * std::size_t(s.hidden);
    const auto x = random_vector(std::size_t(s.steps) * s.batch * s.input), w = random_vector(std::size_t(s.input) * g, -0.3f, 0.3f),
               r = random_vector(std::size_t(s.hidden) * g, -0.3f, 0.3f), b = random_vector(g, -0.2f, 0.2f),
               dh = random_vector(all), mask = variational_mask(nh, 0.25f);
    std::vector<float> out[2][7];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> bx = upload(*be, x), bw = upload(*be, w), br = upload(*be, r), bb = upload(*be, b),
                    bdh = upload(*be, dh), bm = upload(*be, mask);
      Buffer<float> h = poisoned(*be, all), hm = poisoned(*be, all), c = poisoned(*be, all), gates = poisoned(*be, 4 * all);
      be->lstm_forward_masked(s, bx.data(), bw.data(), br.data(), bb.data(), bm.data(), hm.data(), h.data(), c.data(),
                              gates.data());
      Buffer<float> dx = poisoned(*be, x.size()), dw = poisoned(*be, w.size()), dr = poisoned(*be, r.size()),
                    db = poisoned(*be, b.size()), ws = be->allocate<float>(Backend::lstm_workspace_size(s));
      be->lstm_backward_masked(s, bx.data(), bw.data(), br.data(), bm.data(), hm.data(), h.data(), c.data(),
                               gates.data(), bdh.data(), dx.data(), dw.data(), dr.data(), db.data(), ws.data());
      int k = 0;
      for (Buffer<float>* o : {&h, &hm, &c, &dx, &dw, &dr, &db}) out[which][k++] = be->download(*o);
      ++which;
    }
    const std::string what = " T=" + std::to_string(s.steps) + " N=" + std::to_string(s.batch) +
                             " F=" + std::to_string(s.input) + " H=" + std::to_string(s.hidden);
    const char* names[7] = {"h", "h_masked", "c", "dx", "dW", "dR", "db"};
    for (int i = 0; i < 7; ++i)
      require_close(names[i] + what, out[0][i], out[1][i], i < 3 ? kLstmForward : kLstmBackward);
  }
}

TEST_CASE("label-smoothed softmax_cross_entropy matches the CPU, classic op and fused head", "[gpu][regularisers]") {
  const int n = 37, v = 127;
  const auto logits = random_vector(std::size_t(n) * v, -4.0f, 4.0f);
  const auto targets = random_tokens(std::size_t(n), v);
  for (float eps : {0.0f, 0.1f, 0.3f}) {
    std::vector<float> grads[2];
    double loss[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> bl = upload(*be, logits), d = poisoned(*be, logits.size());
      Buffer<std::int32_t> bt = upload(*be, targets);
      Buffer<double> st = upload(*be, std::vector<double>{0.0, 0.0});
      be->softmax_cross_entropy_smoothed(n, v, bl.data(), bt.data(), eps, 1.0f / float(n), d.data(), st.data());
      grads[which] = be->download(d);
      loss[which++] = be->download(st)[0];
    }
    INFO("eps " << eps << ": loss gpu " << loss[0] << " cpu " << loss[1]);
    require_close("smoothed dlogits eps " + std::to_string(eps), grads[0], grads[1], kElementwise);
    CHECK(std::fabs(loss[0] - loss[1]) <= 1e-5 * std::max(1.0, std::fabs(loss[1])));
  }
}

TEST_CASE("Adamax with weight decay matches the CPU, classic op and device-step op", "[gpu][regularisers]") {
  const std::size_t n = 100003;
  const auto p0 = random_vector(n), g = random_vector(n, -0.1f, 0.1f);
  const AdamaxParams hp{0.01, 0.9, 0.999, 1e-7, 0.05};
  for (bool device_step : {false, true}) {
    std::vector<float> out[2];
    int which = 0;
    for (Backend* be : {device_step ? &fused_cuda() : &gpu(), &cpu()}) {
      Buffer<float> p = upload(*be, p0), bg = upload(*be, g), m = be->allocate<float>(n), u = be->allocate<float>(n);
      Buffer<std::int64_t> step = upload(*be, std::vector<std::int64_t>{1});
      for (std::int64_t t = 1; t <= 3; ++t) {
        if (device_step && be == &fused_cuda()) {
          be->copy_to_device(step.data(), &t, sizeof t);
          be->adamax_device_step(n, p.data(), bg.data(), m.data(), u.data(), hp, step.data());
        } else {
          be->adamax(n, p.data(), bg.data(), m.data(), u.data(), hp, t);
        }
      }
      out[which++] = be->download(p);
    }
    require_close(std::string("adamax with weight decay") + (device_step ? " (device step)" : ""), out[0], out[1],
                  kElementwise);
  }
}

TEST_CASE("training steps with every regulariser follow the CPU", "[gpu][regularisers][training]") {
  ModelConfig config;
  config.vocab = 31;
  config.window = 12;
  config.hidden1 = 32;
  config.hidden2 = 16;
  config.dense = 16;
  config.input = InputMode::embedding;
  config.embedding_dim = 8;
  config.label_smoothing = 0.1;
  const int batch = 16, steps = 5;
  const auto tokens = random_tokens(std::size_t(steps * batch + config.window + 1), config.vocab);
  const AdamaxParams hp{0.01, 0.9, 0.999, 1e-7, 0.01};
  for (bool fused : {false, true}) {
    ModelConfig c = config;
    if (!fused) {
      c.input_dropout = 0.2;
      c.recurrent_dropout = 0.2;
    }
    std::vector<double> losses[2];
    std::vector<float> params[2];
    int which = 0;
    for (Backend* be : {fused ? &fused_cuda() : &gpu(), &cpu()}) {
      Model model(*be, c, batch);
      model.initialize(3);
      Adamax opt(model, hp);
      std::vector<std::int32_t> bt(std::size_t(c.window) * std::size_t(batch));
      std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
      for (int s = 0; s < steps; ++s) {
        for (int j = 0; j < batch; ++j) {
          const std::size_t start = std::size_t(s * batch + j);
          for (int t = 0; t < c.window; ++t) bt[std::size_t(t) * batch + std::size_t(j)] = tokens[start + std::size_t(t)];
          targets[std::size_t(j)] = tokens[start + std::size_t(c.window)];
        }
        model.set_batch(bt, targets);
        model.reset_stats();
        model.train_step(11, opt);
        losses[which].push_back(model.read_stats().loss_sum / batch);
      }
      params[which++] = model.download_parameters();
    }
    for (int s = 0; s < steps; ++s) {
      INFO((fused ? "fused" : "classic") << " step " << s + 1 << ": loss gpu " << losses[0][std::size_t(s)] << " cpu "
                                         << losses[1][std::size_t(s)]);
      CHECK(std::fabs(losses[0][std::size_t(s)] - losses[1][std::size_t(s)]) <= 1e-4 * losses[1][std::size_t(s)]);
    }
    require_close(std::string(fused ? "fused" : "classic") + " parameters after the steps", params[0], params[1],
                  Tolerance{1e-4, 1e-4, 1e-2});
  }
}
