// The fused path (one step program per training step, gate-interleaved
// weights, Adamax inside the program) against the classic path: in double the
// loss, the gradients and several Adamax steps agree to rounding; the layout
// conversion is exact; a checkpoint written from a fused run serves a classic
// model; resuming a fused run is exact; and the wavefront order gives the
// bits of the list order, and so does the persistent path's program (one
// forward op per layer and sequence). (Finite differences of the fused path's gradients:
// test_model_gradients.cpp.)

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/trainer.hpp"

using namespace nocturne;
using nocturne::test::compare;
using nocturne::test::random_batch;
using nocturne::test::random_parameters;
using nocturne::test::small_config;
using nocturne::test::train_step_loss;
using nocturne::test::view_values;

namespace {

constexpr std::uint64_t kSeed = 1234;
// Double sums in another order (interleaved GEMM columns, partial sums by
// step and block): a few ulp of the largest term, far below 1e-12.
constexpr double kAgreement = 1e-12;

CpuOptions fused_options(ProgramOrder order = ProgramOrder::list) {
  return CpuOptions{MathMode::strict_fp32, true, order};
}

// Every view of two flat buffers (Keras' layout) within `tolerance`, normwise and elementwise.
void check_views_agree(const ParameterLayout& layout, const std::vector<double>& got, const std::vector<double>& want,
                       double tolerance, const std::string& what) {
  for (const ParameterView& v : layout.views()) {
    const auto e = compare(view_values(got, v), view_values(want, v), 1e-6);
    INFO(what << ", view " << v.name << ": normwise " << e.normwise << ", elementwise " << e.elementwise);
    CHECK(e.normwise <= tolerance);
    CHECK(e.elementwise <= 1e3 * tolerance);
  }
}

// Distinct note symbols for a checkpoint's vocabulary (checkpoints refuse
// symbols that are not notes or chords): C2, C#2, D2, ..., B2, C3, ...
std::string note_symbol(int v) {
  static const char* const names[12] = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};
  return std::string(names[v % 12]) + std::to_string(2 + v / 12);
}

// A repeating phrase over the vocabulary, windows at every start.
struct Windows {
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> starts;
  WindowSet set() const { return WindowSet{tokens, starts}; }
};

Windows phrase_windows(std::int64_t vocab, std::int64_t window, std::size_t length) {
  Windows w;
  for (std::size_t i = 0; i < length; ++i) w.tokens.push_back(std::int32_t((i * 5 + i / 3) % std::size_t(vocab)));
  for (std::int64_t s = 0; s + window < std::int64_t(length); ++s) w.starts.push_back(s);
  return w;
}

// `count` values scale sin(0.7 i + phase) uploaded: smooth inputs of either sign, the same on every run.
Buffer<float> upload_sine(Backend& backend, std::size_t count, float scale, double phase) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = scale * float(std::sin(0.7 * double(i) + phase));
  return backend.upload(std::span<const float>(v));
}

// One training step of both models on the same batch; their losses agree.
void step_both(BasicModel<double>& classic, BasicAdamax<double>& classic_opt, BasicModel<double>& fused,
               BasicAdamax<double>& fused_opt, const test::TestBatch& b) {
  classic.set_batch(b.tokens, b.targets);
  fused.set_batch(b.tokens, b.targets);
  classic.reset_stats();
  fused.reset_stats();
  classic.train_step(kSeed, classic_opt);
  fused.train_step(kSeed, fused_opt);
  const double want = classic.read_stats().loss_sum;
  CHECK(std::abs(fused.read_stats().loss_sum - want) <= kAgreement * want);
}

}  // namespace

