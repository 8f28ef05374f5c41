// The cuDNN LSTM path (src/cudnn) against the CPU reference backend and our
// CUDA backend, on seeded random inputs, for several shapes (the recipe's
// two layers included) and every algorithm and math type cuDNN accepts for
// each shape. "Not supported" (CUDNN_STATUS_NOT_SUPPORTED) is reported apart
// and is not a failure; any other error is. STANDARD with FMA math must work
// for every shape.
//
// Tolerances: FMA math is strict fp32, so the CPU comparison uses the same
// tolerances as our CUDA backend's LSTM tests (test/gpu/gpu_test_support.hpp).
// Tensor-op math rounds GEMM operands to TF32 (10-bit mantissa, about 5e-4
// relative per product) or, with conversion allowed, to fp16 (the same
// mantissa, narrower range): forward normalised error within 5e-3, backward
// within 2e-2 (gradients sum over T * N products and carry the rounding of 40
// steps); these are bounds with room, not measurements (no GPU run yet).

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cudnn/cudnn_lstm.hpp"
#include "gpu/gpu_test_support.hpp"
#include "gpu/recipe_training.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "test_support.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
using nocturne::cudnn::Algo;
using nocturne::cudnn::CudnnLstm;
using nocturne::cudnn::Math;

const bool needs_gpu = [] {
  const CudaStatus status = cuda_status();
  if (!status.usable) return nocturne::test::set_skip_reason("no usable CUDA device: " + status.reason);
  return true;
}();

constexpr Tolerance kTensorOpForward{5e-3, 1e-2, 1.0};
constexpr Tolerance kTensorOpBackward{2e-2, 5e-2, 1.0};

std::vector<LstmShape> shapes() {
  std::vector<LstmShape> s = {{5, 3, 4, 8}, {7, 16, 1, 32}, {12, 8, 64, 128}, {40, 33, 512, 256}};
  if (!small_run()) {
    s.push_back({40, 256, 1, 512});    // the recipe's layer 1
    s.push_back({40, 256, 512, 256});  // the recipe's layer 2
  }
  return s;
}

std::string name(const LstmShape& s) {
  return "T" + std::to_string(s.steps) + " N" + std::to_string(s.batch) + " F" + std::to_string(s.input) + " H" +
         std::to_string(s.hidden);
}

// One set of inputs and the reference results of the CPU backend.
struct Case {
  LstmShape shape;
  std::vector<float> x, w, r, b, dh;
  std::vector<float> h, dx, dw, dr, db;  // CPU reference
};

Case make_case(const LstmShape& s) {
  Case k;
  k.shape = s;
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  // Weights scaled like Glorot so that 40 steps neither saturate nor vanish.
  const float ws = 1.0f / float(std::sqrt(double(s.input + s.hidden)));
  k.x = random_vector(tn * std::size_t(s.input));
  k.w = random_vector(std::size_t(s.input) * g4, -ws, ws);
  k.r = random_vector(std::size_t(s.hidden) * g4, -ws, ws);
  k.b = random_vector(g4, -0.5f, 0.5f);
  k.dh = random_vector(tn * std::size_t(s.hidden));

  Backend& c = cpu();
  auto x = upload(c, k.x), w = upload(c, k.w), r = upload(c, k.r), b = upload(c, k.b), dh = upload(c, k.dh);
  auto h = c.allocate<float>(tn * std::size_t(s.hidden)), cc = c.allocate<float>(tn * std::size_t(s.hidden));
  auto gates = c.allocate<float>(tn * g4);
  auto dx = c.allocate<float>(tn * std::size_t(s.input)), dw = c.allocate<float>(std::size_t(s.input) * g4);
  auto dr = c.allocate<float>(std::size_t(s.hidden) * g4), db = c.allocate<float>(g4);
  auto work = c.allocate<float>(Backend::lstm_workspace_size(s));
  c.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), h.data(), cc.data(), gates.data());
  c.lstm_backward(s, x.data(), w.data(), r.data(), h.data(), cc.data(), gates.data(), dh.data(), dx.data(), dw.data(),
                  dr.data(), db.data(), work.data());
  k.h = c.download(h);
  k.dx = c.download(dx);
  k.dw = c.download(dw);
  k.dr = c.download(dr);
  k.db = c.download(db);
  return k;
}

struct Results {
  std::vector<float> h, dx, dw, dr, db;
};

