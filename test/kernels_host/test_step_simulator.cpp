// The recurrent step kernels run on the host simulator (step_simulator.hpp),
// against a straightforward double-precision reference of the ops as
// nocturne/fused_ops.hpp defines them (step_reference.hpp):
// every variant (FP32 on CUDA cores, TF32 and BF16 through the tensor cores'
// staging and epilogue), shapes with tails in N and H, F = 1 and F > 1, the
// zero state, the last backward step, dropout, misaligned operands (the
// scalar fallbacks), and threads run in two orders and in isolation (races).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/fused_tiling.hpp"
#include "kernels/lstm_step_phases.hpp"
#include "math/lstm_cell.hpp"
#include "math/philox.hpp"
#include "math/precision.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/rng.hpp"
#include "step_reference.hpp"
#include "step_simulator.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::kernels;
using namespace nocturne::test::fused;
using simulation::ThreadOrder;

struct ForwardResult {
  std::vector<float> h, c, gates, h_dropped;
};

// Runs the simulated kernel (the wrapper's choice where tile < 0) on d, its
// outputs poisoned with NaN first.
ForwardResult run_forward(ForwardData& d, GemmOperands operands, ThreadOrder order, int tile = -1) {
  for (HostBuffer* b : {&d.h, &d.c, &d.gates, &d.h_dropped}) std::fill(b->data(), b->data() + b->size(), kNaN);
  const ForwardArgs args = make_forward_args(d.step);
  if (tile < 0) {
    simulation::forward(operands, args, order);
  } else if (operands == GemmOperands::fp32) {
    tile == 0 ? simulation::forward_simt<0>(args, order) : simulation::forward_simt<1>(args, order);
  } else if (operands == GemmOperands::tf32) {
    tile == 2 ? simulation::forward_wmma<2, GemmOperands::tf32>(args, order)
              : simulation::forward_wmma<3, GemmOperands::tf32>(args, order);
  } else {
    tile == 2 ? simulation::forward_wmma<2, GemmOperands::bf16>(args, order)
              : simulation::forward_wmma<3, GemmOperands::bf16>(args, order);
  }
  return {d.h.values(), d.c.values(), d.gates.values(), d.shape.dropout ? d.h_dropped.values() : std::vector<float>{}};
}

// FP32 sums of up to ~1,000 products of O(1) terms against double: a few 1e-6.
constexpr double kForwardTolerance = 2e-5;

void check_forward(const ForwardCase& shape, GemmOperands operands, int tile, bool other_orders) {
  INFO("forward N " << shape.batch << " F " << shape.input << " H " << shape.hidden << " zero state "
                    << shape.zero_state << " dropout " << shape.dropout << " misaligned " << shape.misaligned
                    << " operands " << operands_name(operands) << " tile " << tile);
  ForwardData d(shape);
  const ForwardReference want = reference_forward(d, operands);
  const ForwardResult got = run_forward(d, operands, ThreadOrder::forwards, tile);
  require_close("gates", got.gates, want.gates, kForwardTolerance);
  require_close("c", got.c, want.c, kForwardTolerance);
  require_close("h", got.h, want.h, kForwardTolerance);
  if (shape.dropout) require_close("h_dropped", got.h_dropped, want.h_dropped, 2 * kForwardTolerance);
  if (!other_orders) return;
  for (ThreadOrder order : {ThreadOrder::backwards, ThreadOrder::isolated}) {
    const ForwardResult again = run_forward(d, operands, order, tile);
    CHECK(same_bits(again.gates, got.gates));
    CHECK(same_bits(again.c, got.c));
    CHECK(same_bits(again.h, got.h));
    CHECK(same_bits(again.h_dropped, got.h_dropped));
  }
}

// Shapes with tails in N (not a multiple of 32 or 64), in H (not of 16), in K
// (not of the slice), F = 1 and F > 1, odd F (scalar loads of x).
const ForwardCase kForwardShapes[] = {
    {1, 1, 1},
    {3, 1, 5, false, true},
    {33, 1, 17, false, true},
    {40, 3, 20},
    {65, 64, 16, false, true},
    {70, 6, 33, true},
    {31, 1, 36, true, true},
    {64, 40, 24, false, false, true},
    {2, 33, 7, false, true, true},
};

TEST_CASE("forward step on CUDA cores, simulated, equals the double reference", "[kernels_host][step]") {
  for (const ForwardCase& shape : kForwardShapes)
    for (int tile : {0, 1}) check_forward(shape, GemmOperands::fp32, tile, shape.batch * shape.hidden < 1500);
}

TEST_CASE("forward step on tensor cores (staging, rounding, epilogue), simulated, equals the double reference",
          "[kernels_host][step]") {
  for (const ForwardCase& shape : kForwardShapes)
    for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
      for (int tile : {2, 3}) check_forward(shape, operands, tile, shape.batch * shape.hidden < 1500);
}

