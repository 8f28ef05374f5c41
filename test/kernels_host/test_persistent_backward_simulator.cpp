// The persistent backward kernel on the host simulator
// (persistent_backward_simulator.hpp): a layer's T backward steps, every
// block's slice of R^T resident, dgates_{t+1} exchanged through flags, the
// blocks interleaved by several schedules. Checked: each step against the
// double reference of the step op (step_reference.hpp) from the simulated
// dgates_{t+1}; dgates, the dc carry and the partial sums bit for bit against
// the fused FP32 backward step kernel's simulation run step by step (the same
// summation order); the same bits whatever the schedule and the thread
// order; and the checker itself: without its waits the kernel reads
// unpublished dgates and the simulator says so.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/lstm_persistent_backward_phases.hpp"
#include "kernels/persistent_partition.hpp"
#include "persistent_backward_reference.hpp"
#include "persistent_backward_simulator.hpp"
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

struct BackwardResult {
  std::vector<float> dgates, dc, db, dw;
  std::vector<std::vector<float>> dc_in;  // the fused run's: each step's incoming dc
  simulation::PersistentStats stats;
};

PersistentPlan backward_plan(const BackwardSequenceData& d, GemmOperands operands = GemmOperands::fp32) {
  return persistent_backward_plan(d.shape.batch, d.shape.hidden, kH100, operands);
}

BackwardResult run_persistent(BackwardSequenceData& d, ThreadOrder order, BlockSchedule schedule,
                              std::uint64_t seed = 1, simulation::PersistentFaults faults = {},
                              GemmOperands operands = GemmOperands::fp32) {
  const PersistentPlan plan = backward_plan(d, operands);
  REQUIRE(plan.fits());
  BackwardResult out;
  out.stats = simulation::persistent_backward(d.args(), plan, order, schedule, seed, faults);
  out.dgates = d.dgates.values();
  out.dc = d.dc.values();
  out.db = d.db_partial.values();
  if (d.shape.with_x) out.dw = d.dw_partial.values();
  return out;
}

// The fused backward step kernel's simulation in the same mode, t = T - 1 down to 0, on the same inputs.
BackwardResult run_fused(const BackwardSequenceData& d, GemmOperands operands = GemmOperands::fp32) {
  const std::size_t nh = d.per_step(d.shape.hidden), partials = d.partials_per_step();
  const std::size_t steps = std::size_t(d.shape.steps);
  BackwardResult out;
  out.dgates.assign(steps * 4 * nh, kNaN);
  out.dc.assign(nh, kNaN);
  out.db.assign(steps * partials, kNaN);
  out.dw.assign(steps * partials, kNaN);
  out.dc_in.resize(steps);
  for (int t = d.shape.steps - 1; t >= 0; --t) {
    const std::size_t at = std::size_t(t);
    out.dc_in[at] = out.dc;
    const LstmStepBackward<float> s = d.step(t, out.dgates.data(), out.dc.data(), out.dgates.data() + at * 4 * nh,
                                             out.db.data() + at * partials, out.dw.data() + at * partials);
    simulation::backward(operands, make_backward_args(s), ThreadOrder::forwards);
  }
  if (!d.shape.with_x) out.dw.clear();
  return out;
}

// The same bits in every output.
void check_same_bits(const BackwardResult& a, const BackwardResult& b) {
  CHECK(same_bits(a.dgates, b.dgates));
  CHECK(same_bits(a.dc, b.dc));
  CHECK(same_bits(a.db, b.db));
  CHECK(same_bits(a.dw, b.dw));
}

// The other block schedules, the threads backwards: got's bits again.
void check_other_schedules(BackwardSequenceData& d, const BackwardResult& got,
                           GemmOperands operands = GemmOperands::fp32) {
  for (BlockSchedule schedule :
       {BlockSchedule::round_robin_backwards, BlockSchedule::greedy_last_first, BlockSchedule::random}) {
    INFO("schedule " << int(schedule));
    check_same_bits(run_persistent(d, ThreadOrder::backwards, schedule, 7, {}, operands), got);
  }
}

void check_sequence(const BackwardSequenceCase& shape, bool every_schedule) {
  INFO(describe(shape));
  BackwardSequenceData d(shape);
  const BackwardResult got = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
  const BackwardResult fused = run_fused(d);
  check_same_bits(got, fused);
  check_backward_against_reference(d, got.dgates, got.db, got.dw, fused.dc_in, got.dc);
  if (!every_schedule) return;
  check_other_schedules(d, got);
}

