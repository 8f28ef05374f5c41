// The fused path's kernels (kernels/fused_kernels.hpp), called directly on
// the GPU against host double references: the step ops' reference of
// test/kernels_host/step_reference.hpp (the one the host simulator is checked
// against) and, for the FP32 step kernels, the host simulator itself, whose
// arithmetic is the kernel's (the same phase functions, FMA for FMA) except
// the cell's expf / tanhf; the head, the partial sums, Adamax with its step on
// the device and sampling against references written here.
// Part of test_gpu_backend: skipped where no GPU can run our kernels.

#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "gpu_test_support.hpp"
#include "kernels/fused_kernels.hpp"
#include "math/adamax.hpp"
#include "math/sampling.hpp"
#include "step_reference.hpp"
#include "step_simulator.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
using namespace nocturne::test::fused;
using kernels::GemmOperands;

// The kernels run on the legacy default stream, which orders itself with
// the backend's blocking stream (its uploads before, its downloads after);
// sync: a fault names its kernel.
const kernels::Launch kLaunch{nullptr, true};

// A device copy of a host buffer, keeping its misalignment (one float past
// a 256-byte boundary where the host's is misaligned).
struct DeviceCopy {
  Buffer<float> buffer;
  std::size_t offset = 0;
  DeviceCopy(const HostBuffer& host, bool misaligned) : offset(misaligned ? 1 : 0) {
    std::vector<float> padded(host.size() + offset, 0.0f);
    std::copy(host.data(), host.data() + host.size(), padded.begin() + std::ptrdiff_t(offset));
    buffer = upload(gpu(), padded);
  }
  float* data() { return buffer.data() + offset; }
  std::vector<float> values() {
    const std::vector<float> all = gpu().download(buffer);
    return {all.begin() + std::ptrdiff_t(offset), all.end()};
  }
};

Buffer<std::uint64_t> device_counter(std::uint64_t value) {
  return gpu().upload(std::span<const std::uint64_t>(&value, 1));
}

// ---- the recurrent steps ----------------------------------------------------------------------

void gpu_forward(const ForwardCase& shape, GemmOperands operands) {
  INFO("forward N " << shape.batch << " F " << shape.input << " H " << shape.hidden << " zero state "
                    << shape.zero_state << " dropout " << shape.dropout << " misaligned " << shape.misaligned << " "
                    << operands_name(operands));
  ForwardData d(shape);
  const ForwardReference want = reference_forward(d, operands);
  const bool m = shape.misaligned;
  DeviceCopy x(d.x, m), w(d.w, m), r(d.r, m), b(d.b, m), h_prev(d.h_prev, m), c_prev(d.c_prev, m);
  DeviceCopy h(d.h, m), c(d.c, m), gates(d.gates, m), h_dropped(d.h_dropped, m);  // NaN: unwritten shows
  Buffer<std::uint64_t> offset = device_counter(d.device_offset);
  DropoutKey key = d.key;
  key.offset_on_device = offset.data();
  LstmStepForward<float> s = d.step;
  s.x = x.data();
  s.w = w.data();
  s.r = r.data();
  s.b = b.data();
  s.h_prev = s.h_prev ? h_prev.data() : nullptr;
  s.c_prev = s.c_prev ? c_prev.data() : nullptr;
  s.h = h.data();
  s.c = c.data();
  s.gates = gates.data();
  if (s.h_dropped) {
    s.h_dropped = h_dropped.data();
    s.dropout = &key;
  }
  kernels::lstm_step_forward(kLaunch, operands, s);
  const std::vector<float> got_gates = gates.values(), got_c = c.values(), got_h = h.values();
  require_close("gates", got_gates, want.gates, 2e-5);
  require_close("c", got_c, want.c, 2e-5);
  require_close("h", got_h, want.h, 2e-5);
  if (shape.dropout) require_close("h_dropped", h_dropped.values(), want.h_dropped, 4e-5);
  if (operands != GemmOperands::fp32) return;
  // The simulator's sums are the kernel's: what differs is expf / tanhf
  // (CUDA's against the host's, a few ulp) carried through the cell.
  kernels::simulation::forward(operands, kernels::make_forward_args(d.step),
                               kernels::simulation::ThreadOrder::forwards);
  const std::vector<double> sim_gates(d.gates.data(), d.gates.data() + d.gates.size());
  const std::vector<double> sim_h(d.h.data(), d.h.data() + d.h.size());
  require_close("gates against the simulator", got_gates, sim_gates, 1e-6);
  require_close("h against the simulator", got_h, sim_h, 2e-6);
}

