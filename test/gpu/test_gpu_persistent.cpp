// The persistent forward and backward kernels (kernels/persistent_kernels.hpp), called
// directly on the GPU: every step of the sequence against the double
// reference of the step op (test/kernels_host/persistent_reference.hpp, as
// the host simulator is checked), the whole sequence against the fused FP32
// step kernel run step by step (the same sums in the same order: only the
// cell's expf / tanhf could differ), the recipe's two layers for all 40
// steps, a second launch with the same bits (the flags are reset), the
// refusals that send a layer back to the fused path; the backward kernel
// likewise (persistent_backward_reference.hpp), and the backend's
// lstm_sequence_backward op on the persistent path against the CPU
// backend's; and the recipe's training steps on the persistent path against
// the fused path's (strict FP32). The forward kernel's tensor-core variants
// (TF32, BF16) likewise against the double reference with rounded operands
// and the fused tensor-core kernel, and the backend's lstm_sequence_forward
// in each mode against the CPU backend in that mode, within its envelope;
// the backward's tensor-core variants too (lstm_sequence_backward in TF32
// and BF16 against the CPU backend within the mode's envelopes). The
// wavefront (both layers' forward in one launch, strict FP32): bit for bit
// the two separate launches, layer 2 within the double reference, and the
// backend's lstm_sequences_forward against its two sequence ops (bits) and
// the CPU backend (the FP32 envelope).
// Part of test_gpu_backend: skipped where no GPU can run our kernels.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/fused_op_checks.hpp"  // sequence_backward_step
#include "gpu_test_support.hpp"
#include "kernels/fused_kernels.hpp"
#include "kernels/persistent_kernels.hpp"
#include "nocturne/error.hpp"
#include "persistent_backward_reference.hpp"
#include "persistent_reference.hpp"
#include "recipe_training.hpp"
#include "support/precision_envelopes.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
using namespace nocturne::test::persistent;
using kernels::GemmOperands;
namespace envelopes = nocturne::test::envelopes;

const kernels::Launch kLaunch{nullptr, true};

// A host buffer's device copy (aligned; the misaligned cases run on the host simulator).
Buffer<float> device_copy(const HostBuffer& host) { return upload(gpu(), host.values()); }

struct DeviceSequence {
  Buffer<float> x, w, r, b, h, c, gates, h_dropped;
  Buffer<std::uint64_t> offset;
  Buffer<unsigned> flags;
  DropoutKey key;

  DeviceSequence(const SequenceData& d, int blocks)
      : x(device_copy(d.x)),
        w(device_copy(d.w)),
        r(device_copy(d.r)),
        b(device_copy(d.b)),
        h(poisoned(gpu(), d.h.size())),
        c(poisoned(gpu(), d.c.size())),
        gates(poisoned(gpu(), d.gates.size())),
        h_dropped(poisoned(gpu(), d.h_dropped.size())),
        offset(gpu().upload(std::span<const std::uint64_t>(&d.device_offset, 1))),
        flags(gpu().allocate<unsigned>(std::size_t(blocks))),
        key(d.key) {
    key.offset_on_device = offset.data();
  }
};

struct Outputs {
  std::vector<float> h, c, gates, h_dropped;
};

Outputs run_persistent(const SequenceData& d, const kernels::PersistentPlan& plan, DeviceSequence& m) {
  const SequenceCase& s = d.shape;
  const kernels::PersistentForwardArgs args = kernels::make_persistent_forward_args(
      s.steps, s.batch, s.input, s.hidden, m.x.data(), m.w.data(), m.r.data(), m.b.data(), m.h.data(), m.c.data(),
      m.gates.data(), s.dropout ? m.h_dropped.data() : nullptr, s.dropout ? &m.key : nullptr, SequenceData::kDropoutP,
      m.flags.data());
  kernels::lstm_persistent_forward(kLaunch, plan, args);
  Outputs o{gpu().download(m.h), gpu().download(m.c), gpu().download(m.gates), {}};
  if (s.dropout) o.h_dropped = gpu().download(m.h_dropped);
  return o;
}

// The fused step kernel in the same mode, step after step, on the same device inputs.
Outputs run_fused(const SequenceData& d, DeviceSequence& m, GemmOperands operands = GemmOperands::fp32) {
  const SequenceCase& s = d.shape;
  const std::size_t nh = std::size_t(s.batch) * s.hidden;
  Buffer<float> h = poisoned(gpu(), d.h.size()), c = poisoned(gpu(), d.c.size());
  Buffer<float> gates = poisoned(gpu(), d.gates.size()), h_dropped = poisoned(gpu(), d.h_dropped.size());
  for (int t = 0; t < s.steps; ++t) {
    LstmStepForward<float> step = d.step(t, h.data(), c.data(), h.data() + t * nh, c.data() + t * nh,
                                         gates.data() + 4 * t * nh, h_dropped.data() + t * nh);
    step.x = m.x.data() + std::size_t(t) * s.batch * s.input;
    step.w = m.w.data();
    step.r = m.r.data();
    step.b = m.b.data();
    if (s.dropout) step.dropout = &m.key;
    kernels::lstm_step_forward(kLaunch, operands, step);
  }
  Outputs o{gpu().download(h), gpu().download(c), gpu().download(gates), {}};
  if (s.dropout) o.h_dropped = gpu().download(h_dropped);
  return o;
}

