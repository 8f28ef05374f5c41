// The recurrent step kernels run on the host simulator (step_simulator.hpp),
// against a straightforward double-precision reference of the ops as
// nocturne/fused_ops.hpp defines them (written here, from the definition):
// every variant (FP32 on CUDA cores, TF32 and BF16 through the tensor cores'
// staging and epilogue), shapes with tails in N and H, F = 1 and F > 1, the
// zero state, the last backward step, dropout, misaligned operands (the
// scalar fallbacks), and threads run in two orders and in isolation (races).

#include <catch2/catch.hpp>

#include <algorithm>
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
#include "step_simulator.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::kernels;
using simulation::ThreadOrder;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A host "device buffer": exactly n floats, optionally starting one float
// past a 16-byte boundary (so the kernels must take their scalar paths).
class Buffer {
 public:
  // Exactly n floats after the offset, so that AddressSanitizer sees any
  // access past the end.
  Buffer(std::size_t n, bool misaligned, float fill = kNaN)
      : storage_(n + (misaligned ? 1 : 0), fill), offset_(misaligned ? 1 : 0) {
    // operator new's storage is 16-byte aligned on the platforms we build for.
    REQUIRE(reinterpret_cast<std::uintptr_t>(storage_.data()) % 16 == 0);
  }
  float* data() { return storage_.data() + offset_; }
  const float* data() const { return storage_.data() + offset_; }
  std::size_t size() const { return storage_.size() - offset_; }
  float& operator[](std::size_t i) { return data()[i]; }
  float operator[](std::size_t i) const { return data()[i]; }
  std::vector<float> values() const { return {data(), data() + size()}; }

 private:
  std::vector<float> storage_;
  std::size_t offset_;
};

std::uint64_t next_seed() {
  static std::uint64_t seed = 0x73696d;
  return seed++;
}
void randomize(Buffer& b, float lo, float hi) {
  const std::uint64_t seed = next_seed();
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = lo + (hi - lo) * float(random_uniform(seed, 0, i));
}

double rounded(float v, GemmOperands operands) {
  switch (operands) {
    case GemmOperands::tf32: return double(math::round_to_tf32(v));
    case GemmOperands::bf16: return double(math::round_to_bf16(v));
    case GemmOperands::fp32: break;
  }
  return double(v);
}

const char* name(GemmOperands operands) {
  return operands == GemmOperands::fp32 ? "fp32" : operands == GemmOperands::tf32 ? "tf32" : "bf16";
}

// |got - want| <= tol * max(1, |want|) for every element, every element finite.
void require_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
                   double tol) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  std::size_t worst_at = 0, nonfinite = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++nonfinite;
      continue;
    }
    const double e = std::fabs(double(got[i]) - want[i]) / std::max(1.0, std::fabs(want[i]));
    if (e > worst) worst = e, worst_at = i;
  }
  INFO(what << ": " << want.size() << " values, worst error " << worst << " at " << worst_at << " (tol " << tol
            << "), non-finite " << nonfinite);
  CHECK(nonfinite == 0);
  CHECK(worst <= tol);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ---- forward ---------------------------------------------------------------------------------

struct ForwardCase {
  int batch, input, hidden;
  bool zero_state = false;
  bool dropout = false;
  bool misaligned = false;
};

struct ForwardData {
  ForwardCase shape;
  Buffer x, w, r, b, h_prev, c_prev, h, c, gates, h_dropped;
  DropoutKey key;
  std::uint64_t device_offset = 0;
  LstmStepForward<float> step;

  explicit ForwardData(const ForwardCase& s)
      : shape(s),
        x(std::size_t(s.batch) * s.input, s.misaligned),
        w(std::size_t(s.input) * 4 * s.hidden, s.misaligned),
        r(std::size_t(s.hidden) * 4 * s.hidden, s.misaligned),
        b(std::size_t(4) * s.hidden, s.misaligned),
        h_prev(std::size_t(s.batch) * s.hidden, s.misaligned),
        c_prev(std::size_t(s.batch) * s.hidden, s.misaligned),
        h(std::size_t(s.batch) * s.hidden, s.misaligned),
        c(std::size_t(s.batch) * s.hidden, s.misaligned),
        gates(std::size_t(s.batch) * 4 * s.hidden, s.misaligned),
        h_dropped(std::size_t(s.batch) * s.hidden, s.misaligned) {
    const float scale = 1.0f / std::sqrt(float(s.hidden + s.input));
    randomize(x, -1, 1);
    randomize(w, -scale, scale);
    randomize(r, -scale, scale);
    randomize(b, -0.5f, 0.5f);
    randomize(h_prev, -1, 1);
    randomize(c_prev, -2, 2);
    key = DropoutKey{0x5eed, 0x2000, 1000, &device_offset};
    device_offset = 77;
    step.batch = s.batch;
    step.input = s.input;
    step.hidden = s.hidden;
    step.x = x.data();
    step.w = w.data();
    step.r = r.data();
    step.b = b.data();
    step.h_prev = s.zero_state ? nullptr : h_prev.data();
    step.c_prev = s.zero_state ? nullptr : c_prev.data();
    step.h = h.data();
    step.c = c.data();
    step.gates = gates.data();
    if (s.dropout) {
      step.h_dropped = h_dropped.data();
      step.dropout = &key;
      step.dropout_p = 0.3f;
      step.dropout_index = 5 * std::uint64_t(s.batch) * s.hidden;
    }
  }
};

