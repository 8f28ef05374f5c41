// The wavefront of the persistent forward (kernels/persistent_wavefront.hpp):
// layer 1 and layer 2 in one cooperative grid. Checked: the recipe's pair on
// an H100 (the chosen U, the grid, the shared memory), every pair of the
// benchmark sweep and small shapes (both layers' units owned once, the grid
// within the SMs, each layer's shared memory within the limit, the choice the
// best of every pair of U that fits, a refusal only where no pair fits), and
// layer 2's waits: before the barrier ahead of each x slice's fetch, exactly
// the layer-1 blocks that own that slice's units and the ones before it.
// Then the combined grid on the host simulator (persistent_simulator.hpp):
// both layers' blocks under every schedule and in isolated threads, bit for
// bit the two separate persistent launches' simulation (and layer 2 within
// the double reference of its steps), layer 2 running beside layer 1, and
// the checker firing where layer 2 skips its waits on layer 1's flags.

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "kernels/persistent_partition.hpp"
#include "kernels/persistent_wavefront.hpp"
#include "persistent_reference.hpp"
#include "persistent_simulator.hpp"

namespace {

using namespace nocturne::kernels;

struct Pair {
  int batch, input, hidden1, hidden2;
};

std::string describe(const Pair& s) {
  return "N " + std::to_string(s.batch) + " F " + std::to_string(s.input) + " H1 " + std::to_string(s.hidden1) +
         " H2 " + std::to_string(s.hidden2);
}

void check_owned_once(const PersistentPlan& p, int hidden) {
  std::vector<int> owners(std::size_t(hidden), 0);
  for (int b = 0; b < p.blocks; ++b) {
    const UnitRange u = block_units(p, b);
    CHECK(u.first < u.end);
    for (int unit = u.first; unit < u.end; ++unit) ++owners[std::size_t(unit)];
  }
  for (int unit = 0; unit < hidden; ++unit) CHECK(owners[std::size_t(unit)] == 1);
}

// Every pair of U that fits, brute force: the plan's choice is the best of them.
void check_choice(const Pair& s, const WavefrontPlan& w, DeviceLimits device) {
  bool any = false;
  long long best_slowest = 0, best_sum = 0;
  for (int u1 = 1; u1 <= kPersistentMaxUnits; u1 *= 2)
    for (int u2 = 1; u2 <= kPersistentMaxUnits; u2 *= 2) {
      const int blocks = ceil_div(s.hidden1, u1) + ceil_div(s.hidden2, u2);
      const PersistentShared s1 = persistent_shared(u1, s.input, s.hidden1);
      const PersistentShared s2 = persistent_shared(u2, s.hidden1, s.hidden2);
      if (blocks > device.sms || s1.total > device.shared_per_block || s2.total > device.shared_per_block) continue;
      const long long a = (long long)u1 * s1.weight_rows, b = (long long)u2 * s2.weight_rows;
      const long long slowest = a > b ? a : b;
      if (!any || slowest < best_slowest || (slowest == best_slowest && a + b < best_sum)) {
        best_slowest = slowest;
        best_sum = a + b;
      }
      any = true;
    }
  CHECK(any == (w.fits() || w.refusal == PersistentRefusal::rank_one_input));
  if (!w.fits()) return;
  const long long a = wavefront_block_work(w.layer1), b = wavefront_block_work(w.layer2);
  CHECK((a > b ? a : b) == best_slowest);
  CHECK(a + b == best_sum);
}

// Layer 2's waits at step t, interval by interval, against the owners of the
// slices it fetches: interval j's fetch (j = -1 the prologue) is of slice
// j + 1 in the step's order (layer 2's h_{t-1} slices, then x_t's), so
// before the barrier that ends interval j - 1 the owners of every slice up
// to j + 1 must be waited for: exactly those, no block more.
void check_waits(const WavefrontPlan& w, int t) {
  const PersistentPlan& p1 = w.layer1;
  const PersistentPlan& p2 = w.layer2;
  const int recurrent = t > 0 ? p2.recurrent_slices : 0;
  const int slices = recurrent + p2.input_slices;
  REQUIRE(p2.input_slices == ceil_div(p1.hidden, kPersistentDepth));
  for (int interval = -2; interval < slices; ++interval) {
    INFO("step " << t << " interval " << interval);
    const WavefrontWait need = wavefront_wait(w, t, interval);
    // The slices fetched by the end of the next interval: below interval + 3.
    int own = 0, layer1 = 0;
    for (int s = 0; s < slices && s < interval + 3; ++s) {
      if (s < recurrent) {
        for (int unit = s * p2.slice_units; unit < (s + 1) * p2.slice_units && unit < p2.hidden; ++unit)
          own = std::max(own, unit_owner(p2, unit) + 1);
      } else {
        const int x = s - recurrent;  // x_t's columns [16 x, 16 x + 16): layer 1's units
        for (int unit = x * kPersistentDepth; unit < (x + 1) * kPersistentDepth && unit < p1.hidden; ++unit)
          layer1 = std::max(layer1, unit_owner(p1, unit) + 1);
      }
    }
    CHECK(need.own == own);
    CHECK(need.layer1 == layer1);
    CHECK(need.layer1 <= p1.blocks);
    CHECK(need.own <= p2.blocks);
  }
  // Before the last interval ends, every producer of the step: all of layer 1.
  CHECK(wavefront_wait(w, t, slices - 1).layer1 == p1.blocks);
}

void check_pair(const Pair& s, DeviceLimits device) {
  INFO(describe(s));
  const WavefrontPlan w = wavefront_plan(s.batch, s.input, s.hidden1, s.hidden2, device);
  check_choice(s, w, device);
  if (!w.fits()) return;
  INFO("U1 " << w.layer1.units << " U2 " << w.layer2.units << " blocks " << w.blocks << " shared " << w.shared);
  CHECK(w.blocks == w.layer1.blocks + w.layer2.blocks);
  CHECK(w.blocks <= device.sms);
  CHECK(w.layer1.blocks == ceil_div(s.hidden1, w.layer1.units));
  CHECK(w.layer2.blocks == ceil_div(s.hidden2, w.layer2.units));
  CHECK(w.layer1.shared.total <= device.shared_per_block);
  CHECK(w.layer2.shared.total <= device.shared_per_block);
  CHECK(w.shared == std::max(w.layer1.shared.total, w.layer2.shared.total));
  CHECK(w.layer1.input == s.input);
  CHECK(w.layer2.input == s.hidden1);
  CHECK(wavefront_layer2_flags(w) == w.layer1.blocks);
  check_owned_once(w.layer1, s.hidden1);
  check_owned_once(w.layer2, s.hidden2);
  for (int t : {0, 1, 5}) check_waits(w, t);
}

TEST_CASE("persistent wavefront plan: the recipe's layers on an H100", "[kernels_host][persistent]") {
  for (int input : {1, 64}) {  // scalar input, or the embedding
    const WavefrontPlan w = wavefront_plan(256, input, 512, 256, kH100);
    REQUIRE(w.fits());
    // U1 4 (128 blocks) leaves 4 SMs for layer 2; U1 8 and U2 4 balance the
    // blocks' work best: 8 x 512 (or 576) rows of layer 1 against 4 x 768 of layer 2.
    CHECK(w.layer1.units == 8);
    CHECK(w.layer2.units == 4);
    CHECK(w.layer1.blocks == 64);
    CHECK(w.layer2.blocks == 64);
    CHECK(w.blocks == 128);
    check_pair({256, input, 512, 256}, kH100);
  }
}

TEST_CASE("persistent wavefront plan: the sweep and small shapes, owned once, within the H100",
          "[kernels_host][persistent]") {
  std::vector<Pair> pairs = {{1, 1, 2, 1}, {3, 5, 7, 3}, {33, 17, 20, 9}, {70, 3, 33, 65}, {300, 100, 100, 50}};
  for (int h1 : {128, 256, 512, 1024})
    for (int h2 : {128, 256, 512})
      for (int batch : {1, 40, 256, 512}) pairs.push_back({batch, 1, h1, h2});
  for (const Pair& s : pairs) check_pair(s, kH100);
}

TEST_CASE("persistent wavefront plan: refusals", "[kernels_host][persistent]") {
  // 1024 + 512 units need 128 + 64 blocks at U 8: more than 132 SMs.
  CHECK(wavefront_plan(256, 1, 1024, 512, kH100).refusal == PersistentRefusal::too_many_blocks);
  check_pair({256, 1, 1024, 512}, kH100);
  // Too little shared memory for any U of layer 2 (its 768 resident rows).
  DeviceLimits small = kH100;
  small.shared_per_block = 48 * 1024;
  CHECK(wavefront_plan(256, 1, 512, 256, small).refusal == PersistentRefusal::shared_memory);
  check_pair({256, 1, 512, 256}, small);
  // Layer 1 of one unit: layer 2's input term is the epilogue's rank-one one.
  CHECK(wavefront_plan(4, 1, 1, 8, kH100).refusal == PersistentRefusal::rank_one_input);
  CHECK(wavefront_plan(0, 1, 8, 8, kH100).refusal == PersistentRefusal::empty_shape);
  CHECK(std::string(persistent_refusal_text(PersistentRefusal::rank_one_input)).find("rank-one") != std::string::npos);
}

// ---- the combined grid, simulated ----------------------------------------------------------
using namespace nocturne;
using namespace nocturne::test::persistent;
using simulation::BlockSchedule;
using simulation::ThreadOrder;

struct TwoLayers {
  int steps, batch, input, hidden1, hidden2;
  bool dropout = false;
  bool misaligned = false;
};

struct LayerOutputs {
  std::vector<float> h, c, gates, h_dropped;
};
LayerOutputs outputs_of(const SequenceData& d) {
  return {d.h.values(), d.c.values(), d.gates.values(), d.shape.dropout ? d.h_dropped.values() : std::vector<float>{}};
}
void check_same_bits(const LayerOutputs& got, const LayerOutputs& want) {
  CHECK(same_bits(got.h, want.h));
  CHECK(same_bits(got.c, want.c));
  CHECK(same_bits(got.gates, want.gates));
  CHECK(same_bits(got.h_dropped, want.h_dropped));
}

struct Wavefront {
  SequenceData layer1, layer2;
  WavefrontPlan plan;
  LayerOutputs separate1, separate2;  // today's two launches, one after the other