TEST_CASE("fused and classic paths: the same loss and gradients in double", "[model][fused]") {
  auto classic_backend = make_cpu_backend_double();
  auto fused_backend = make_cpu_backend_double(fused_options());
  for (InputMode input : {InputMode::scalar, InputMode::embedding})
    for (double dropout : {0.0, 0.25})
      for (int batch : {3, 70}) {  // 70 rows: two blocks of partial sums
        const ModelConfig config = small_config(input, dropout);
        BasicModel<double> classic(*classic_backend, config, batch), fused(*fused_backend, config, batch);
        REQUIRE(!classic.fused());
        REQUIRE(fused.fused());
        const auto params = random_parameters<double>(classic.layout(), 21, 0.5);
        classic.upload_parameters(params);
        fused.upload_parameters(params);
        const auto b = random_batch(config, batch, 22);
        classic.set_batch(b.tokens, b.targets);
        fused.set_batch(b.tokens, b.targets);
        const double want = train_step_loss(classic, kSeed, 9), got = train_step_loss(fused, kSeed, 9);
        const std::string what = std::string(input_mode_name(input)) + ", dropout " + std::to_string(dropout) +
                                 ", batch " + std::to_string(batch);
        INFO(what << ": loss " << got << " against " << want);
        CHECK(std::abs(got - want) <= kAgreement * want);
        check_views_agree(classic.layout(), fused.download_gradients(), classic.download_gradients(), kAgreement,
                          what);
        // Evaluation and prediction (forward-only programs) agree too.
        classic.reset_stats();
        fused.reset_stats();
        classic.evaluate_step();
        fused.evaluate_step();
        const BatchStats ce = classic.read_stats(), fe = fused.read_stats();
        CHECK(std::abs(fe.loss_sum - ce.loss_sum) <= kAgreement * ce.loss_sum);
        CHECK(fe.correct == ce.correct);
        const auto pc = classic.predict(), pf = fused.predict();
        CHECK(nocturne::test::compare(pf, pc, 0).normwise <= kAgreement);
      }
}

TEST_CASE("fused and classic paths: several Adamax steps agree in double, the update inside the program",
          "[model][fused][optimizer]") {
  auto classic_backend = make_cpu_backend_double();
  auto fused_backend = make_cpu_backend_double(fused_options(ProgramOrder::wavefront));
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = small_config(input, 0.2);
    BasicModel<double> classic(*classic_backend, config, 4), fused(*fused_backend, config, 4);
    const auto params = random_parameters<double>(classic.layout(), 31, 0.5);
    classic.upload_parameters(params);
    fused.upload_parameters(params);
    AdamaxParams hp;
    hp.learning_rate = 0.05;  // steps large enough to move every parameter visibly
    BasicAdamax<double> classic_opt(classic, hp), fused_opt(fused, hp);
    for (int step = 0; step < 6; ++step) {
      const auto b = random_batch(config, step % 2 ? 4 : 3, 40 + std::uint64_t(step));  // two batch sizes
      step_both(classic, classic_opt, fused, fused_opt, b);
    }
    CHECK(fused_opt.steps_taken() == 6);
    CHECK(classic_opt.steps_taken() == 6);
    const std::string what = std::string(input_mode_name(input)) + " after 6 steps";
    const auto moved = classic.download_parameters();
    CHECK(compare(moved, params, 0).normwise > 1e-3);  // the optimiser did move them
    check_views_agree(classic.layout(), fused.download_parameters(), moved, kAgreement, what + ", parameters");
    check_views_agree(classic.layout(), fused_opt.download_first_moment(), classic_opt.download_first_moment(),
                      kAgreement, what + ", first moment");
    check_views_agree(classic.layout(), fused_opt.download_infinity_norm(), classic_opt.download_infinity_norm(),
                      kAgreement, what + ", infinity norm");
  }
}

TEST_CASE("fused and classic paths agree with weight decay, label smoothing and a changed learning rate",
          "[model][fused][optimizer][regularisers]") {
  auto classic_backend = make_cpu_backend_double();
  auto fused_backend = make_cpu_backend_double(fused_options(ProgramOrder::wavefront));
  ModelConfig config = small_config(InputMode::embedding, 0.2);
  config.label_smoothing = 0.2;
  BasicModel<double> classic(*classic_backend, config, 4), fused(*fused_backend, config, 4);
  const auto params = random_parameters<double>(classic.layout(), 32, 0.5);
  classic.upload_parameters(params);
  fused.upload_parameters(params);
  AdamaxParams hp;
  hp.learning_rate = 0.05;
  hp.weight_decay = 0.5;
  BasicAdamax<double> classic_opt(classic, hp), fused_opt(fused, hp);
  for (int step = 0; step < 6; ++step) {
    if (step == 3) {  // as a schedule does between epochs: the fused program records the update anew
      classic_opt.set_learning_rate(0.01);
      fused_opt.set_learning_rate(0.01);
    }
    step_both(classic, classic_opt, fused, fused_opt, random_batch(config, 4, 60 + std::uint64_t(step)));
  }
  const auto moved = classic.download_parameters();
  check_views_agree(classic.layout(), fused.download_parameters(), moved, kAgreement, "decay, smoothing, new rate");
  // A model trained without the decay ends elsewhere: the decay took part.
  BasicModel<double> undecayed(*classic_backend, config, 4);
  undecayed.upload_parameters(params);
  AdamaxParams plain = hp;
  plain.weight_decay = 0;
  BasicAdamax<double> plain_opt(undecayed, plain);
  for (int step = 0; step < 6; ++step) {
    if (step == 3) plain_opt.set_learning_rate(0.01);
    const auto b = random_batch(config, 4, 60 + std::uint64_t(step));
    undecayed.set_batch(b.tokens, b.targets);
    undecayed.train_step(kSeed, plain_opt);
  }
  CHECK(compare(undecayed.download_parameters(), moved, 0).normwise > 1e-4);
}

