// The persistent forward kernel on the host simulator (persistent_simulator.hpp):
// a whole sequence of T steps, every block's slice of the weights resident,
// h exchanged through flags, the blocks interleaved by several schedules.
// Checked: each step against the double reference of the step op
// (step_reference.hpp) from the simulated h_{t-1}, the whole sequence bit for
// bit against the fused FP32 step kernel's simulation run step by step (same
// summation order), the same bits whatever the schedule and the thread
// order, and the checker itself: without its waits the kernel reads
// unpublished h and the simulator says so. The tensor-core variants (TF32,
// BF16) the same way: against the double reference with the mode's rounded
// operands, within the mode's envelope against the exact operands, and bit
// for bit against the fused tensor-core kernel's simulation in that mode.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/lstm_persistent_phases.hpp"
#include "kernels/persistent_partition.hpp"
#include "persistent_reference.hpp"
#include "persistent_simulator.hpp"
#include "step_reference.hpp"
#include "step_simulator.hpp"
#include "support/precision_envelopes.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::kernels;
using namespace nocturne::test::fused;
using namespace nocturne::test::persistent;
using simulation::BlockSchedule;
using simulation::ThreadOrder;

struct SequenceResult {
  std::vector<float> h, c, gates, h_dropped;
  simulation::PersistentStats stats;
};

SequenceResult run_persistent(SequenceData& d, ThreadOrder order, BlockSchedule schedule, std::uint64_t seed = 1,
                              GemmOperands operands = GemmOperands::fp32) {
  const PersistentPlan plan = persistent_plan(d.shape.batch, d.shape.input, d.shape.hidden, kH100, operands);
  REQUIRE(plan.fits());
  SequenceResult out;
  out.stats = simulation::persistent_forward(d.args(), plan, order, schedule, seed);
  out.h = d.h.values();
  out.c = d.c.values();
  out.gates = d.gates.values();
  if (d.shape.dropout) out.h_dropped = d.h_dropped.values();
  return out;
}

// The fused step kernel's simulation in the same mode, step after step, on the same inputs.
SequenceResult run_fused(SequenceData& d, GemmOperands operands = GemmOperands::fp32) {
  const std::size_t nh = std::size_t(d.shape.batch) * d.shape.hidden;
  SequenceResult out;
  out.h.assign(d.shape.steps * nh, kNaN);
  out.c.assign(d.shape.steps * nh, kNaN);
  out.gates.assign(d.shape.steps * 4 * nh, kNaN);
  out.h_dropped.assign(d.shape.steps * nh, kNaN);
  for (int t = 0; t < d.shape.steps; ++t) {
    const LstmStepForward<float> s = d.step(t, out.h.data(), out.c.data(), out.h.data() + t * nh,
                                            out.c.data() + t * nh, out.gates.data() + 4 * t * nh,
                                            out.h_dropped.data() + t * nh);
    simulation::forward(operands, make_forward_args(s), ThreadOrder::forwards);
  }
  if (!d.shape.dropout) out.h_dropped.clear();
  return out;
}

void check_sequence(const SequenceCase& shape, bool every_schedule) {
  INFO(describe(shape));
  SequenceData d(shape);
  const SequenceResult got = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
  check_against_reference(d, got.h, got.c, got.gates, got.h_dropped);
  const SequenceResult fused = run_fused(d);
  CHECK(same_bits(got.h, fused.h));
  CHECK(same_bits(got.c, fused.c));
  CHECK(same_bits(got.gates, fused.gates));
  CHECK(same_bits(got.h_dropped, fused.h_dropped));
  if (!every_schedule) return;
  for (BlockSchedule schedule :
       {BlockSchedule::round_robin_backwards, BlockSchedule::greedy_last_first, BlockSchedule::random}) {
    INFO("schedule " << int(schedule));
    const SequenceResult again = run_persistent(d, ThreadOrder::backwards, schedule, 7);
    CHECK(same_bits(again.h, got.h));
    CHECK(same_bits(again.c, got.c));
    CHECK(same_bits(again.gates, got.gates));
    CHECK(same_bits(again.h_dropped, got.h_dropped));
  }
}