void gpu_backward(const BackwardCase& shape, GemmOperands operands) {
  INFO("backward N " << shape.batch << " H " << shape.hidden << " last " << shape.last_step << " first "
                     << shape.first_step << " dh " << shape.with_dh << " masked " << shape.masked << " x "
                     << shape.with_x << " misaligned " << shape.misaligned << " " << operands_name(operands));
  BackwardData d(shape);
  const BackwardReference want = reference_backward(d, operands);
  const bool m = shape.misaligned;
  DeviceCopy r(d.r, m), dgates_next(d.dgates_next, m), dh(d.dh, m), gates(d.gates, m), c(d.c, m), c_prev(d.c_prev, m),
      dc(d.dc_in, m), dgates(d.dgates, m), db(d.db_partial, m), x(d.x, m), dw(d.dw_partial, m);
  Buffer<std::uint64_t> offset = device_counter(d.device_offset);
  DropoutKey key = d.key;
  key.offset_on_device = offset.data();
  LstmStepBackward<float> s = d.step;
  s.r = r.data();
  s.dgates_next = s.dgates_next ? dgates_next.data() : nullptr;
  s.dh = s.dh ? dh.data() : nullptr;
  if (s.dropout) s.dropout = &key;
  s.gates = gates.data();
  s.c = c.data();
  s.c_prev = s.c_prev ? c_prev.data() : nullptr;
  s.dc = dc.data();
  s.dgates = dgates.data();
  s.db_partial = db.data();
  s.x = s.x ? x.data() : nullptr;
  s.dw_partial = s.x ? dw.data() : nullptr;
  kernels::lstm_step_backward(kLaunch, operands, s);
  require_close("dgates", dgates.values(), want.dgates, 2e-5);
  require_close("dc", dc.values(), want.dc, 2e-5);
  require_close("db_partial", db.values(), want.db_partial, 1e-4);
  if (shape.with_x) require_close("dw_partial", dw.values(), want.dw_partial, 1e-4);
}

const ForwardCase kForwardCases[] = {
    {1, 1, 1},
    {3, 1, 5, false, true},
    {33, 1, 17, false, true},
    {40, 3, 20},
    {65, 64, 16},
    {70, 6, 33, true},
    {64, 40, 24, false, false, true},
    {256, 1, 512, false, true},
    {256, 512, 256},
    {256, 64, 512, true, true},
    {40, 1, 512},
};
const BackwardCase kBackwardCases[] = {
    {1, 1},
    {5, 3, false, false, true, true, true},
    {33, 17, false, false, true, false, true},
    {40, 20, true, false, true, true, true},
    {70, 33, false, false, true, true, false, true},
    {256, 512, false, false, true, true, true},
    {256, 256, false, false, true},
    {256, 512, false, true, true},
};

TEST_CASE("fused forward step kernels against the double reference and the simulator", "[gpu][fused]") {
  for (GemmOperands operands : {GemmOperands::fp32, GemmOperands::tf32, GemmOperands::bf16})
    for (const ForwardCase& shape : kForwardCases)
      if (!small_run() || shape.batch * shape.hidden <= 4096) gpu_forward(shape, operands);
}

TEST_CASE("fused backward step kernels against the double reference", "[gpu][fused]") {
  for (GemmOperands operands : {GemmOperands::fp32, GemmOperands::tf32, GemmOperands::bf16})
    for (const BackwardCase& shape : kBackwardCases)
      if (!small_run() || shape.batch * shape.hidden <= 4096) gpu_backward(shape, operands);
}

