// The fused path's ops on the CPU (nocturne/fused_ops.hpp) against the
// classic ops they must agree with, in double: a chain of step ops over a
// sequence equals lstm_forward / lstm_backward with the weights interleaved,
// the head op equals the dense, dropout and softmax ops it fuses, Adamax from
// a device count equals adamax(), sampling equals choose_token, and the step
// programs run in the order CpuOptions::order asks.

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu_test_support.hpp"
#include "math/gate_layout.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

using namespace nocturne;
using test::random_vector;
using test::relative_error;

namespace {

template <typename T>
std::vector<T> interleaved(const std::vector<T>& keras, std::size_t rows, std::size_t hidden) {
  std::vector<T> out(keras.size());
  math::interleave_gates<T>(keras, out, rows, hidden);
  return out;
}

template <typename T>
std::vector<T> keras(const std::vector<T>& interleaved_values, std::size_t rows, std::size_t hidden) {
  std::vector<T> out(interleaved_values.size());
  math::deinterleave_gates<T>(interleaved_values, out, rows, hidden);
  return out;
}

struct Sequence {
  LstmShape s;
  std::vector<double> x, w, r, b, dh;
};

Sequence make_sequence(LstmShape s, std::uint32_t seed) {
  const std::size_t g = 4 * std::size_t(s.hidden), nh = std::size_t(s.steps) * s.batch * s.hidden;
  return Sequence{s,
                  random_vector(std::size_t(s.steps) * s.batch * s.input, seed),
                  random_vector(std::size_t(s.input) * g, seed + 1, -0.8, 0.8),
                  random_vector(std::size_t(s.hidden) * g, seed + 2, -0.6, 0.6),
                  random_vector(g, seed + 3, -0.3, 0.3),
                  random_vector(nh, seed + 4)};
}

// The step ops over a whole sequence with the dropout of h (as the model
// chains them for layer 1): h, c, gates (interleaved) forward; dgates
// (interleaved), dW / dR / db backward, reduced as the model reduces them.
struct StepRun {
  std::vector<double> h, c, gates, dropped, dgates, dw, dr, db;
};

StepRun run_steps(BasicBackend<double>& backend, const Sequence& q, const DropoutKey* key, double p) {
  const LstmShape& s = q.s;
  const std::size_t n = std::size_t(s.batch), h = std::size_t(s.hidden), g = 4 * h, f = std::size_t(s.input);
  const std::size_t nh = n * h, ng = n * g;
  const std::vector<double> w = interleaved(q.w, f, h), r = interleaved(q.r, h, h), b = interleaved(q.b, 1, h);
  StepRun out;
  out.h.resize(std::size_t(s.steps) * nh);
  out.c.resize(out.h.size());
  out.dropped.resize(out.h.size());
  out.gates.resize(std::size_t(s.steps) * ng);
  for (int t = 0; t < s.steps; ++t) {
    LstmStepForward<double> step;
    step.batch = s.batch;
    step.input = s.input;
    step.hidden = s.hidden;
    step.x = q.x.data() + std::size_t(t) * n * f;
    step.w = w.data();
    step.r = r.data();
    step.b = b.data();
    step.h_prev = t > 0 ? out.h.data() + std::size_t(t - 1) * nh : nullptr;
    step.c_prev = t > 0 ? out.c.data() + std::size_t(t - 1) * nh : nullptr;
    step.h = out.h.data() + std::size_t(t) * nh;
    step.c = out.c.data() + std::size_t(t) * nh;
    step.gates = out.gates.data() + std::size_t(t) * ng;
    step.h_dropped = out.dropped.data() + std::size_t(t) * nh;
    step.dropout = key;
    step.dropout_p = p;
    step.dropout_index = std::uint64_t(t) * nh;
    backend.lstm_step_forward(step);
  }
  const int blocks = backend.lstm_partial_blocks(s.batch);
  std::vector<double> dc(nh), db_partial(std::size_t(s.steps) * std::size_t(blocks) * g),
      dw_partial(db_partial.size());
  out.dgates.resize(out.gates.size());
  for (int t = s.steps - 1; t >= 0; --t) {
    LstmStepBackward<double> step;
    step.batch = s.batch;
    step.hidden = s.hidden;
    step.r = r.data();
    step.dgates_next = t < s.steps - 1 ? out.dgates.data() + std::size_t(t + 1) * ng : nullptr;
    step.dh = q.dh.data() + std::size_t(t) * nh;
    step.dropout = key;
    step.dropout_p = p;
    step.dropout_index = std::uint64_t(t) * nh;
    step.gates = out.gates.data() + std::size_t(t) * ng;
    step.c = out.c.data() + std::size_t(t) * nh;
    step.c_prev = t > 0 ? out.c.data() + std::size_t(t - 1) * nh : nullptr;
    step.dc = dc.data();
    step.dgates = out.dgates.data() + std::size_t(t) * ng;
    step.db_partial = db_partial.data() + std::size_t(t) * std::size_t(blocks) * g;
    if (s.input == 1) {
      step.x = q.x.data() + std::size_t(t) * n;
      step.dw_partial = dw_partial.data() + std::size_t(t) * std::size_t(blocks) * g;
    }
    backend.lstm_step_backward(step);
  }
  out.db.resize(g);
  backend.lstm_partials_reduce(s.steps, blocks, int(g), db_partial.data(), out.db.data());
  out.dw.resize(f * g);
  const int rows = s.steps * s.batch;
  if (s.input == 1)
    backend.lstm_partials_reduce(s.steps, blocks, int(g), dw_partial.data(), out.dw.data());
  else
    backend.gemm(Transpose::yes, Transpose::no, s.input, int(g), rows, 1.0, q.x.data(), s.input, out.dgates.data(),
                 int(g), 0.0, out.dw.data(), int(g));
  out.dr.assign(h * g, 0.0);
  if (s.steps > 1)
    backend.gemm(Transpose::yes, Transpose::no, s.hidden, int(g), rows - s.batch, 1.0, out.h.data(), s.hidden,
                 out.dgates.data() + ng, int(g), 0.0, out.dr.data(), int(g));
  // Back to Keras' columns for the comparisons.
  out.gates = keras(out.gates, std::size_t(s.steps) * n, h);
  out.dgates = keras(out.dgates, std::size_t(s.steps) * n, h);
  out.dw = keras(out.dw, f, h);
  out.dr = keras(out.dr, h, h);
  out.db = keras(out.db, 1, h);
  return out;
}

// The same through the classic ops: lstm_forward, dropout, lstm_backward.
StepRun run_classic(BasicBackend<double>& backend, const Sequence& q, const DropoutKey* key, double p) {
  const LstmShape& s = q.s;
  const std::size_t nh = std::size_t(s.steps) * s.batch * s.hidden, h = std::size_t(s.hidden);
  StepRun out;
  out.h.resize(nh);
  out.c.resize(nh);
  out.gates.resize(4 * nh);
  out.dropped.resize(nh);
  backend.lstm_forward(s, q.x.data(), q.w.data(), q.r.data(), q.b.data(), out.h.data(), out.c.data(),
                       out.gates.data());
  std::vector<double> dh(nh);
  if (key) {
    backend.dropout_forward(*key, p, nh, out.h.data(), out.dropped.data());
    backend.dropout_backward(*key, p, nh, q.dh.data(), dh.data());
  } else {
    out.dropped = out.h;
    dh = q.dh;
  }
  std::vector<double> workspace(BasicBackend<double>::lstm_workspace_size(s));
  out.dw.resize(std::size_t(s.input) * 4 * h);
  out.dr.resize(h * 4 * h);
  out.db.resize(4 * h);
  backend.lstm_backward(s, q.x.data(), q.w.data(), q.r.data(), out.h.data(), out.c.data(), out.gates.data(),
                        dh.data(), nullptr, out.dw.data(), out.dr.data(), out.db.data(), workspace.data());
  out.dgates.assign(workspace.begin(), workspace.begin() + std::ptrdiff_t(4 * nh));
  return out;
}

void check_agree(const StepRun& fused, const StepRun& classic, double tolerance) {
  CHECK(relative_error(fused.h, classic.h) < tolerance);
  CHECK(relative_error(fused.c, classic.c) < tolerance);
  CHECK(relative_error(fused.gates, classic.gates) < tolerance);
  CHECK(relative_error(fused.dropped, classic.dropped) < tolerance);
  CHECK(relative_error(fused.dgates, classic.dgates) < tolerance);
  CHECK(relative_error(fused.dw, classic.dw) < tolerance);
  CHECK(relative_error(fused.dr, classic.dr) < tolerance);
  CHECK(relative_error(fused.db, classic.db) < tolerance);
}

}  // namespace