// Tensor cores (TF32, BF16): against the double reference with the mode's
// rounded operands by the FP32 step tolerance (the sums' order differs), and
// against the fused tensor-core kernel by 1e-5 (the same fragments over the
// same rounded operands; only the order in which the fragments are summed
// may differ).
void check_gpu_sequence(const SequenceCase& shape, GemmOperands operands = GemmOperands::fp32) {
  INFO(describe(shape) << " " << operands_name(operands));
  SequenceData d(shape);
  kernels::prepare_persistent_kernels();
  const kernels::PersistentPlan plan =
      kernels::persistent_device_plan(shape.batch, shape.input, shape.hidden, operands);
  INFO("U " << plan.units << " blocks " << plan.blocks << " shared " << plan.shared.total << ": "
            << kernels::persistent_refusal_text(plan.refusal));
  REQUIRE(plan.fits());
  DeviceSequence m(d, plan.blocks);
  const Outputs got = run_persistent(d, plan, m);
  check_against_reference(d, got.h, got.c, got.gates, got.h_dropped, kStepTolerance, operands);
  const Outputs fused = run_fused(d, m, operands);
  auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const double fused_tolerance = operands == GemmOperands::fp32 ? 1e-6 : 1e-5;
  require_close("h against the fused kernel", got.h, as_double(fused.h), fused_tolerance);
  require_close("c against the fused kernel", got.c, as_double(fused.c), fused_tolerance);
  require_close("gates against the fused kernel", got.gates, as_double(fused.gates), fused_tolerance);
  // A second launch: the flags start from zero again, the bits are the same.
  const Outputs again = run_persistent(d, plan, m);
  CHECK(same_bits(again.h, got.h));
  CHECK(same_bits(again.c, got.c));
  CHECK(same_bits(again.gates, got.gates));
}

TEST_CASE("persistent forward kernel against the double reference and the fused kernel", "[gpu][persistent]") {
  const SequenceCase shapes[] = {
      {3, 1, 1, 1}, {4, 5, 1, 7, true}, {4, 40, 17, 36, true}, {2, 300, 6, 33}, {3, 9, 1, 200}, {2, 7, 24, 300, true},
      {3, 3, 1, 600},
  };
  for (const SequenceCase& shape : shapes) check_gpu_sequence(shape);
}

TEST_CASE("persistent forward kernel: the recipe's layers, 40 steps", "[gpu][persistent]") {
  if (small_run()) return;
  check_gpu_sequence({40, 256, 1, 512});
  check_gpu_sequence({40, 256, 512, 256, true});
}

TEST_CASE("persistent forward kernel: shapes that do not fit are refused, not run", "[gpu][persistent]") {
  for (GemmOperands operands : {GemmOperands::fp32, GemmOperands::tf32, GemmOperands::bf16}) {
    const kernels::PersistentPlan wide = kernels::persistent_device_plan(256, 1, 4096, operands);
    CHECK_FALSE(wide.fits());
    CHECK_THROWS_AS(kernels::lstm_persistent_forward(kLaunch, wide, kernels::PersistentForwardArgs{}), ShapeError);
  }
}

TEST_CASE("persistent forward kernel on tensor cores (TF32, BF16) against the double reference and the fused kernel",
          "[gpu][persistent]") {
  // U 4 (H 7, 36, 33, 200), U 8 (H 600), two passes of rows (N 300), F > 1 (W resident).
  const SequenceCase shapes[] = {
      {3, 1, 1, 1}, {4, 5, 1, 7, true}, {4, 40, 17, 36, true}, {2, 300, 6, 33}, {3, 9, 1, 200}, {3, 3, 1, 600},
  };
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const SequenceCase& shape : shapes) check_gpu_sequence(shape, operands);
}

TEST_CASE("persistent forward kernel on tensor cores: the recipe's layers, 40 steps", "[gpu][persistent]") {
  if (small_run()) return;
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    check_gpu_sequence({40, 256, 1, 512}, operands);
    check_gpu_sequence({40, 256, 512, 256, true}, operands);
  }
}

// The CUDA backend on the persistent path in `mode`.
std::unique_ptr<Backend> persistent_backend(MathMode mode) {
  CudaOptions options;
  options.lstm_impl = LstmImpl::persistent;
  options.math = mode;
  return make_cuda_backend(options);
}