// ---- partial sums, Adamax, slots ----------------------------------------------------------------

TEST_CASE("lstm_partials_reduce adds steps then blocks in order, bit for bit", "[gpu][fused]") {
  for (auto [steps, blocks, cols] : {std::tuple{1, 1, 1}, std::tuple{40, 8, 2048}, std::tuple{3, 5, 300}}) {
    const std::vector<float> partials = random_vector(std::size_t(steps) * blocks * cols);
    Buffer<float> in = upload(gpu(), partials);
    Buffer<float> out = poisoned(gpu(), std::size_t(cols));
    kernels::lstm_partials_reduce(kLaunch, steps, blocks, cols, in.data(), out.data());
    const std::vector<float> got = gpu().download(out);
    for (int j = 0; j < cols; ++j) {
      float sum = 0.0f;
      for (int row = 0; row < steps * blocks; ++row) sum += partials[std::size_t(row) * cols + std::size_t(j)];
      REQUIRE(got[std::size_t(j)] == sum);
    }
  }
}

TEST_CASE("adamax_device_step reads its step count on the device", "[gpu][fused]") {
  const std::size_t n = 100003;
  const AdamaxParams hp{0.002, 0.9, 0.999, 1e-7};
  const std::vector<float> params = random_vector(n), grads = random_vector(n), m0 = random_vector(n, -0.1f, 0.1f),
                           u0 = random_vector(n, 0.0f, 0.2f);
  for (std::int64_t step : {std::int64_t(1), std::int64_t(7), std::int64_t(12345)}) {
    Buffer<float> p = upload(gpu(), params), g = upload(gpu(), grads), m = upload(gpu(), m0), u = upload(gpu(), u0);
    Buffer<std::int64_t> step_on_device = gpu().upload(std::span<const std::int64_t>(&step, 1));
    kernels::adamax_device_step(kLaunch, n, p.data(), g.data(), m.data(), u.data(), hp, step_on_device.data());
    std::vector<float> want_p = params, want_m = m0, want_u = u0;
    const float lr_t = float(math::adamax_step_size(hp.learning_rate, hp.beta1, step));
    for (std::size_t i = 0; i < n; ++i)
      math::adamax_element(want_p[i], grads[i], want_m[i], want_u[i], lr_t, float(hp.beta1), float(hp.beta2),
                           float(hp.epsilon));
    require_close("params", gpu().download(p), want_p, kElementwise);
    require_close("m", gpu().download(m), want_m, kElementwise);
    CHECK(gpu().download(u) == want_u);  // max(b2 u, |g|): one rounding, exact
  }
}

// ---- sampling ---------------------------------------------------------------------------------------

