// The fused path's ops (nocturne/fused_ops.hpp) on the GPU against the CPU
// backend's, which are the reference: one forward and one backward LSTM step
// (every operand mode: FP32 against the CPU in FP32; TF32 and BF16 against
// the CPU's emulation of that mode, whose operands are rounded by the same
// math/precision.hpp functions, so only the order of the FP32 sums differs
// and the FP32 GEMM tolerance applies), the partial sums and their reduction,
// the head, Adamax with its step count on the device and sampling.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

// One CUDA backend on the fused path per operand mode, and the CPU reference
// in the same mode.
Backend& fused_gpu(MathMode mode) {
  static std::unique_ptr<Backend> backends[3];
  std::unique_ptr<Backend>& b = backends[int(mode)];
  if (!b) {
    CudaOptions options;
    options.lstm_impl = LstmImpl::fused;
    options.math = mode;
    b = make_cuda_backend(options);
  }
  return *b;
}
Backend& reference_cpu(MathMode mode) {
  static std::unique_ptr<Backend> backends[3];
  std::unique_ptr<Backend>& b = backends[int(mode)];
  if (!b) {
    CpuOptions options;
    options.fused_lstm = true;
    options.math = mode;
    b = make_cpu_backend(options);
  }
  return *b;
}

const MathMode kModes[] = {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16};

struct StepShape {
  int batch, input, hidden;
};

// The recipe's layers (N 256; layer 1 F 1, layer 2 F 512), an embedding
// input, generation's 40 slots, and shapes with tails in every dimension.
std::vector<StepShape> step_shapes() {
  if (small_run()) return {{5, 1, 33}, {7, 3, 17}};
  return {{256, 1, 512}, {256, 512, 256}, {256, 64, 512}, {40, 1, 512}, {40, 512, 256}, {37, 3, 100}, {1, 1, 1},
          {3, 5, 31}};
}

std::string describe(const StepShape& s, MathMode mode) {
  return "N=" + std::to_string(s.batch) + " F=" + std::to_string(s.input) + " H=" + std::to_string(s.hidden) + " " +
         to_string(mode);
}

// Random inputs of one step at Keras-like scales.
struct StepInputs {
  std::vector<float> x, w, r, b, h_prev, c_prev;
  StepInputs(const StepShape& s) {
    const std::size_t n = std::size_t(s.batch), f = std::size_t(s.input), h = std::size_t(s.hidden);
    const float w_scale = float(std::sqrt(6.0 / double(f + 4 * h))), r_scale = float(1.0 / std::sqrt(double(h)));
    x = random_vector(n * f);
    w = random_vector(f * 4 * h, -w_scale, w_scale);
    r = random_vector(h * 4 * h, -r_scale, r_scale);
    b = random_vector(4 * h, -0.1f, 0.1f);
    h_prev = random_vector(n * h, -0.9f, 0.9f);
    c_prev = random_vector(n * h, -2.0f, 2.0f);
  }
};