TEST_CASE("reduced-precision operands are rounded, the rank-one input term is not", "[kernels_host][step]") {
  // With F == 1 and the zero state the GEMM has nothing to add: TF32 and BF16
  // must give FP32's bits (x W in FP32). With a state they must differ.
  ForwardData d(ForwardCase{20, 1, 12, true});
  const ForwardResult fp32 = run_forward(d, GemmOperands::fp32, ThreadOrder::forwards);
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16}) {
    const ForwardResult reduced = run_forward(d, operands, ThreadOrder::forwards);
    CHECK(same_bits(reduced.h, fp32.h));
    CHECK(same_bits(reduced.gates, fp32.gates));
  }
  ForwardData e(ForwardCase{20, 1, 12});
  const ForwardResult strict = run_forward(e, GemmOperands::fp32, ThreadOrder::forwards);
  CHECK_FALSE(same_bits(run_forward(e, GemmOperands::bf16, ThreadOrder::forwards).h, strict.h));
  // and the BF16 result matches a reference that rounds, not one that does not.
  const ForwardResult bf16 = run_forward(e, GemmOperands::bf16, ThreadOrder::forwards);
  require_close("bf16 h", bf16.h, reference_forward(e, GemmOperands::bf16).h, kForwardTolerance);
  double off = 0;
  const ForwardReference exact = reference_forward(e, GemmOperands::fp32);
  for (std::size_t i = 0; i < bf16.h.size(); ++i) off = std::max(off, std::fabs(double(bf16.h[i]) - exact.h[i]));
  CHECK(off > 1e-4);
}

TEST_CASE("forward dropout draws fused_ops.hpp's mask: index t N H + n H + u plus the key's offsets",
          "[kernels_host][step]") {
  ForwardData d(ForwardCase{9, 1, 10, false, true});
  run_forward(d, GemmOperands::fp32, ThreadOrder::forwards);
  int kept = 0;
  for (std::size_t n = 0; n < 9; ++n)
    for (std::size_t u = 0; u < 10; ++u) {
      const std::size_t i = n * 10 + u;
      const bool keep = math::dropout_keep(d.key.seed, d.key.stream, 1000 + 77 + 5 * 9 * 10 + i, 0.3f);
      REQUIRE(d.h_dropped[i] == (keep ? d.h[i] * (1.0f / (1.0f - 0.3f)) : 0.0f));
      kept += keep;
    }
  CHECK(kept > 40);  // p = 0.3 of 90
  CHECK(kept < 85);
}

// ---- backward --------------------------------------------------------------------------------

struct BackwardResult {
  std::vector<float> dgates, dc, db_partial, dw_partial;
};

BackwardResult run_backward(BackwardData& d, GemmOperands operands, ThreadOrder order) {
  for (HostBuffer* b : {&d.dgates, &d.db_partial, &d.dw_partial}) std::fill(b->data(), b->data() + b->size(), kNaN);
  std::copy(d.dc_in.data(), d.dc_in.data() + d.dc_in.size(), d.dc.data());
  if (d.shape.last_step) std::fill(d.dc.data(), d.dc.data() + d.dc.size(), kNaN);  // only written
  simulation::backward(operands, make_backward_args(d.step), order);
  return {d.dgates.values(), d.dc.values(), d.db_partial.values(),
          d.shape.with_x ? d.dw_partial.values() : std::vector<float>{}};
}

constexpr double kBackwardTolerance = 2e-5;

void check_backward(const BackwardCase& shape, GemmOperands operands, bool other_orders) {
  INFO("backward N " << shape.batch << " H " << shape.hidden << " last " << shape.last_step << " first "
                     << shape.first_step << " dh " << shape.with_dh << " masked " << shape.masked << " x "
                     << shape.with_x << " misaligned " << shape.misaligned << " operands " << operands_name(operands));
  BackwardData d(shape);
  const BackwardReference want = reference_backward(d, operands);
  const BackwardResult got = run_backward(d, operands, ThreadOrder::forwards);
  require_close("dgates", got.dgates, want.dgates, kBackwardTolerance);
  require_close("dc", got.dc, want.dc, kBackwardTolerance);
  require_close("db_partial", got.db_partial, want.db_partial, 4 * kBackwardTolerance);
  if (shape.with_x) require_close("dw_partial", got.dw_partial, want.dw_partial, 4 * kBackwardTolerance);
  if (!other_orders) return;
  for (ThreadOrder order : {ThreadOrder::backwards, ThreadOrder::isolated}) {
    const BackwardResult again = run_backward(d, operands, order);
    CHECK(same_bits(again.dgates, got.dgates));
    CHECK(same_bits(again.dc, got.dc));
    CHECK(same_bits(again.db_partial, got.db_partial));
    CHECK(same_bits(again.dw_partial, got.dw_partial));
  }
}