// The CPU backend on the fused path in `mode`: the reference of the persistent path in that mode.
std::unique_ptr<Backend> fused_cpu_backend(MathMode mode) {
  CpuOptions options;
  options.fused_lstm = true;
  options.math = mode;
  return make_cpu_backend(options);
}

// Normwise relative error ||got - want|| / ||want||, as the envelopes are stated.
double normwise_error(const std::vector<float>& got, const std::vector<float>& want) {
  double off = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double e = double(got[i]) - double(want[i]);
    off += e * e;
    norm += double(want[i]) * double(want[i]);
  }
  return std::sqrt(off / norm);
}

TEST_CASE("lstm_sequence_forward on the persistent path against the CPU backend in each mode", "[gpu][persistent]") {
  for (MathMode mode : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16}) {
    const std::unique_ptr<Backend> persistent = persistent_backend(mode);
    const std::unique_ptr<Backend> reference = fused_cpu_backend(mode);
    const double bound = envelopes::for_mode(mode)[envelopes::Kind::forward];
    // Fits (the kernel of the mode), and does not (H 1100: more than 8 units x 132 SMs; the fused steps).
    for (const SequenceCase& shape :
         {SequenceCase{5, 40, 36, 64, true}, SequenceCase{3, 8, 1, small_run() ? 36 : 1100}}) {
      INFO(describe(shape) << " " << to_string(mode));
      SequenceData d(shape);
      auto run = [&](Backend& b) {
        auto copy = [&](const HostBuffer& h) { return upload(b, h.values()); };
        Buffer<float> x = copy(d.x), w = copy(d.w), r = copy(d.r), bias = copy(d.b);
        Buffer<float> h = poisoned(b, d.h.size()), c = poisoned(b, d.c.size()), gates = poisoned(b, d.gates.size());
        Buffer<float> h_dropped = poisoned(b, d.h_dropped.size());
        Buffer<std::uint64_t> offset = b.upload(std::span<const std::uint64_t>(&d.device_offset, 1));
        DropoutKey key = d.key;
        key.offset_on_device = offset.data();
        LstmSequenceForward<float> q;
        q.steps = shape.steps;
        q.batch = shape.batch;
        q.input = shape.input;
        q.hidden = shape.hidden;
        q.x = x.data();
        q.w = w.data();
        q.r = r.data();
        q.b = bias.data();
        q.h = h.data();
        q.c = c.data();
        q.gates = gates.data();
        if (shape.dropout) {
          q.h_dropped = h_dropped.data();
          q.dropout = &key;
          q.dropout_p = SequenceData::kDropoutP;
        }
        b.lstm_sequence_forward(q);
        b.synchronize();
        return std::vector<std::vector<float>>{b.download(h), b.download(c), b.download(gates),
                                               shape.dropout ? b.download(h_dropped) : std::vector<float>{}};
      };
      const auto got = run(*persistent), want = run(*reference);
      const char* names[] = {"h", "c", "gates", "h_dropped"};
      for (int i = 0; i < 4; ++i) {
        if (want[std::size_t(i)].empty()) continue;
        const double error = normwise_error(got[std::size_t(i)], want[std::size_t(i)]);
        INFO(names[i] << ": normwise error " << error << ", envelope " << bound);
        CHECK(error <= bound);
      }
    }
  }
}

// ---- the wavefront: both layers' forward in one launch -------------------------------------

struct TwoLayerCase {
  int steps, batch, input, hidden1, hidden2;
  bool dropout = false;
};