TEST_CASE("the fused forward step matches the CPU in every operand mode", "[gpu][fused][lstm]") {
  Buffer<std::uint64_t> offset_gpu, offset_cpu;
  for (const StepShape& s : step_shapes()) {
    const StepInputs in(s);
    const std::size_t n = std::size_t(s.batch), h = std::size_t(s.hidden);
    for (MathMode mode : kModes) {
      for (bool from_zero : {false, true}) {
        std::vector<float> hs[2], cs[2], gs[2], ds[2];
        int which = 0;
        for (Backend* be : {&fused_gpu(mode), &reference_cpu(mode)}) {
          Buffer<float> bx = upload(*be, in.x), bw = upload(*be, in.w), br = upload(*be, in.r), bb = upload(*be, in.b),
                        bh = upload(*be, in.h_prev), bc = upload(*be, in.c_prev);
          Buffer<float> oh = poisoned(*be, n * h), oc = poisoned(*be, n * h), og = poisoned(*be, n * 4 * h),
                        od = poisoned(*be, n * h);
          const std::uint64_t offset = 7ull << 32;
          Buffer<std::uint64_t> off = upload(*be, std::vector<std::uint64_t>{offset});
          const DropoutKey key{31, rng_stream::dropout, 5, off.data()};
          LstmStepForward<float> step;
          step.batch = s.batch;
          step.input = s.input;
          step.hidden = s.hidden;
          step.x = bx.data();
          step.w = bw.data();
          step.r = br.data();
          step.b = bb.data();
          step.h_prev = from_zero ? nullptr : bh.data();
          step.c_prev = from_zero ? nullptr : bc.data();
          step.h = oh.data();
          step.c = oc.data();
          step.gates = og.data();
          step.h_dropped = od.data();
          step.dropout = &key;
          step.dropout_p = 0.25f;
          step.dropout_index = 3 * n * h;  // as step t = 3 of a sequence
          be->lstm_step_forward(step);
          hs[which] = be->download(oh);
          cs[which] = be->download(oc);
          gs[which] = be->download(og);
          ds[which++] = be->download(od);
        }
        const std::string what = describe(s, mode) + (from_zero ? " from zero" : " from a state");
        require_close("h " + what, hs[0], hs[1], kGemm);
        require_close("c " + what, cs[0], cs[1], kGemm);
        require_close("gates " + what, gs[0], gs[1], kGemm);
        require_close("h dropped " + what, ds[0], ds[1], kGemm);
        std::size_t mask_mismatches = 0;
        for (std::size_t i = 0; i < ds[0].size(); ++i) mask_mismatches += (ds[0][i] == 0.0f) != (ds[1][i] == 0.0f);
        CHECK(mask_mismatches == 0);  // the same mask, element by element
      }
    }
  }
}

TEST_CASE("the fused backward step and its partial sums match the CPU in every operand mode",
          "[gpu][fused][lstm]") {
  for (const StepShape& s : step_shapes()) {
    const StepInputs in(s);
    const std::size_t n = std::size_t(s.batch), h = std::size_t(s.hidden);
    // Activated gates in (0, 1) and (-1, 1), a cell state, gradients.
    const auto gates = random_vector(n * 4 * h, 0.05f, 0.95f);
    const auto c = random_vector(n * h, -2.0f, 2.0f), c_prev = random_vector(n * h, -2.0f, 2.0f);
    const auto dh = random_vector(n * h, -0.1f, 0.1f), dc = random_vector(n * h, -0.1f, 0.1f);
    const auto dgates_next = random_vector(n * 4 * h, -0.05f, 0.05f);
    const auto x = random_vector(n);
    for (MathMode mode : kModes) {
      for (int variant = 0; variant < 3; ++variant) {
        // 0: the last step (no dgates_next), 1: a middle step, 2: the first
        // step below a dropout (dh masked, no c_prev) with the scalar input's dW.
        std::vector<float> dg[2], dcs[2], db[2], dw[2];
        int which = 0;
        for (Backend* be : {&fused_gpu(mode), &reference_cpu(mode)}) {
          const int blocks = be->lstm_partial_blocks(s.batch);
          REQUIRE(blocks >= 1);
          Buffer<float> br = upload(*be, in.r), bg = upload(*be, gates), bc = upload(*be, c),
                        bcp = upload(*be, c_prev), bdh = upload(*be, dh), bdc = upload(*be, dc),
                        bnext = upload(*be, dgates_next), bx = upload(*be, x);
          Buffer<float> odg = poisoned(*be, n * 4 * h), odb = poisoned(*be, std::size_t(blocks) * 4 * h),
                        odw = poisoned(*be, std::size_t(blocks) * 4 * h);
          Buffer<float> db_sum = poisoned(*be, 4 * h), dw_sum = poisoned(*be, 4 * h);
          Buffer<std::uint64_t> off = upload(*be, std::vector<std::uint64_t>{9ull << 32});
          const DropoutKey key{31, rng_stream::dropout, 0, off.data()};
          LstmStepBackward<float> step;
          step.batch = s.batch;
          step.hidden = s.hidden;
          step.r = br.data();
          step.dgates_next = variant == 0 ? nullptr : bnext.data();
          step.dh = bdh.data();
          if (variant == 2) {
            step.dropout = &key;
            step.dropout_p = 0.1f;
            step.dropout_index = 2 * n * h;
          }
          step.gates = bg.data();
          step.c = bc.data();
          step.c_prev = variant == 2 ? nullptr : bcp.data();
          step.dc = bdc.data();
          step.dgates = odg.data();
          step.db_partial = odb.data();
          if (variant == 2) {
            step.x = bx.data();
            step.dw_partial = odw.data();
          }
          be->lstm_step_backward(step);
          be->lstm_partials_reduce(1, blocks, int(4 * h), odb.data(), db_sum.data());
          if (variant == 2) be->lstm_partials_reduce(1, blocks, int(4 * h), odw.data(), dw_sum.data());
          dg[which] = be->download(odg);
          dcs[which] = be->download(bdc);
          db[which] = be->download(db_sum);
          dw[which++] = variant == 2 ? be->download(dw_sum) : std::vector<float>{};
        }
        const std::string what = describe(s, mode) + " variant " + std::to_string(variant);
        require_close("dgates " + what, dg[0], dg[1], kGemm);
        require_close("dc " + what, dcs[0], dcs[1], kGemm);
        require_close("db " + what, db[0], db[1], kGemm);
        if (variant == 2) require_close("dW (scalar input) " + what, dw[0], dw[1], kGemm);
      }
    }
  }
}