const BackwardCase kBackwardShapes[] = {
    {1, 1},
    {1, 1, true, true},
    {5, 3, false, false, true, true, true},
    {33, 17, false, false, true, false, true},
    {40, 20, true, false, true, true, true},
    {64, 16, false, true, false},
    {70, 33, false, false, true, true, false, true},
    {32, 40, false, false, true, false, true, true},
};

TEST_CASE("backward step on CUDA cores, simulated, equals the double reference", "[kernels_host][step]") {
  for (const BackwardCase& shape : kBackwardShapes)
    check_backward(shape, GemmOperands::fp32, shape.batch * shape.hidden < 1500);
}

TEST_CASE("backward step on tensor cores (staging, rounding, epilogue), simulated, equals the double reference",
          "[kernels_host][step]") {
  for (const BackwardCase& shape : kBackwardShapes)
    for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
      check_backward(shape, operands, shape.batch * shape.hidden < 1500);
}

TEST_CASE("partial sums add each block's rows in increasing order", "[kernels_host][step]") {
  // The simulated kernel's partials equal float sums of its own dgates in row order, bit for bit.
  for (bool with_x : {false, true}) {
    BackwardData d(BackwardCase{70, 9, false, false, true, false, with_x});
    const BackwardResult got = run_backward(d, GemmOperands::fp32, ThreadOrder::forwards);
    const std::size_t cols = 36;
    for (std::size_t p = 0; p < 3; ++p)
      for (std::size_t j = 0; j < cols; ++j) {
        float db = 0, dw = 0;
        for (std::size_t n = p * 32; n < std::min<std::size_t>(70, p * 32 + 32); ++n) {
          db += got.dgates[n * cols + j];
          dw = std::fma(d.x[n], got.dgates[n * cols + j], dw);
        }
        REQUIRE(got.db_partial[p * cols + j] == db);
        if (with_x) REQUIRE(got.dw_partial[p * cols + j] == dw);
      }
  }
}

// ---- the recipe's shapes (slow: CTest label "slow") -----------------------------------------

TEST_CASE("recipe shapes: both layers' steps, every operand mode, simulated", "[kernels_host][step][recipe]") {
  // Layer 1 (N 256, F 1, H 512) and layer 2 (N 256, F 512, H 256), the
  // embedding variant of layer 1 (F 64), and one generation step (N 40).
  for (GemmOperands operands : {GemmOperands::fp32, GemmOperands::tf32, GemmOperands::bf16}) {
    check_forward({256, 1, 512, false, true}, operands, -1, false);
    check_forward({256, 512, 256, false, false}, operands, -1, false);
    check_forward({256, 64, 512, true, true}, operands, -1, false);
    check_forward({40, 1, 512}, operands, -1, false);
    check_backward({256, 512, false, false, true, true, true}, operands, false);
    check_backward({256, 256, false, false, true}, operands, false);
  }
}

// ---- the simulator itself --------------------------------------------------------------------

TEST_CASE("the simulator's isolated run catches a shared-memory race", "[kernels_host][step]") {
  simulation::SharedMemory shared(64);
  // Two threads writing the same word in one interval.
  CHECK_THROWS_AS(simulation::interval(2, ThreadOrder::isolated, shared,
                                       [](int t, unsigned char* s) { reinterpret_cast<float*>(s)[3] = float(t); }),
                  std::logic_error);
  // A thread reading its neighbour's word of the same interval: the in-order
  // and isolated results differ.
  auto neighbour = [](int t, unsigned char* s) {
    float* f = reinterpret_cast<float*>(s);
    f[t] = float(t + 1);
    if (t > 0) f[8 + t] = f[t - 1];
  };
  simulation::SharedMemory a(64), b(64);
  simulation::interval(4, ThreadOrder::forwards, a, neighbour);
  simulation::interval(4, ThreadOrder::isolated, b, neighbour);
  CHECK(std::memcmp(a.data(), b.data(), 64) != 0);
}

TEST_CASE("the simulator refuses a misaligned vector access", "[kernels_host][step]") {
  ForwardData d(ForwardCase{8, 1, 8, false, false, true});
  ForwardArgs args = make_forward_args(d.step);
  CHECK_FALSE(args.vector_gates);
  CHECK_FALSE(args.vector_h_prev);
  args.vector_h_prev = true;  // a wrong claim: the float4 load must be refused
  CHECK_THROWS_AS(simulation::forward_simt<1>(args, ThreadOrder::forwards), std::logic_error);
}

}  // namespace