// Layer 1 and 2 as two launches, then as the wavefront's one launch (twice:
// the flags start from zero again), on the same device inputs: the same bits.
void check_gpu_wavefront(const TwoLayerCase& s) {
  INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H1 " << s.hidden1 << " H2 " << s.hidden2
            << (s.dropout ? " dropout" : ""));
  kernels::prepare_persistent_kernels();
  const kernels::WavefrontPlan w =
      kernels::persistent_device_wavefront_plan(s.batch, s.input, s.hidden1, s.hidden2);
  INFO("U1 " << w.layer1.units << " U2 " << w.layer2.units << " blocks " << w.blocks << " shared " << w.shared << ": "
             << kernels::persistent_refusal_text(w.refusal));
  REQUIRE(w.fits());
  SequenceData d1(SequenceCase{s.steps, s.batch, s.input, s.hidden1, s.dropout});
  SequenceData d2(SequenceCase{s.steps, s.batch, s.hidden1, s.hidden2});
  // Today's two launches, each with its own plan.
  const kernels::PersistentPlan p1 = kernels::persistent_device_plan(s.batch, s.input, s.hidden1);
  const kernels::PersistentPlan p2 = kernels::persistent_device_plan(s.batch, s.hidden1, s.hidden2);
  REQUIRE(p1.fits());
  REQUIRE(p2.fits());
  DeviceSequence m1(d1, p1.blocks);
  const Outputs separate1 = run_persistent(d1, p1, m1);
  const std::vector<float>& x = s.dropout ? separate1.h_dropped : separate1.h;
  std::copy(x.begin(), x.end(), d2.x.data());  // layer 2's input: layer 1's output (also for the reference)
  DeviceSequence m2(d2, p2.blocks);
  const Outputs separate2 = run_persistent(d2, p2, m2);
  check_against_reference(d2, separate2.h, separate2.c, separate2.gates, {});

  DeviceSequence n1(d1, w.blocks), n2(d2, 1);
  auto run_wavefront = [&] {
    for (Buffer<float>* o : {&n1.h, &n1.c, &n1.gates, &n1.h_dropped, &n2.h, &n2.c, &n2.gates})
      *o = poisoned(gpu(), o->size());
    const kernels::PersistentForwardArgs a1 = kernels::make_persistent_forward_args(
        s.steps, s.batch, s.input, s.hidden1, n1.x.data(), n1.w.data(), n1.r.data(), n1.b.data(), n1.h.data(),
        n1.c.data(), n1.gates.data(), s.dropout ? n1.h_dropped.data() : nullptr, s.dropout ? &n1.key : nullptr,
        SequenceData::kDropoutP, n1.flags.data());
    const kernels::PersistentForwardArgs a2 = kernels::make_wavefront_layer2_args(
        w, a1,
        kernels::make_persistent_forward_args(s.steps, s.batch, s.hidden1, s.hidden2,
                                              s.dropout ? n1.h_dropped.data() : n1.h.data(), n2.w.data(),
                                              n2.r.data(), n2.b.data(), n2.h.data(), n2.c.data(), n2.gates.data(),
                                              nullptr, nullptr, 0.0f, nullptr));
    kernels::lstm_persistent_wavefront_forward(kLaunch, w, a1, a2);
    Outputs o1{gpu().download(n1.h), gpu().download(n1.c), gpu().download(n1.gates), {}};
    if (s.dropout) o1.h_dropped = gpu().download(n1.h_dropped);
    return std::pair<Outputs, Outputs>{o1, Outputs{gpu().download(n2.h), gpu().download(n2.c),
                                                   gpu().download(n2.gates), {}}};
  };
  for (int launch = 0; launch < 2; ++launch) {
    INFO("launch " << launch);
    const auto [got1, got2] = run_wavefront();
    CHECK(same_bits(got1.h, separate1.h));
    CHECK(same_bits(got1.c, separate1.c));
    CHECK(same_bits(got1.gates, separate1.gates));
    CHECK(same_bits(got1.h_dropped, separate1.h_dropped));
    CHECK(same_bits(got2.h, separate2.h));
    CHECK(same_bits(got2.c, separate2.c));
    CHECK(same_bits(got2.gates, separate2.gates));
  }
}

TEST_CASE("persistent wavefront kernel: both layers in one launch give the two launches' bits", "[gpu][persistent]") {
  // Tails, dropout between the layers, F > 1, two passes of rows (N 300), U 1 to 8.
  const TwoLayerCase shapes[] = {
      {3, 5, 1, 20, 9, true}, {4, 40, 17, 36, 24, true}, {2, 300, 6, 33, 40}, {3, 9, 1, 200, 100, true},
      {3, 3, 1, 600, 300},
  };
  for (const TwoLayerCase& shape : shapes) check_gpu_wavefront(shape);
}

TEST_CASE("persistent wavefront kernel: the recipe's layers, 40 steps", "[gpu][persistent]") {
  if (small_run()) return;
  check_gpu_wavefront({40, 256, 1, 512, 256, true});
}

TEST_CASE("persistent wavefront kernel: pairs that do not fit are refused, not run", "[gpu][persistent]") {
  kernels::prepare_persistent_kernels();
  const kernels::WavefrontPlan wide = kernels::persistent_device_wavefront_plan(256, 1, 1024, 1024);
  CHECK_FALSE(wide.fits());
  CHECK_THROWS_AS(kernels::lstm_persistent_wavefront_forward(kLaunch, wide, kernels::PersistentForwardArgs{},
                                                             kernels::PersistentForwardArgs{}),
                  ShapeError);
}