TEST_CASE("the partial sums are added in the documented order, bit for bit", "[gpu][fused]") {
  const int steps = small_run() ? 3 : 40, blocks = 5, cols = small_run() ? 33 : 2048;
  const auto partials = random_vector(std::size_t(steps) * blocks * std::size_t(cols));
  std::vector<float> out[2];
  int which = 0;
  for (Backend* be : {&fused_gpu(MathMode::strict_fp32), &reference_cpu(MathMode::strict_fp32)}) {
    Buffer<float> p = upload(*be, partials), o = poisoned(*be, std::size_t(cols));
    be->lstm_partials_reduce(steps, blocks, cols, p.data(), o.data());
    out[which++] = be->download(o);
  }
  CHECK(out[0] == out[1]);  // t, then p, one float addition after another on both
}

TEST_CASE("the fused head matches the CPU, forward, loss and backward", "[gpu][fused][head]") {
  struct HeadShape {
    int batch, input, dense, vocab;
  };
  std::vector<HeadShape> shapes{{7, 9, 5, 11}, {1, 3, 2, 2}};
  if (!small_run()) shapes.insert(shapes.end(), {{256, 256, 256, 127}, {256, 256, 256, 1000}, {37, 100, 60, 33}});
  for (const HeadShape& s : shapes) {
    const std::size_t n = std::size_t(s.batch), k = std::size_t(s.input), d = std::size_t(s.dense),
                      v = std::size_t(s.vocab);
    const auto x = random_vector(n * k, -0.9f, 0.9f);
    const auto w1 = random_vector(k * d, -0.1f, 0.1f), b1 = random_vector(d, -0.1f, 0.1f);
    const auto w2 = random_vector(d * v, -0.1f, 0.1f), b2 = random_vector(v, -0.1f, 0.1f);
    const auto targets = random_tokens(n, s.vocab);
    for (bool dropout : {false, true}) {
      std::vector<float> out[2][7];
      std::vector<double> stats[2];
      int which = 0;
      for (Backend* be : {&fused_gpu(MathMode::strict_fp32), &reference_cpu(MathMode::strict_fp32)}) {
        Buffer<float> bx = upload(*be, x), bw1 = upload(*be, w1), bb1 = upload(*be, b1), bw2 = upload(*be, w2),
                      bb2 = upload(*be, b2);
        Buffer<std::int32_t> bt = upload(*be, targets);
        Buffer<float> y1 = poisoned(*be, n * d), y1d = poisoned(*be, n * d), logits = poisoned(*be, n * v),
                      dlogits = poisoned(*be, n * v), dy1 = poisoned(*be, n * d), dx = poisoned(*be, n * k),
                      dw1 = poisoned(*be, k * d), db1 = poisoned(*be, d), dw2 = poisoned(*be, d * v),
                      db2 = poisoned(*be, v);
        Buffer<double> st = upload(*be, std::vector<double>{0.5, 2.0});  // added to
        Buffer<std::uint64_t> off = upload(*be, std::vector<std::uint64_t>{4ull << 32});
        const DropoutKey key{17, rng_stream::dropout + 1, 0, off.data()};
        HeadTrainStep<float> head;
        head.batch = s.batch;
        head.input = s.input;
        head.dense = s.dense;
        head.vocab = s.vocab;
        head.x = bx.data();
        head.w1 = bw1.data();
        head.b1 = bb1.data();
        head.w2 = bw2.data();
        head.b2 = bb2.data();
        head.targets = bt.data();
        head.dropout = dropout ? &key : nullptr;
        head.dropout_p = dropout ? 0.1f : 0.0f;
        head.grad_scale = 1.0f / float(s.batch);
        head.label_smoothing = dropout ? 0.1f : 0.0f;  // the second pass smooths the targets too
        head.y1 = y1.data();
        head.y1_dropped = y1d.data();
        head.logits = logits.data();
        head.dlogits = dlogits.data();
        head.dy1 = dy1.data();
        head.dx = dx.data();
        head.dw1 = dw1.data();
        head.db1 = db1.data();
        head.dw2 = dw2.data();
        head.db2 = db2.data();
        head.stats = st.data();
        be->head_train_step(head);
        int k_out = 0;
        for (Buffer<float>* b : {&logits, &dlogits, &dx, &dw1, &db1, &dw2, &db2}) out[which][k_out++] = be->download(*b);
        stats[which++] = be->download(st);
      }
      const std::string what = "head N=" + std::to_string(s.batch) + " K=" + std::to_string(s.input) +
                               " D=" + std::to_string(s.dense) + " V=" + std::to_string(s.vocab) +
                               (dropout ? " dropout, label smoothing 0.1" : "");
      const char* names[7] = {"logits", "dlogits", "dx", "dW1", "db1", "dW2", "db2"};
      for (int i = 0; i < 7; ++i) require_close(std::string(names[i]) + " " + what, out[0][i], out[1][i], kGemm);
      INFO(what << ": loss sum gpu " << stats[0][0] << " cpu " << stats[1][0]);
      CHECK(std::fabs(stats[0][0] - stats[1][0]) <= 1e-5 * std::max(1.0, std::fabs(stats[1][0])));
      CHECK(stats[0][1] == stats[1][1]);  // correct counts: exact, unless a row's top two tie within rounding
    }
  }
}