TEST_CASE("step ops over a sequence equal lstm_forward and lstm_backward on interleaved weights, in double",
          "[cpu][fused]") {
  auto backend = make_cpu_backend_double(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const DropoutKey key{77, rng_stream::dropout, 5u << 20, nullptr};
  // Scalar input (rank-one term and dW partial sums), a small input (loop
  // projection), a wide one (GEMM); batch 70 splits the partial sums into
  // blocks of rows.
  for (const LstmShape s : {LstmShape{4, 3, 1, 5}, LstmShape{3, 2, 4, 3}, LstmShape{5, 70, 9, 4}}) {
    const Sequence q = make_sequence(s, 31);
    for (const DropoutKey* k : {static_cast<const DropoutKey*>(nullptr), &key}) {
      INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden << (k ? ", dropout" : ""));
      check_agree(run_steps(*backend, q, k, 0.3), run_classic(*backend, q, k, 0.3), 1e-13);
    }
  }
  CHECK(backend->lstm_partial_blocks(70) == 2);
  CHECK(backend->lstm_partial_blocks(64) == 1);
}

TEST_CASE("the first step from a null state equals one from zeros, and dropout reads the key's device offset",
          "[cpu][fused]") {
  auto backend = make_cpu_backend_double(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const int n = 3, f = 2, hidden = 4;
  const auto x = random_vector(std::size_t(n * f), 1), w = random_vector(std::size_t(f * 4 * hidden), 2),
             r = random_vector(std::size_t(hidden * 4 * hidden), 3), b = random_vector(std::size_t(4 * hidden), 4);
  const std::vector<double> zeros(std::size_t(n * hidden), 0.0);
  auto run = [&](const double* h_prev, const DropoutKey* key) {
    std::vector<double> h(zeros.size()), c(zeros.size()), gates(4 * zeros.size()), dropped(zeros.size());
    LstmStepForward<double> s{n, f, hidden, x.data(), w.data(), r.data(), b.data(), h_prev, zeros.data(),
                              h.data(), c.data(), gates.data(), dropped.data(), key, 0.5, 12};
    backend->lstm_step_forward(s);
    return std::make_pair(h, dropped);
  };
  const auto null_state = run(nullptr, nullptr);
  CHECK(null_state.first == run(zeros.data(), nullptr).first);
  CHECK(null_state.second == null_state.first);  // no key: h_dropped is h

  std::uint64_t device_offset = 1000;
  const DropoutKey moving{9, 3, 20, &device_offset};
  const auto dropped = run(nullptr, &moving).second;
  std::vector<double> want(zeros.size());
  backend->dropout_forward(DropoutKey{9, 3, 20 + 1000 + 12, nullptr}, 0.5, want.size(), null_state.first.data(),
                           want.data());
  CHECK(dropped == want);
}

TEST_CASE("lstm_partials_reduce adds steps, then blocks, in that fixed order", "[cpu][fused]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  // In float the order shows: 1e8 + 1 + 1 - 1e8 is 0 left to right, 2 right to left.
  const int steps = 2, blocks = 2, cols = 1;
  const std::vector<float> partials = {1e8f, 1.0f, 1.0f, -1e8f};  // (t0, p0), (t0, p1), (t1, p0), (t1, p1)
  float out = -1;
  backend->lstm_partials_reduce(steps, blocks, cols, partials.data(), &out);
  CHECK(out == ((1e8f + 1.0f) + 1.0f) - 1e8f);
  CHECK(out == 0.0f);
  std::vector<float> wide = random_vector<float>(3 * 5 * 7, 2);
  std::vector<float> sums(7);
  backend->lstm_partials_reduce(3, 5, 7, wide.data(), sums.data());
  for (int j = 0; j < 7; ++j) {
    float want = 0;
    for (int row = 0; row < 15; ++row) want += wide[std::size_t(row * 7 + j)];
    CHECK(sums[std::size_t(j)] == want);
  }
}

TEST_CASE("head_train_step and head_predict equal the ops they fuse, bit for bit", "[cpu][fused]") {
  auto backend = make_cpu_backend_double(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const int n = 5, k = 6, d = 4, v = 7;
  const auto x = random_vector(std::size_t(n * k), 1), w1 = random_vector(std::size_t(k * d), 2),
             b1 = random_vector(std::size_t(d), 3), w2 = random_vector(std::size_t(d * v), 4),
             b2 = random_vector(std::size_t(v), 5);
  const std::vector<std::int32_t> targets = {0, 6, 3, 3, 1};
  std::uint64_t offset = 7u << 10;
  const DropoutKey key{42, rng_stream::dropout + 1, 0, &offset};
  for (double p : {0.0, 0.4}) {
    INFO("dropout " << p);
    // The classic ops, as the model runs them.
    std::vector<double> y1(std::size_t(n * d)), drop(y1.size()), logits(std::size_t(n * v)), dlogits(logits.size()),
        ddrop(y1.size()), dy1(y1.size()), dx(x.size()), dw1(w1.size()), db1(b1.size()), dw2(w2.size()),
        db2(b2.size());
    double stats[2] = {0.5, 1.0};
    backend->dense_forward(n, k, d, x.data(), w1.data(), b1.data(), y1.data());
    backend->dropout_forward(key, p, y1.size(), y1.data(), drop.data());
    backend->dense_forward(n, d, v, drop.data(), w2.data(), b2.data(), logits.data());
    backend->softmax_cross_entropy(n, v, logits.data(), targets.data(), 1.0 / n, dlogits.data(), stats);
    backend->dense_backward(n, d, v, drop.data(), w2.data(), dlogits.data(), ddrop.data(), dw2.data(), db2.data());
    backend->dropout_backward(key, p, dy1.size(), ddrop.data(), dy1.data());
    backend->dense_backward(n, k, d, x.data(), w1.data(), dy1.data(), dx.data(), dw1.data(), db1.data());

    HeadTrainStep<double> h;
    h.batch = n;
    h.input = k;
    h.dense = d;
    h.vocab = v;
    h.x = x.data();
    h.w1 = w1.data();
    h.b1 = b1.data();
    h.w2 = w2.data();
    h.b2 = b2.data();
    h.targets = targets.data();
    h.dropout = &key;
    h.dropout_p = p;
    h.grad_scale = 1.0 / n;
    std::vector<double> s_y1(y1.size()), s_drop(y1.size()), s_logits(logits.size()), s_dlogits(logits.size()),
        s_dy1(y1.size()), s_dx(dx.size()), s_dw1(dw1.size()), s_db1(db1.size()), s_dw2(dw2.size()),
        s_db2(db2.size());
    double s_stats[2] = {0.5, 1.0};
    h.y1 = s_y1.data();
    h.y1_dropped = s_drop.data();
    h.logits = s_logits.data();
    h.dlogits = s_dlogits.data();
    h.dy1 = s_dy1.data();
    h.dx = s_dx.data();
    h.dw1 = s_dw1.data();
    h.db1 = s_db1.data();
    h.dw2 = s_dw2.data();
    h.db2 = s_db2.data();
    h.stats = s_stats;
    backend->head_train_step(h);
    CHECK(s_y1 == y1);
    CHECK(s_drop == drop);
    CHECK(s_logits == logits);
    CHECK(s_dlogits == dlogits);
    CHECK(s_dy1 == dy1);
    CHECK(s_dx == dx);
    CHECK(s_dw1 == dw1);
    CHECK(s_db1 == db1);
    CHECK(s_dw2 == dw2);
    CHECK(s_db2 == db2);
    CHECK(s_stats[0] == stats[0]);  // added to, as softmax_cross_entropy does
    CHECK(s_stats[1] == stats[1]);
    if (p > 0) CHECK(s_drop != s_y1);  // the mask did something
  }
  std::vector<double> y1(std::size_t(n * d)), logits(std::size_t(n * v)), probs(logits.size()), want(logits.size());
  backend->head_predict(n, k, d, v, x.data(), w1.data(), b1.data(), w2.data(), b2.data(), y1.data(), logits.data(),
                        probs.data());
  std::vector<double> y1b(y1.size()), logitsb(logits.size());
  backend->dense_forward(n, k, d, x.data(), w1.data(), b1.data(), y1b.data());
  backend->dense_forward(n, d, v, y1b.data(), w2.data(), b2.data(), logitsb.data());
  backend->softmax(n, v, logitsb.data(), want.data());
  CHECK(probs == want);
}

TEST_CASE("adamax_device_step is adamax with the step count it reads when it runs", "[cpu][fused]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const std::size_t n = 37;
  auto p1 = random_vector<float>(n, 1), m1 = random_vector<float>(n, 2, 0, 0.1), u1 = random_vector<float>(n, 3, 0, 1);
  auto p2 = p1, m2 = m1, u2 = u1;
  const auto g = random_vector<float>(n, 4);
  const AdamaxParams hp;
  std::int64_t step = 0;
  auto recorded = backend->record([&] {
    backend->adamax_device_step(n, p2.data(), g.data(), m2.data(), u2.data(), hp, &step);
  });
  for (std::int64_t t = 1; t <= 4; ++t) {
    backend->adamax(n, p1.data(), g.data(), m1.data(), u1.data(), hp, t);
    step = t;  // written after recording, read at the replay
    recorded->replay();
    CHECK(p2 == p1);
    CHECK(m2 == m1);
    CHECK(u2 == u1);
  }
}

TEST_CASE("sample_tokens chooses as choose_token, fills every slot and the history, counts the note",
          "[cpu][fused][sampling]") {
  auto backend = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  const int streams = 3, vocab = 9, slots = 4;
  std::vector<float> probs = random_vector<float>(std::size_t(streams * vocab), 5, 0.0, 1.0);
  probs[std::size_t(vocab + 2)] = 0.0f;  // a zero weight among them
  SamplingOptions sampling;
  sampling.greedy = false;
  sampling.temperature = 0.8;
  sampling.top_k = 6;
  sampling.top_p = 0.9;
  for (const bool greedy : {true, false}) {
    std::uint64_t note = 0;
    std::vector<std::int32_t> chosen(streams), tokens(std::size_t(slots * streams), -5),
        history(std::size_t(2 * streams), -5);
    SampleTokens<float> r;
    r.streams = streams;
    r.vocab = vocab;
    r.probs = probs.data();
    r.greedy = greedy;
    r.temperature = sampling.temperature;
    r.top_k = static_cast<int>(sampling.top_k);  // 6
    r.top_p = sampling.top_p;
    r.seed = 99;
    r.first_stream = sampling_stream(4);
    r.note = &note;
    r.chosen = chosen.data();
    r.tokens = tokens.data();
    r.slots = slots;
    r.history = history.data();
    r.history_notes = 2;
    SamplingOptions options = sampling;
    options.greedy = greedy;
    for (std::uint64_t k = 0; k < 3; ++k) {
      backend->sample_tokens(r);
      CHECK(note == k + 1);
      for (int s = 0; s < streams; ++s) {
        const std::span<const float> row(probs.data() + s * vocab, std::size_t(vocab));
        const std::int32_t want = choose_token(row, options, 99, sampling_stream(4 + std::uint64_t(s)), k);
        CHECK(chosen[std::size_t(s)] == want);
        for (int slot = 0; slot < slots; ++slot) CHECK(tokens[std::size_t(slot * streams + s)] == want);
        if (k < 2) CHECK(history[std::size_t(k) * streams + std::size_t(s)] == want);
      }
    }
    // The third note was past the history's two rows: not written anywhere.
    CHECK(history.size() == std::size_t(2 * streams));
  }
  // A row without a candidate: kNoToken chosen, token 0 as the next input.
  std::vector<float> dead(std::size_t(vocab), 0.0f);
  std::uint64_t note = 0;
  std::int32_t chosen = 5, tokens[2] = {5, 5};
  SampleTokens<float> r;
  r.streams = 1;
  r.vocab = vocab;
  r.probs = dead.data();
  r.note = &note;
  r.chosen = &chosen;
  r.tokens = tokens;
  r.slots = 2;
  backend->sample_tokens(r);
  CHECK(chosen == -1);
  CHECK(tokens[0] == 0);
  CHECK(tokens[1] == 0);
  r.greedy = false;
  r.temperature = 0;
  CHECK_THROWS_AS(backend->sample_tokens(r), ConfigError);
}

namespace {

// A program of named ops that append their names to `ran`.
using OpSpec = std::tuple<const char*, int, std::vector<std::size_t>>;  // name, branch, after

std::vector<ProgramOp> logging_program(std::vector<std::string>& ran, std::initializer_list<OpSpec> ops) {
  std::vector<ProgramOp> program;
  for (const auto& [name, branch, after] : ops) {
    ProgramOp op;
    op.name = name;
    op.branch = branch;
    op.after = after;
    op.run = [&ran, n = std::string(name)] { ran.push_back(n); };
    program.push_back(std::move(op));
  }
  return program;
}

}  // namespace

TEST_CASE("record_program runs the ops in list order or as a wavefront", "[cpu][program]") {
  std::vector<std::string> ran;
  // Layer by layer in the list: b1 step t waits for a0 step t.
  auto program = [&] {
    return logging_program(ran, {{"a0", 0, {}}, {"a1", 0, {}}, {"a2", 0, {}}, {"b0", 1, {0}}, {"b1", 1, {1}},
                                 {"b2", 1, {2}}});
  };
  auto list = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  auto wave = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::wavefront});
  auto recorded = list->record_program(program());
  CHECK(ran.empty());  // recording runs nothing
  recorded->replay();
  CHECK(ran == std::vector<std::string>{"a0", "a1", "a2", "b0", "b1", "b2"});
  ran.clear();
  recorded = wave->record_program(program());
  recorded->replay();
  recorded->replay();
  CHECK(ran == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2", "a0", "b0", "a1", "b1", "a2", "b2"});
  std::vector<ProgramOp> ops = program();
  CHECK(cpu::program_order(ops, ProgramOrder::wavefront) == std::vector<std::size_t>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("record_program refuses programs it cannot order", "[cpu][program]") {
  std::vector<std::string> ran;
  auto list = make_cpu_backend(CpuOptions{MathMode::strict_fp32, true, ProgramOrder::list});
  auto expect = [&](std::vector<ProgramOp> program, ProgramOrder order, const std::string& words) {
    INFO(words);
    try {
      cpu::program_order(program, order);
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()).find(words) != std::string::npos);
    }
  };
  expect(logging_program(ran, {{"a", 2, {}}}), ProgramOrder::list, "op 0 'a' is on branch 2");
  expect(logging_program(ran, {{"a", 0, {0}}}), ProgramOrder::list, "itself");
  expect(logging_program(ran, {{"a", 0, {5}}}), ProgramOrder::wavefront, "not in the program of 1 ops");
  expect(logging_program(ran, {{"a", 0, {1}}, {"b", 1, {}}}), ProgramOrder::list, "runs after the later op 1 'b'");
  // A cycle across the branches: each waits on the other.
  expect(logging_program(ran, {{"a", 0, {1}}, {"b", 1, {0}}}), ProgramOrder::wavefront, "can never run");
  // The same op list forward is fine in the wavefront (b runs first).
  CHECK(cpu::program_order(logging_program(ran, {{"a", 0, {1}}, {"b", 1, {}}}), ProgramOrder::wavefront) ==
        std::vector<std::size_t>{1, 0});
  CHECK_THROWS_AS(list->record_program(logging_program(ran, {{"a", 0, {0}}})), ConfigError);
}