// The tensor-core variants: every step against the double reference with
// the mode's rounded operands (FP32's tolerance: only the order of the sums
// differs), against the exact operands within the mode's envelope (and not
// strict FP32's bits: the operands are rounded), the whole sequence bit for
// bit against the fused tensor-core kernel's simulation in the same mode (its
// fragments, like ours here, sum in the order of k), every schedule the same.
void check_tensor_sequence(const SequenceCase& shape, GemmOperands operands, bool every_schedule) {
  INFO(describe(shape) << " " << operands_name(operands));
  SequenceData d(shape);
  const SequenceResult got = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin, 1, operands);
  check_against_reference(d, got.h, got.c, got.gates, got.h_dropped, kStepTolerance, operands);
  const SequenceResult fused = run_fused(d, operands);
  CHECK(same_bits(got.h, fused.h));
  CHECK(same_bits(got.c, fused.c));
  CHECK(same_bits(got.gates, fused.gates));
  CHECK(same_bits(got.h_dropped, fused.h_dropped));
  // Normwise error of each step's h and gates against the exact operands' reference.
  const std::size_t nh = std::size_t(shape.batch) * shape.hidden;
  double h_off = 0, h_norm = 0, g_off = 0, g_norm = 0;
  for (int t = 0; t < shape.steps; ++t) {
    std::vector<float> scratch(6 * nh);
    const LstmStepForward<float> s = d.step(t, got.h.data(), got.c.data(), scratch.data(), scratch.data() + nh,
                                            scratch.data() + 2 * nh, scratch.data() + 5 * nh);
    const ForwardReference exact = reference_forward_step(s, GemmOperands::fp32);
    for (std::size_t i = 0; i < nh; ++i) {
      const double e = double(got.h[t * nh + i]) - exact.h[i];
      h_off += e * e;
      h_norm += exact.h[i] * exact.h[i];
    }
    for (std::size_t i = 0; i < 4 * nh; ++i) {
      const double e = double(got.gates[4 * t * nh + i]) - exact.gates[i];
      g_off += e * e;
      g_norm += exact.gates[i] * exact.gates[i];
    }
  }
  const MathMode mode = operands == GemmOperands::tf32 ? MathMode::tf32 : MathMode::bf16;
  const double bound = test::envelopes::for_mode(mode)[test::envelopes::Kind::forward];
  CHECK(std::sqrt(h_off / h_norm) <= bound);
  CHECK(std::sqrt(g_off / g_norm) <= bound);
  if (shape.steps > 1) {  // a recurrent GEMM: rounded operands change the bits
    const SequenceResult strict = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
    CHECK_FALSE(same_bits(strict.h, got.h));
  }
  if (!every_schedule) return;
  for (BlockSchedule schedule :
       {BlockSchedule::round_robin_backwards, BlockSchedule::greedy_last_first, BlockSchedule::random}) {
    INFO("schedule " << int(schedule));
    const SequenceResult again = run_persistent(d, ThreadOrder::backwards, schedule, 7, operands);
    CHECK(same_bits(again.h, got.h));
    CHECK(same_bits(again.c, got.c));
    CHECK(same_bits(again.gates, got.gates));
    CHECK(same_bits(again.h_dropped, got.h_dropped));
  }
}

// Tails in N, H and F, F = 1 and F > 1 (resident W), dropout, misaligned
// buffers (the scalar fetches), U 1 and 2 (H 7 -> U 1, 200 -> 2).
const SequenceCase kSequences[] = {
    {3, 1, 1, 1}, {4, 5, 1, 7, true}, {3, 33, 3, 20, false, true}, {4, 40, 17, 36, true}, {2, 9, 1, 200},
};
// U 4 and 8 (H 300, 600: 75 blocks) and two passes of rows (N 300): slower,
// so with the recipe's shapes in the slow CTest entry (not under the sanitizers).
const SequenceCase kLargerSequences[] = {
    {2, 300, 6, 33},
    {2, 7, 24, 300, true},
    {2, 3, 1, 600, false, true},
};

TEST_CASE("persistent forward, simulated: every step equals the double reference and the fused kernel's bits",
          "[kernels_host][persistent]") {
  for (const SequenceCase& shape : kSequences)
    check_sequence(shape, std::size_t(shape.batch) * shape.hidden <= 2000);
}

TEST_CASE("persistent forward, simulated: U 4 and 8, two passes of rows", "[kernels_host][persistent][recipe]") {
  for (const SequenceCase& shape : kLargerSequences) check_sequence(shape, false);
}

TEST_CASE("persistent forward, simulated: threads in isolation (no shared-memory race)",
          "[kernels_host][persistent]") {
  SequenceData d(SequenceCase{3, 6, 5, 20, true});
  const SequenceResult in_order = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
  const SequenceResult isolated = run_persistent(d, ThreadOrder::isolated, BlockSchedule::random, 3);
  CHECK(same_bits(isolated.h, in_order.h));
  CHECK(same_bits(isolated.gates, in_order.gates));
}

