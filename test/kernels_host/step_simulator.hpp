#pragma once
// A host simulator of the recurrent step kernels (kernels/lstm_step_*.cu):
// it runs the kernels' own phase functions (kernels/lstm_step_phases.hpp)
// block by block and, between two barriers, thread by thread, on an emulated
// shared memory, with the same loop as the kernels. The tensor-core kernels'
// fragments are replaced by a plain GEMM over the staged (rounded) operands;
// their staging and their epilogue from shared memory are the kernels' code.
//
// Two ways of running the threads of one barrier interval:
// - in_order: one after the other, forwards or backwards (the kernels' work
//   must not depend on the order: a test compares the two);
// - isolated: every thread runs on its own copy of shared memory as the last
//   barrier left it, and the copies are merged; two threads writing the same
//   byte, or a thread reading what another wrote in the same interval (the
//   merged result then differs from an in-order run), is a race.
// Shared memory starts filled with 0xff bytes (NaN floats), so a value read
// before it was written shows up as NaN in the outputs.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/fused_tiling.hpp"
#include "kernels/lstm_step_phases.hpp"

namespace nocturne::inline v0::kernels::simulation {

enum class ThreadOrder { forwards, backwards, isolated };

class SharedMemory {
 public:
  explicit SharedMemory(std::size_t bytes) : bytes_(round_up(bytes, 8)), data_(allocate(bytes_)) {
    std::memset(data_.get(), 0xff, bytes_);
  }
  unsigned char* data() { return data_.get(); }
  std::size_t size() const { return bytes_; }

 private:
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  static std::unique_ptr<unsigned char, Free> allocate(std::size_t bytes) {
    void* p = std::aligned_alloc(128, round_up(bytes == 0 ? 1 : bytes, 128));
    if (!p) throw std::bad_alloc();
    return std::unique_ptr<unsigned char, Free>(static_cast<unsigned char*>(p));
  }
  std::size_t bytes_;
  std::unique_ptr<unsigned char, Free> data_;
};

// Runs work(thread, shared) for every thread of a block within one barrier interval.
inline void interval(int threads, ThreadOrder order, SharedMemory& shared,
                     const std::function<void(int, unsigned char*)>& work) {
  if (order == ThreadOrder::forwards) {
    for (int t = 0; t < threads; ++t) work(t, shared.data());
    return;
  }
  if (order == ThreadOrder::backwards) {
    for (int t = threads - 1; t >= 0; --t) work(t, shared.data());
    return;
  }
  // Compared and restored a 64-bit word at a time (sizes are multiples of
  // 8 bytes), bytes only where a word changed.
  const std::size_t n = shared.size(), words = n / 8;
  const std::vector<unsigned char> before(shared.data(), shared.data() + n);
  std::vector<int> writer(n, -1);
  SharedMemory mine(n);
  std::memcpy(mine.data(), before.data(), n);
  for (int t = 0; t < threads; ++t) {
    work(t, mine.data());
    for (std::size_t w = 0; w < words; ++w) {
      if (std::memcmp(mine.data() + 8 * w, before.data() + 8 * w, 8) == 0) continue;
      for (std::size_t i = 8 * w; i < 8 * w + 8; ++i) {
        if (mine.data()[i] == before[i]) continue;
        if (writer[i] >= 0)
          throw std::logic_error("shared memory race: threads " + std::to_string(writer[i]) + " and " +
                                 std::to_string(t) + " both write byte " + std::to_string(i));
        writer[i] = t;
        shared.data()[i] = mine.data()[i];
      }
      std::memcpy(mine.data() + 8 * w, before.data() + 8 * w, 8);  // the next thread sees the interval's start
    }
  }
}

// ---- forward -----------------------------------------------------------------------------------

template <int kIndex>
void forward_simt(const ForwardArgs& p, ThreadOrder order) {
  using K = ForwardSimt<kIndex>;
  using Stage = typename K::Stage;
  const StepGrid grid = step_grid(K::kT, p.batch, p.hidden);
  const ForwardSlices slices = forward_slices(K::kT, p.hidden, p.input, p.h_prev == nullptr);
  const int n = slices.total();
  for (int by = 0; by < grid.row_blocks; ++by)
    for (int bx = 0; bx < grid.unit_blocks; ++bx) {
      const TileOrigin o = tile_origin(K::kT, bx, by);
      SharedMemory shared(K::kS.total);
      std::vector<typename K::Registers> regs(K::kThreads);
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
        K::begin(regs[t]);
        if (n > 0) {
          Stage::fetch(p, o, t, 0, slices.recurrent, regs[t].fetched);
          Stage::store(t, 0, regs[t].fetched, s);
        }
      });
      for (int slice = 0; slice < n; ++slice)
        interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
          if (slice + 1 < n) Stage::fetch(p, o, t, slice + 1, slices.recurrent, regs[t].fetched);
          K::multiply(t, slice & 1, s, regs[t]);
          if (slice + 1 < n) Stage::store(t, (slice + 1) & 1, regs[t].fetched, s);
        });
      interval(K::kThreads, order, shared, [&](int t, unsigned char*) { K::finish(p, o, t, regs[t]); });
    }
}