// Tails in N and H (4H = 28, 80, 144: zero slices to a whole 64), dh at every
// step or only the last, dropout, the scalar input's partial sums, misaligned
// buffers (the scalar fetches), U 1 and 2 (H 7 -> U 1, 200 -> 2), partial
// blocks of 32 rows with a tail (N 33, 40).
const BackwardSequenceCase kSequences[] = {
    {3, 1, 1},
    {4, 5, 7, true, true, true},
    {3, 33, 20, false, false, false, true},
    {4, 40, 36, true, true, true, true},
    {2, 9, 200, false},
};
// U 4 and 8 (H 300, 600: 75 blocks) and two passes of rows (N 300): slower,
// so with the recipe's shapes in the slow CTest entry (not under the sanitizers).
const BackwardSequenceCase kLargerSequences[] = {
    {2, 300, 33, true, true, true},
    {2, 7, 300, true, true},
    {2, 3, 600, false, false, true, true},
};

TEST_CASE("persistent backward, simulated: every step equals the double reference and the fused kernel's bits",
          "[kernels_host][persistent]") {
  for (const BackwardSequenceCase& shape : kSequences)
    check_sequence(shape, std::size_t(shape.batch) * shape.hidden <= 2000);
}

TEST_CASE("persistent backward, simulated: U 4 and 8, two passes of rows", "[kernels_host][persistent][recipe]") {
  for (const BackwardSequenceCase& shape : kLargerSequences) check_sequence(shape, false);
}

TEST_CASE("persistent backward, simulated: threads in isolation (no shared-memory race)",
          "[kernels_host][persistent]") {
  BackwardSequenceData d(BackwardSequenceCase{3, 6, 12, true, true, true});  // 12 blocks, 4 K slices a step
  const BackwardResult in_order = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
  const BackwardResult isolated = run_persistent(d, ThreadOrder::isolated, BlockSchedule::random, 3);
  check_same_bits(isolated, in_order);
}

TEST_CASE("persistent backward, simulated: blocks wait for their producers and start before the last one",
          "[kernels_host][persistent]") {
  BackwardSequenceData d(BackwardSequenceCase{3, 4, 64});
  const PersistentPlan plan = backward_plan(d);
  REQUIRE(plan.blocks == 64);
  REQUIRE(plan.recurrent_slices == 16);  // 256 columns of dgates_{t+1}, 4 units a slice
  const BackwardResult greedy = run_persistent(d, ThreadOrder::forwards, BlockSchedule::greedy_last_first);
  CHECK(greedy.stats.stalls > 0);
  // Block 63 may start step t's first slices once blocks 0 .. 7 (slices 0
  // and 1, of 4 units each) published step t + 1.
  CHECK(blocks_needed(plan, slices_ready_after(plan, -1)) == 8);
}

TEST_CASE("persistent backward, simulated: the checker catches reads of unpublished dgates",
          "[kernels_host][persistent]") {
  BackwardSequenceData d(BackwardSequenceCase{2, 4, 64});
  const PersistentPlan plan = backward_plan(d);
  simulation::PersistentFaults no_waits;
  no_waits.skip_waits = true;
  // The last block runs step 0 before anyone published step 1.
  REQUIRE_THROWS_WITH(simulation::persistent_backward(d.args(), plan, ThreadOrder::forwards,
                                                      BlockSchedule::greedy_last_first, 1, no_waits),
                      Catch::Contains("before its producer published it") && Catch::Contains("block 63 step 0"));
  // With the waits the same schedule completes.
  CHECK_NOTHROW(
      simulation::persistent_backward(d.args(), plan, ThreadOrder::forwards, BlockSchedule::greedy_last_first));
}

TEST_CASE("persistent backward, simulated: the recipe's layers, two steps", "[kernels_host][persistent][recipe]") {
  check_sequence({2, 256, 512, true, true, true}, false);  // layer 1: dh from layer 2, dropout, x
  check_sequence({2, 256, 256, false}, false);             // layer 2: the head's gradient at the last step
}

// ---- the tensor-core variants (TF32, BF16) -------------------------------------------------