TEST_CASE("the fused head for prediction matches the CPU", "[gpu][fused][head]") {
  const int n = small_run() ? 3 : 40, k = small_run() ? 9 : 256, d = small_run() ? 5 : 256, v = 127;
  const auto x = random_vector(std::size_t(n) * k, -0.9f, 0.9f);
  const auto w1 = random_vector(std::size_t(k) * d, -0.1f, 0.1f), b1 = random_vector(std::size_t(d), -0.1f, 0.1f);
  const auto w2 = random_vector(std::size_t(d) * v, -0.1f, 0.1f), b2 = random_vector(std::size_t(v), -0.1f, 0.1f);
  std::vector<float> probs[2];
  int which = 0;
  for (Backend* be : {&fused_gpu(MathMode::strict_fp32), &reference_cpu(MathMode::strict_fp32)}) {
    Buffer<float> bx = upload(*be, x), bw1 = upload(*be, w1), bb1 = upload(*be, b1), bw2 = upload(*be, w2),
                  bb2 = upload(*be, b2);
    Buffer<float> y1 = poisoned(*be, std::size_t(n) * d), logits = poisoned(*be, std::size_t(n) * v),
                  p = poisoned(*be, std::size_t(n) * v);
    be->head_predict(n, k, d, v, bx.data(), bw1.data(), bb1.data(), bw2.data(), bb2.data(), y1.data(),
                     logits.data(), p.data());
    probs[which++] = be->download(p);
  }
  require_close("head_predict probabilities", probs[0], probs[1], kGemm);
}