TEST_CASE("the gate interleave of parameters, gradients and moments round-trips bit for bit", "[model][fused]") {
  auto backend = make_cpu_backend(fused_options());
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = small_config(input, 0.1);
    Model model(*backend, config, 3);
    const auto keras = random_parameters<float>(model.layout(), 51, 0.5);
    model.upload_parameters(keras);
    CHECK(model.download_parameters() == keras);
    CHECK(model.to_keras_layout(model.to_backend_layout(keras)) == keras);
    // On the device the lstm views hold gate g of unit u at column 4 u + g; the others are untouched.
    const std::vector<float> raw = backend->download(model.parameters());
    CHECK(raw != keras);
    for (const ParameterView& v : model.layout().views()) {
      const bool lstm = v.name.rfind("lstm", 0) == 0;
      const std::size_t hidden = std::size_t(v.name[4] == '1' ? config.hidden1 : config.hidden2);
      for (std::size_t row = 0; row < std::size_t(v.rows); ++row)
        for (std::size_t col = 0; col < std::size_t(v.cols); ++col) {
          const std::size_t device_col = lstm ? (col % hidden) * 4 + col / hidden : col;
          REQUIRE(raw[v.offset + row * std::size_t(v.cols) + device_col] ==
                  keras[v.offset + row * std::size_t(v.cols) + col]);
        }
    }
    // The optimiser's moments convert the same way.
    Adamax opt(model, AdamaxParams{});
    const auto m = random_parameters<float>(model.layout(), 52, 0.1);
    const auto u = random_parameters<float>(model.layout(), 53, 1.0);
    opt.restore(7, m, u);
    CHECK(opt.download_first_moment() == m);
    CHECK(opt.download_infinity_norm() == u);
    CHECK(opt.steps_taken() == 7);
    // Gradients come back in Keras' layout: those of a classic float model (to rounding).
    auto classic_backend = make_cpu_backend();
    Model classic(*classic_backend, config, 3);
    classic.upload_parameters(keras);
    const auto b = random_batch(config, 3, 54);
    model.set_batch(b.tokens, b.targets);
    classic.set_batch(b.tokens, b.targets);
    train_step_loss(model, kSeed, 1);
    train_step_loss(classic, kSeed, 1);
    const auto gf = model.download_gradients(), gc = classic.download_gradients();
    CHECK(compare(std::vector<double>(gf.begin(), gf.end()), std::vector<double>(gc.begin(), gc.end()), 0).normwise <
          1e-5);
  }
  CHECK_THROWS_AS(Model(*backend, small_config(InputMode::scalar, 0.0), 2).to_backend_layout(std::vector<float>(3)),
                  ShapeError);
}

