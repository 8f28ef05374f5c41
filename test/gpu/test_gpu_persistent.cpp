// The persistent forward kernel (kernels/persistent_kernels.hpp), called
// directly on the GPU: every step of the sequence against the double
// reference of the step op (test/kernels_host/persistent_reference.hpp, as
// the host simulator is checked), the whole sequence against the fused FP32
// step kernel run step by step (the same sums in the same order: only the
// cell's expf / tanhf could differ), the recipe's two layers for all 40
// steps, a second launch with the same bits (the flags are reset), the
// refusals that send a layer back to the fused path, and the recipe's
// training steps on the persistent path against the fused path's (strict
// FP32; TF32 and BF16 run the fused kernels on both).
// Part of test_gpu_backend: skipped where no GPU can run our kernels.

#include <cstdint>
#include <vector>

#include "gpu_test_support.hpp"
#include "kernels/fused_kernels.hpp"
#include "kernels/persistent_kernels.hpp"
#include "nocturne/error.hpp"
#include "persistent_reference.hpp"
#include "recipe_training.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
using namespace nocturne::test::persistent;
using kernels::GemmOperands;

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

// The fused FP32 step kernel, step after step, on the same device inputs.
Outputs run_fused(const SequenceData& d, DeviceSequence& m) {
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
    kernels::lstm_step_forward(kLaunch, GemmOperands::fp32, step);
  }
  Outputs o{gpu().download(h), gpu().download(c), gpu().download(gates), {}};
  if (s.dropout) o.h_dropped = gpu().download(h_dropped);
  return o;
}

void check_gpu_sequence(const SequenceCase& shape) {
  INFO(describe(shape));
  SequenceData d(shape);
  kernels::prepare_persistent_kernels();
  const kernels::PersistentPlan plan = kernels::persistent_device_plan(shape.batch, shape.input, shape.hidden);
  INFO("U " << plan.units << " blocks " << plan.blocks << " shared " << plan.shared.total << ": "
            << kernels::persistent_refusal_text(plan.refusal));
  REQUIRE(plan.fits());
  DeviceSequence m(d, plan.blocks);
  const Outputs got = run_persistent(d, plan, m);
  check_against_reference(d, got.h, got.c, got.gates, got.h_dropped);
  const Outputs fused = run_fused(d, m);
  auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  require_close("h against the fused kernel", got.h, as_double(fused.h), 1e-6);
  require_close("c against the fused kernel", got.c, as_double(fused.c), 1e-6);
  require_close("gates against the fused kernel", got.gates, as_double(fused.gates), 1e-6);
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
  const kernels::PersistentPlan wide = kernels::persistent_device_plan(256, 1, 4096);
  CHECK_FALSE(wide.fits());
  CHECK_THROWS_AS(kernels::lstm_persistent_forward(kLaunch, wide, kernels::PersistentForwardArgs{}), ShapeError);
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

}  // namespace
