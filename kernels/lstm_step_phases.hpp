#pragma once
// The recurrent step kernels' work between their barriers, as __host__
// __device__ functions: lstm_step_forward.cu and lstm_step_backward.cu call
// them in their K loops, and test/kernels_host runs the very same functions
// block by block and thread by thread on the CPU, with an emulated shared
// memory (the host simulator). Plain C++ without CUDA headers; under nvcc the
// vector accesses become float4 / float2 loads and stores, on the host they
// check the 16- or 8-byte alignment those need.
//
// Each kernel's loop, one barrier per K slice (register double-buffering):
//   fetch(0); store(stage 0); barrier
//   for s: fetch(s + 1) into registers; multiply(stage s & 1) (CUDA cores) or
//          the WMMA fragments (tensor cores); store(stage (s + 1) & 1); barrier
//   epilogue (forward: the cells from registers or from the accumulator tile;
//   backward: park the k-groups' sums; barrier; cells; barrier; partial sums)
// Within one barrier interval a thread reads only stage s and writes only
// stage s ^ 1 (or, after the loop, regions no other thread reads before the
// next barrier), so the phases are free of races whatever the order of the
// threads; the simulator checks this by running the threads in two orders.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fused_tiling.hpp"
#include "math/lstm_fused.hpp"
#include "math/precision.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/fused_ops.hpp"

// Unrolled on the device (register arrays stay in registers); nothing on the
// host, whose compiler does not know the pragma.
#if defined(__CUDA_ARCH__)
#define NOCTURNE_UNROLL _Pragma("unroll")
#else
#define NOCTURNE_UNROLL
#endif