TEST_CASE("a checkpoint from a fused run serves a classic model with the same predictions", "[model][fused]") {
  auto fused_backend = make_cpu_backend(fused_options());
  auto classic_backend = make_cpu_backend();
  ModelConfig config = small_config(InputMode::scalar, 0.1);
  config.vocab = 9;
  const Windows data = phrase_windows(config.vocab, config.window, 120);
  Model fused(*fused_backend, config, 16);
  fused.initialize(3);
  TrainerConfig tc;
  tc.batch = 16;
  Trainer trainer(fused, tc);
  for (int e = 0; e < 2; ++e) trainer.train_epoch(data.set());

  Checkpoint checkpoint;
  checkpoint.model = config;
  checkpoint.trainer = tc;
  for (int v = 0; v < config.vocab; ++v) checkpoint.vocabulary.push_back(note_symbol(v));
  checkpoint.epochs_done = trainer.epochs_done();
  checkpoint.optimizer_steps = trainer.optimizer().steps_taken();
  checkpoint.parameters = fused.download_parameters();
  checkpoint.first_moment = trainer.optimizer().download_first_moment();
  checkpoint.infinity_norm = trainer.optimizer().download_infinity_norm();
  const Checkpoint loaded = decode_checkpoint(encode_checkpoint(checkpoint), "fused.ckpt");

  Model classic(*classic_backend, config, 16);
  classic.upload_parameters(loaded.parameters);
  CHECK(classic.download_parameters() == fused.download_parameters());
  std::vector<std::int32_t> staged;  // time-major windows 0..15
  for (int t = 0; t < config.window; ++t)
    for (int k = 0; k < 16; ++k) staged.push_back(data.tokens[std::size_t(data.starts[std::size_t(k)] + t)]);
  classic.set_batch(staged, {});
  fused.set_batch(staged, {});
  const auto pc = classic.predict(), pf = fused.predict();
  double worst = 0;
  for (std::size_t i = 0; i < pc.size(); ++i) worst = std::max(worst, double(std::abs(pc[i] - pf[i])));
  INFO("largest probability difference " << worst);
  CHECK(worst < 1e-6);
  for (int k = 0; k < 16; ++k) {
    const auto row_c = pc.begin() + k * config.vocab, row_f = pf.begin() + k * config.vocab;
    CHECK(std::max_element(row_c, row_c + config.vocab) - row_c ==
          std::max_element(row_f, row_f + config.vocab) - row_f);
  }
}

TEST_CASE("resuming a fused run from its checkpoint is exact", "[model][fused][trainer]") {
  auto backend = make_cpu_backend(fused_options(ProgramOrder::wavefront));
  const ModelConfig config = small_config(InputMode::embedding, 0.2);
  const Windows data = phrase_windows(config.vocab, config.window, 90);
  TrainerConfig tc;
  tc.batch = 8;
  tc.seed = 5;

  Model straight(*backend, config, 8);
  straight.initialize(4);
  Trainer a(straight, tc);
  a.train_epoch(data.set());
  const double second = a.train_epoch(data.set()).loss;

  Model first(*backend, config, 8);
  first.initialize(4);
  Trainer b(first, tc);
  b.train_epoch(data.set());
  Checkpoint c;
  c.model = config;
  c.trainer = tc;
  for (int v = 0; v < config.vocab; ++v) c.vocabulary.push_back(note_symbol(v));
  c.epochs_done = b.epochs_done();
  c.optimizer_steps = b.optimizer().steps_taken();
  c.parameters = first.download_parameters();
  c.first_moment = b.optimizer().download_first_moment();
  c.infinity_norm = b.optimizer().download_infinity_norm();
  const Checkpoint loaded = decode_checkpoint(encode_checkpoint(c), "resume.ckpt");

  Model resumed(*backend, config, 8);
  resumed.upload_parameters(loaded.parameters);
  Trainer r(resumed, tc);
  r.optimizer().restore(loaded.optimizer_steps, loaded.first_moment, loaded.infinity_norm);
  r.set_epochs_done(loaded.epochs_done);
  CHECK(r.train_epoch(data.set()).loss == second);
  CHECK(resumed.download_parameters() == straight.download_parameters());
  CHECK(r.optimizer().download_first_moment() == a.optimizer().download_first_moment());
  CHECK(r.optimizer().download_infinity_norm() == a.optimizer().download_infinity_norm());
  CHECK(r.optimizer().steps_taken() == a.optimizer().steps_taken());
}