TEST_CASE("sample_tokens chooses choose_token's tokens on the device", "[gpu][fused][sampling]") {
  const std::uint64_t seed = 99;
  for (int vocab : {5, 127, 1000}) {
    const int streams = 7, slots = 3, history_notes = 20;
    std::vector<float> probs(std::size_t(streams) * vocab);
    for (int s = 0; s < streams; ++s) {  // softmax rows, one of them without a candidate
      std::vector<float> logits = random_vector(std::size_t(vocab), -4.0f, 4.0f);
      double sum = 0;
      for (float l : logits) sum += std::exp(double(l));
      for (int v = 0; v < vocab; ++v)
        probs[std::size_t(s) * vocab + v] = s == 3 ? 0.0f : float(std::exp(double(logits[std::size_t(v)])) / sum);
    }
    Buffer<float> device_probs = upload(gpu(), probs);
    for (math::SamplingRule rule : {math::SamplingRule{true, 1.0, 0, 1.0}, math::SamplingRule{false, 1.0, 0, 1.0},
                                    math::SamplingRule{false, 0.7, 20, 0.9}, math::SamplingRule{false, 1.5, 0, 0.5}}) {
      const std::uint64_t note = 12;
      Buffer<std::uint64_t> counter = device_counter(note);
      Buffer<std::int32_t> chosen = gpu().allocate<std::int32_t>(std::size_t(streams));
      Buffer<std::int32_t> tokens = gpu().allocate<std::int32_t>(std::size_t(slots * streams));
      const std::vector<std::int32_t> sentinel(std::size_t(history_notes * streams), -7);
      Buffer<std::int32_t> history = gpu().upload(std::span<const std::int32_t>(sentinel));
      SampleTokens<float> request;
      request.streams = streams;
      request.vocab = vocab;
      request.probs = device_probs.data();
      request.greedy = rule.greedy;
      request.temperature = rule.temperature;
      request.top_k = rule.top_k;
      request.top_p = rule.top_p;
      request.seed = seed;
      request.first_stream = 0x5000;
      request.note = counter.data();
      request.chosen = chosen.data();
      request.tokens = tokens.data();
      request.slots = slots;
      request.history = history.data();
      request.history_notes = history_notes;
      kernels::sample_tokens(kLaunch, request);
      const std::vector<std::int32_t> got = gpu().download(chosen), got_tokens = gpu().download(tokens),
                                      got_history = gpu().download(history);
      CHECK(gpu().download(counter)[0] == note + 1);
      std::vector<double> weight(static_cast<std::size_t>(vocab));
      std::vector<std::int32_t> order(static_cast<std::size_t>(vocab));
      for (int s = 0; s < streams; ++s) {
        const std::int32_t want = math::choose_token_row(probs.data() + std::size_t(s) * vocab, vocab, rule, seed,
                                                         0x5000u + std::uint32_t(s), note, weight.data(), order.data());
        INFO("vocab " << vocab << " stream " << s << " greedy " << rule.greedy << " T " << rule.temperature);
        CHECK(got[std::size_t(s)] == want);
        if (s == 3) CHECK(want == math::kNoToken);
        for (int k = 0; k < slots; ++k) CHECK(got_tokens[std::size_t(k * streams + s)] == (want >= 0 ? want : 0));
        for (int row = 0; row < history_notes; ++row)
          CHECK(got_history[std::size_t(row * streams + s)] == (row == int(note) ? want : -7));
      }
    }
  }
}

// ---- the head -------------------------------------------------------------------------------------------

struct HeadReference {
  std::vector<double> y1, y1_dropped, logits, probs, dlogits, dy1, dx, dw1, db1, dw2, db2;
  double loss = 0, correct = 0;
};