void compare(const std::string& what, const Results& got, const Results& want, const Tolerance& fwd,
             const Tolerance& bwd) {
  require_close(what + " h", got.h, want.h, fwd);
  require_close(what + " dx", got.dx, want.dx, bwd);
  require_close(what + " dW", got.dw, want.dw, bwd);
  require_close(what + " dR", got.dr, want.dr, bwd);
  require_close(what + " db", got.db, want.db, bwd);
}

Results reference(const Case& k) { return {k.h, k.dx, k.dw, k.dr, k.db}; }

// Our CUDA backend on the same inputs.
Results run_ours(const Case& k) {
  Backend& g = gpu();
  const LstmShape& s = k.shape;
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  auto x = upload(g, k.x), w = upload(g, k.w), r = upload(g, k.r), b = upload(g, k.b), dh = upload(g, k.dh);
  auto h = poisoned(g, tn * std::size_t(s.hidden)), c = poisoned(g, tn * std::size_t(s.hidden));
  auto gates = poisoned(g, tn * g4), dx = poisoned(g, tn * std::size_t(s.input));
  auto dw = poisoned(g, std::size_t(s.input) * g4), dr = poisoned(g, std::size_t(s.hidden) * g4);
  auto db = poisoned(g, g4), work = poisoned(g, Backend::lstm_workspace_size(s));
  g.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), h.data(), c.data(), gates.data());
  g.lstm_backward(s, x.data(), w.data(), r.data(), h.data(), c.data(), gates.data(), dh.data(), dx.data(), dw.data(),
                  dr.data(), db.data(), work.data());
  return {g.download(h), g.download(dx), g.download(dw), g.download(dr), g.download(db)};
}

// cuDNN through CudnnLstm, on the legacy default stream (which orders with
// the CUDA backend's blocking stream, whose buffers and transfers we reuse).
Results run_cudnn(const Case& k, CudnnLstm& lstm) {
  Backend& g = gpu();
  const LstmShape& s = k.shape;
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  auto x = upload(g, k.x), w = upload(g, k.w), r = upload(g, k.r), b = upload(g, k.b), dh = upload(g, k.dh);
  auto h = poisoned(g, tn * std::size_t(s.hidden)), dx = poisoned(g, tn * std::size_t(s.input));
  auto dw = poisoned(g, std::size_t(s.input) * g4), dr = poisoned(g, std::size_t(s.hidden) * g4);
  auto db = poisoned(g, g4);
  g.synchronize();
  lstm.set_weights(w.data(), r.data(), b.data());
  lstm.forward(x.data(), h.data());
  lstm.backward(x.data(), h.data(), dh.data(), dx.data());
  lstm.weight_gradients(dw.data(), dr.data(), db.data());
  return {g.download(h), g.download(dx), g.download(dw), g.download(dr), g.download(db)};
}

}  // namespace

TEST_CASE("cuDNN LSTM: every accepted algorithm and math type matches the CPU reference and our CUDA backend",
          "[cudnn][lstm]") {
  std::printf("cuDNN %s loaded (compiled against %s)\n",
              cudnn::version_text(cudnn::loaded_version()).c_str(),
              cudnn::version_text(cudnn::compiled_version()).c_str());
  for (const LstmShape& s : shapes()) {
    const Case k = make_case(s);
    const Results want = reference(k);
    const Results ours = run_ours(k);
    compare("ours vs CPU, " + name(s), ours, want, kLstmForward, kLstmBackward);
    int ran = 0, unsupported = 0;
    for (Algo algo : kCudnnAlgos) {
      for (Math math : cudnn::kAllMaths) {
        const std::string what = std::string("cuDNN ") + nocturne::to_string(algo) + "/" + cudnn::to_string(math) +
                                 ", " + name(s);
        INFO(what);
        Results got;
        try {
          CudnnLstm lstm(s, algo, math);
          got = run_cudnn(k, lstm);
          if (algo == Algo::persist_dynamic) std::printf("built: %s in %.1f ms\n", what.c_str(), lstm.build_ms());
        } catch (const NotSupportedError& e) {
          ++unsupported;
          std::printf("not supported: %s: %s\n", what.c_str(), e.what());
          CHECK_FALSE((algo == Algo::standard && math == Math::fma));
          continue;
        } catch (const DeviceError& e) {
          // A failure of one pair is reported, and the other pairs and shapes
          // still run: one GPU session should show every result.
          FAIL_CHECK(what << " failed: " << e.what());
          continue;
        }
        ++ran;
        const bool tc = cudnn::uses_tensor_cores(math);
        compare(what + " vs CPU", got, want, tc ? kTensorOpForward : kLstmForward,
                tc ? kTensorOpBackward : kLstmBackward);
        if (!tc) compare(what + " vs ours", got, ours, kLstmForward, kLstmBackward);
      }
    }
    std::printf("%s: %d algorithm/math pairs ran, %d not supported\n", name(s).c_str(), ran, unsupported);
    CHECK(ran >= 1);
  }
}