TEST_CASE("lstm_sequences_forward on the persistent path: its two sequence ops' bits and the CPU backend",
          "[gpu][persistent]") {
  for (MathMode mode : {MathMode::strict_fp32, MathMode::tf32}) {  // the wavefront, and TF32's two launches
    const std::unique_ptr<Backend> persistent = persistent_backend(mode);
    const std::unique_ptr<Backend> reference = fused_cpu_backend(mode);
    const double bound = envelopes::for_mode(mode)[envelopes::Kind::forward];
    // Fits, and does not (H1 1100: the two layers' ops, layer 1 on the fused steps).
    for (const TwoLayerCase& s :
         {TwoLayerCase{5, 40, 36, 64, 48, true}, TwoLayerCase{3, 8, 1, small_run() ? 36 : 1100, 40, true}}) {
      INFO("T " << s.steps << " N " << s.batch << " H1 " << s.hidden1 << " H2 " << s.hidden2 << " "
                << to_string(mode));
      SequenceData d1(SequenceCase{s.steps, s.batch, s.input, s.hidden1, s.dropout});
      SequenceData d2(SequenceCase{s.steps, s.batch, s.hidden1, s.hidden2});
      auto run = [&](Backend& b, bool one_op) {
        auto copy = [&](const HostBuffer& h) { return upload(b, h.values()); };
        Buffer<float> x = copy(d1.x), w1 = copy(d1.w), r1 = copy(d1.r), b1 = copy(d1.b);
        Buffer<float> w2 = copy(d2.w), r2 = copy(d2.r), b2 = copy(d2.b);
        Buffer<float> h1 = poisoned(b, d1.h.size()), c1 = poisoned(b, d1.c.size()), g1 = poisoned(b, d1.gates.size());
        Buffer<float> drop1 = poisoned(b, d1.h.size());
        Buffer<float> h2 = poisoned(b, d2.h.size()), c2 = poisoned(b, d2.c.size()), g2 = poisoned(b, d2.gates.size());
        Buffer<std::uint64_t> offset = b.upload(std::span<const std::uint64_t>(&d1.device_offset, 1));
        DropoutKey key = d1.key;
        key.offset_on_device = offset.data();
        LstmSequencesForward<float> q;
        q.layer1 = LstmSequenceForward<float>{s.steps, s.batch, s.input, s.hidden1, x.data(), w1.data(), r1.data(),
                                              b1.data(), h1.data(), c1.data(), g1.data(), drop1.data(), &key,
                                              SequenceData::kDropoutP};
        q.layer2 = LstmSequenceForward<float>{s.steps, s.batch, s.hidden1, s.hidden2, drop1.data(), w2.data(),
                                              r2.data(), b2.data(), h2.data(), c2.data(), g2.data()};
        if (one_op) {
          b.lstm_sequences_forward(q);
        } else {
          b.lstm_sequence_forward(q.layer1);
          b.lstm_sequence_forward(q.layer2);
        }
        b.synchronize();
        return std::vector<std::vector<float>>{b.download(h1), b.download(c1), b.download(g1), b.download(drop1),
                                               b.download(h2), b.download(c2), b.download(g2)};
      };
      const auto got = run(*persistent, true), two_ops = run(*persistent, false), want = run(*reference, true);
      const char* names[] = {"h1", "c1", "gates1", "h1_dropped", "h2", "c2", "gates2"};
      for (std::size_t i = 0; i < 7; ++i) {
        INFO(names[i]);
        CHECK(same_bits(got[i], two_ops[i]));
        const double error = normwise_error(got[i], want[i]);
        INFO("normwise error against the CPU backend " << error << ", envelope " << bound);
        CHECK(error <= bound);
      }
    }
  }
}

// ---- the backward ------------------------------------------------------------------------

struct DeviceBackwardSequence {
  Buffer<float> r, dh, gates, c, x, dc, dgates, db, dw;
  Buffer<std::uint64_t> offset;
  Buffer<unsigned> flags;
  DropoutKey key;

  DeviceBackwardSequence(const BackwardSequenceData& d, int blocks)
      : r(device_copy(d.r)),
        dh(device_copy(d.dh)),
        gates(device_copy(d.gates)),
        c(device_copy(d.c)),
        x(device_copy(d.x)),
        dc(poisoned(gpu(), d.dc.size())),
        dgates(poisoned(gpu(), d.dgates.size())),
        db(poisoned(gpu(), d.db_partial.size())),
        dw(poisoned(gpu(), d.dw_partial.size())),
        offset(gpu().upload(std::span<const std::uint64_t>(&d.device_offset, 1))),
        flags(gpu().allocate<unsigned>(std::size_t(std::max(blocks, 1)))),
        key(d.key) {
    key.offset_on_device = offset.data();
  }

  // The op on the device buffers.
  LstmSequenceBackward<float> op(const BackwardSequenceData& d) {
    const BackwardSequenceCase& s = d.shape;
    LstmSequenceBackward<float> q;
    q.steps = s.steps;
    q.batch = s.batch;
    q.hidden = s.hidden;
    q.r = r.data();
    if (s.dh_every_step)
      q.dh = dh.data();
    else
      q.dh_last = dh.data() + (s.steps - 1) * d.per_step(s.hidden);
    if (s.dropout) {
      q.dropout = &key;
      q.dropout_p = BackwardSequenceData::kDropoutP;
    }
    q.gates = gates.data();
    q.c = c.data();
    q.dc = dc.data();
    q.dgates = dgates.data();
    q.db_partial = db.data();
    if (s.with_x) {
      q.x = x.data();
      q.dw_partial = dw.data();
    }
    return q;
  }
};

struct BackwardOutputs {
  std::vector<float> dgates, dc, db, dw;
  std::vector<std::vector<float>> dc_in;  // the fused run's: each step's incoming dc
};