// HeadTrainStep in double, from its definition in fused_ops.hpp.
HeadReference reference_head(int n, int k_in, int d_out, int v_out, const std::vector<float>& x,
                             const std::vector<float>& w1, const std::vector<float>& b1, const std::vector<float>& w2,
                             const std::vector<float>& b2, const std::vector<std::int32_t>& targets,
                             const DropoutKey* key, float p, float grad_scale) {
  const std::size_t N = std::size_t(n), K = std::size_t(k_in), D = std::size_t(d_out), V = std::size_t(v_out);
  HeadReference r;
  r.y1.assign(N * D, 0);
  r.y1_dropped.assign(N * D, 0);
  r.logits.assign(N * V, 0);
  r.probs.assign(N * V, 0);
  r.dlogits.assign(N * V, 0);
  r.dy1.assign(N * D, 0);
  r.dx.assign(N * K, 0);
  r.dw1.assign(K * D, 0);
  r.db1.assign(D, 0);
  r.dw2.assign(D * V, 0);
  r.db2.assign(V, 0);
  auto factor = [&](std::size_t i) {
    if (!key || p == 0.0f) return 1.0;
    return math::dropout_keep(key->seed, key->stream, key->offset + i, p) ? double(1.0f / (1.0f - p)) : 0.0;
  };
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t d = 0; d < D; ++d) {
      double sum = b1[d];
      for (std::size_t k = 0; k < K; ++k) sum += double(x[i * K + k]) * w1[k * D + d];
      r.y1[i * D + d] = sum;
      r.y1_dropped[i * D + d] = sum * factor(i * D + d);
    }
    double best = -1e300, total = 0;
    std::size_t best_at = 0;
    for (std::size_t v = 0; v < V; ++v) {
      double sum = b2[v];
      for (std::size_t d = 0; d < D; ++d) sum += r.y1_dropped[i * D + d] * w2[d * V + v];
      r.logits[i * V + v] = sum;
      if (sum > best) best = sum, best_at = v;
    }
    for (std::size_t v = 0; v < V; ++v) total += std::exp(r.logits[i * V + v] - best);
    for (std::size_t v = 0; v < V; ++v) {
      r.probs[i * V + v] = std::exp(r.logits[i * V + v] - best) / total;
      r.dlogits[i * V + v] = (r.probs[i * V + v] - (std::int32_t(v) == targets[i] ? 1.0 : 0.0)) * grad_scale;
    }
    r.loss -= std::log(r.probs[i * V + std::size_t(targets[i])]);
    r.correct += std::int32_t(best_at) == targets[i] ? 1 : 0;
    for (std::size_t d = 0; d < D; ++d) {
      double sum = 0;
      for (std::size_t v = 0; v < V; ++v) sum += r.dlogits[i * V + v] * w2[d * V + v];
      r.dy1[i * D + d] = sum * factor(i * D + d);
    }
    for (std::size_t k = 0; k < K; ++k) {
      double sum = 0;
      for (std::size_t d = 0; d < D; ++d) sum += r.dy1[i * D + d] * w1[k * D + d];
      r.dx[i * K + k] = sum;
    }
  }
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t d = 0; d < D; ++d) r.dw1[k * D + d] += double(x[i * K + k]) * r.dy1[i * D + d];
    for (std::size_t d = 0; d < D; ++d) {
      r.db1[d] += r.dy1[i * D + d];
      for (std::size_t v = 0; v < V; ++v) r.dw2[d * V + v] += r.y1_dropped[i * D + d] * r.dlogits[i * V + v];
    }
    for (std::size_t v = 0; v < V; ++v) r.db2[v] += r.dlogits[i * V + v];
  }
  return r;
}