TEST_CASE("the wavefront order trains bit for bit as the list order does", "[model][fused][wavefront]") {
  auto list = make_cpu_backend(fused_options(ProgramOrder::list));
  auto wave = make_cpu_backend(fused_options(ProgramOrder::wavefront));
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig config = small_config(input, 0.2);
    const Windows data = phrase_windows(config.vocab, config.window, 70);
    TrainerConfig tc;
    tc.batch = 8;
    struct Run {
      std::vector<double> losses;
      std::vector<float> params, grads, m, u;
    };
    auto run = [&](BasicBackend<float>& backend) {
      Model model(backend, config, 8);
      model.initialize(6);
      Trainer trainer(model, tc);
      Run out;
      for (int e = 0; e < 2; ++e)
        trainer.train_epoch(data.set(), nullptr, [&](const Progress& p) {
          out.losses.push_back(p.loss);
          return true;
        });
      out.params = model.download_parameters();
      out.grads = model.download_gradients();
      out.m = trainer.optimizer().download_first_moment();
      out.u = trainer.optimizer().download_infinity_norm();
      // The two orders are different orders of the same program.
      const auto b = random_batch(config, 8, 3);
      model.set_batch(b.tokens, b.targets);
      const std::vector<ProgramOp> program = model.training_program(1, &trainer.optimizer());
      std::vector<std::size_t> identity(program.size());
      std::iota(identity.begin(), identity.end(), std::size_t{0});
      CHECK(cpu::program_order(program, ProgramOrder::list) == identity);
      CHECK(cpu::program_order(program, ProgramOrder::wavefront) != identity);
      return out;
    };
    const Run a = run(*list), b = run(*wave);
    INFO(input_mode_name(input));
    REQUIRE(a.losses.size() == 18);  // 65 windows, batches of 8: 9 steps an epoch
    CHECK(a.losses == b.losses);
    CHECK(a.params == b.params);
    CHECK(a.grads == b.grads);
    CHECK(a.m == b.m);
    CHECK(a.u == b.u);
  }
}

TEST_CASE("fused path: a batch below max_batch trains as a model sized for it; uploads reach recorded programs",
          "[model][fused]") {
  auto backend = make_cpu_backend_double(fused_options());
  const ModelConfig config = small_config(InputMode::scalar, 0.2);
  const auto p0 = random_parameters<double>(ParameterLayout(config), 61, 0.5);
  const auto p1 = random_parameters<double>(ParameterLayout(config), 62, 0.5);
  const auto small = random_batch(config, 3, 63), big = random_batch(config, 5, 64);
  BasicModel<double> exact(*backend, config, 3), roomy(*backend, config, 5);
  exact.upload_parameters(p0);
  roomy.upload_parameters(p0);
  exact.set_batch(small.tokens, small.targets);
  const double want = train_step_loss(exact, kSeed, 2);
  roomy.set_batch(big.tokens, big.targets);
  const double big_loss = train_step_loss(roomy, kSeed, 2);
  roomy.set_batch(small.tokens, small.targets);
  CHECK(train_step_loss(roomy, kSeed, 2) == want);
  CHECK(roomy.download_gradients() == exact.download_gradients());
  roomy.set_batch(big.tokens, big.targets);
  CHECK(train_step_loss(roomy, kSeed, 2) == big_loss);
  // New parameters after recording are read by the replay.
  roomy.upload_parameters(p1);
  const double moved = train_step_loss(roomy, kSeed, 2);
  BasicModel<double> fresh(*backend, config, 5);
  fresh.upload_parameters(p1);
  fresh.set_batch(big.tokens, big.targets);
  CHECK(moved != big_loss);
  CHECK(train_step_loss(fresh, kSeed, 2) == moved);
  // The step's masks follow (seed, step), on every replay.
  CHECK(train_step_loss(roomy, kSeed, 3) != moved);
  CHECK(train_step_loss(roomy, kSeed, 2) == moved);
  // The program is only for the fused path.
  auto classic_backend = make_cpu_backend_double();
  BasicModel<double> classic(*classic_backend, config, 3);
  classic.set_batch(small.tokens, small.targets);
  CHECK_THROWS_AS(classic.training_program(1, nullptr), ConfigError);
}