  explicit Wavefront(const TwoLayers& s)
      : layer1(SequenceCase{s.steps, s.batch, s.input, s.hidden1, s.dropout, s.misaligned}),
        layer2(SequenceCase{s.steps, s.batch, s.hidden1, s.hidden2, false, s.misaligned}),
        plan(wavefront_plan(s.batch, s.input, s.hidden1, s.hidden2, kH100)) {
    REQUIRE(plan.fits());
    // The two launches, each with its own plan, layer 2 reading layer 1's (dropped) h.
    simulation::persistent_forward(layer1.args(), persistent_plan(s.batch, s.input, s.hidden1, kH100),
                                   ThreadOrder::forwards, BlockSchedule::round_robin);
    separate1 = outputs_of(layer1);
    const std::vector<float>& x = s.dropout ? separate1.h_dropped : separate1.h;
    std::copy(x.begin(), x.end(), layer2.x.data());
    simulation::persistent_forward(layer2.args(), persistent_plan(s.batch, s.hidden1, s.hidden2, kH100),
                                   ThreadOrder::forwards, BlockSchedule::round_robin);
    separate2 = outputs_of(layer2);
  }

  simulation::WavefrontStats run(ThreadOrder order, BlockSchedule schedule, std::uint64_t seed = 1,
                                 simulation::PersistentFaults faults = {}) {
    // layer2.x is overwritten with NaN: the combined grid must read layer 1's output, never it.
    std::fill(layer2.x.data(), layer2.x.data() + layer2.x.size(), kNaN);
    const PersistentForwardArgs a1 = layer1.args(), a2 = layer2.args();
    return simulation::persistent_wavefront_forward(a1, a2, plan, order, schedule, seed, faults);
  }
};

void check_wavefront(const TwoLayers& s, bool every_schedule) {
  INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H1 " << s.hidden1 << " H2 " << s.hidden2
            << (s.dropout ? " dropout" : ""));
  Wavefront w(s);
  const simulation::WavefrontStats stats = w.run(ThreadOrder::forwards, BlockSchedule::round_robin);
  check_same_bits(outputs_of(w.layer1), w.separate1);
  check_same_bits(outputs_of(w.layer2), w.separate2);
  // Layer 2 published its first step while layer 1 still had steps to run.
  CHECK(stats.layer1_steps_at_layer2_start >= 1);
  if (s.steps > 1) CHECK(stats.layer1_steps_at_layer2_start < s.steps);
  // Layer 2 against the double reference of its steps, on layer 1's output.
  const std::vector<float>& x = s.dropout ? w.separate1.h_dropped : w.separate1.h;
  std::copy(x.begin(), x.end(), w.layer2.x.data());
  check_against_reference(w.layer2, w.separate2.h, w.separate2.c, w.separate2.gates, {});
  if (!every_schedule) return;
  for (BlockSchedule schedule :
       {BlockSchedule::round_robin_backwards, BlockSchedule::greedy_last_first, BlockSchedule::random}) {
    INFO("schedule " << int(schedule));
    const simulation::WavefrontStats again = w.run(ThreadOrder::backwards, schedule, 7);
    check_same_bits(outputs_of(w.layer1), w.separate1);
    check_same_bits(outputs_of(w.layer2), w.separate2);
    if (schedule == BlockSchedule::greedy_last_first) CHECK(again.blocks.stalls > 0);  // layer 2 first: it waits
  }
}