#if defined(__CUDA_ARCH__)
#define NOCTURNE_SIM_REQUIRE(condition) ((void)0)
#else
#define NOCTURNE_SIM_REQUIRE(condition) \
  ((condition) ? (void)0 : ::nocturne::kernels::simulation_failure(#condition, __FILE__, __LINE__))
#endif

namespace nocturne::inline v0::kernels {

// A violated precondition of the device code, found by the host simulation.
[[noreturn]] inline void simulation_failure(const char* condition, const char* file, int line) {
  throw std::logic_error(std::string(file) + ":" + std::to_string(line) + ": " + condition);
}

// ---- vector access ------------------------------------------------------------------------
NOCTURNE_HD void load4(const float* p, float* out) {
#if defined(__CUDA_ARCH__)
  const float4 v = *reinterpret_cast<const float4*>(p);
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
#else
  NOCTURNE_SIM_REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
  for (int i = 0; i < 4; ++i) out[i] = p[i];
#endif
}
NOCTURNE_HD void store4(float* p, const float* v) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
#else
  NOCTURNE_SIM_REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
  for (int i = 0; i < 4; ++i) p[i] = v[i];
#endif
}
NOCTURNE_HD void load2(const float* p, float* out) {
#if defined(__CUDA_ARCH__)
  const float2 v = *reinterpret_cast<const float2*>(p);
  out[0] = v.x;
  out[1] = v.y;
#else
  NOCTURNE_SIM_REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 8 == 0);
  out[0] = p[0];
  out[1] = p[1];
#endif
}
// Loads past L1 (ld.global.cg) on the device: for data that other blocks
// publish while the kernel runs (the persistent kernels' exchange). A plain
// load may leave a 32-byte sector in this SM's L1 that holds, beside the
// published values, values of a slice not yet published (a sector shared by
// two slices, or the block's own columns beside another block's), which a
// later plain load would then read stale.
NOCTURNE_HD float load_past_l1(const float* p) {
#if defined(__CUDA_ARCH__)
  return __ldcg(p);
#else
  return *p;
#endif
}
NOCTURNE_HD void load4_past_l1(const float* p, float* out) {
#if defined(__CUDA_ARCH__)
  const float4 v = __ldcg(reinterpret_cast<const float4*>(p));
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
#else
  load4(p, out);
#endif
}

// n consecutive floats of shared memory (n = 1, 2, 4 or a multiple of 4).
template <int n>
NOCTURNE_HD void load_run(const float* p, float* out) {
  if constexpr (n % 4 == 0) {
    NOCTURNE_UNROLL
    for (int i = 0; i < n; i += 4) load4(p + i, out + i);
  } else if constexpr (n == 2) {
    load2(p, out);
  } else {
    NOCTURNE_UNROLL
    for (int i = 0; i < n; ++i) out[i] = p[i];
  }
}
// Four gate values of a unit: one float4 where the pointer allows it.
NOCTURNE_HD void load_gates(const float* p, bool vector, float* out) {
  if (vector) return load4(p, out);
  for (int i = 0; i < 4; ++i) out[i] = p[i];
}
NOCTURNE_HD void store_gates(float* p, bool vector, const float* v) {
  if (vector) return store4(p, v);
  for (int i = 0; i < 4; ++i) p[i] = v[i];
}

// ---- arguments ----------------------------------------------------------------------------
// A dropout mask as the step kernels draw it: element index = offset +
// *offset_on_device (when set) + row * H + unit; offset already holds the
// key's offset plus the step's dropout_index.
struct StepDropout {
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;
  std::uint64_t offset = 0;
  const std::uint64_t* offset_on_device = nullptr;
  float p = 0;
  float scale = 1;
};
NOCTURNE_HD std::uint64_t mask_base(const StepDropout& d) {
  return d.offset + (d.offset_on_device ? *d.offset_on_device : 0);
}

// LstmStepForward<float> as the kernels take it (fused_ops.hpp), plus which
// operands may be read and written as float4 (vector_loads in fused_tiling.hpp).
struct ForwardArgs {
  int batch = 0, input = 0, hidden = 0;
  const float* x = nullptr;       // [N, F]
  const float* w = nullptr;       // [F, 4H]
  const float* r = nullptr;       // [H, 4H]
  const float* b = nullptr;       // [4H]
  const float* h_prev = nullptr;  // [N, H] or null (zero state)
  const float* c_prev = nullptr;  // [N, H]
  float* h = nullptr;             // [N, H]
  float* c = nullptr;             // [N, H]
  float* gates = nullptr;         // [N, 4H]
  float* h_dropped = nullptr;     // [N, H] or null
  StepDropout dropout;
  bool vector_h_prev = false, vector_x = false, vector_r = false, vector_w = false, vector_gates = false;
};

// LstmStepBackward<float> as the kernels take it.
struct BackwardArgs {
  int batch = 0, hidden = 0;
  const float* r = nullptr;            // [H, 4H]
  const float* dgates_next = nullptr;  // [N, 4H] or null (last step)
  const float* dh = nullptr;           // [N, H] or null
  bool masked = false;                 // dh goes through `dropout`
  StepDropout dropout;
  const float* gates = nullptr;   // [N, 4H]
  const float* c = nullptr;       // [N, H]
  const float* c_prev = nullptr;  // [N, H] or null
  float* dc = nullptr;            // [N, H] in/out
  float* dgates = nullptr;        // [N, 4H]
  float* db_partial = nullptr;    // [P, 4H]
  const float* x = nullptr;       // [N] or null
  float* dw_partial = nullptr;    // [P, 4H] where x
  bool vector_dgates_next = false, vector_r = false, vector_gates = false, vector_dgates = false;
};

// ---- staging ----------------------------------------------------------------------------------
// Fetches the elements of `shape` a thread owns from the row-major matrix
// `base` (leading dimension ld): rows [row0, row0 + shape.rows), columns
// [col0, col0 + shape.cols), zeros outside [0, row_end) x [0, col_end).
// kPastL1: with loads past L1 (data published by other blocks during the launch).
template <SliceShape kShape, bool kPastL1 = false>
NOCTURNE_HD void fetch_slice(const float* base, std::size_t ld, int row0, int row_end, int col0, int col_end,
                             bool vector, int thread, float* regs) {
  static_assert(kShape.valid(), "a slice splits into whole float4 items per thread");
  constexpr int n = kShape.per_thread();
  if (vector) {
    NOCTURNE_UNROLL
    for (int q = 0; q < n; q += 4) {
      const SlicePosition at = slice_position(kShape, true, thread, q);
      const int row = row0 + at.row, col = col0 + at.col;
      if (row < row_end && col < col_end) {
        const float* at_element = base + std::size_t(row) * ld + std::size_t(col);
        if (kPastL1)
          load4_past_l1(at_element, regs + q);
        else
          load4(at_element, regs + q);
      } else {
        for (int i = 0; i < 4; ++i) regs[q + i] = 0.0f;
      }
    }
  } else {
    NOCTURNE_UNROLL
    for (int q = 0; q < n; ++q) {
      const SlicePosition at = slice_position(kShape, false, thread, q);
      const int row = row0 + at.row, col = col0 + at.col;
      if (row < row_end && col < col_end) {
        const float* at_element = base + std::size_t(row) * ld + std::size_t(col);
        regs[q] = kPastL1 ? load_past_l1(at_element) : *at_element;
      } else {
        regs[q] = 0.0f;
      }
    }
  }
}

// Stores the fetched elements to shared memory at [col][row] (transposed) or
// [row][col] with `pitch` elements a line, converted by `convert`.
template <SliceShape kShape, bool kTransposed, typename Staged, typename Convert>
NOCTURNE_HD void store_slice(Staged* shared, int pitch, bool vector, int thread, const float* regs, Convert convert) {
  constexpr int n = kShape.per_thread();
  NOCTURNE_UNROLL
  for (int q = 0; q < n; ++q) {
    const SlicePosition at = slice_position(kShape, vector, thread, q);
    const int index = kTransposed ? at.col * pitch + at.row : at.row * pitch + at.col;
    shared[index] = convert(regs[q]);
  }
}

// How the operands are staged: as they are (FP32), or rounded to nearest even
// to TF32 (still a float) or to BF16 (its 16 bits), exactly as the CPU
// backend's emulated modes round them.
template <GemmOperands kOperands>
struct Staging {
  using Element = float;
  NOCTURNE_HD float operator()(float v) const { return v; }
};
template <>
struct Staging<GemmOperands::tf32> {
  using Element = float;
  NOCTURNE_HD float operator()(float v) const { return math::round_to_tf32(v); }
};
template <>
struct Staging<GemmOperands::bf16> {
  using Element = std::uint16_t;
  NOCTURNE_HD std::uint16_t operator()(float v) const { return math::bf16_bits(v); }
};
// The float a staged element stands for (the host's stand-in for the fragments).
NOCTURNE_HD float staged_value(float v) { return v; }
NOCTURNE_HD float staged_value(std::uint16_t bits) { return math::float_from_bits(std::uint32_t(bits) << 16); }

// ---- the forward step's cell (every variant's epilogue) ----------------------------------
// sum: the GEMM's four sums of (row, unit), interleaved columns 4 unit .. 4 unit + 3.
NOCTURNE_HD void forward_cell(const ForwardArgs& p, int row, int unit, const float* sum) {
  const std::size_t hidden = std::size_t(p.hidden);
  const std::size_t col = std::size_t(unit) * kUnitGates;
  const std::size_t cell = std::size_t(row) * hidden + std::size_t(unit);
  float bias[4];
  for (int g = 0; g < 4; ++g) bias[g] = p.b[col + std::size_t(g)];
  const float c_prev = p.h_prev ? p.c_prev[cell] : 0.0f;
  math::CellForward<float> out;
  if (p.input == 1) {
    float w[4];
    for (int g = 0; g < 4; ++g) w[g] = p.w[col + std::size_t(g)];
    out = math::lstm_fused_forward(sum, bias, p.x[row], w, c_prev);
  } else {
    out = math::lstm_fused_forward(sum, bias, 0.0f, static_cast<const float*>(nullptr), c_prev);
  }
  const float gates[4] = {out.i, out.f, out.g, out.o};
  store_gates(p.gates + std::size_t(row) * kUnitGates * hidden + col, p.vector_gates, gates);
  p.c[cell] = out.c;
  p.h[cell] = out.h;
  if (p.h_dropped)
    p.h_dropped[cell] = out.h * math::dropout_factor(p.dropout.seed, p.dropout.stream, mask_base(p.dropout) + cell,
                                                     p.dropout.p, p.dropout.scale);
}

// Which operands slice s of the forward's K loop reads: h_prev and R for the
// first `recurrent` slices, then x and W.
struct ForwardOperands {
  const float* a;
  const float* b;
  int k0;
  int depth;  // K of the part (H or F)
  bool vector_a, vector_b;
};
NOCTURNE_HD ForwardOperands forward_operands(const ForwardArgs& p, int slice, int slice_depth, int recurrent) {
  if (slice < recurrent) return {p.h_prev, p.r, slice * slice_depth, p.hidden, p.vector_h_prev, p.vector_r};
  return {p.x, p.w, (slice - recurrent) * slice_depth, p.input, p.vector_x, p.vector_w};
}

// The forward's operand staging, shared by the CUDA-core and tensor-core
// kernels: A (h_prev or x) rows x slice, B (R or W) slice x 4 units.
template <StepTile kT, GemmOperands kOperands>
struct ForwardStaging {
  static constexpr SliceShape kA = forward_a_slice(kT);
  static constexpr SliceShape kB = forward_b_slice(kT);
  static constexpr StepShared kS = forward_shared(kT, kOperands);
  using Element = typename Staging<kOperands>::Element;
  struct Fetched {
    float a[kA.per_thread()];
    float b[kB.per_thread()];
    bool vector_a, vector_b;
  };

  static NOCTURNE_HD Element* a_stage(unsigned char* shared, int stage) {
    return reinterpret_cast<Element*>(shared + std::size_t(stage) * kS.a_stage);
  }
  static NOCTURNE_HD Element* b_stage(unsigned char* shared, int stage) {
    return reinterpret_cast<Element*>(shared + kS.b_offset + std::size_t(stage) * kS.b_stage);
  }

  static NOCTURNE_HD void fetch(const ForwardArgs& p, TileOrigin o, int thread, int slice, int recurrent, Fetched& f) {
    constexpr StepTile tile = kT;
    const ForwardOperands op = forward_operands(p, slice, tile.slice(), recurrent);
    const int cols = kUnitGates * p.hidden;
    f.vector_a = op.vector_a;
    f.vector_b = op.vector_b;
    fetch_slice<kA>(op.a, std::size_t(op.depth), o.row0, p.batch, op.k0, op.depth, op.vector_a, thread, f.a);
    fetch_slice<kB>(op.b, std::size_t(cols), op.k0, op.depth, o.unit0 * kUnitGates, cols, op.vector_b, thread, f.b);
  }

  // CUDA cores: A transposed ([k][row]); tensor cores: A row-major ([row][k]).
  static NOCTURNE_HD void store(int thread, int stage, const Fetched& f, unsigned char* shared) {
    store_slice<kA, !kT.tensor_cores>(a_stage(shared, stage), kS.a_pitch, f.vector_a, thread, f.a,
                                      Staging<kOperands>{});
    store_slice<kB, false>(b_stage(shared, stage), kS.b_pitch, f.vector_b, thread, f.b, Staging<kOperands>{});
  }
};

// ---- forward on CUDA cores --------------------------------------------------------------------
template <int kIndex>
struct ForwardSimt {
  static constexpr StepTile kT = kForwardTiles[kIndex];
  static_assert(!kT.tensor_cores && kT.k_groups == 1, "a CUDA-core forward tile");
  using Stage = ForwardStaging<kT, GemmOperands::fp32>;
  static constexpr StepShared kS = Stage::kS;
  static constexpr int kThreads = kT.threads();
  static constexpr int kRows = kT.thread_rows;
  static constexpr int kCols = kUnitGates * kT.thread_units;

  struct Registers {
    float acc[kRows][kCols];
    typename Stage::Fetched fetched;
  };

  static NOCTURNE_HD void begin(Registers& r) {
    NOCTURNE_UNROLL
    for (int i = 0; i < kRows; ++i) {
      NOCTURNE_UNROLL
      for (int j = 0; j < kCols; ++j) r.acc[i][j] = 0.0f;
    }
  }

  // acc += A[rows of the thread, slice] * B[slice, columns of the thread].
  static NOCTURNE_HD void multiply(int thread, int stage, unsigned char* shared, Registers& r) {
    constexpr StepTile tile = kT;
    const SimtRole role = simt_role(tile, thread);
    const float* a = Stage::a_stage(shared, stage) + role.row * kRows;
    const float* b = Stage::b_stage(shared, stage) + role.unit * kCols;
    NOCTURNE_UNROLL
    for (int k = 0; k < tile.slice(); ++k) {
      float av[kRows], bv[kCols];
      load_run<kRows>(a + k * kS.a_pitch, av);
      load_run<kCols>(b + k * kS.b_pitch, bv);
      NOCTURNE_UNROLL
      for (int i = 0; i < kRows; ++i) {
        NOCTURNE_UNROLL
        for (int j = 0; j < kCols; ++j) r.acc[i][j] = math::fma_of(av[i], bv[j], r.acc[i][j]);
      }
    }
  }

  // The cells of the thread's rows and units, from its registers.
  static NOCTURNE_HD void finish(const ForwardArgs& p, TileOrigin o, int thread, const Registers& r) {
    constexpr StepTile tile = kT;
    const SimtRole role = simt_role(tile, thread);
    NOCTURNE_UNROLL
    for (int i = 0; i < kRows; ++i) {
      const int row = o.row0 + role.row * kRows + i;
      NOCTURNE_UNROLL
      for (int j = 0; j < kT.thread_units; ++j) {
        const int unit = o.unit0 + role.unit * kT.thread_units + j;
        if (row < p.batch && unit < p.hidden) forward_cell(p, row, unit, &r.acc[i][j * kUnitGates]);
      }
    }
  }
};

// ---- forward on tensor cores: staging and the epilogue from shared memory -------------------
template <int kIndex, GemmOperands kOperands>
struct ForwardWmma {
  static constexpr StepTile kT = kForwardTiles[kIndex];
  static_assert(kT.tensor_cores && kT.k_groups == 1, "a tensor-core forward tile");
  static_assert(kOperands != GemmOperands::fp32, "tensor cores take TF32 or BF16");
  using Stage = ForwardStaging<kT, kOperands>;
  static constexpr StepShared kS = Stage::kS;
  static constexpr int kThreads = kT.threads();
  static constexpr WarpRole kWarpShape = warp_role(kT, 0, true);

  // The accumulator tile [rows][acc_pitch] the fragments are stored to.
  static NOCTURNE_HD float* accumulators(unsigned char* shared) {
    return reinterpret_cast<float*>(shared + kS.acc_offset);
  }

  static NOCTURNE_HD void finish(const ForwardArgs& p, TileOrigin o, int thread, unsigned char* shared) {
    constexpr StepTile tile = kT;
    const float* acc = accumulators(shared);
    NOCTURNE_UNROLL
    for (int q = 0; q < cells_per_thread(tile); ++q) {
      const CellPosition at = cell_position(tile, thread, q);
      const int row = o.row0 + at.row, unit = o.unit0 + at.unit;
      if (row < p.batch && unit < p.hidden) {
        float sum[4];
        load4(acc + at.row * kS.acc_pitch + at.unit * kUnitGates, sum);
        forward_cell(p, row, unit, sum);
      }
    }
  }
};

// ---- backward -----------------------------------------------------------------------------------
// The backward step's cell (every variant's epilogue, and the persistent
// kernel's): h_t's gradient dh (masked) + the recurrent sum, the cell's
// backward, da to dgates (and to `da`), the dc carry in place.
NOCTURNE_HD void backward_cell(const BackwardArgs& p, int row, int unit, float recurrent, float* da) {
  const std::size_t hidden = std::size_t(p.hidden);
  const std::size_t cell = std::size_t(row) * hidden + std::size_t(unit);
  const std::size_t col = std::size_t(row) * kUnitGates * hidden + std::size_t(unit) * kUnitGates;
  float dh = 0.0f;
  if (p.dh) {
    dh = p.dh[cell];
    if (p.masked)
      dh *= math::dropout_factor(p.dropout.seed, p.dropout.stream, mask_base(p.dropout) + cell, p.dropout.p,
                                 p.dropout.scale);
  }
  float gates[4];
  load_gates(p.gates + col, p.vector_gates, gates);
  const float c_prev = p.c_prev ? p.c_prev[cell] : 0.0f;
  const float dc_next = p.dgates_next ? p.dc[cell] : 0.0f;
  const math::CellBackward<float> grad = math::lstm_cell_backward(gates[0], gates[1], gates[2], gates[3], p.c[cell],
                                                                  c_prev, math::fused_dh_total(dh, recurrent), dc_next);
  da[0] = grad.da_i;
  da[1] = grad.da_f;
  da[2] = grad.da_g;
  da[3] = grad.da_o;
  store_gates(p.dgates + col, p.vector_dgates, da);
  p.dc[cell] = grad.dc_prev;
}

// Operand staging: A = dgates_next rows x slice, B = R's rows of the tile's
// units x slice (R^T's columns); CUDA cores store both transposed ([k][row],
// [k][unit]), tensor cores as they are (A row-major, B column-major).
template <StepTile kT, GemmOperands kOperands>
struct BackwardStaging {
  static constexpr SliceShape kA = backward_a_slice(kT);
  static constexpr SliceShape kB = backward_b_slice(kT);
  static constexpr StepShared kS = backward_shared(kT, kOperands);
  using Element = typename Staging<kOperands>::Element;
  struct Fetched {
    float a[kA.per_thread()];
    float b[kB.per_thread()];
  };

  static NOCTURNE_HD Element* a_stage(unsigned char* shared, int stage) {
    return reinterpret_cast<Element*>(shared + std::size_t(stage) * kS.a_stage);
  }
  static NOCTURNE_HD Element* b_stage(unsigned char* shared, int stage) {
    return reinterpret_cast<Element*>(shared + kS.b_offset + std::size_t(stage) * kS.b_stage);
  }

  static NOCTURNE_HD void fetch(const BackwardArgs& p, TileOrigin o, int thread, int slice, Fetched& f) {
    const int cols = kUnitGates * p.hidden;
    constexpr StepTile tile = kT;
    const int k0 = slice * tile.slice();
    fetch_slice<kA>(p.dgates_next, std::size_t(cols), o.row0, p.batch, k0, cols, p.vector_dgates_next, thread, f.a);
    fetch_slice<kB>(p.r, std::size_t(cols), o.unit0, p.hidden, k0, cols, p.vector_r, thread, f.b);
  }

  static NOCTURNE_HD void store(const BackwardArgs& p, int thread, int stage, const Fetched& f, unsigned char* shared) {
    store_slice<kA, !kT.tensor_cores>(a_stage(shared, stage), kS.a_pitch, p.vector_dgates_next, thread, f.a,
                                      Staging<kOperands>{});
    store_slice<kB, !kT.tensor_cores>(b_stage(shared, stage), kS.b_pitch, p.vector_r, thread, f.b,
                                      Staging<kOperands>{});
  }

  // After the K loop: k-group g's sums [rows][acc_pitch], and the da tile.
  static NOCTURNE_HD float* accumulators(unsigned char* shared, int group) {
    return reinterpret_cast<float*>(shared + kS.acc_offset + std::size_t(group) * kS.acc_group);
  }
  static NOCTURNE_HD float* da_tile(unsigned char* shared) { return reinterpret_cast<float*>(shared + kS.da_offset); }

  // The cells: h_t's gradient from the k-groups' sums (added in group order)
  // and dh, then the cell's backward; da to dgates and to the da tile.
  static NOCTURNE_HD void cells(const BackwardArgs& p, TileOrigin o, int thread, unsigned char* shared) {
    constexpr StepTile tile = kT;
    float* da_shared = da_tile(shared);
    NOCTURNE_UNROLL
    for (int q = 0; q < cells_per_thread(tile); ++q) {
      const CellPosition at = cell_position(tile, thread, q);
      const int row = o.row0 + at.row, unit = o.unit0 + at.unit;
      float da[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (row < p.batch && unit < p.hidden) {
        float recurrent = accumulators(shared, 0)[at.row * kS.acc_pitch + at.unit];
        for (int g = 1; g < kT.k_groups; ++g) recurrent += accumulators(shared, g)[at.row * kS.acc_pitch + at.unit];
        backward_cell(p, row, unit, recurrent, da);
      }
      store4(da_shared + at.row * kS.da_pitch + at.unit * kUnitGates, da);
    }
  }

  // The partial sums of the block's rows (= partial block o.row_block), in
  // increasing row order: db_partial, and dw_partial where x is given.
  static NOCTURNE_HD void partials(const BackwardArgs& p, TileOrigin o, int thread, unsigned char* shared) {
    constexpr StepTile tile = kT;
    const float* da_shared = da_tile(shared);
    const int cols = tile.cols();
    const int rows = p.batch - o.row0 < kT.rows ? p.batch - o.row0 : kT.rows;
    const std::size_t out_row = std::size_t(o.row_block) * kUnitGates * std::size_t(p.hidden);
    for (int item = thread; item < 2 * cols; item += tile.threads()) {
      const bool input = item >= cols;
      const int col = input ? item - cols : item;
      const int unit = o.unit0 + col / kUnitGates;
      if (unit >= p.hidden || (input && !p.x)) continue;
      float sum = 0.0f;
      for (int m = 0; m < rows; ++m) {
        const float da = da_shared[m * kS.da_pitch + col];
        if (input)
          math::add_input_partial(sum, p.x[o.row0 + m], da);
        else
          math::add_bias_partial(sum, da);
      }
      (input ? p.dw_partial : p.db_partial)[out_row + std::size_t(o.unit0) * kUnitGates + std::size_t(col)] = sum;
    }
  }
};

template <int kIndex>
struct BackwardSimt {
  static constexpr StepTile kT = kBackwardTiles[kIndex];
  static_assert(!kT.tensor_cores && kT.rows == kPartialRows, "a CUDA-core backward tile of one partial block");
  using Stage = BackwardStaging<kT, GemmOperands::fp32>;
  static constexpr StepShared kS = Stage::kS;
  static constexpr int kThreads = kT.threads();
  static constexpr int kRows = kT.thread_rows;
  static constexpr int kUnits = kT.thread_units;

  struct Registers {
    float acc[kRows][kUnits];
    typename Stage::Fetched fetched;
  };

  static NOCTURNE_HD void begin(Registers& r) {
    NOCTURNE_UNROLL
    for (int i = 0; i < kRows; ++i) {
      NOCTURNE_UNROLL
      for (int j = 0; j < kUnits; ++j) r.acc[i][j] = 0.0f;
    }
  }

  // acc += the thread's k-group's part of the slice.
  static NOCTURNE_HD void multiply(int thread, int stage, unsigned char* shared, Registers& r) {
    constexpr StepTile tile = kT;
    const SimtRole role = simt_role(tile, thread);
    const float* a = Stage::a_stage(shared, stage) + role.group * kT.depth * kS.a_pitch + role.row * kRows;
    const float* b = Stage::b_stage(shared, stage) + role.group * kT.depth * kS.b_pitch + role.unit * kUnits;
    NOCTURNE_UNROLL
    for (int k = 0; k < kT.depth; ++k) {
      float av[kRows], bv[kUnits];
      load_run<kRows>(a + k * kS.a_pitch, av);
      load_run<kUnits>(b + k * kS.b_pitch, bv);
      NOCTURNE_UNROLL
      for (int i = 0; i < kRows; ++i) {
        NOCTURNE_UNROLL
        for (int j = 0; j < kUnits; ++j) r.acc[i][j] = math::fma_of(av[i], bv[j], r.acc[i][j]);
      }
    }
  }

  // After the K loop's last barrier: the thread's sums to its group's tile.
  static NOCTURNE_HD void park(int thread, unsigned char* shared, const Registers& r) {
    constexpr StepTile tile = kT;
    const SimtRole role = simt_role(tile, thread);
    float* acc = Stage::accumulators(shared, role.group);
    NOCTURNE_UNROLL
    for (int i = 0; i < kRows; ++i) {
      NOCTURNE_UNROLL
      for (int j = 0; j < kUnits; ++j)
        acc[(role.row * kRows + i) * kS.acc_pitch + role.unit * kUnits + j] = r.acc[i][j];
    }
  }
};

template <int kIndex, GemmOperands kOperands>
struct BackwardWmma {
  static constexpr StepTile kT = kBackwardTiles[kIndex];
  static_assert(kT.tensor_cores && kT.rows == kPartialRows, "a tensor-core backward tile of one partial block");
  static_assert(kOperands != GemmOperands::fp32, "tensor cores take TF32 or BF16");
  using Stage = BackwardStaging<kT, kOperands>;
  static constexpr StepShared kS = Stage::kS;
  static constexpr int kThreads = kT.threads();
  static constexpr WarpRole kWarpShape = warp_role(kT, 0, false);
};

// ---- from the op's arguments (on the host, at launch) ---------------------------------------
inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// The mask of a step: the key (read here, on the host), the step's first
// index and p; no key: nothing is dropped.
inline StepDropout step_dropout(const DropoutKey* key, float p, std::uint64_t index) {
  StepDropout d;
  if (!key) return d;
  d.seed = key->seed;
  d.stream = key->stream;
  d.offset = key->offset + index;
  d.offset_on_device = key->offset_on_device;
  d.p = p;
  d.scale = 1.0f / (1.0f - p);  // as the CPU backend computes it
  return d;
}

inline ForwardArgs make_forward_args(const LstmStepForward<float>& s) {
  ForwardArgs a;
  a.batch = s.batch;
  a.input = s.input;
  a.hidden = s.hidden;
  a.x = s.x;
  a.w = s.w;
  a.r = s.r;
  a.b = s.b;
  a.h_prev = s.h_prev;
  a.c_prev = s.c_prev;
  a.h = s.h;
  a.c = s.c;
  a.gates = s.gates;
  a.h_dropped = s.h_dropped;
  if (s.h_dropped) a.dropout = step_dropout(s.dropout, s.dropout_p, s.dropout_index);
  const long long cols = 4LL * s.hidden;
  a.vector_h_prev = s.h_prev && vector_loads(reinterpret_cast<std::uintptr_t>(s.h_prev), s.hidden);
  a.vector_x = s.input > 1 && vector_loads(reinterpret_cast<std::uintptr_t>(s.x), s.input);
  a.vector_r = vector_loads(reinterpret_cast<std::uintptr_t>(s.r), cols);
  a.vector_w = s.input > 1 && vector_loads(reinterpret_cast<std::uintptr_t>(s.w), cols);
  a.vector_gates = aligned16(s.gates);
  return a;
}

inline BackwardArgs make_backward_args(const LstmStepBackward<float>& s) {
  BackwardArgs a;
  a.batch = s.batch;
  a.hidden = s.hidden;
  a.r = s.r;
  a.dgates_next = s.dgates_next;
  a.dh = s.dh;
  a.masked = s.dh && s.dropout;
  if (a.masked) a.dropout = step_dropout(s.dropout, s.dropout_p, s.dropout_index);
  a.gates = s.gates;
  a.c = s.c;
  a.c_prev = s.c_prev;
  a.dc = s.dc;
  a.dgates = s.dgates;
  a.db_partial = s.db_partial;
  a.x = s.x;
  a.dw_partial = s.x ? s.dw_partial : nullptr;
  const long long cols = 4LL * s.hidden;
  a.vector_dgates_next = s.dgates_next && vector_loads(reinterpret_cast<std::uintptr_t>(s.dgates_next), cols);
  a.vector_r = vector_loads(reinterpret_cast<std::uintptr_t>(s.r), cols);
  a.vector_gates = aligned16(s.gates);
  a.vector_dgates = aligned16(s.dgates);
  return a;
}

}  // namespace nocturne::kernels
