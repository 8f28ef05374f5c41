#pragma once
// Inputs and the double reference of a layer's whole forward sequence, for
// the persistent kernel's host simulation (test_persistent_simulator.cpp) and
// its GPU test (test/gpu/test_gpu_persistent.cpp): each step is checked
// against step_reference.hpp's double reference of the step op, from the
// checked run's own h_{t-1} and c_{t-1}.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/lstm_persistent_phases.hpp"
#include "nocturne/fused_ops.hpp"
#include "step_reference.hpp"

namespace nocturne::inline v0::test::persistent {

using namespace nocturne::test::fused;

struct SequenceCase {
  int steps, batch, input, hidden;
  bool dropout = false;
  bool misaligned = false;
};

inline std::string describe(const SequenceCase& s) {
  return "T " + std::to_string(s.steps) + " N " + std::to_string(s.batch) + " F " + std::to_string(s.input) + " H " +
         std::to_string(s.hidden) + (s.dropout ? " dropout" : "") + (s.misaligned ? " misaligned" : "");
}

// A layer's inputs and outputs over the sequence, seeded.
struct SequenceData {
  SequenceCase shape;
  HostBuffer x, w, r, b, h, c, gates, h_dropped;
  std::uint64_t device_offset = 77;  // the key's offset on the device, added to every index
  DropoutKey key{0x5eed, 0x2000, 1000, &device_offset};
  static constexpr float kDropoutP = 0.3f;

  explicit SequenceData(const SequenceCase& s)
      : shape(s),
        x(std::size_t(s.steps) * s.batch * s.input, s.misaligned),
        w(std::size_t(s.input) * 4 * s.hidden, s.misaligned),
        r(std::size_t(s.hidden) * 4 * s.hidden, s.misaligned),
        b(std::size_t(4) * s.hidden, s.misaligned),
        h(std::size_t(s.steps) * s.batch * s.hidden, s.misaligned),
        c(std::size_t(s.steps) * s.batch * s.hidden, s.misaligned),
        gates(std::size_t(s.steps) * s.batch * 4 * s.hidden, s.misaligned),
        h_dropped(std::size_t(s.steps) * s.batch * s.hidden, s.misaligned) {
    const float scale = 1.0f / std::sqrt(float(s.hidden + s.input));
    randomize(x, -1, 1);
    randomize(w, -scale, scale);
    randomize(r, -2 * scale, 2 * scale);
    randomize(b, -0.5f, 0.5f);
  }

  kernels::PersistentForwardArgs args() {
    for (HostBuffer* o : {&h, &c, &gates, &h_dropped}) std::fill(o->data(), o->data() + o->size(), kNaN);
    return kernels::make_persistent_forward_args(shape.steps, shape.batch, shape.input, shape.hidden, x.data(),
                                                 w.data(), r.data(), b.data(), h.data(), c.data(), gates.data(),
                                                 shape.dropout ? h_dropped.data() : nullptr,
                                                 shape.dropout ? &key : nullptr, kDropoutP, nullptr);
  }

  // Step t as the fused step op takes it, on the given outputs.
  LstmStepForward<float> step(int t, const float* h_seq, const float* c_seq, float* h_out, float* c_out,
                              float* gates_out, float* h_dropped_out) const {
    const std::size_t nh = std::size_t(shape.batch) * shape.hidden;
    LstmStepForward<float> s;
    s.batch = shape.batch;
    s.input = shape.input;
    s.hidden = shape.hidden;
    s.x = x.data() + std::size_t(t) * shape.batch * shape.input;
    s.w = w.data();
    s.r = r.data();
    s.b = b.data();
    s.h_prev = t > 0 ? h_seq + (t - 1) * nh : nullptr;
    s.c_prev = t > 0 ? c_seq + (t - 1) * nh : nullptr;
    s.h = h_out;
    s.c = c_out;
    s.gates = gates_out;
    if (shape.dropout) {
      s.h_dropped = h_dropped_out;
      s.dropout = &key;
      s.dropout_p = kDropoutP;
      s.dropout_index = std::uint64_t(t) * nh;
    }
    return s;
  }
};

inline constexpr double kStepTolerance = 2e-5;  // as the fused step's test: FP32 sums of O(1) terms vs double

// Every step against the double reference, from the simulated h_{t-1} and
// c_{t-1}, the GEMM's operands rounded as `operands` rounds them (so the
// tolerance is FP32's in every mode: only the order of the sums differs).
inline void check_against_reference(const SequenceData& d, const std::vector<float>& h, const std::vector<float>& c,
                                    const std::vector<float>& gates, const std::vector<float>& h_dropped,
                                    double tolerance = kStepTolerance,
                                    GemmOperands operands = GemmOperands::fp32) {
  const std::size_t nh = std::size_t(d.shape.batch) * d.shape.hidden;
  for (int t = 0; t < d.shape.steps; ++t) {
    INFO("step " << t);
    std::vector<float> scratch(6 * nh);
    const LstmStepForward<float> s = d.step(t, h.data(), c.data(), scratch.data(), scratch.data() + nh,
                                            scratch.data() + 2 * nh, scratch.data() + 5 * nh);
    const ForwardReference want = reference_forward_step(s, operands);
    auto part = [&](const std::vector<float>& v, std::size_t per) {
      return std::vector<float>(v.begin() + std::ptrdiff_t(t * per), v.begin() + std::ptrdiff_t((t + 1) * per));
    };
    require_close("gates", part(gates, 4 * nh), want.gates, tolerance);
    require_close("c", part(c, nh), want.c, tolerance);
    require_close("h", part(h, nh), want.h, tolerance);
    if (d.shape.dropout) require_close("h_dropped", part(h_dropped, nh), want.h_dropped, 2 * tolerance);
  }
}

}  // namespace nocturne::test::persistent