TEST_CASE("cuDNN LSTM: the backend-interface wiring matches the CPU reference", "[cudnn][lstm]") {
  const LstmShape s{9, 5, 6, 16};
  const Case k = make_case(s);
  Backend& g = gpu();
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  auto x = upload(g, k.x), w = upload(g, k.w), r = upload(g, k.r), b = upload(g, k.b), dh = upload(g, k.dh);
  auto h = poisoned(g, tn * std::size_t(s.hidden)), c = poisoned(g, tn * std::size_t(s.hidden));
  auto gates = poisoned(g, tn * g4), dx = poisoned(g, tn * std::size_t(s.input));
  auto dw = poisoned(g, std::size_t(s.input) * g4), dr = poisoned(g, std::size_t(s.hidden) * g4);
  auto db = poisoned(g, g4);
  g.synchronize();
  cudnn::cudnn_lstm_forward(s, x.data(), w.data(), r.data(), b.data(), h.data(), c.data(), gates.data(), nullptr);
  cudnn::cudnn_lstm_backward(s, x.data(), w.data(), r.data(), h.data(), c.data(), gates.data(), dh.data(), dx.data(),
                             dw.data(), dr.data(), db.data(), nullptr, nullptr);
  const Results got{g.download(h), g.download(dx), g.download(dw), g.download(dr), g.download(db)};
  compare("wired cuDNN vs CPU", got, reference(k), kLstmForward, kLstmBackward);

  // A backward without its forward is refused, not computed from stale state.
  auto other_h = poisoned(g, tn * std::size_t(s.hidden));
  CHECK_THROWS_AS(cudnn::cudnn_lstm_backward(s, x.data(), w.data(), r.data(), other_h.data(), c.data(), gates.data(),
                                             dh.data(), dx.data(), dw.data(), dr.data(), db.data(), nullptr, nullptr),
                  DeviceError);
  // Releasing the stream's cached layers forgets the forward too.
  cudnn::cudnn_lstm_release(nullptr);
  CHECK_THROWS_AS(cudnn::cudnn_lstm_backward(s, x.data(), w.data(), r.data(), h.data(), c.data(), gates.data(),
                                             dh.data(), dx.data(), dw.data(), dr.data(), db.data(), nullptr, nullptr),
                  DeviceError);
  cudnn::cudnn_lstm_release_cache();
}