// Every step against the double reference with the mode's rounded operands
// (FP32's step tolerance: only the order of the sums differs), dgates within
// the mode's backward envelope against the exact operands (and not strict
// FP32's bits where there is a recurrent term), dgates, the dc carry and the
// partial sums bit for bit against the fused tensor-core backward kernel's
// simulation in the same mode (its warps' k-groups, like ours here, sum in the
// order of k and are added in group order), every schedule the same bits.
void check_tensor_sequence(const BackwardSequenceCase& shape, GemmOperands operands, bool every_schedule) {
  INFO(describe(shape) << " " << operands_name(operands));
  BackwardSequenceData d(shape);
  const BackwardResult got = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin, 1, {}, operands);
  const BackwardResult fused = run_fused(d, operands);
  check_same_bits(got, fused);
  check_backward_against_reference(d, got.dgates, got.db, got.dw, fused.dc_in, got.dc, 2e-5, operands);
  // Normwise error of every step's dgates against the exact operands' reference.
  const std::size_t nh = d.per_step(shape.hidden);
  double off = 0, norm = 0;
  for (int t = shape.steps - 1; t >= 0; --t) {
    std::vector<float> scratch(nh);
    const LstmStepBackward<float> s =
        d.step(t, got.dgates.data(), scratch.data(), scratch.data(), scratch.data(), scratch.data());
    const BackwardReference exact = reference_backward_step(s, fused.dc_in[std::size_t(t)].data(), GemmOperands::fp32);
    for (std::size_t i = 0; i < 4 * nh; ++i) {
      const double e = double(got.dgates[std::size_t(t) * 4 * nh + i]) - exact.dgates[i];
      off += e * e;
      norm += exact.dgates[i] * exact.dgates[i];
    }
  }
  const MathMode mode = operands == GemmOperands::tf32 ? MathMode::tf32 : MathMode::bf16;
  CHECK(std::sqrt(off / norm) <= test::envelopes::for_mode(mode)[test::envelopes::Kind::backward]);
  if (shape.steps > 1) {  // a recurrent GEMM: rounded operands change the bits
    const BackwardResult strict = run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin);
    CHECK_FALSE(same_bits(strict.dgates, got.dgates));
  }
  if (!every_schedule) return;
  check_other_schedules(d, got, operands);
}

TEST_CASE("persistent backward on tensor cores, simulated: the double reference, the envelope, the fused kernel's bits",
          "[kernels_host][persistent]") {
  // H 7, 20, 36: one block with idle columns; 200: 13 blocks, the last of 8
  // units. Every schedule for the small ones (the waits are the FP32
  // kernel's, checked under every schedule above; this keeps the sanitizer run short).
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const BackwardSequenceCase& shape : kSequences)
      check_tensor_sequence(shape, operands, std::size_t(shape.batch) * shape.hidden <= 700);
}

TEST_CASE("persistent backward on tensor cores, simulated: two passes of rows, 19 and 38 blocks",
          "[kernels_host][persistent][recipe]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (const BackwardSequenceCase& shape : kLargerSequences) check_tensor_sequence(shape, operands, false);
}

TEST_CASE("persistent backward on tensor cores, simulated: threads in isolation", "[kernels_host][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    BackwardSequenceData d(BackwardSequenceCase{2, 6, 20, true, true, true});  // 2 blocks, 8 K slices a step
    const BackwardResult in_order =
        run_persistent(d, ThreadOrder::forwards, BlockSchedule::round_robin, 1, {}, operands);
    const BackwardResult isolated = run_persistent(d, ThreadOrder::isolated, BlockSchedule::random, 3, {}, operands);
    check_same_bits(isolated, in_order);
  }
}

TEST_CASE("persistent backward on tensor cores, simulated: the checker catches reads of unpublished dgates",
          "[kernels_host][persistent]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    BackwardSequenceData d(BackwardSequenceCase{2, 4, 64});
    const PersistentPlan plan = backward_plan(d, operands);
    REQUIRE(plan.blocks == 4);
    simulation::PersistentFaults no_waits;
    no_waits.skip_waits = true;
    REQUIRE_THROWS_WITH(simulation::persistent_backward(d.args(), plan, ThreadOrder::forwards,
                                                        BlockSchedule::greedy_last_first, 1, no_waits),
                        Catch::Contains("before its producer published it") && Catch::Contains("block 3 step 0"));
    CHECK_NOTHROW(
        simulation::persistent_backward(d.args(), plan, ThreadOrder::forwards, BlockSchedule::greedy_last_first));
  }
}

TEST_CASE("persistent backward on tensor cores, simulated: the recipe's layers, two steps",
          "[kernels_host][persistent][recipe]") {
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    check_tensor_sequence({2, 256, 512, true, true, true}, operands, false);
    check_tensor_sequence({2, 256, 256, false}, operands, false);
  }
}

}  // namespace
