#pragma once
// The double-precision reference of the fused step ops, written from their
// definition in nocturne/fused_ops.hpp (independent of any backend), with the
// seeded inputs the host simulator's tests and the GPU kernel tests share:
// host buffers of exactly the op's sizes (optionally misaligned by one
// float, so the kernels must take their scalar paths), the ops' argument
// structs pointing at them, and element-wise comparisons.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/fused_tiling.hpp"
#include "math/lstm_cell.hpp"
#include "math/philox.hpp"
#include "math/precision.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/fused_ops.hpp"
#include "nocturne/rng.hpp"

namespace nocturne::inline v0::test::fused {

using kernels::GemmOperands;
using kernels::kPartialRows;
using kernels::lstm_partial_blocks;

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A host "device buffer": exactly n floats, optionally starting one float
// past a 16-byte boundary (so the kernels must take their scalar paths).
class HostBuffer {
 public:
  // Exactly n floats after the offset, so that AddressSanitizer sees any
  // access past the end.
  HostBuffer(std::size_t n, bool misaligned, float fill = kNaN)
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

inline std::uint64_t next_seed() {
  static std::uint64_t seed = 0x73696d;
  return seed++;
}
inline void randomize(HostBuffer& b, float lo, float hi) {
  const std::uint64_t seed = next_seed();
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = lo + (hi - lo) * float(random_uniform(seed, 0, i));
}

inline double rounded(float v, GemmOperands operands) {
  switch (operands) {
    case GemmOperands::tf32:
      return double(math::round_to_tf32(v));
    case GemmOperands::bf16:
      return double(math::round_to_bf16(v));
    case GemmOperands::fp32:
      break;
  }
  return double(v);
}

inline const char* operands_name(GemmOperands operands) {
  return operands == GemmOperands::fp32 ? "fp32" : operands == GemmOperands::tf32 ? "tf32" : "bf16";
}

// |got - want| <= tol * max(1, |want|) for every element, every element finite.
inline void require_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& want,
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

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  return a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
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
  HostBuffer x, w, r, b, h_prev, c_prev, h, c, gates, h_dropped;
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
inline ForwardReference reference_forward_step(const LstmStepForward<float>& s, GemmOperands operands) {
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
        const bool keep =
            math::uniform_from_u32(math::random_u32(s.dropout->seed, s.dropout->stream, index)) >= s.dropout_p;
        out.h_dropped[n * hidden + u] = keep ? cell.h * double(1.0f / (1.0f - s.dropout_p)) : 0.0;
      }
    }
  return out;
}

inline ForwardReference reference_forward(const ForwardData& d, GemmOperands operands) {
  return reference_forward_step(d.step, operands);
}

// ---- backward step --------------------------------------------------------------------------------

struct BackwardCase {
  int batch, hidden;
  bool last_step = false;   // dgates_next null
  bool first_step = false;  // c_prev null
  bool with_dh = true;
  bool masked = false;
  bool with_x = false;
  bool misaligned = false;
};

struct BackwardData {
  BackwardCase shape;
  HostBuffer r, dgates_next, dh, gates, c, c_prev, dc, dc_in, dgates, db_partial, x, dw_partial;
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

// fused_ops.hpp's LstmStepBackward in double, with dc_in the incoming dc.
inline BackwardReference reference_backward_step(const LstmStepBackward<float>& s, const float* dc_in,
                                                 GemmOperands operands) {
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
      const double dc_next = s.dgates_next ? double(dc_in[n * hidden + u]) : 0.0;
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

// The step of `d` (dc holds dc_in on entry).
inline BackwardReference reference_backward(const BackwardData& d, GemmOperands operands) {
  return reference_backward_step(d.step, d.dc_in.data(), operands);
}

}  // namespace nocturne::test::fused