TEST_CASE("the persistent program (one forward op, one backward op per layer) trains bit for bit as the fused one does",
          "[model][fused][persistent]") {
  auto fused = make_cpu_backend(fused_options());
  CpuOptions persistent_options = fused_options(ProgramOrder::wavefront);
  persistent_options.persistent_lstm = true;
  auto persistent = make_cpu_backend(persistent_options);
  REQUIRE(persistent->lstm_schedule() == LstmSchedule::persistent_sequences);
  const ModelConfig config = small_config(InputMode::scalar, 0.2);
  const Windows data = phrase_windows(config.vocab, config.window, 70);
  TrainerConfig tc;
  tc.batch = 8;
  struct Run {
    std::vector<double> losses;
    std::vector<float> params, grads;
    std::size_t program_ops = 0;
  };
  auto run = [&](BasicBackend<float>& backend) {
    Model model(backend, config, 8);
    model.initialize(6);
    Trainer trainer(model, tc);
    Run out;
    for (int e = 0; e < 2; ++e)
      trainer.train_epoch(data.set(), nullptr, [&](const Progress& p) {
        out.losses.push_back(p.loss);
        return true;
      });
    out.params = model.download_parameters();
    out.grads = model.download_gradients();
    const auto b = random_batch(config, 8, 3);
    model.set_batch(b.tokens, b.targets);
    out.program_ops = model.training_program(1, &trainer.optimizer()).size();
    return out;
  };
  const Run a = run(*fused), b = run(*persistent);
  REQUIRE(a.losses.size() == 18);
  CHECK(a.losses == b.losses);
  CHECK(a.params == b.params);
  CHECK(a.grads == b.grads);
  // Both layers' windows of forward steps became one op, each layer's
  // backward steps one op, with layer 2's T dx GEMMs in one op: 5 (T - 1) + 1 fewer.
  CHECK(b.program_ops == a.program_ops - 5 * std::size_t(config.window - 1) - 1);
}

TEST_CASE("lstm_sequence_forward is the step op, step after step", "[model][fused][persistent]") {
  auto backend = make_cpu_backend(fused_options());
  const int steps = 5, n = 3, f = 2, h = 4;
  const std::size_t nh = std::size_t(n * h);
  Buffer<float> x = upload_sine(*backend, std::size_t(steps * n * f), 1.0f, 0.3);
  Buffer<float> w = upload_sine(*backend, std::size_t(f * 4 * h), 0.4f, 0.3);
  Buffer<float> r = upload_sine(*backend, std::size_t(h * 4 * h), 0.3f, 0.3);
  Buffer<float> bias = upload_sine(*backend, std::size_t(4 * h), 0.2f, 0.3);
  const std::uint64_t zero = 0;
  Buffer<std::uint64_t> offset = backend->upload(std::span<const std::uint64_t>(&zero, 1));
  const DropoutKey key{99, 7, 0, offset.data()};
  auto outputs = [&] {
    struct Out {
      Buffer<float> h, c, g, d;
    };
    return Out{backend->allocate<float>(steps * nh), backend->allocate<float>(steps * nh),
               backend->allocate<float>(4 * steps * nh), backend->allocate<float>(steps * nh)};
  };
  auto seq = outputs();
  LstmSequenceForward<float> q;
  q.steps = steps;
  q.batch = n;
  q.input = f;
  q.hidden = h;
  q.x = x.data();
  q.w = w.data();
  q.r = r.data();
  q.b = bias.data();
  q.h = seq.h.data();
  q.c = seq.c.data();
  q.gates = seq.g.data();
  q.h_dropped = seq.d.data();
  q.dropout = &key;
  q.dropout_p = 0.25f;
  backend->lstm_sequence_forward(q);
  auto one = outputs();
  for (int t = 0; t < steps; ++t) {
    LstmStepForward<float> s;
    s.batch = n;
    s.input = f;
    s.hidden = h;
    s.x = x.data() + std::size_t(t * n * f);
    s.w = w.data();
    s.r = r.data();
    s.b = bias.data();
    s.h_prev = t > 0 ? one.h.data() + std::size_t(t - 1) * nh : nullptr;
    s.c_prev = t > 0 ? one.c.data() + std::size_t(t - 1) * nh : nullptr;
    s.h = one.h.data() + std::size_t(t) * nh;
    s.c = one.c.data() + std::size_t(t) * nh;
    s.gates = one.g.data() + 4 * std::size_t(t) * nh;
    s.h_dropped = one.d.data() + std::size_t(t) * nh;
    s.dropout = &key;
    s.dropout_p = 0.25f;
    s.dropout_index = std::uint64_t(t) * nh;
    backend->lstm_step_forward(s);
  }
  CHECK(backend->download(seq.h) == backend->download(one.h));
  CHECK(backend->download(seq.c) == backend->download(one.c));
  CHECK(backend->download(seq.g) == backend->download(one.g));
  const std::vector<float> dropped = backend->download(seq.d);
  CHECK(dropped == backend->download(one.d));
  CHECK(std::count(dropped.begin(), dropped.end(), 0.0f) > 0);  // the mask dropped some
}