// Tails in N and both H, F 1 and F > 1, dropout between the layers, misaligned buffers.
const TwoLayers kPairs[] = {
    {3, 5, 1, 20, 9, true},
    {4, 6, 3, 33, 17, false, true},
    {3, 9, 1, 40, 36, true, true},
    {2, 3, 2, 7, 5},
};

TEST_CASE("persistent wavefront, simulated: both layers in one grid give the two launches' bits",
          "[kernels_host][persistent]") {
  for (const TwoLayers& s : kPairs) check_wavefront(s, true);
}

TEST_CASE("persistent wavefront, simulated: threads in isolation", "[kernels_host][persistent]") {
  Wavefront w(TwoLayers{3, 6, 5, 20, 12, true});
  w.run(ThreadOrder::isolated, BlockSchedule::random, 3);
  check_same_bits(outputs_of(w.layer1), w.separate1);
  check_same_bits(outputs_of(w.layer2), w.separate2);
}

TEST_CASE("persistent wavefront, simulated: the checker catches layer 2 reading x before layer 1 published it",
          "[kernels_host][persistent]") {
  for (bool dropout : {false, true}) {
    INFO((dropout ? "dropout" : "no dropout"));
    Wavefront w(TwoLayers{2, 4, 1, 64, 32, dropout});
    simulation::PersistentFaults no_x_waits;
    no_x_waits.skip_x_waits = true;
    // Layer 2's blocks (the last ones) run first and fetch x_0 at once.
    REQUIRE_THROWS_WITH(w.run(ThreadOrder::forwards, BlockSchedule::greedy_last_first, 1, no_x_waits),
                        Catch::Contains("before its producer published it"));
    // Under the opposite schedule too: layer 1's first blocks publish, the rest have not.
    REQUIRE_THROWS_WITH(w.run(ThreadOrder::forwards, BlockSchedule::round_robin, 1, no_x_waits),
                        Catch::Contains("before its producer published it"));
    // With the waits both complete.
    CHECK_NOTHROW(w.run(ThreadOrder::forwards, BlockSchedule::greedy_last_first));
    check_same_bits(outputs_of(w.layer2), w.separate2);
  }
}

TEST_CASE("persistent wavefront, simulated: the recipe's layers, two steps", "[kernels_host][persistent][recipe]") {
  check_wavefront({2, 256, 1, 512, 256, true}, false);
}

}  // namespace