BackwardOutputs download(const BackwardSequenceData& d, DeviceBackwardSequence& m) {
  BackwardOutputs o{gpu().download(m.dgates), gpu().download(m.dc), gpu().download(m.db), {}, {}};
  if (d.shape.with_x) o.dw = gpu().download(m.dw);
  return o;
}

BackwardOutputs run_persistent_backward(const BackwardSequenceData& d, const kernels::PersistentPlan& plan,
                                        DeviceBackwardSequence& m) {
  const LstmSequenceBackward<float> q = m.op(d);
  kernels::lstm_persistent_backward(kLaunch, plan,
                                    kernels::make_persistent_backward_args(q, d.partial_blocks, m.flags.data()));
  return download(d, m);
}

// The fused backward step kernel in the same mode, t = T - 1 down to 0, on the same device inputs.
BackwardOutputs run_fused_backward(const BackwardSequenceData& d, DeviceBackwardSequence& m,
                                   GemmOperands operands = GemmOperands::fp32) {
  const LstmSequenceBackward<float> q = m.op(d);
  std::vector<std::vector<float>> dc_in(std::size_t(d.shape.steps));
  for (int t = d.shape.steps - 1; t >= 0; --t) {
    dc_in[std::size_t(t)] = gpu().download(m.dc);
    kernels::lstm_step_backward(kLaunch, operands, sequence_backward_step(q, t, d.partial_blocks));
  }
  BackwardOutputs o = download(d, m);
  o.dc_in = std::move(dc_in);
  return o;
}

// Tensor cores (TF32, BF16): against the double reference with the mode's
// rounded operands by the FP32 step tolerance, and against the fused
// tensor-core backward kernel as FP32 against the fused FP32 one: the same
// mma operations on the same rounded operands into the same k-group
// accumulators, added in the same order, so the bits are expected there too.
void check_gpu_backward(const BackwardSequenceCase& shape, GemmOperands operands = GemmOperands::fp32) {
  INFO(describe(shape) << " " << operands_name(operands));
  BackwardSequenceData d(shape);
  kernels::prepare_persistent_kernels();
  const kernels::PersistentPlan plan = kernels::persistent_device_backward_plan(shape.batch, shape.hidden, operands);
  INFO("U " << plan.units << " blocks " << plan.blocks << " shared " << plan.shared.total << ": "
            << kernels::persistent_refusal_text(plan.refusal));
  REQUIRE(plan.fits());
  DeviceBackwardSequence m(d, plan.blocks);
  const BackwardOutputs got = run_persistent_backward(d, plan, m);
  const BackwardOutputs fused = run_fused_backward(d, m, operands);
  check_backward_against_reference(d, got.dgates, got.db, got.dw, fused.dc_in, got.dc, 2e-5, operands);
  // The same sums in the same order and the same cell: the bits are expected
  // (bounded here, as the forward's, by 1e-6).
  auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  require_close("dgates against the fused kernel", got.dgates, as_double(fused.dgates), 1e-6);
  require_close("dc against the fused kernel", got.dc, as_double(fused.dc), 1e-6);
  require_close("db_partial against the fused kernel", got.db, as_double(fused.db), 1e-6);
  if (shape.with_x) require_close("dw_partial against the fused kernel", got.dw, as_double(fused.dw), 1e-6);
  // A second launch: the flags start from zero again, the bits are the same.
  const BackwardOutputs again = run_persistent_backward(d, plan, m);
  CHECK(same_bits(again.dgates, got.dgates));
  CHECK(same_bits(again.dc, got.dc));
  CHECK(same_bits(again.db, got.db));
  CHECK(same_bits(again.dw, got.dw));
}

TEST_CASE("persistent backward kernel against the double reference and the fused kernel", "[gpu][persistent]") {
  const BackwardSequenceCase shapes[] = {
      {3, 1, 1},          {4, 5, 7, true, true, true}, {3, 33, 20, false},         {4, 40, 36, true, true, true},
      {2, 300, 33, true, true, true}, {3, 9, 200, false}, {2, 7, 300, true, true}, {3, 3, 600, false, false, true},
  };
  for (const BackwardSequenceCase& shape : shapes) check_gpu_backward(shape);
}

TEST_CASE("persistent backward kernel: the recipe's layers, 40 steps", "[gpu][persistent]") {
  if (small_run()) return;
  check_gpu_backward({40, 256, 512, true, true, true});  // layer 1: dh from layer 2, dropout, the scalar input
  check_gpu_backward({40, 256, 256, false});             // layer 2: the head's gradient at the last step
}

TEST_CASE("persistent backward kernel: shapes that do not fit are refused, not run", "[gpu][persistent]") {
  const kernels::PersistentPlan wide = kernels::persistent_device_backward_plan(256, 4096);
  CHECK_FALSE(wide.fits());
  CHECK_THROWS_AS(kernels::lstm_persistent_backward(kLaunch, wide, kernels::PersistentBackwardArgs{}), ShapeError);
}