TEST_CASE("persistent forward, simulated: blocks wait for their producers and start before the last one",
          "[kernels_host][persistent]") {
  SequenceData d(SequenceCase{3, 4, 1, 64});
  const PersistentPlan plan = persistent_plan(4, 1, 64, kH100);
  REQUIRE(plan.blocks == 64);
  // Consumers scheduled first stall on their producers ...
  const SequenceResult greedy = run_persistent(d, ThreadOrder::forwards, BlockSchedule::greedy_last_first);
  CHECK(greedy.stats.stalls > 0);
  // ... and a block needs only the producers of its next slices: block 63
  // may run step 1's first slices once blocks 0 .. 31 (slices 0 and 1 of
  // 16 units each) published step 0.
  CHECK(blocks_needed(plan, slices_ready_after(plan, -1)) == 32);
}

TEST_CASE("persistent forward, simulated: the checker catches reads of unpublished h", "[kernels_host][persistent]") {
  SequenceData d(SequenceCase{2, 4, 1, 64});
  const PersistentPlan plan = persistent_plan(4, 1, 64, kH100);
  simulation::PersistentFaults no_waits;
  no_waits.skip_waits = true;
  // The last block runs step 1 before anyone published step 0.
  REQUIRE_THROWS_WITH(
      simulation::persistent_forward(d.args(), plan, ThreadOrder::forwards, BlockSchedule::greedy_last_first, 1,
                                     no_waits),
      Catch::Contains("before its producer published it"));
  // With the waits the same schedule completes.
  CHECK_NOTHROW(
      simulation::persistent_forward(d.args(), plan, ThreadOrder::forwards, BlockSchedule::greedy_last_first));
}

TEST_CASE("persistent forward, simulated: the recipe's layers, two steps", "[kernels_host][persistent][recipe]") {
  check_sequence({2, 256, 1, 512}, false);
  check_sequence({2, 256, 512, 256, true}, false);
}

// ---- the tensor-core variants (TF32, BF16) -------------------------------------------------
// The same shapes; the tensor cores take U 4 (H 7: 2 blocks, H 200: 50) or 8 (H 600).
TEST_CASE("persistent forward on tensor cores, simulated: the double reference, the envelope, the fused kernel's bits",
          "[kernels_host][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const SequenceCase& shape : kSequences)
      check_tensor_sequence(shape, operands, std::size_t(shape.batch) * shape.hidden <= 2000);
}

TEST_CASE("persistent forward on tensor cores, simulated: U 8, two passes of rows",
          "[kernels_host][persistent][recipe]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const SequenceCase& shape : kLargerSequences) check_tensor_sequence(shape, operands, false);
}

TEST_CASE("persistent forward on tensor cores, simulated: threads in isolation", "[kernels_host][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    SequenceData d(SequenceCase{3, 6, 5, 20, true});
    const SequenceResult in_order = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin, 1, operands);
    const SequenceResult isolated = run_persistent(d, ThreadOrder::isolated, BlockSchedule::random, 3, operands);
    CHECK(same_bits(isolated.h, in_order.h));
    CHECK(same_bits(isolated.gates, in_order.gates));
  }
}

TEST_CASE("persistent forward on tensor cores, simulated: the checker catches reads of unpublished h",
          "[kernels_host][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    SequenceData d(SequenceCase{2, 4, 1, 64});
    const PersistentPlan plan = persistent_plan(4, 1, 64, kH100, operands);
    REQUIRE(plan.blocks == 16);
    simulation::PersistentFaults no_waits;
    no_waits.skip_waits = true;
    REQUIRE_THROWS_WITH(simulation::persistent_forward(d.args(), plan, ThreadOrder::forwards,
                                                       BlockSchedule::greedy_last_first, 1, no_waits),
                        Catch::Contains("before its producer published it"));
    CHECK_NOTHROW(
        simulation::persistent_forward(d.args(), plan, ThreadOrder::forwards, BlockSchedule::greedy_last_first));
  }
}

TEST_CASE("persistent forward on tensor cores, simulated: the recipe's layers, two steps",
          "[kernels_host][persistent][recipe]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    check_tensor_sequence({2, 256, 1, 512}, operands, false);
    check_tensor_sequence({2, 256, 512, 256, true}, operands, false);
  }
}

}  // namespace