TEST_CASE("Adamax with its step count on the device matches the CPU's Adamax", "[gpu][fused][optimizer]") {
  const std::size_t n = small_run() ? 10007 : 1938559;
  const auto p0 = random_vector(n), g0 = random_vector(n, -0.01f, 0.01f);
  const auto m0 = random_vector(n, -0.001f, 0.001f), u0 = random_vector(n, 0.0f, 0.01f);
  AdamaxParams hp;
  hp.learning_rate = 0.002;
  std::vector<float> p[2], m[2], u[2];
  int which = 0;
  for (Backend* be : {&fused_gpu(MathMode::strict_fp32), &reference_cpu(MathMode::strict_fp32)}) {
    Buffer<float> bp = upload(*be, p0), bg = upload(*be, g0), bm = upload(*be, m0), bu = upload(*be, u0);
    Buffer<std::int64_t> step = be->allocate<std::int64_t>(1);
    for (std::int64_t t : {1, 2, 3, 1000}) {
      be->copy_to_device(step.data(), &t, sizeof t);
      if (be == &reference_cpu(MathMode::strict_fp32))
        be->adamax(n, bp.data(), bg.data(), bm.data(), bu.data(), hp, t);  // the host-step reference
      else
        be->adamax_device_step(n, bp.data(), bg.data(), bm.data(), bu.data(), hp, step.data());
    }
    p[which] = be->download(bp);
    m[which] = be->download(bm);
    u[which++] = be->download(bu);
  }
  require_close("adamax (device step) params", p[0], p[1], kElementwise);
  require_close("adamax (device step) m", m[0], m[1], kElementwise);
  CHECK(u[0] == u[1]);  // max of products: exact
}

TEST_CASE("sampling on the GPU picks the CPU's tokens from the same probabilities", "[gpu][fused][sampling]") {
  const int streams = small_run() ? 3 : 64, vocab = 127, slots = 40, notes = small_run() ? 4 : 20;
  struct Mode {
    bool greedy;
    double temperature;
    int top_k;
    double top_p;
  };
  for (const Mode& mode : {Mode{true, 1.0, 0, 1.0}, Mode{false, 1.0, 0, 1.0}, Mode{false, 0.7, 0, 0.9},
                           Mode{false, 1.3, 10, 1.0}, Mode{false, 0.9, 20, 0.95}}) {
    // Rows with ties, zeros and a spread of sizes, fresh for each note, the
    // same for both backends.
    std::vector<std::vector<float>> rows(static_cast<std::size_t>(notes));
    for (auto& probs : rows) {
      probs = random_vector(std::size_t(streams) * vocab, 0.0f, 1.0f);
      for (std::size_t i = 0; i < probs.size(); i += 7) probs[i] = 0.0f;
      for (std::size_t i = 3; i < probs.size(); i += 11) probs[i] = probs[i - 1];
    }
    std::vector<std::int32_t> chosen[2], tokens[2], history[2];
    std::vector<std::uint64_t> counter[2];
    int which = 0;
    for (Backend* be : {&fused_gpu(MathMode::strict_fp32), &reference_cpu(MathMode::strict_fp32)}) {
      Buffer<std::uint64_t> note = upload(*be, std::vector<std::uint64_t>{0});
      Buffer<std::int32_t> out = be->allocate<std::int32_t>(std::size_t(streams)),
                           slot_tokens = be->allocate<std::int32_t>(std::size_t(slots) * streams),
                           hist = be->allocate<std::int32_t>(std::size_t(notes) * streams);
      const std::uint64_t seed = 12345;
      for (int k = 0; k < notes; ++k) {
        Buffer<float> bp = upload(*be, rows[std::size_t(k)]);
        SampleTokens<float> r;
        r.streams = streams;
        r.vocab = vocab;
        r.probs = bp.data();
        r.greedy = mode.greedy;
        r.temperature = mode.temperature;
        r.top_k = mode.top_k;
        r.top_p = mode.top_p;
        r.seed = seed;
        r.first_stream = rng_stream::sampling + 3;
        r.note = note.data();
        r.chosen = out.data();
        r.tokens = slot_tokens.data();
        r.slots = slots;
        r.history = hist.data();
        r.history_notes = notes;
        be->sample_tokens(r);
      }
      chosen[which] = be->download(out);
      tokens[which] = be->download(slot_tokens);
      history[which] = be->download(hist);
      counter[which++] = be->download(note);
    }
    INFO("greedy " << mode.greedy << " temperature " << mode.temperature << " top-k " << mode.top_k << " top-p "
                   << mode.top_p);
    CHECK(history[0] == history[1]);
    CHECK(chosen[0] == chosen[1]);
    CHECK(tokens[0] == tokens[1]);
    CHECK(counter[0] == std::vector<std::uint64_t>{std::uint64_t(notes)});
    CHECK(counter[1] == counter[0]);
  }
}

}  // namespace