TEST_CASE("lstm_sequences_forward is layer 1's sequence op, then layer 2's on its output",
          "[model][fused][persistent]") {
  auto backend = make_cpu_backend(fused_options());
  const int steps = 4, n = 3, f = 2, h1 = 5, h2 = 3;
  Buffer<float> x = upload_sine(*backend, std::size_t(steps * n * f), 1.0f, 0.3);
  Buffer<float> w1 = upload_sine(*backend, std::size_t(f * 4 * h1), 0.4f, 0.1);
  Buffer<float> r1 = upload_sine(*backend, std::size_t(h1 * 4 * h1), 0.3f, 0.2);
  Buffer<float> b1 = upload_sine(*backend, std::size_t(4 * h1), 0.2f, 0.5);
  Buffer<float> w2 = upload_sine(*backend, std::size_t(h1 * 4 * h2), 0.4f, 0.7);
  Buffer<float> r2 = upload_sine(*backend, std::size_t(h2 * 4 * h2), 0.3f, 0.9);
  Buffer<float> b2 = upload_sine(*backend, std::size_t(4 * h2), 0.2f, 1.1);
  const std::uint64_t zero = 0;
  Buffer<std::uint64_t> offset = backend->upload(std::span<const std::uint64_t>(&zero, 1));
  const DropoutKey key{99, 7, 0, offset.data()};
  struct Out {
    Buffer<float> h1, c1, g1, d1, h2, c2, g2;
  };
  auto outputs = [&] {
    const std::size_t t = std::size_t(steps * n);
    return Out{backend->allocate<float>(t * h1), backend->allocate<float>(t * h1),
               backend->allocate<float>(4 * t * h1), backend->allocate<float>(t * h1),
               backend->allocate<float>(t * h2), backend->allocate<float>(t * h2),
               backend->allocate<float>(4 * t * h2)};
  };
  auto layers = [&](Out& o) {
    LstmSequencesForward<float> q;
    q.layer1 = LstmSequenceForward<float>{steps, n, f, h1, x.data(), w1.data(), r1.data(), b1.data(),
                                          o.h1.data(), o.c1.data(), o.g1.data(), o.d1.data(), &key, 0.25f};
    q.layer2 = LstmSequenceForward<float>{steps, n, h1, h2, o.d1.data(), w2.data(), r2.data(), b2.data(),
                                          o.h2.data(), o.c2.data(), o.g2.data()};
    return q;
  };
  Out both = outputs(), one = outputs();
  backend->lstm_sequences_forward(layers(both));
  const LstmSequencesForward<float> q = layers(one);
  backend->lstm_sequence_forward(q.layer1);
  backend->lstm_sequence_forward(q.layer2);
  CHECK(backend->download(both.h1) == backend->download(one.h1));
  CHECK(backend->download(both.d1) == backend->download(one.d1));
  CHECK(backend->download(both.g1) == backend->download(one.g1));
  CHECK(backend->download(both.h2) == backend->download(one.h2));
  CHECK(backend->download(both.c2) == backend->download(one.c2));
  CHECK(backend->download(both.g2) == backend->download(one.g2));
  // Layer 2 must read layer 1's output: its dropped h where layer 1 drops.
  LstmSequencesForward<float> wrong = layers(both);
  wrong.layer2.x = both.h1.data();
  CHECK_THROWS_WITH(backend->lstm_sequences_forward(wrong), Catch::Contains("layer 2's x is not layer 1's h_dropped"));
  wrong = layers(both);
  wrong.layer2.steps = steps - 1;
  CHECK_THROWS_AS(backend->lstm_sequences_forward(wrong), ShapeError);
  wrong = layers(both);
  wrong.layer2.input = h1 + 1;
  CHECK_THROWS_WITH(backend->lstm_sequences_forward(wrong), Catch::Contains("is not layer 1's hidden"));
}