struct ForwardReference {
  std::vector<double> h, c, gates, h_dropped;
};

// fused_ops.hpp's LstmStepForward, in double, with the GEMM operands rounded
// as `operands` takes them (the rank-one F == 1 term never is).
ForwardReference reference_forward(const ForwardData& d, GemmOperands operands) {
  const LstmStepForward<float>& s = d.step;
  const std::size_t n_rows = std::size_t(s.batch), hidden = std::size_t(s.hidden), cols = 4 * hidden;
  ForwardReference out;
  out.h.resize(n_rows * hidden);
  out.c.resize(n_rows * hidden);
  out.gates.resize(n_rows * cols);
  out.h_dropped.resize(n_rows * hidden);
  for (std::size_t n = 0; n < n_rows; ++n)
    for (std::size_t u = 0; u < hidden; ++u) {
      double a[4];
      for (std::size_t g = 0; g < 4; ++g) {
        const std::size_t j = 4 * u + g;
        double sum = 0;
        if (s.h_prev)
          for (std::size_t k = 0; k < hidden; ++k)
            sum += rounded(s.h_prev[n * hidden + k], operands) * rounded(s.r[k * cols + j], operands);
        if (s.input == 1) {
          sum += double(s.x[n]) * double(s.w[j]);
        } else {
          for (std::size_t f = 0; f < std::size_t(s.input); ++f)
            sum += rounded(s.x[n * std::size_t(s.input) + f], operands) * rounded(s.w[f * cols + j], operands);
        }
        a[g] = sum + double(s.b[j]);
      }
      const double c_prev = s.h_prev ? double(s.c_prev[n * hidden + u]) : 0.0;
      const auto cell = math::lstm_cell_forward<double>(a[0], a[1], a[2], a[3], c_prev);
      out.gates[n * cols + 4 * u + 0] = cell.i;
      out.gates[n * cols + 4 * u + 1] = cell.f;
      out.gates[n * cols + 4 * u + 2] = cell.g;
      out.gates[n * cols + 4 * u + 3] = cell.o;
      out.c[n * hidden + u] = cell.c;
      out.h[n * hidden + u] = cell.h;
      if (s.h_dropped) {
        const std::uint64_t index = s.dropout->offset + *s.dropout->offset_on_device + s.dropout_index + n * hidden + u;
        const bool keep = math::uniform_from_u32(math::random_u32(s.dropout->seed, s.dropout->stream, index)) >=
                          s.dropout_p;
        out.h_dropped[n * hidden + u] = keep ? cell.h * double(1.0f / (1.0f - s.dropout_p)) : 0.0;
      }
    }
  return out;
}

struct ForwardResult {
  std::vector<float> h, c, gates, h_dropped;
};

// Runs the simulated kernel (the wrapper's choice where tile < 0) on d, its
// outputs poisoned with NaN first.
ForwardResult run_forward(ForwardData& d, GemmOperands operands, ThreadOrder order, int tile = -1) {
  for (Buffer* b : {&d.h, &d.c, &d.gates, &d.h_dropped}) std::fill(b->data(), b->data() + b->size(), kNaN);
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
                    << " operands " << name(operands) << " tile " << tile);
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

struct BackwardCase {
  int batch, hidden;
  bool last_step = false;  // dgates_next null
  bool first_step = false;  // c_prev null
  bool with_dh = true;
  bool masked = false;
  bool with_x = false;
  bool misaligned = false;
};

struct BackwardData {
  BackwardCase shape;
  Buffer r, dgates_next, dh, gates, c, c_prev, dc, dc_in, dgates, db_partial, x, dw_partial;
  DropoutKey key;
  std::uint64_t device_offset = 0;
  LstmStepBackward<float> step;