TEST_CASE("head_train_step and head_predict against the double reference", "[gpu][fused][head]") {
  struct Head {
    int n, k, d, v;
    float p;
  };
  for (const Head& h : {Head{256, 256, 256, 127, 0.1f}, Head{3, 5, 7, 11, 0.0f}, Head{37, 40, 33, 70, 0.3f}}) {
    INFO("N " << h.n << " K " << h.k << " D " << h.d << " V " << h.v << " p " << h.p);
    const std::vector<float> x = random_vector(std::size_t(h.n * h.k));
    const float s1 = 1.0f / std::sqrt(float(h.k)), s2 = 1.0f / std::sqrt(float(h.d));
    const std::vector<float> w1 = random_vector(std::size_t(h.k * h.d), -s1, s1), b1 = random_vector(std::size_t(h.d));
    const std::vector<float> w2 = random_vector(std::size_t(h.d * h.v), -s2, s2), b2 = random_vector(std::size_t(h.v));
    const std::vector<std::int32_t> targets = random_tokens(std::size_t(h.n), h.v);
    const float grad_scale = 1.0f / float(h.n);
    Buffer<std::uint64_t> offset = device_counter(5);
    const DropoutKey host_key{0xabc, 0x2001, 1000 + 5, nullptr};  // the reference's: offsets added
    const DropoutKey key{0xabc, 0x2001, 1000, offset.data()};
    const HeadReference want =
        reference_head(h.n, h.k, h.d, h.v, x, w1, b1, w2, b2, targets, h.p > 0 ? &host_key : nullptr, h.p, grad_scale);
    Buffer<float> x_d = upload(gpu(), x), w1_d = upload(gpu(), w1), b1_d = upload(gpu(), b1), w2_d = upload(gpu(), w2),
                  b2_d = upload(gpu(), b2);
    Buffer<std::int32_t> dtargets = gpu().upload(std::span<const std::int32_t>(targets));
    const std::size_t nd = std::size_t(h.n * h.d), nv = std::size_t(h.n * h.v);
    Buffer<float> y1 = poisoned(gpu(), nd), y1d = poisoned(gpu(), nd), logits = poisoned(gpu(), nv),
                  dlogits = poisoned(gpu(), nv), dy1 = poisoned(gpu(), nd),
                  dx = poisoned(gpu(), std::size_t(h.n * h.k)), gw1 = poisoned(gpu(), std::size_t(h.k * h.d)),
                  gb1 = poisoned(gpu(), std::size_t(h.d)), gw2 = poisoned(gpu(), std::size_t(h.d * h.v)),
                  gb2 = poisoned(gpu(), std::size_t(h.v));
    const double stats0[2] = {1.5, 2.0};  // added to
    Buffer<double> stats = gpu().upload(std::span<const double>(stats0, 2));
    HeadTrainStep<float> step;
    step.batch = h.n;
    step.input = h.k;
    step.dense = h.d;
    step.vocab = h.v;
    step.x = x_d.data();
    step.w1 = w1_d.data();
    step.b1 = b1_d.data();
    step.w2 = w2_d.data();
    step.b2 = b2_d.data();
    step.targets = dtargets.data();
    step.dropout = h.p > 0 ? &key : nullptr;
    step.dropout_p = h.p;
    step.grad_scale = grad_scale;
    step.y1 = y1.data();
    step.y1_dropped = y1d.data();
    step.logits = logits.data();
    step.dlogits = dlogits.data();
    step.dy1 = dy1.data();
    step.dx = dx.data();
    step.dw1 = gw1.data();
    step.db1 = gb1.data();
    step.dw2 = gw2.data();
    step.db2 = gb2.data();
    step.stats = stats.data();
    kernels::head_train_step(kLaunch, step);
    require_close("y1", gpu().download(y1), want.y1, 2e-5);
    require_close("y1_dropped", gpu().download(y1d), want.y1_dropped, 2e-5);
    require_close("logits", gpu().download(logits), want.logits, 2e-5);
    require_close("dlogits", gpu().download(dlogits), want.dlogits, 1e-6);
    require_close("dy1", gpu().download(dy1), want.dy1, 1e-6);
    require_close("dx", gpu().download(dx), want.dx, 1e-6);
    require_close("dW1", gpu().download(gw1), want.dw1, 1e-5);
    require_close("db1", gpu().download(gb1), want.db1, 1e-5);
    require_close("dW2", gpu().download(gw2), want.dw2, 1e-5);
    require_close("db2", gpu().download(gb2), want.db2, 1e-5);
    const std::vector<double> got_stats = gpu().download(stats);
    CHECK(std::fabs(got_stats[0] - 1.5 - want.loss) <= 1e-5 * std::max(1.0, want.loss));
    CHECK(std::fabs(got_stats[1] - 2.0 - want.correct) <= 1.0);  // a near-tie may flip one row
    // Prediction: no dropout, probabilities.
    Buffer<float> probs = poisoned(gpu(), nv), y1p = poisoned(gpu(), nd), logitsp = poisoned(gpu(), nv);
    kernels::head_predict(kLaunch, h.n, h.k, h.d, h.v, x_d.data(), w1_d.data(), b1_d.data(), w2_d.data(), b2_d.data(),
                          y1p.data(), logitsp.data(), probs.data());
    const HeadReference plain =
        reference_head(h.n, h.k, h.d, h.v, x, w1, b1, w2, b2, targets, nullptr, 0.0f, grad_scale);
    require_close("predict y1", gpu().download(y1p), plain.y1, 2e-5);
    require_close("predict probs", gpu().download(probs), plain.probs, 2e-6);
  }
}

}  // namespace