// One lstm_sequence_backward of `host` (the op on d) on backend b, from d's
// inputs uploaded: dgates, dc, and db and dW reduced from its partial sums
// (dW empty without x).
std::vector<std::vector<float>> run_sequence_backward(Backend& b, const BackwardSequenceData& d,
                                                      const LstmSequenceBackward<float>& host) {
  const BackwardSequenceCase& shape = d.shape;
  auto copy = [&](const HostBuffer& h) { return upload(b, h.values()); };
  Buffer<float> r = copy(d.r), dh = copy(d.dh), gates = copy(d.gates), c = copy(d.c), x = copy(d.x);
  // Each backend's own partial blocks (the CPU's are 64 rows, the GPU's 32): compared once reduced.
  const int blocks = b.lstm_partial_blocks(shape.batch), cols = 4 * shape.hidden;
  const std::size_t partials = std::size_t(shape.steps) * std::size_t(blocks) * std::size_t(cols);
  Buffer<float> dc = poisoned(b, d.dc.size()), dgates = poisoned(b, d.dgates.size());
  Buffer<float> db = poisoned(b, partials), dw = poisoned(b, partials);
  Buffer<float> db_sum = poisoned(b, std::size_t(cols)), dw_sum = poisoned(b, std::size_t(cols));
  Buffer<std::uint64_t> offset = b.upload(std::span<const std::uint64_t>(&d.device_offset, 1));
  DropoutKey key = d.key;
  key.offset_on_device = offset.data();
  LstmSequenceBackward<float> q = host;
  q.r = r.data();
  q.dh = host.dh ? dh.data() : nullptr;
  q.dh_last = host.dh_last ? dh.data() + (shape.steps - 1) * d.per_step(shape.hidden) : nullptr;
  q.dropout = host.dropout ? &key : nullptr;
  q.gates = gates.data();
  q.c = c.data();
  q.x = host.x ? x.data() : nullptr;
  q.dc = dc.data();
  q.dgates = dgates.data();
  q.db_partial = db.data();
  q.dw_partial = host.x ? dw.data() : nullptr;
  b.lstm_sequence_backward(q);
  b.lstm_partials_reduce(shape.steps, blocks, cols, db.data(), db_sum.data());
  if (host.x) b.lstm_partials_reduce(shape.steps, blocks, cols, dw.data(), dw_sum.data());
  b.synchronize();
  return std::vector<std::vector<float>>{b.download(dgates), b.download(dc), b.download(db_sum),
                                         host.x ? b.download(dw_sum) : std::vector<float>{}};
}

TEST_CASE("lstm_sequence_backward on the persistent path against the CPU backend", "[gpu][persistent]") {
  CudaOptions options;
  options.lstm_impl = LstmImpl::persistent;
  const std::unique_ptr<Backend> persistent = make_cuda_backend(options);
  // Fits (the kernel), and does not (H 1100: more than 8 units x 132 SMs; the fused steps, silently).
  for (const BackwardSequenceCase& shape : {BackwardSequenceCase{5, 40, 36, true, true, true},
                                            BackwardSequenceCase{3, 8, small_run() ? 36 : 1100, false}}) {
    INFO(describe(shape));
    BackwardSequenceData d(shape);
    const LstmSequenceBackward<float> host = d.op();
    const auto got = run_sequence_backward(*persistent, d, host), want = run_sequence_backward(cpu(), d, host);
    require_close("dgates", got[0], want[0], kLstmBackward);
    require_close("dc", got[1], want[1], kLstmBackward);
    require_close("db (the partial sums reduced)", got[2], want[2], kLstmBackward);
    if (shape.with_x) require_close("dW (the partial sums reduced)", got[3], want[3], kLstmBackward);
  }
}

TEST_CASE("persistent backward kernel on tensor cores (TF32, BF16) against the double reference and the fused kernel",
          "[gpu][persistent]") {
  // One block (H 1 .. 16), idle columns (H 7, 20, 36), 13 and 19 blocks, two passes of rows (N 300), dropout, x.
  const BackwardSequenceCase shapes[] = {
      {3, 1, 1},          {4, 5, 7, true, true, true}, {3, 33, 20, false},     {4, 40, 36, true, true, true},
      {2, 300, 33, true, true, true}, {3, 9, 200, false}, {2, 7, 300, true, true},
  };
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const BackwardSequenceCase& shape : shapes) check_gpu_backward(shape, operands);
}

TEST_CASE("persistent backward kernel on tensor cores: the recipe's layers, 40 steps", "[gpu][persistent]") {
  if (small_run()) return;
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    check_gpu_backward({40, 256, 512, true, true, true}, operands);
    check_gpu_backward({40, 256, 256, false}, operands);
  }
}