  explicit BackwardData(const BackwardCase& s)
      : shape(s),
        r(std::size_t(s.hidden) * 4 * s.hidden, s.misaligned),
        dgates_next(std::size_t(s.batch) * 4 * s.hidden, s.misaligned),
        dh(std::size_t(s.batch) * s.hidden, s.misaligned),
        gates(std::size_t(s.batch) * 4 * s.hidden, s.misaligned),
        c(std::size_t(s.batch) * s.hidden, s.misaligned),
        c_prev(std::size_t(s.batch) * s.hidden, s.misaligned),
        dc(std::size_t(s.batch) * s.hidden, s.misaligned),
        dc_in(std::size_t(s.batch) * s.hidden, s.misaligned),
        dgates(std::size_t(s.batch) * 4 * s.hidden, s.misaligned),
        db_partial(std::size_t(lstm_partial_blocks(s.batch)) * 4 * s.hidden, s.misaligned),
        x(std::size_t(s.batch), s.misaligned),
        dw_partial(std::size_t(lstm_partial_blocks(s.batch)) * 4 * s.hidden, s.misaligned) {
    const float scale = 1.0f / std::sqrt(float(s.hidden));
    randomize(r, -scale, scale);
    randomize(dgates_next, -0.5f, 0.5f);
    randomize(dh, -1, 1);
    randomize(gates, 0.05f, 0.95f);
    for (std::size_t i = 2; i < gates.size(); i += 4) gates[i] = 2 * gates[i] - 1;  // g in (-0.9, 0.9)
    randomize(c, -2, 2);
    randomize(c_prev, -2, 2);
    randomize(dc_in, -1, 1);
    randomize(x, 0, 1);
    key = DropoutKey{0xd0d0, 0x2000, 300, &device_offset};
    device_offset = 11;
    step.batch = s.batch;
    step.hidden = s.hidden;
    step.r = r.data();
    step.dgates_next = s.last_step ? nullptr : dgates_next.data();
    step.dh = s.with_dh ? dh.data() : nullptr;
    if (s.masked) {
      step.dropout = &key;
      step.dropout_p = 0.25f;
      step.dropout_index = 3 * std::uint64_t(s.batch) * s.hidden;
    }
    step.gates = gates.data();
    step.c = c.data();
    step.c_prev = s.first_step ? nullptr : c_prev.data();
    step.dc = dc.data();
    step.dgates = dgates.data();
    step.db_partial = db_partial.data();
    step.x = s.with_x ? x.data() : nullptr;
    step.dw_partial = s.with_x ? dw_partial.data() : nullptr;
  }
};

struct BackwardReference {
  std::vector<double> dgates, dc, db_partial, dw_partial;
};

// fused_ops.hpp's LstmStepBackward in double (dc holds dc_in on entry).
BackwardReference reference_backward(const BackwardData& d, GemmOperands operands) {
  const LstmStepBackward<float>& s = d.step;
  const std::size_t n_rows = std::size_t(s.batch), hidden = std::size_t(s.hidden), cols = 4 * hidden;
  const std::size_t blocks = std::size_t(lstm_partial_blocks(s.batch));
  BackwardReference out;
  out.dgates.assign(n_rows * cols, 0);
  out.dc.assign(n_rows * hidden, 0);
  out.db_partial.assign(blocks * cols, 0);
  out.dw_partial.assign(blocks * cols, 0);
  for (std::size_t n = 0; n < n_rows; ++n)
    for (std::size_t u = 0; u < hidden; ++u) {
      double recurrent = 0;
      if (s.dgates_next)
        for (std::size_t j = 0; j < cols; ++j)
          recurrent += rounded(s.dgates_next[n * cols + j], operands) * rounded(s.r[u * cols + j], operands);
      double dh = 0;
      if (s.dh) {
        dh = s.dh[n * hidden + u];
        if (s.dropout) {
          const std::uint64_t index =
              s.dropout->offset + *s.dropout->offset_on_device + s.dropout_index + n * hidden + u;
          dh *= math::dropout_keep(s.dropout->seed, s.dropout->stream, index, s.dropout_p)
                    ? double(1.0f / (1.0f - s.dropout_p))
                    : 0.0;
        }
      }
      const float* g = s.gates + n * cols + 4 * u;
      const double c_prev = s.c_prev ? double(s.c_prev[n * hidden + u]) : 0.0;
      const double dc_next = s.dgates_next ? double(d.dc_in[n * hidden + u]) : 0.0;
      const auto grad = math::lstm_cell_backward<double>(g[0], g[1], g[2], g[3], s.c[n * hidden + u], c_prev,
                                                         dh + recurrent, dc_next);
      const double da[4] = {grad.da_i, grad.da_f, grad.da_g, grad.da_o};
      for (std::size_t k = 0; k < 4; ++k) {
        out.dgates[n * cols + 4 * u + k] = da[k];
        out.db_partial[(n / kPartialRows) * cols + 4 * u + k] += da[k];
        if (s.x) out.dw_partial[(n / kPartialRows) * cols + 4 * u + k] += double(s.x[n]) * da[k];
      }
      out.dc[n * hidden + u] = grad.dc_prev;
    }
  return out;
}

struct BackwardResult {
  std::vector<float> dgates, dc, db_partial, dw_partial;
};

BackwardResult run_backward(BackwardData& d, GemmOperands operands, ThreadOrder order) {
  for (Buffer* b : {&d.dgates, &d.db_partial, &d.dw_partial}) std::fill(b->data(), b->data() + b->size(), kNaN);
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
                     << shape.with_x << " misaligned " << shape.misaligned << " operands " << name(operands));
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