// The fragments' stand-in: acc [rows][cols] += A_stage [rows][k] B_stage [k][cols]
// over the staged slice, in FP32 with one rounding per product and sum.
template <typename Element>
void host_mma(const Element* a, int a_pitch, const Element* b, int b_pitch, bool b_column_major, int rows, int cols,
              int k_begin, int k_end, std::vector<float>& acc) {
  for (int m = 0; m < rows; ++m)
    for (int c = 0; c < cols; ++c) {
      float sum = acc[std::size_t(m) * cols + c];
      for (int k = k_begin; k < k_end; ++k) {
        const float bv = b_column_major ? staged_value(b[c * b_pitch + k]) : staged_value(b[k * b_pitch + c]);
        sum = math::fma_of(staged_value(a[m * a_pitch + k]), bv, sum);
      }
      acc[std::size_t(m) * cols + c] = sum;
    }
}

template <int kIndex, GemmOperands kOperands>
void forward_wmma(const ForwardArgs& p, ThreadOrder order) {
  using K = ForwardWmma<kIndex, kOperands>;
  using Stage = typename K::Stage;
  using Fetched = typename Stage::Fetched;
  const StepGrid grid = step_grid(K::kT, p.batch, p.hidden);
  const ForwardSlices slices = forward_slices(K::kT, p.hidden, p.input, p.h_prev == nullptr);
  const int n = slices.total();
  for (int by = 0; by < grid.row_blocks; ++by)
    for (int bx = 0; bx < grid.unit_blocks; ++bx) {
      const TileOrigin o = tile_origin(K::kT, bx, by);
      SharedMemory shared(K::kS.total);
      std::vector<Fetched> fetched(K::kThreads);
      std::vector<float> acc(std::size_t(K::kT.rows) * K::kT.cols(), 0.0f);
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
        if (n > 0) {
          Stage::fetch(p, o, t, 0, slices.recurrent, fetched[t]);
          Stage::store(t, 0, fetched[t], s);
        }
      });
      for (int slice = 0; slice < n; ++slice) {
        // The warps' fragments read stage slice & 1 in this interval.
        host_mma(Stage::a_stage(shared.data(), slice & 1), K::kS.a_pitch, Stage::b_stage(shared.data(), slice & 1),
                 K::kS.b_pitch, false, K::kT.rows, K::kT.cols(), 0, K::kT.slice(), acc);
        interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
          if (slice + 1 < n) {
            Stage::fetch(p, o, t, slice + 1, slices.recurrent, fetched[t]);
            Stage::store(t, (slice + 1) & 1, fetched[t], s);
          }
        });
      }
      // store_matrix_sync of every fragment, then a barrier.
      float* tile = K::accumulators(shared.data());
      for (int m = 0; m < K::kT.rows; ++m)
        for (int c = 0; c < K::kT.cols(); ++c) tile[m * K::kS.acc_pitch + c] = acc[std::size_t(m) * K::kT.cols() + c];
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { K::finish(p, o, t, s); });
    }
}

// ---- backward ----------------------------------------------------------------------------------

template <int kIndex>
void backward_simt(const BackwardArgs& p, ThreadOrder order) {
  using K = BackwardSimt<kIndex>;
  using Stage = typename K::Stage;
  const StepGrid grid = step_grid(K::kT, p.batch, p.hidden);
  const int n = backward_slices(K::kT, p.hidden, p.dgates_next == nullptr);
  for (int by = 0; by < grid.row_blocks; ++by)
    for (int bx = 0; bx < grid.unit_blocks; ++bx) {
      const TileOrigin o = tile_origin(K::kT, bx, by);
      SharedMemory shared(K::kS.total);
      std::vector<typename K::Registers> regs(K::kThreads);
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
        K::begin(regs[t]);
        if (n > 0) {
          Stage::fetch(p, o, t, 0, regs[t].fetched);
          Stage::store(p, t, 0, regs[t].fetched, s);
        }
      });
      for (int slice = 0; slice < n; ++slice)
        interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
          if (slice + 1 < n) Stage::fetch(p, o, t, slice + 1, regs[t].fetched);
          K::multiply(t, slice & 1, s, regs[t]);
          if (slice + 1 < n) Stage::store(p, t, (slice + 1) & 1, regs[t].fetched, s);
        });
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { K::park(t, s, regs[t]); });
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { Stage::cells(p, o, t, s); });
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { Stage::partials(p, o, t, s); });
    }
}