// The path `train --lstm-impl cudnn` takes: the CUDA backend with its LSTM
// layers through cuDNN, driven by the model (record() runs eagerly there): a
// prediction (layer 2 reads h1), then training steps (layer 2 reads h1's
// dropout: other cuDNN layer objects, whose forward and backward must meet).
// Dropout masks are the backend's own, so the CPU run is the reference step
// for step.
TEST_CASE("cuDNN LSTM inside the CUDA backend: a prediction and training steps follow the CPU", "[cudnn][training]") {
  CudaOptions options;
  options.lstm_impl = LstmImpl::cudnn;
  const std::unique_ptr<Backend> with_cudnn = make_cuda_backend(options);
  CHECK(with_cudnn->name().find("cuDNN LSTM") != std::string::npos);
  ModelConfig config;
  config.vocab = 31;
  config.window = 12;
  config.hidden1 = 48;
  config.hidden2 = 24;
  config.dense = 16;
  const int batch = 8, steps = 3;
  const auto tokens = random_tokens(std::size_t(steps) * std::size_t(config.window) * std::size_t(batch),
                                    config.vocab);
  const auto targets = random_tokens(std::size_t(steps) * std::size_t(batch), config.vocab);
  struct Run {
    std::vector<double> losses;
    std::vector<float> params, probs;
  };
  auto train = [&](Backend& backend) {
    Model model(backend, config, batch);
    model.initialize(5);
    Adamax optimizer(backend, model.parameters().size(), AdamaxParams{});
    Run run;
    const std::size_t window_tokens = std::size_t(config.window) * std::size_t(batch);
    model.set_batch(std::span<const std::int32_t>(tokens.data(), window_tokens), {});
    run.probs = model.predict();
    for (int step = 0; step < steps; ++step) {
      const std::span<const std::int32_t> t(tokens.data() + std::size_t(step) * window_tokens, window_tokens);
      const std::span<const std::int32_t> y(targets.data() + std::size_t(step) * std::size_t(batch),
                                            std::size_t(batch));
      model.set_batch(t, y);
      model.reset_stats();
      model.train_step(3, std::uint64_t(step));
      optimizer.step(model.parameters().data(), model.gradients().data());
      run.losses.push_back(model.read_stats().loss_sum / double(batch));
    }
    run.params = model.download_parameters();
    return run;
  };
  const Run got = train(*with_cudnn);
  const Run want = train(cpu());
  for (int i = 0; i < steps; ++i) {
    INFO("step " << i + 1 << ": loss cpu " << want.losses[std::size_t(i)] << ", cuDNN " << got.losses[std::size_t(i)]);
    // Step 1 is the forward pass alone (FP32 rounding); later steps carry
    // the updates' rounding too (see test/gpu/test_gpu_training.cpp).
    CHECK(std::fabs(got.losses[std::size_t(i)] - want.losses[std::size_t(i)]) <=
          (i == 0 ? 1e-5 : 1e-3) * want.losses[std::size_t(i)]);
  }
  const Errors p = measure(got.params, want.params);
  INFO("parameters: normalised " << p.normalised << ", max abs " << p.max_abs);
  CHECK(p.nonfinite == 0);
  CHECK(p.normalised <= 1e-2);
  require_close("prediction from the initial parameters", got.probs, want.probs, kLstmForward);
}

// The recipe's model trained through cuDNN (`train --lstm-impl cudnn
// --cudnn-algo A`), every algorithm in strict FP32 (cuDNN FMA math) and TF32
// (cuDNN default math), against our kernels from the same parameters, batches
// and dropout masks: the bounds of our GPU against the CPU
// (test/gpu/test_gpu_training.cpp explains them), and of TF32 against FP32.
TEST_CASE("the cuDNN path trains the recipe's model to our kernels' losses, every algorithm", "[cudnn][training]") {
  const TrainingRun ours = train(gpu());
  int ran = 0;
  for (MathMode math : {MathMode::strict_fp32, MathMode::tf32}) {
    for (CudnnAlgo algo : kCudnnAlgos) {
      const bool tf32 = math == MathMode::tf32;
      const std::string what = std::string("cuDNN ") + nocturne::to_string(algo) + (tf32 ? " tf32" : " fp32");
      CudaOptions options;
      options.math = math;
      options.lstm_impl = LstmImpl::cudnn;
      options.cudnn_algo = algo;
      TrainingRun got;
      try {
        const std::unique_ptr<Backend> backend = make_cuda_backend(options);
        CHECK(backend->name().find(nocturne::to_string(algo)) != std::string::npos);
        got = train(*backend);
      } catch (const NotSupportedError& e) {
        std::printf("%s: not supported (%.200s)\n", what.c_str(), e.what());
        CHECK(algo != CudnnAlgo::standard);  // STANDARD takes every shape
        continue;
      } catch (const DeviceError& e) {
        // Reported, and the other algorithms still run: one GPU session
        // should show every result.
        FAIL_CHECK(what << " failed: " << e.what());
        continue;
      }
      ++ran;
      const Errors p3 = measure(got.params_at_3, ours.params_at_3), g1 = measure(got.first_gradients,
                                                                                ours.first_gradients);
      std::printf("%s vs ours: step 1 loss %.7f vs %.7f, step %d %.7f vs %.7f; step 1 gradients normalised diff "
                  "%.2e; parameters after step 3 %.2e\n",
                  what.c_str(), got.losses.front(), ours.losses.front(), kSteps, got.losses.back(),
                  ours.losses.back(), g1.normalised, p3.normalised);
      if (tf32)
        check_tf32_run_near_fp32(what + " vs ours in fp32", got, ours);
      else
        check_fp32_runs_agree(what + " vs ours", got, ours);
    }
  }
  CHECK(ran >= 2);  // STANDARD in both maths at least
}