TEST_CASE("lstm_sequence_backward is the step op, step after step", "[model][fused][persistent]") {
  auto backend = make_cpu_backend(fused_options());
  const int steps = 5, n = 3, h = 4;
  const std::size_t nh = std::size_t(n * h), partials = std::size_t(backend->lstm_partial_blocks(n) * 4 * h);
  Buffer<float> r = upload_sine(*backend, std::size_t(h * 4 * h), 0.3f, 0.1);
  Buffer<float> gates = upload_sine(*backend, 4 * steps * nh, 0.45f, 0.2);  // activated gates: any values in (-1, 1)
  Buffer<float> c = upload_sine(*backend, steps * nh, 0.8f, 0.3);
  Buffer<float> dh = upload_sine(*backend, steps * nh, 0.5f, 0.4);
  Buffer<float> x = upload_sine(*backend, std::size_t(steps * n), 1.0f, 0.5);
  const std::uint64_t zero = 0;
  Buffer<std::uint64_t> offset = backend->upload(std::span<const std::uint64_t>(&zero, 1));
  const DropoutKey key{99, 7, 0, offset.data()};
  struct Out {
    Buffer<float> dc, dgates, db, dw;
  };
  auto outputs = [&] {
    Out o{backend->allocate<float>(nh), backend->allocate<float>(4 * steps * nh),
          backend->allocate<float>(steps * partials), backend->allocate<float>(steps * partials)};
    backend->fill(o.dgates.data(), o.dgates.size(), std::nanf(""));
    return o;
  };
  auto same = [&](const Out& a, const Out& b) {
    CHECK(backend->download(a.dc) == backend->download(b.dc));
    CHECK(backend->download(a.dgates) == backend->download(b.dgates));
    CHECK(backend->download(a.db) == backend->download(b.db));
    CHECK(backend->download(a.dw) == backend->download(b.dw));
  };
  // The gradient from above at every step (dropout and the scalar input), or
  // at the last step only (a head that reads only h_{T-1}).
  for (const bool every_step : {true, false}) {
    INFO("dh at every step: " << every_step);
    auto seq = outputs();
    LstmSequenceBackward<float> q;
    q.steps = steps;
    q.batch = n;
    q.hidden = h;
    q.r = r.data();
    q.gates = gates.data();
    q.c = c.data();
    q.dc = seq.dc.data();
    q.dgates = seq.dgates.data();
    q.db_partial = seq.db.data();
    if (every_step) {
      q.dh = dh.data();
      q.dropout = &key;
      q.dropout_p = 0.25f;
      q.x = x.data();
      q.dw_partial = seq.dw.data();
    } else {
      q.dh_last = dh.data() + (steps - 1) * nh;
    }
    backend->fill(seq.dw.data(), steps * partials, 0.0f);
    backend->lstm_sequence_backward(q);
    auto one = outputs();
    backend->fill(one.dw.data(), steps * partials, 0.0f);
    for (int t = steps - 1; t >= 0; --t) {
      LstmStepBackward<float> s;
      s.batch = n;
      s.hidden = h;
      s.r = r.data();
      s.dgates_next = t + 1 < steps ? one.dgates.data() + 4 * std::size_t(t + 1) * nh : nullptr;
      if (every_step) {
        s.dh = dh.data() + std::size_t(t) * nh;
        s.dropout = &key;
        s.dropout_p = 0.25f;
        s.dropout_index = std::uint64_t(t) * nh;
        s.x = x.data() + std::size_t(t * n);
        s.dw_partial = one.dw.data() + std::size_t(t) * partials;
      } else if (t == steps - 1) {
        s.dh = dh.data() + std::size_t(t) * nh;
      }
      s.gates = gates.data() + 4 * std::size_t(t) * nh;
      s.c = c.data() + std::size_t(t) * nh;
      s.c_prev = t > 0 ? c.data() + std::size_t(t - 1) * nh : nullptr;
      s.dc = one.dc.data();
      s.dgates = one.dgates.data() + 4 * std::size_t(t) * nh;
      s.db_partial = one.db.data() + std::size_t(t) * partials;
      backend->lstm_step_backward(s);
    }
    same(seq, one);
    // Every step was written over the NaN the buffers started with.
    const std::vector<float> dgates_out = backend->download(seq.dgates);
    CHECK(std::none_of(dgates_out.begin(), dgates_out.end(), [](float v) { return std::isnan(v); }));
  }
}