template <int kIndex, GemmOperands kOperands>
void backward_wmma(const BackwardArgs& p, ThreadOrder order) {
  using K = BackwardWmma<kIndex, kOperands>;
  using Stage = typename K::Stage;
  using Fetched = typename Stage::Fetched;
  const StepGrid grid = step_grid(K::kT, p.batch, p.hidden);
  const int n = backward_slices(K::kT, p.hidden, p.dgates_next == nullptr);
  for (int by = 0; by < grid.row_blocks; ++by)
    for (int bx = 0; bx < grid.unit_blocks; ++bx) {
      const TileOrigin o = tile_origin(K::kT, bx, by);
      SharedMemory shared(K::kS.total);
      std::vector<Fetched> fetched(K::kThreads);
      std::vector<std::vector<float>> acc(std::size_t(K::kT.k_groups),
                                          std::vector<float>(std::size_t(K::kT.rows) * K::kT.units, 0.0f));
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
        if (n > 0) {
          Stage::fetch(p, o, t, 0, fetched[t]);
          Stage::store(p, t, 0, fetched[t], s);
        }
      });
      for (int slice = 0; slice < n; ++slice) {
        for (int g = 0; g < K::kT.k_groups; ++g)  // warp g's fragments over its part of the slice
          host_mma(Stage::a_stage(shared.data(), slice & 1), K::kS.a_pitch, Stage::b_stage(shared.data(), slice & 1),
                   K::kS.b_pitch, true, K::kT.rows, K::kT.units, g * K::kT.depth, (g + 1) * K::kT.depth,
                   acc[std::size_t(g)]);
        interval(K::kThreads, order, shared, [&](int t, unsigned char* s) {
          if (slice + 1 < n) {
            Stage::fetch(p, o, t, slice + 1, fetched[t]);
            Stage::store(p, t, (slice + 1) & 1, fetched[t], s);
          }
        });
      }
      for (int g = 0; g < K::kT.k_groups; ++g) {
        float* tile = Stage::accumulators(shared.data(), g);
        for (int m = 0; m < K::kT.rows; ++m)
          for (int u = 0; u < K::kT.units; ++u)
            tile[m * K::kS.acc_pitch + u] = acc[std::size_t(g)][std::size_t(m) * K::kT.units + u];
      }
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { Stage::cells(p, o, t, s); });
      interval(K::kThreads, order, shared, [&](int t, unsigned char* s) { Stage::partials(p, o, t, s); });
    }
}

// The kernel the launch wrapper picks for the operands and shape (the same
// choice as lstm_step_forward.cu / lstm_step_backward.cu).
inline void forward(GemmOperands operands, const ForwardArgs& p, ThreadOrder order) {
  const int tile = forward_tile_index(operands, p.batch, p.hidden);
  switch (operands) {
    case GemmOperands::fp32:
      return tile == 0 ? forward_simt<0>(p, order) : forward_simt<1>(p, order);
    case GemmOperands::tf32:
      return tile == 2 ? forward_wmma<2, GemmOperands::tf32>(p, order) : forward_wmma<3, GemmOperands::tf32>(p, order);
    case GemmOperands::bf16:
      return tile == 2 ? forward_wmma<2, GemmOperands::bf16>(p, order) : forward_wmma<3, GemmOperands::bf16>(p, order);
  }
}
inline void backward(GemmOperands operands, const BackwardArgs& p, ThreadOrder order) {
  switch (operands) {
    case GemmOperands::fp32:
      return backward_simt<0>(p, order);
    case GemmOperands::tf32:
      return backward_wmma<1, GemmOperands::tf32>(p, order);
    case GemmOperands::bf16:
      return backward_wmma<1, GemmOperands::bf16>(p, order);
  }
}

}  // namespace nocturne::kernels::simulation