TEST_CASE("persistent backward kernel on tensor cores: shapes that do not fit are refused, not run",
          "[gpu][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    INFO(operands_name(operands));
    const kernels::PersistentPlan wide = kernels::persistent_device_backward_plan(256, 4096, operands);
    CHECK_FALSE(wide.fits());
    CHECK_THROWS_AS(kernels::lstm_persistent_backward(kLaunch, wide, kernels::PersistentBackwardArgs{}), ShapeError);
    // H 1500: 94 blocks, but R^T's slice does not fit (TF32 stops at H 656, BF16 at 1456).
    CHECK(kernels::persistent_device_backward_plan(256, 1500, operands).refusal ==
          kernels::PersistentRefusal::shared_memory);
  }
}

TEST_CASE("lstm_sequence_backward on the persistent path against the CPU backend in TF32 and BF16",
          "[gpu][persistent]") {
  for (MathMode mode : {MathMode::tf32, MathMode::bf16}) {
    const std::unique_ptr<Backend> persistent = persistent_backend(mode);
    const std::unique_ptr<Backend> reference = fused_cpu_backend(mode);
    const envelopes::Envelope& bound = envelopes::for_mode(mode);
    // Fits (the tensor-core kernel), and does not (H 1500: R^T's slice over
    // the shared memory; the fused steps, silently).
    for (const BackwardSequenceCase& shape : {BackwardSequenceCase{5, 40, 36, true, true, true},
                                              BackwardSequenceCase{3, 8, small_run() ? 36 : 1500, false}}) {
      INFO(describe(shape) << " " << to_string(mode));
      BackwardSequenceData d(shape);
      const LstmSequenceBackward<float> host = d.op();
      const auto got = run_sequence_backward(*persistent, d, host), want = run_sequence_backward(*reference, d, host);
      const char* names[] = {"dgates", "dc", "db (the partial sums reduced)", "dW (the partial sums reduced)"};
      const envelopes::Kind kinds[] = {envelopes::Kind::backward, envelopes::Kind::backward,
                                       envelopes::Kind::weight_gradient, envelopes::Kind::weight_gradient};
      for (int i = 0; i < 4; ++i) {
        if (want[std::size_t(i)].empty()) continue;
        const double error = normwise_error(got[std::size_t(i)], want[std::size_t(i)]);
        INFO(names[i] << ": normwise error " << error << ", envelope " << bound[kinds[i]]);
        CHECK(error <= bound[kinds[i]]);
      }
    }
  }
}

TEST_CASE("the persistent path's training steps follow the fused path's (fp32)", "[gpu][persistent][training]") {
  CudaOptions options;
  options.lstm_impl = LstmImpl::persistent;
  const std::unique_ptr<Backend> persistent = make_cuda_backend(options);
  CHECK(persistent->name().find("persistent") != std::string::npos);
  REQUIRE(persistent->lstm_schedule() == LstmSchedule::persistent_sequences);
  options.lstm_impl = LstmImpl::fused;
  const std::unique_ptr<Backend> fused = make_cuda_backend(options);
  const TrainingRun p = train(*persistent), f = train(*fused);
  check_fp32_runs_agree("persistent vs fused (gpu, fp32)", p, f);
  // Eager replay (graphs off) gives the captured graph's bits.
  options.lstm_impl = LstmImpl::persistent;
  options.graphs = false;
  const std::unique_ptr<Backend> eager = make_cuda_backend(options);
  const TrainingRun e = train(*eager);
  CHECK(e.losses == p.losses);
  CHECK(e.params == p.params);
}

TEST_CASE("the persistent path's training steps follow the fused path's (tf32, bf16)",
          "[gpu][persistent][training]") {
  // The same rounded operands; the tensor-core forward kernels sum their
  // fragments in another order than the fused ones (the tensor-core backward
  // kernels in the same order): step 1 within the mode's envelopes.
  for (MathMode mode : {MathMode::tf32, MathMode::bf16}) {
    INFO(to_string(mode));
    CudaOptions options;
    options.math = mode;
    options.lstm_impl = LstmImpl::persistent;
    const std::unique_ptr<Backend> persistent = make_cuda_backend(options);
    options.lstm_impl = LstmImpl::fused;
    const std::unique_ptr<Backend> fused = make_cuda_backend(options);
    const TrainingRun p = train(*persistent), f = train(*fused);
    for (double loss : p.losses) REQUIRE(std::isfinite(loss));
    const envelopes::Envelope& bound = envelopes::for_mode(mode);
    CHECK(std::fabs(p.losses[0] - f.losses[0]) <= bound[envelopes::Kind::loss] * f.losses[0]);
    const Errors g1 = measure(p.first_gradients, f.first_gradients);
    INFO("step 1 gradients: normalised " << g1.normalised);
    CHECK(g1.nonfinite == 0);
    CHECK(g1.normalised <= bound[envelopes::Kind::weight_gradient]);
  }
}

}  // namespace
