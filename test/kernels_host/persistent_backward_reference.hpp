#pragma once
// Inputs of a layer's whole backward sequence (LstmSequenceBackward), for
// the persistent backward kernel's host simulation
// (test_persistent_backward_simulator.cpp) and its GPU test
// (test/gpu/test_gpu_persistent.cpp), and the check of each step against
// step_reference.hpp's double reference of the step op.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/lstm_persistent_backward_phases.hpp"
#include "nocturne/fused_ops.hpp"
#include "step_reference.hpp"

namespace nocturne::inline v0::test::persistent {

using namespace nocturne::test::fused;

struct BackwardSequenceCase {
  int steps, batch, hidden;
  bool dh_every_step = true;  // dh [T, N, H]; else dh_last (a head that reads h_{T-1} only)
  bool dropout = false;
  bool with_x = false;  // the scalar input's dW partial sums
  bool misaligned = false;
};

inline std::string describe(const BackwardSequenceCase& s) {
  return "backward T " + std::to_string(s.steps) + " N " + std::to_string(s.batch) + " H " +
         std::to_string(s.hidden) + (s.dh_every_step ? "" : " dh_last") + (s.dropout ? " dropout" : "") +
         (s.with_x ? " x" : "") + (s.misaligned ? " misaligned" : "");
}

// A layer's saved forward values and gradients over the sequence, seeded.
struct BackwardSequenceData {
  BackwardSequenceCase shape;
  int partial_blocks;
  HostBuffer r, dh, gates, c, x, dc, dgates, db_partial, dw_partial;
  std::uint64_t device_offset = 5;
  DropoutKey key{0xbacc, 0x2000, 40, &device_offset};
  static constexpr float kDropoutP = 0.3f;

  explicit BackwardSequenceData(const BackwardSequenceCase& s)
      : shape(s),
        partial_blocks(lstm_partial_blocks(s.batch)),
        r(std::size_t(s.hidden) * 4 * s.hidden, s.misaligned),
        dh(std::size_t(s.steps) * s.batch * s.hidden, s.misaligned),
        gates(std::size_t(s.steps) * s.batch * 4 * s.hidden, s.misaligned),
        c(std::size_t(s.steps) * s.batch * s.hidden, s.misaligned),
        x(std::size_t(s.steps) * s.batch, s.misaligned),
        dc(std::size_t(s.batch) * s.hidden, s.misaligned),
        dgates(std::size_t(s.steps) * s.batch * 4 * s.hidden, s.misaligned),
        db_partial(std::size_t(s.steps) * partial_blocks * 4 * s.hidden, s.misaligned),
        dw_partial(std::size_t(s.steps) * partial_blocks * 4 * s.hidden, s.misaligned) {
    const float scale = 1.0f / std::sqrt(float(s.hidden));
    randomize(r, -scale, scale);
    randomize(dh, -1, 1);
    randomize(gates, 0.05f, 0.95f);
    for (std::size_t i = 2; i < gates.size(); i += 4) gates[i] = 2 * gates[i] - 1;  // g in (-0.9, 0.9)
    randomize(c, -2, 2);
    randomize(x, 0, 1);
  }

  std::size_t per_step(std::size_t width) const { return std::size_t(shape.batch) * width; }
  std::size_t partials_per_step() const { return std::size_t(partial_blocks) * 4 * shape.hidden; }

  // The op on this data, its outputs (and the dc carry) reset to NaN.
  LstmSequenceBackward<float> op() {
    for (HostBuffer* o : {&dc, &dgates, &db_partial, &dw_partial}) std::fill(o->data(), o->data() + o->size(), kNaN);
    LstmSequenceBackward<float> q;
    q.steps = shape.steps;
    q.batch = shape.batch;
    q.hidden = shape.hidden;
    q.r = r.data();
    if (shape.dh_every_step)
      q.dh = dh.data();
    else
      q.dh_last = dh.data() + (shape.steps - 1) * per_step(shape.hidden);
    if (shape.dropout) {
      q.dropout = &key;
      q.dropout_p = kDropoutP;
    }
    q.gates = gates.data();
    q.c = c.data();
    q.dc = dc.data();
    q.dgates = dgates.data();
    q.db_partial = db_partial.data();
    if (shape.with_x) {
      q.x = x.data();
      q.dw_partial = dw_partial.data();
    }
    return q;
  }
  kernels::PersistentBackwardArgs args() {
    return kernels::make_persistent_backward_args(op(), partial_blocks, nullptr);
  }

  // Step t as the fused step op takes it: dgates_{t+1} from `dgates_seq`,
  // the outputs and the carry where given.
  LstmStepBackward<float> step(int t, const float* dgates_seq, float* dc_carry, float* dgates_out, float* db_out,
                               float* dw_out) const {
    const std::size_t nh = per_step(shape.hidden), at = std::size_t(t);
    LstmStepBackward<float> s;
    s.batch = shape.batch;
    s.hidden = shape.hidden;
    s.r = r.data();
    s.dgates_next = t + 1 < shape.steps ? dgates_seq + (at + 1) * 4 * nh : nullptr;
    if (shape.dh_every_step || t + 1 == shape.steps) {
      s.dh = dh.data() + at * nh;
      if (shape.dropout) {
        s.dropout = &key;
        s.dropout_p = kDropoutP;
        s.dropout_index = std::uint64_t(at * nh);
      }
    }
    s.gates = gates.data() + at * 4 * nh;
    s.c = c.data() + at * nh;
    s.c_prev = t > 0 ? c.data() + (at - 1) * nh : nullptr;
    s.dc = dc_carry;
    s.dgates = dgates_out;
    s.db_partial = db_out;
    if (shape.with_x) {
      s.x = x.data() + at * std::size_t(shape.batch);
      s.dw_partial = dw_out;
    }
    return s;
  }
};

// Every step t against the double reference (with the operands rounded as
// `operands` rounds them), from the checked run's own
// dgates_{t+1} and the incoming dc of each step, dc_in[t] (an FP32 chain:
// dc_in[T - 1] is unused, dc_in[t - 1] is step t's dc out, and `dc` step 0's).
inline void check_backward_against_reference(const BackwardSequenceData& d, const std::vector<float>& dgates,
                                             const std::vector<float>& db, const std::vector<float>& dw,
                                             const std::vector<std::vector<float>>& dc_in,
                                             const std::vector<float>& dc, double tolerance = 2e-5,
                                             GemmOperands operands = GemmOperands::fp32) {
  const std::size_t nh = d.per_step(d.shape.hidden), partials = d.partials_per_step();
  for (int t = d.shape.steps - 1; t >= 0; --t) {
    INFO("step " << t);
    std::vector<float> scratch(nh);
    const LstmStepBackward<float> s =
        d.step(t, dgates.data(), scratch.data(), scratch.data(), scratch.data(), scratch.data());
    const BackwardReference want = reference_backward_step(s, dc_in[std::size_t(t)].data(), operands);
    auto part = [&](const std::vector<float>& v, std::size_t per) {
      return std::vector<float>(v.begin() + std::ptrdiff_t(t * per), v.begin() + std::ptrdiff_t((t + 1) * per));
    };
    require_close("dgates", part(dgates, 4 * nh), want.dgates, tolerance);
    require_close("db_partial", part(db, partials), want.db_partial, 4 * tolerance);  // sums of 32 rows
    if (d.shape.with_x) require_close("dw_partial", part(dw, partials), want.dw_partial, 4 * tolerance);
    require_close("dc", t > 0 ? dc_in[std::size_t(t - 1)] : dc, want.dc, tolerance);
  }
}

}  // namespace nocturne::test::persistent
